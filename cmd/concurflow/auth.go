package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/concurflow/concurflow/concur"
)

// Flag names of the auth verbs.
const (
	flagRequestToken     = "request-token"
	flagRequestTokenFile = "request-token-file"
	flagWarnDays         = "warn-days"
)

// Exit codes of `auth status` besides 0 (valid) and 1 (missing, expired or
// any other failure).
const exitExpiresSoon = 2

// authCommand is `concurflow auth`: company request token exchange and
// refresh token expiry checks.
func authCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "auth",
		Usage: "Exchange a company request token for a stored refresh token, and check its expiry",
		Description: `Company-level OAuth2 (see the Company Level Authentication page): an
App Center request token (valid 24 hours) is exchanged once for a refresh
token, kept in the token store directory, from which every other verb and
every pipeline gets its access tokens. Tokens are never printed.`,
		Subcommands: []*cli.Command{authExchangeCommand(s), authStatusCommand(s)},
	}
}

func authExchangeCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "exchange",
		Usage: "Exchange a request token for a refresh token and save it in the token store",
		Description: `Calls the token endpoint with the password grant (username = company id,
password = request token, credtype=authtoken) and saves the refresh token
to <token-store>/<company-id>.json (mode 0600, replaced atomically),
replacing what was stored. Prints the company id, the geolocation (the
company's API base URL) and when the refresh token expires; never a token.

The request token comes from --request-token-file (a path, or - for
standard input), else from --request-token (or - for standard input),
else from $CONCUR_REQUEST_TOKEN or $REQUEST_TOKEN.`,
		Flags: append(clientFlags(),
			&cli.StringFlag{Name: flagRequestToken, EnvVars: envRequestToken, Usage: "company request token from App Center, or - to read it from standard input (prefer the environment variable or a file: command lines are visible to other users)"},
			&cli.StringFlag{Name: flagRequestTokenFile, Usage: "file holding the request token, or - for standard input"},
		),
		Action: verbAction(func(ctx context.Context, c *cli.Context) error {
			return runAuthExchange(ctx, c, s)
		}),
	}
}

// freshStore hides the stored refresh token from a TokenSource so that it
// uses the request token, while new refresh tokens are saved to the store.
type freshStore struct{ concur.TokenStore }

// Load implements concur.TokenStore: nothing is stored as far as the
// exchange is concerned.
func (f freshStore) Load(_ context.Context, companyID string) (*concur.StoredToken, error) {
	return nil, fmt.Errorf("exchange for company %s ignores the stored token: %w", companyID, concur.ErrTokenNotFound)
}

func runAuthExchange(ctx context.Context, c *cli.Context, s streams) error {
	if _, err := args(c, 0, 0, "no arguments"); err != nil {
		return err
	}
	store, companyID, err := openStore(c)
	if err != nil {
		return err
	}
	requestToken, err := requestToken(c, s.in)
	if err != nil {
		return err
	}
	hc := httpClient(c)
	defer hc.CloseIdleConnections()
	tokens, err := newTokenSource(c, hc, companyID, freshStore{store}, requestToken)
	if err != nil {
		return err
	}
	if _, err := tokens.TokenContext(ctx); err != nil {
		return fmt.Errorf("exchanging the request token: %w", explain(err))
	}
	expiry := tokens.RefreshExpiry()
	fmt.Fprintf(s.out, "company:       %s\n", companyID)
	fmt.Fprintf(s.out, "geolocation:   %s\n", tokens.Geolocation())
	fmt.Fprintf(s.out, "refresh token: expires %s (%s)\n", expiry.UTC().Format(time.RFC3339), daysLeft(expiry, time.Now()))
	fmt.Fprintf(s.out, "token store:   %s\n", filepath.Join(store.Dir(), companyID+".json"))
	return nil
}

// requestToken returns the request token from the flags, a file or
// standard input. Error messages name the source, never the value.
func requestToken(c *cli.Context, in io.Reader) (string, error) {
	var tok string
	switch {
	case c.String(flagRequestTokenFile) != "":
		data, err := readInput(in, c.String(flagRequestTokenFile))
		if err != nil {
			return "", fmt.Errorf("reading request token: %w", err)
		}
		tok = string(data)
	case c.String(flagRequestToken) == "-":
		data, err := readInput(in, "-")
		if err != nil {
			return "", fmt.Errorf("reading request token: %w", err)
		}
		tok = string(data)
	default:
		tok = c.String(flagRequestToken)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", fmt.Errorf("a request token is required: --%s, --%s or $%s", flagRequestTokenFile, flagRequestToken, strings.Join(envRequestToken, " or $"))
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", errors.New("the request token must be one line without spaces")
	}
	return tok, nil
}

func authStatusCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "Show when the stored refresh token expires; non-zero exit when it is missing or expired",
		Description: `Reads <token-store>/<company-id>.json (no network call) and prints the
company id, geolocation, when the refresh token was saved and when it
expires. Exit codes: 0 valid; 1 missing, expired or unreadable; 2 valid
but expiring within --warn-days days (or of unknown expiry while
--warn-days is set), for alerting.`,
		Flags: append(storeFlags(),
			&cli.IntFlag{Name: flagWarnDays, Value: 0, Usage: "exit 2 when the refresh token expires within this many days (0: never)"},
		),
		Action: verbAction(func(ctx context.Context, c *cli.Context) error {
			return runAuthStatus(ctx, c, s, time.Now())
		}),
	}
}

func runAuthStatus(ctx context.Context, c *cli.Context, s streams, now time.Time) error {
	if _, err := args(c, 0, 0, "no arguments"); err != nil {
		return err
	}
	store, companyID, err := openStore(c)
	if err != nil {
		return err
	}
	warnDays := c.Int(flagWarnDays)
	if warnDays < 0 {
		return fmt.Errorf("--%s must not be negative", flagWarnDays)
	}
	tok, err := store.Load(ctx, companyID)
	if errors.Is(err, concur.ErrTokenNotFound) {
		return fmt.Errorf("no refresh token stored for company %s in %s: run `concurflow auth exchange` with a request token", companyID, store.Dir())
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "company:       %s\n", tok.CompanyID)
	fmt.Fprintf(s.out, "geolocation:   %s\n", tok.Geolocation)
	if !tok.UpdatedAt.IsZero() {
		fmt.Fprintf(s.out, "saved:         %s\n", tok.UpdatedAt.UTC().Format(time.RFC3339))
	}
	if tok.RefreshExpiry.IsZero() {
		fmt.Fprintln(s.out, "refresh token: expiry unknown")
		if warnDays > 0 {
			return &exitError{code: exitExpiresSoon, err: fmt.Errorf("the refresh token of company %s has no recorded expiry", companyID)}
		}
		return nil
	}
	expiry := tok.RefreshExpiry.UTC().Format(time.RFC3339)
	fmt.Fprintf(s.out, "refresh token: expires %s (%s)\n", expiry, daysLeft(tok.RefreshExpiry, now))
	switch {
	case !now.Before(tok.RefreshExpiry):
		return fmt.Errorf("the refresh token of company %s expired at %s: run `concurflow auth exchange` with a new request token", companyID, expiry)
	case warnDays > 0 && tok.RefreshExpiry.Sub(now) < time.Duration(warnDays)*24*time.Hour:
		return &exitError{code: exitExpiresSoon, err: fmt.Errorf("the refresh token of company %s expires at %s, within %d days: run `concurflow auth exchange` with a new request token", companyID, expiry, warnDays)}
	}
	return nil
}

// daysLeft describes how long remains until t, in whole days.
func daysLeft(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "expired"
	case d < 24*time.Hour:
		return "less than a day left"
	case d < 48*time.Hour:
		return "1 day left"
	}
	return fmt.Sprintf("%d days left", int(d/(24*time.Hour)))
}
