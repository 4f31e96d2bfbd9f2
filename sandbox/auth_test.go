package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/concurflow/concurflow/sandbox"
)

func TestPasswordGrantAnswersAsCompanyAuthPage(t *testing.T) {
	e := newEnv(t)
	tb := e.passwordGrant(e.co)
	if tb.ExpiresIn != "3600" || tb.TokenType != "Bearer" || tb.AccessToken == "" || tb.RefreshToken == "" {
		t.Fatalf("token body %+v", tb)
	}
	if tb.Geolocation != e.srv.URL() {
		t.Fatalf("geolocation %q, want %q", tb.Geolocation, e.srv.URL())
	}
	if !strings.Contains(tb.Scope, sandbox.ScopeRead) || !strings.Contains(tb.Scope, sandbox.ScopeWrite) {
		t.Fatalf("scope %q", tb.Scope)
	}
	if want := e.clock.Now().Add(180 * 24 * time.Hour).Unix(); tb.RefreshExpiresIn != want {
		t.Fatalf("refresh_expires_in %d, want epoch %d", tb.RefreshExpiresIn, want)
	}
	// The request token is reusable within its 24 hours.
	e.clock.Advance(23 * time.Hour)
	e.passwordGrant(e.co)
}

func TestTokenErrorsCarryDocumentedCodes(t *testing.T) {
	e := newEnv(t)
	sibling, err := e.srv.SeedCompany() // connected to the same app
	if err != nil {
		t.Fatal(err)
	}
	app, err := e.srv.RegisterApp("", "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.srv.SeedCompany(sandbox.WithApp(app.ClientID))
	if err != nil {
		t.Fatal(err)
	}
	with := func(k, v string) url.Values {
		f := passwordForm(e.co)
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	cases := []struct {
		name   string
		form   url.Values
		status int
		code   int
		err    string
	}{
		{"no client_id", with("client_id", ""), 400, 62, "invalid_request"},
		{"no client_secret", with("client_secret", ""), 400, 63, "invalid_request"},
		{"no grant_type", with("grant_type", ""), 400, 65, "invalid_request"},
		{"unknown client", with("client_id", "nobody"), 401, 61, "invalid_client"},
		{"wrong secret", with("client_secret", "wrong"), 401, 64, "invalid_client"},
		{"no username", with("username", ""), 400, 51, "invalid_request"},
		{"no password", with("password", ""), 400, 52, "invalid_request"},
		{"wrong request token", with("password", "wrong"), 400, 5, "invalid_grant"},
		{"company not connected to the app", with("username", other.ID), 401, 53, "invalid_client"},
		{"request token of another company", with("username", sibling.ID), 400, 5, "invalid_grant"},
		{"credtype password", with("credtype", "password"), 400, 120, "invalid_request"},
		{"unknown grant", with("grant_type", "client_credentials"), 400, 60, "invalid_grant"},
		{"no refresh token", url.Values{"client_id": {e.co.ClientID}, "client_secret": {e.co.ClientSecret}, "grant_type": {"refresh_token"}}, 400, 106, "invalid_request"},
		{"bad refresh token", url.Values{"client_id": {e.co.ClientID}, "client_secret": {e.co.ClientSecret}, "grant_type": {"refresh_token"}, "refresh_token": {"x"}}, 400, 108, "invalid_grant"},
		{"scope beyond grant", with("scope", "spend.everything"), 400, 54, "invalid_scope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, tb := e.tokenRequest(c.form)
			if status != c.status || tb.Code != c.code || tb.Error != c.err {
				t.Fatalf("got %d %d %q, want %d %d %q", status, tb.Code, tb.Error, c.status, c.code, c.err)
			}
		})
	}
	t.Run("not a form", func(t *testing.T) {
		r := doRequest(t, http.MethodPost, e.srv.URL()+"/oauth2/v0/token", "", `{"grant_type":"password"}`)
		if r.status != 400 || r.json(t)["code"].(float64) != 135 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("request tokens expired by the admin", func(t *testing.T) {
		fresh := newEnv(t)
		fresh.srv.ExpireRequestTokens(fresh.co.ID)
		if status, tb := fresh.tokenRequest(passwordForm(fresh.co)); status != 400 || tb.Code != 5 {
			t.Fatalf("%d %+v", status, tb)
		}
	})
	t.Run("expired request token", func(t *testing.T) {
		e.clock.Advance(24 * time.Hour)
		status, tb := e.tokenRequest(passwordForm(e.co))
		if status != 400 || tb.Code != 5 {
			t.Fatalf("%d %+v", status, tb)
		}
	})
}

func TestRefreshTokenRotation(t *testing.T) {
	refresh := func(e *env, rt string) (int, tokenBody) {
		return e.tokenRequest(url.Values{"client_id": {e.co.ClientID}, "client_secret": {e.co.ClientSecret},
			"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	}
	cases := []struct {
		mode        sandbox.RefreshRotation
		same        bool
		oldWorksAgn bool
	}{
		{sandbox.RefreshKeep, true, true},
		{sandbox.RefreshRotate, false, true},
		{sandbox.RefreshRotateInvalidate, false, false},
	}
	for _, c := range cases {
		e := newEnv(t, sandbox.WithRefreshRotation(c.mode))
		first := e.passwordGrant(e.co)
		status, second := refresh(e, first.RefreshToken)
		if status != 200 || second.AccessToken == "" || second.AccessToken == first.AccessToken {
			t.Fatalf("mode %d: refresh %d %+v", c.mode, status, second)
		}
		if (second.RefreshToken == first.RefreshToken) != c.same {
			t.Fatalf("mode %d: refresh token rotated = %v", c.mode, second.RefreshToken != first.RefreshToken)
		}
		status, _ = refresh(e, first.RefreshToken)
		if (status == 200) != c.oldWorksAgn {
			t.Fatalf("mode %d: old refresh token answered %d", c.mode, status)
		}
		// The refreshed access token works.
		r := doRequest(t, http.MethodGet, e.api(""), second.AccessToken, nil)
		expect(t, r, 200)
	}
}

func TestAPIRequiresValidBearerToken(t *testing.T) {
	e := newEnv(t, sandbox.WithTokenLifetime(10*time.Minute))
	u := e.api("/accounts")
	expectError(t, doRequest(t, http.MethodGet, u, "", nil), 401)
	expectError(t, doRequest(t, http.MethodGet, u, "not-a-token", nil), 401)
	expect(t, e.do(http.MethodGet, u, nil), 200)

	e.clock.Advance(10 * time.Minute)
	expectError(t, e.do(http.MethodGet, u, nil), 401)

	fresh := e.passwordGrant(e.co).AccessToken
	expect(t, doRequest(t, http.MethodGet, u, fresh, nil), 200)
	e.srv.RevokeTokens(e.co.ID)
	expectError(t, doRequest(t, http.MethodGet, u, fresh, nil), 401)
}

func TestAPIForbidsOtherCompanyAndMissingScope(t *testing.T) {
	e := newEnv(t)
	other, err := e.srv.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	otherToken := e.passwordGrant(other).AccessToken
	expectError(t, doRequest(t, http.MethodGet, e.api("/accounts"), otherToken, nil), 403)

	readOnly, err := e.srv.SeedCompany(sandbox.WithScopes(sandbox.ScopeRead))
	if err != nil {
		t.Fatal(err)
	}
	erp, err := e.srv.RegisterERP(readOnly.ID)
	if err != nil {
		t.Fatal(err)
	}
	tok := e.passwordGrant(readOnly).AccessToken
	base := e.srv.URL() + "/accountingintegration/v4/companies/" + readOnly.ID + "/erps/" + erp
	expect(t, doRequest(t, http.MethodGet, base+"/accounts", tok, nil), 200)
	expectError(t, doRequest(t, http.MethodPatch, base+"/accounts", tok, `{"data":[]}`), 403)

	writeOnly, err := e.srv.SeedCompany(sandbox.WithScopes(sandbox.ScopeWrite))
	if err != nil {
		t.Fatal(err)
	}
	erp, err = e.srv.RegisterERP(writeOnly.ID)
	if err != nil {
		t.Fatal(err)
	}
	tok = e.passwordGrant(writeOnly).AccessToken
	base = e.srv.URL() + "/accountingintegration/v4/companies/" + writeOnly.ID + "/erps/" + erp
	expectError(t, doRequest(t, http.MethodGet, base+"/accounts", tok, nil), 403)
}

// TestRefreshRotatesByDefault: the Authentication page says a refresh
// returns "a new refresh token" and that clients should "overwrite the
// stored tokens with the new token from the response". By default every
// refresh_token grant answers a new refresh token and the presented one is
// refused afterwards (code 108), so a client that does not store each new
// token fails here rather than in production. The form is sent as raw
// bytes, as the OAuth2 Getting Started page's curl sends it.
func TestRefreshRotatesByDefault(t *testing.T) {
	srv := newServer(t)
	co, err := srv.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	post := func(form string) (int, tokenBody) {
		t.Helper()
		resp, err := http.Post(srv.URL()+"/oauth2/v0/token", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tb tokenBody
		if err := json.NewDecoder(resp.Body).Decode(&tb); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, tb
	}
	creds := "client_id=" + url.QueryEscape(co.ClientID) + "&client_secret=" + url.QueryEscape(co.ClientSecret)
	status, first := post(creds + "&grant_type=password&username=" + co.ID + "&password=" + url.QueryEscape(co.RequestToken) + "&credtype=authtoken")
	if status != http.StatusOK || first.RefreshToken == "" {
		t.Fatalf("password grant: %d %+v", status, first)
	}
	rt := first.RefreshToken
	seen := map[string]bool{rt: true}
	for i := range 3 {
		status, next := post(creds + "&grant_type=refresh_token&refresh_token=" + url.QueryEscape(rt))
		if status != http.StatusOK || next.AccessToken == "" {
			t.Fatalf("refresh %d: %d %+v", i, status, next)
		}
		if seen[next.RefreshToken] || next.RefreshToken == "" {
			t.Fatalf("refresh %d: refresh token not rotated", i)
		}
		seen[next.RefreshToken] = true
		status, old := post(creds + "&grant_type=refresh_token&refresh_token=" + url.QueryEscape(rt))
		if status != http.StatusBadRequest || old.Code != 108 || old.Error != "invalid_grant" {
			t.Fatalf("refresh %d: the replaced refresh token answered %d %+v, want 400 code 108", i, status, old)
		}
		rt = next.RefreshToken
	}
}
