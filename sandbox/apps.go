package sandbox

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// App is a partner application as App Center knows it: one client id and
// secret serving every company that connected it (see the Company Level
// Authentication page).
type App struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// requestToken is a company request token: bound to the company that holds
// it and the app it was issued for.
type requestToken struct {
	clientID string
	until    time.Time
}

// errUnknownApp names a client id no app is registered under.
func errUnknownApp(clientID string) error {
	return fmt.Errorf("partner app %s: %w", clientID, ErrNotFound)
}

// addAppLocked registers a. Callers hold s.mu.
func (s *Server) addAppLocked(a App) error {
	if _, dup := s.state.apps[a.ClientID]; dup {
		return fmt.Errorf("registering partner app: client id %s is already registered", a.ClientID)
	}
	s.state.apps[a.ClientID] = a
	s.state.appOrder = append(s.state.appOrder, a.ClientID)
	return nil
}

// RegisterApp registers another partner app. An empty client id or secret
// is generated. A client id already registered is refused.
func (s *Server) RegisterApp(clientID, clientSecret string) (App, error) {
	a := App{ClientID: clientID, ClientSecret: clientSecret}
	if a.ClientID == "" {
		a.ClientID = uuid.NewString()
	}
	if a.ClientSecret == "" {
		a.ClientSecret = uuid.NewString()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.addAppLocked(a); err != nil {
		return App{}, err
	}
	return a, nil
}

// DefaultApp is the partner app SeedCompany connects companies to unless
// WithApp says otherwise: the one WithPartnerApp set, or one generated for
// the server.
func (s *Server) DefaultApp() App {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.apps[s.state.defaultApp]
}

// Apps lists the registered partner apps, the default first.
func (s *Server) Apps() []App {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]App, 0, len(s.state.appOrder))
	for _, id := range s.state.appOrder {
		out = append(out, s.state.apps[id])
	}
	return out
}

// ConnectApp connects the company to the partner app with the client id,
// if it is not connected yet, and issues a 24-hour request token that only
// that app can exchange, as App Center does when a company administrator
// connects an app.
func (s *Server) ConnectApp(companyID, clientID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.state.companies[companyID]
	if !ok {
		return "", fmt.Errorf("issuing request token: %w", errUnknownCompany(companyID))
	}
	if _, ok := s.state.apps[clientID]; !ok {
		return "", fmt.Errorf("issuing request token for company %s: %w", companyID, errUnknownApp(clientID))
	}
	return s.issueRequestTokenLocked(c, clientID), nil
}

// issueRequestTokenLocked connects c to the app and issues it a request
// token. Callers hold s.mu.
func (s *Server) issueRequestTokenLocked(c *company, clientID string) string {
	if !slices.Contains(c.apps, clientID) {
		c.apps = append(c.apps, clientID)
	}
	token := uuid.NewString()
	c.requestTokens[token] = requestToken{clientID: clientID, until: s.now().Add(s.cfg.requestTokenTTL)}
	return token
}

// clientKey is the request-context key of the client id an API call's
// access token was issued to.
type clientKey struct{}

// callerApp is the client id of the app making an API call (set by api).
func callerApp(ctx context.Context) string {
	id, _ := ctx.Value(clientKey{}).(string)
	return id
}

// partnerID is the partnerId of events about an ERP registered by the app.
// The sandbox derives it from the app's client id.
func partnerID(clientID string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(clientID)).String()
}
