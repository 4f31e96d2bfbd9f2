package concur

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The advice follows the OAuth2 error of the token endpoint: a wrong client
// secret is no reason for a new request token, and a refused request token
// is no reason to run the exchange that just failed.
func TestAuthErrorAdvice(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    AuthError
		remedy Remedy
		want   []string
		not    []string
	}{
		{"wrong secret", AuthError{StatusCode: 401, ErrorCode: "invalid_client", Code: 64, Grant: GrantRefreshToken},
			RemedyClientCredentials, []string{"client id or client secret is wrong"}, []string{"request token from", "auth exchange"}},
		{"unknown client on exchange", AuthError{StatusCode: 401, ErrorCode: "invalid_client", Code: 61, Grant: GrantPassword},
			RemedyClientCredentials, []string{"client id or client secret is wrong"}, []string{"request token from", "auth exchange"}},
		{"401 without error", AuthError{StatusCode: 401, Grant: GrantRefreshToken},
			RemedyClientCredentials, []string{"client id or client secret"}, []string{"auth exchange"}},
		{"company not enabled", AuthError{StatusCode: 401, ErrorCode: "invalid_client", Code: 53, Grant: GrantPassword},
			RemedyCompanyNotEnabled, []string{"company has not enabled this client", "company id"}, []string{"auth exchange"}},
		{"bad request token", AuthError{StatusCode: 400, ErrorCode: "invalid_grant", Code: 5, Grant: GrantPassword},
			RemedyRequestToken, []string{"request token is wrong, expired", "new request token from the company's Concur administrator"}, []string{"refresh token", "client secret"}},
		{"revoked refresh token", AuthError{StatusCode: 400, ErrorCode: "invalid_grant", Code: 108, Grant: GrantRefreshToken},
			RemedyRefreshToken, []string{"refresh token is expired or revoked", "run `concurflow auth exchange` with it"}, []string{"client secret"}},
		{"account locked", AuthError{StatusCode: 400, ErrorCode: "invalid_grant", Code: 14, Grant: GrantPassword},
			RemedySupport, []string{"SAP Concur support"}, []string{"auth exchange", "new request token"}},
		{"client disabled", AuthError{StatusCode: 403, ErrorCode: "access_denied", Code: 59, Grant: GrantRefreshToken},
			RemedySupport, []string{"SAP Concur support"}, []string{"auth exchange"}},
		{"bad request", AuthError{StatusCode: 400, ErrorCode: "invalid_request", Code: 120, Grant: GrantPassword},
			RemedyNone, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.err.Remedy(); got != c.remedy {
				t.Errorf("remedy %d, want %d", got, c.remedy)
			}
			advice := c.err.Advice()
			if c.remedy == RemedyNone && advice != "" {
				t.Errorf("advice %q for no remedy", advice)
			}
			// The refusal a TokenSource returns carries the same advice,
			// and no other.
			refused := &CredentialsRefusedError{CompanyID: testCompany, Since: time.Unix(0, 0), RetryAt: time.Unix(5, 0),
				Err: fmt.Errorf("getting token for company %s: %w", testCompany, &c.err)}
			text := refused.Error()
			for _, w := range c.want {
				if !strings.Contains(advice, w) || !strings.Contains(text, w) {
					t.Errorf("advice %q / refusal %q lack %q", advice, text, w)
				}
			}
			for _, n := range c.not {
				if strings.Contains(text, n) {
					t.Errorf("refusal %q says %q", text, n)
				}
			}
			// A refused request token is mended by a new one, exchanged
			// into the store: the advice of the exchange itself (that
			// failed) does not say to run it, the refusal does.
			exchange := "run `concurflow auth exchange`"
			if needs := c.remedy == RemedyRequestToken || c.remedy == RemedyRefreshToken; needs != strings.Contains(text, exchange) ||
				(c.remedy == RemedyRequestToken && strings.Contains(advice, exchange)) {
				t.Errorf("advice %q / refusal %q: want %q in the refusal only for a refused request or refresh token, and not in a request token's advice", advice, text, exchange)
			}
		})
	}
}

func TestNoCredentialsAdvice(t *testing.T) {
	refused := &CredentialsRefusedError{CompanyID: testCompany, Err: fmt.Errorf("getting token: %w", ErrNoCredentials)}
	if !errors.Is(refused, ErrNoCredentials) || !strings.Contains(refused.Error(), "`concurflow auth exchange` and a request token") {
		t.Fatalf("refusal without credentials: %v", refused)
	}
	if (&AuthError{StatusCode: http.StatusForbidden}).Advice() != "" {
		t.Fatal("a bare 403 got advice")
	}
}
