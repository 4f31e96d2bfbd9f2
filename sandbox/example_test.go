package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/concurflow/concurflow/sandbox"
)

// Start a sandbox, get a company token, PATCH accounts and read back what
// the sandbox cached.
func ExampleStart() {
	srv, err := sandbox.Start(sandbox.WithSigningKey(testKey()))
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	co, _ := srv.SeedCompany()
	erpID, _ := srv.RegisterERP(co.ID)

	resp, err := http.PostForm(srv.URL()+"/oauth2/v0/token", url.Values{
		"client_id": {co.ClientID}, "client_secret": {co.ClientSecret}, "grant_type": {"password"},
		"username": {co.ID}, "password": {co.RequestToken}, "credtype": {"authtoken"},
	})
	if err != nil {
		panic(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	body := `{"data":[{"id":"001","name":"Accounts Payable","number":"01234","type":"ACCOUNTS_PAYABLE"}]}`
	req, _ := http.NewRequest(http.MethodPatch,
		srv.URL()+"/accountingintegration/v4/companies/"+co.ID+"/erps/"+erpID+"/accounts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)

	if err := srv.WaitIdle(context.Background()); err != nil {
		panic(err)
	}
	accounts, _ := srv.Accounts(co.ID, erpID)
	fmt.Println(string(accounts[0]))
	reqs, _ := srv.Requests(co.ID, erpID)
	fmt.Println(reqs[0].Status)
	// Output:
	// 202 Accepted
	// {"id":"001","number":"01234","name":"Accounts Payable","type":"ACCOUNTS_PAYABLE"}
	// SUCCESS
}
