package sandbox_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/concurflow/concurflow/sandbox"
)

// The listMapping.created flow: the administrator maps an ERP list (which
// creates the SAP Concur list), the partner sends its items with List Item
// Bulk v4, and the sandbox shows what the list holds.
func ExampleServer_MapList() {
	srv, err := sandbox.Start(sandbox.WithSigningKey(testKey()))
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	co, _ := srv.SeedCompany()
	erpID, _ := srv.RegisterERP(co.ID)
	const listID = "80edb3fa-c15e-a34a-b97f-f2ec291ab44f"
	if err := srv.MapList(co.ID, erpID, sandbox.ListMapping{ERPListID: "cost-centers", ConcurListID: listID}); err != nil {
		panic(err)
	}

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

	body := `{"requests":[{"shortCode":"CC100","value":"Sales"},
		{"shortCode":"EAST","value":"Sales East","parentCode":"CC100"},
		{"shortCode":"CC-200","value":"Support"}]}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/list/v4/lists/"+listID+"/bulk", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status)
	fmt.Println(string(answer)[strings.Index(string(answer), `"error":`):])

	body = `{"requests":[{"shortCode":"CC100","value":"Sales"},{"shortCode":"EAST","value":"Sales East","parentCode":"CC100"}]}`
	req, _ = http.NewRequest(http.MethodPost, srv.URL()+"/list/v4/lists/"+listID+"/bulk", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	answer, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(answer))

	items, _ := srv.ListItems(co.ID, listID)
	for _, it := range items {
		fmt.Println(it.Level, it.Code, it.Value)
	}
	// Output:
	// 400 Bad Request
	// "error":{"id":"request.validation.error","message":"Please check your request parameter"},"validationErrors":[{"source":"requests[2].shortCode","message":"must not contain a hyphen: hyphens are not supported in item names or item codes"}],"path":"/list/v4/lists/80edb3fa-c15e-a34a-b97f-f2ec291ab44f/bulk"}
	// 201 Created {"status":"SUCCESS","recordsSucceeded":2,"recordsFailed":0,"errors":[]}
	// 1 CC100 Sales
	// 2 CC100-EAST Sales East
}
