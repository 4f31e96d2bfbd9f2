package sandbox_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/concurflow/concurflow/sandbox"
)

func TestOneAppServesManyCompanies(t *testing.T) {
	srv := newServer(t)
	a, err := srv.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	b, err := srv.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	def := srv.DefaultApp()
	for _, co := range []sandbox.Company{a, b} {
		if co.ClientID != def.ClientID || co.ClientSecret != def.ClientSecret {
			t.Fatalf("company %s has app %s/%s, want the default %+v", co.ID, co.ClientID, co.ClientSecret, def)
		}
	}
	e := &env{t: t, srv: srv}
	tokA, tokB := e.passwordGrant(a).AccessToken, e.passwordGrant(b).AccessToken
	erpA, err := srv.RegisterERP(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	u := srv.URL() + "/accountingintegration/v4/companies/" + a.ID + "/erps/" + erpA + "/accounts"
	expect(t, doRequest(t, http.MethodGet, u, tokA, nil), http.StatusOK)
	// The same app's token for another company is still that company's.
	expectError(t, doRequest(t, http.MethodGet, u, tokB, nil), http.StatusForbidden)
}

func TestWithPartnerAppSetsTheDefaultApp(t *testing.T) {
	srv := newServer(t, sandbox.WithPartnerApp("my-app", "my-secret"))
	if got := srv.DefaultApp(); got != (sandbox.App{ClientID: "my-app", ClientSecret: "my-secret"}) {
		t.Fatalf("default app %+v", got)
	}
	co, err := srv.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	if co.ClientID != "my-app" || co.ClientSecret != "my-secret" {
		t.Fatalf("company credentials %s/%s", co.ClientID, co.ClientSecret)
	}
	(&env{t: t, srv: srv}).passwordGrant(co)

	if _, err := sandbox.Start(sandbox.WithPartnerApp("only-an-id", "")); err == nil {
		t.Fatal("a partner app without a secret was accepted")
	}
}

func TestRegisterAppAndWithApp(t *testing.T) {
	srv := newServer(t)
	app, err := srv.RegisterApp("second", "")
	if err != nil {
		t.Fatal(err)
	}
	if app.ClientID != "second" || app.ClientSecret == "" {
		t.Fatalf("registered %+v", app)
	}
	if _, err := srv.RegisterApp("second", "x"); err == nil {
		t.Fatal("a client id was registered twice")
	}
	if _, err := srv.SeedCompany(sandbox.WithApp("nobody")); !errors.Is(err, sandbox.ErrNotFound) {
		t.Fatalf("seeding with an unknown app: %v", err)
	}
	co, err := srv.SeedCompany(sandbox.WithApp("second"))
	if err != nil {
		t.Fatal(err)
	}
	if co.ClientID != "second" || co.ClientSecret != app.ClientSecret {
		t.Fatalf("company credentials %s/%s", co.ClientID, co.ClientSecret)
	}
	if got := srv.Apps(); len(got) != 2 || got[0] != srv.DefaultApp() || got[1] != app {
		t.Fatalf("apps %+v", got)
	}
	if _, err := srv.ConnectApp(co.ID, "nobody"); !errors.Is(err, sandbox.ErrNotFound) {
		t.Fatalf("connecting an unknown app: %v", err)
	}
}

// A request or refresh token is bound to the app and company it was issued
// for: another app connected to the same company cannot use it.
func TestTokensAreBoundToTheirApp(t *testing.T) {
	srv := newServer(t, sandbox.WithRateLimit(false))
	e := &env{t: t, srv: srv}
	co, err := srv.SeedCompany() // the default app, "A"
	if err != nil {
		t.Fatal(err)
	}
	appB, err := srv.RegisterApp("", "")
	if err != nil {
		t.Fatal(err)
	}
	asB := func(f url.Values) url.Values {
		f.Set("client_id", appB.ClientID)
		f.Set("client_secret", appB.ClientSecret)
		return f
	}
	check := func(name string, f url.Values, status, code int) {
		t.Helper()
		got, tb := e.tokenRequest(f)
		if got != status || tb.Code != code {
			t.Fatalf("%s: got %d code %d, want %d code %d", name, got, tb.Code, status, code)
		}
	}
	check("B before the company connected it", asB(passwordForm(co)), 401, 53)

	tokB, err := srv.ConnectApp(co.ID, appB.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	check("A's request token presented by B", asB(passwordForm(co)), 400, 5)
	coB := co
	coB.ClientID, coB.ClientSecret, coB.RequestToken = appB.ClientID, appB.ClientSecret, tokB
	check("B's request token presented by A", passwordForm(sandbox.Company{
		ID: co.ID, ClientID: co.ClientID, ClientSecret: co.ClientSecret, RequestToken: tokB,
	}), 400, 5)

	fromA := e.passwordGrant(co)
	fromB := e.passwordGrant(coB)
	refresh := func(app sandbox.App, rt string) url.Values {
		return url.Values{"client_id": {app.ClientID}, "client_secret": {app.ClientSecret}, "grant_type": {"refresh_token"}, "refresh_token": {rt}}
	}
	check("A's refresh token presented by B", refresh(appB, fromA.RefreshToken), 400, 108)
	check("B's refresh token presented by A", refresh(srv.DefaultApp(), fromB.RefreshToken), 400, 108)
	check("B's refresh token presented by B", refresh(appB, fromB.RefreshToken), 200, 0)

	// Both apps' access tokens serve the company; an ERP registered through
	// B carries B's partner id, one registered through A another.
	api := srv.URL() + "/accountingintegration/v4/companies/" + co.ID + "/erps"
	pkg := `{"partnerAppName":"P","erpName":"E","externalErpId":"X"}`
	expect(t, doRequest(t, http.MethodPost, api, fromA.AccessToken, pkg), http.StatusOK)
	expect(t, doRequest(t, http.MethodPost, api, fromB.AccessToken, pkg), http.StatusOK)
	cs := srv.Companies()
	if len(cs) != 1 || len(cs[0].ERPs) != 2 {
		t.Fatalf("companies %+v", cs)
	}
	if !slices.Equal(cs[0].ClientIDs, []string{co.ClientID, appB.ClientID}) || cs[0].ClientID != co.ClientID {
		t.Fatalf("connected apps %v (seeded with %s)", cs[0].ClientIDs, cs[0].ClientID)
	}
	if cs[0].ERPs[0].PartnerID == cs[0].ERPs[1].PartnerID {
		t.Fatalf("ERPs registered by two apps share partner id %s", cs[0].ERPs[0].PartnerID)
	}
}

func TestAdminAPIRegistersAndConnectsApps(t *testing.T) {
	srv := newServer(t)
	admin := srv.URL() + "/sandbox/v1"
	r := doRequest(t, http.MethodPost, admin+"/apps", "", `{"clientId":"second","clientSecret":"s2"}`)
	expect(t, r, http.StatusCreated)
	expectError(t, doRequest(t, http.MethodPost, admin+"/apps", "", `{"clientId":"second"}`), http.StatusBadRequest)
	if apps := doRequest(t, http.MethodGet, admin+"/apps", "", nil).json(t)["data"].([]any); len(apps) != 2 {
		t.Fatalf("apps %v", apps)
	}

	r = doRequest(t, http.MethodPost, admin+"/companies", "", `{"clientId":"second"}`)
	expect(t, r, http.StatusCreated)
	m := r.json(t)
	if m["clientId"] != "second" || m["clientSecret"] != "s2" {
		t.Fatalf("seeded %v", m)
	}
	expectError(t, doRequest(t, http.MethodPost, admin+"/companies", "", `{"clientId":"nobody"}`), http.StatusNotFound)

	id := m["companyId"].(string)
	def := srv.DefaultApp()
	r = doRequest(t, http.MethodPost, admin+"/companies/"+id+"/requestTokens", "", `{"clientId":"`+def.ClientID+`"}`)
	expect(t, r, http.StatusCreated)
	e := &env{t: t, srv: srv}
	e.passwordGrant(sandbox.Company{ID: id, ClientID: def.ClientID, ClientSecret: def.ClientSecret, RequestToken: r.json(t)["requestToken"].(string)})
	// Without a body the token is for the app the company was seeded with.
	r = doRequest(t, http.MethodPost, admin+"/companies/"+id+"/requestTokens", "", nil)
	expect(t, r, http.StatusCreated)
	e.passwordGrant(sandbox.Company{ID: id, ClientID: "second", ClientSecret: "s2", RequestToken: r.json(t)["requestToken"].(string)})
}
