package concur_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/concurflow/concurflow/concur"
	"github.com/concurflow/concurflow/sandbox"
)

// Example connects a company with its request token, registers an ERP,
// sends accounts and reads them back. It runs against the in-process
// sandbox; against Concur, AuthURL is https://us.api.concursolutions.com
// and the credentials come from App Center.
func Example() {
	sb, err := sandbox.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer sb.Close()
	company, err := sb.SeedCompany()
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "concur-tokens-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Refresh tokens are kept, and rotated ones saved, in one file per company.
	store, err := concur.NewDirStore(dir)
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := concur.NewTokenSource(concur.TokenSourceConfig{
		CompanyID:    company.ID,
		ClientID:     company.ClientID,
		ClientSecret: company.ClientSecret,
		RequestToken: company.RequestToken,
		AuthURL:      sb.URL(),
		Store:        store,
	})
	if err != nil {
		log.Fatal(err)
	}
	// The base URL is the geolocation of the company's token.
	client, err := concur.NewClient(concur.ClientConfig{CompanyID: company.ID, TokenSource: tokens})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	erp, err := client.RegisterERP(ctx, concur.ErpPackage{PartnerAppName: "Example", ErpName: "ExampleERP", ExternalErpID: "ex-1"})
	if err != nil {
		log.Fatal(err)
	}
	status, err := client.PatchAccounts(ctx, erp.ErpID, []concur.Account{
		{ID: "001", Name: "Accounts Payable", Number: "01234", Type: concur.AccountTypeAccountsPayable},
		{ID: "002", Name: "Bank", Type: concur.AccountTypeBank},
	}, concur.PatchOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("accepted:", status.Status)

	if err := sb.WaitIdle(ctx); err != nil { // Concur processes asynchronously
		log.Fatal(err)
	}
	final, err := client.RequestStatus(ctx, erp.ErpID, status.RequestID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("final:", final.Status)
	for account, err := range client.Accounts(ctx, erp.ErpID) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(account.ID, account.Name)
	}
	// Output:
	// accepted: PROCESSING
	// final: SUCCESS
	// 001 Accounts Payable
	// 002 Bank
}
