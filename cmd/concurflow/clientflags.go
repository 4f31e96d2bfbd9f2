package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/concurflow/concurflow/concur"
)

// Flag names shared by the auth, erp, request and data verbs.
const (
	flagCompanyID    = "company-id"
	flagClientID     = "client-id"
	flagClientSecret = "client-secret"
	flagURL          = "url"
	flagTokenStore   = "token-store"
	flagTimeout      = "timeout"
	flagERPID        = "erp-id"
)

// Defaults of the shared flags: the same token store directory and URL as
// the auth field group of the Benthos components, so that a token store
// bootstrapped with `concurflow auth exchange` serves pipelines too.
const (
	defaultTokenStore = "./.concurflow/tokens"
	defaultURL        = "https://us.api.concursolutions.com"
	defaultTimeout    = 2 * time.Minute
)

// Environment variables of the shared flags. The CONCUR_ names come first;
// the unprefixed names are the ones `concurflow sandbox` prints in its export
// lines, so that its output can be evaluated in a shell and used at once.
var (
	envCompanyID    = []string{"CONCUR_COMPANY_ID", "COMPANY_ID"}
	envClientID     = []string{"CONCUR_CLIENT_ID", "CLIENT_ID"}
	envClientSecret = []string{"CONCUR_CLIENT_SECRET", "CLIENT_SECRET"}
	envURL          = []string{"CONCUR_URL"}
	envTokenStore   = []string{"CONCUR_TOKEN_STORE"}
	envERPID        = []string{"CONCUR_ERP_ID", "ERP_ID"}
	envRequestToken = []string{"CONCUR_REQUEST_TOKEN", "REQUEST_TOKEN"}
)

// streams are the standard streams of the verbs: main passes the process's,
// tests their own buffers.
type streams struct {
	in     io.Reader
	out    io.Writer
	errOut io.Writer
}

// exitError ends a verb with a given exit code. It deliberately does not
// implement cli.ExitCoder, whose handler calls os.Exit from inside the
// CLI; run maps it to the exit code instead.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func (e *exitError) Unwrap() error { return e.err }

// storeFlags are the flags locating a company's stored refresh token.
func storeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagCompanyID, EnvVars: envCompanyID, Usage: "company UUID (the company's App Center connection)"},
		&cli.StringFlag{Name: flagTokenStore, EnvVars: envTokenStore, Value: defaultTokenStore, Usage: "directory of per-company refresh token files (0600), shared with the pipelines' auth.token_store"},
	}
}

// clientFlags are the flags every verb that calls Concur needs: the
// application credentials, the URL and the token store. New flag values
// are made on each call: urfave/cli writes parsed values into them.
func clientFlags() []cli.Flag {
	return append(storeFlags(),
		&cli.StringFlag{Name: flagClientID, EnvVars: envClientID, Usage: "OAuth2 client id of the partner application"},
		// No Value: help must never show a secret, only where it comes from.
		&cli.StringFlag{Name: flagClientSecret, EnvVars: envClientSecret, Usage: "OAuth2 client secret (prefer the environment variable: command lines are visible to other users)"},
		&cli.StringFlag{Name: flagURL, EnvVars: envURL, Value: defaultURL, Usage: "base URL of the token endpoint and, until a token names its geolocation, of the API (the sandbox's URL in tests)"},
		&cli.DurationFlag{Name: flagTimeout, Value: defaultTimeout, Usage: "time limit of one HTTP request"},
	)
}

// erpFlag is the ERP id flag of the erp, request and data verbs.
func erpFlag() cli.Flag {
	return &cli.StringFlag{Name: flagERPID, EnvVars: envERPID, Usage: "ERP integration id (the erpId that erp register and erp list print)"}
}

// verbAction runs fn with a context cancelled on SIGINT or SIGTERM, or
// shows the verb's help when it was asked for after an argument.
func verbAction(fn func(ctx context.Context, c *cli.Context) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if helpAfterArgument(c) {
			return showHelp(c)
		}
		ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return fn(ctx, c)
	}
}

// helpAfterArgument reports whether -h or --help came after an argument:
// urfave/cli stops reading flags at the first argument, so it is left
// among the arguments instead of showing the help.
func helpAfterArgument(c *cli.Context) bool {
	return slices.ContainsFunc(c.Args().Slice(), func(a string) bool {
		return a == "-h" || a == "--help" || a == "-help"
	})
}

// showHelp prints the help of the verb of c as --help before any argument
// does (urfave/cli's help action for a command without subcommands).
func showHelp(c *cli.Context) error {
	tmpl := c.Command.CustomHelpTemplate
	if tmpl == "" {
		tmpl = cli.CommandHelpTemplate
	}
	cli.HelpPrinter(c.App.Writer, tmpl, c.Command)
	return nil
}

// required returns the value of a string flag or an error naming the flag
// and its environment variables.
func required(c *cli.Context, name string, env []string) (string, error) {
	if v := strings.TrimSpace(c.String(name)); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("--%s is required (or set $%s)", name, strings.Join(env, " or $"))
}

// openStore opens the token store of the flags and returns it with the
// company id.
func openStore(c *cli.Context) (*concur.DirStore, string, error) {
	companyID, err := required(c, flagCompanyID, envCompanyID)
	if err != nil {
		return nil, "", err
	}
	store, err := concur.NewDirStore(c.String(flagTokenStore))
	if err != nil {
		return nil, "", err
	}
	return store, companyID, nil
}

// newTokenSource builds the company's token source from the flags over
// store. requestToken is used by `auth exchange` only: the other verbs work
// from the stored refresh token, so that a revoked or expired one is
// reported rather than silently replaced.
func newTokenSource(c *cli.Context, hc *http.Client, companyID string, store concur.TokenStore, requestToken string) (*concur.TokenSource, error) {
	clientID, err := required(c, flagClientID, envClientID)
	if err != nil {
		return nil, err
	}
	secret, err := required(c, flagClientSecret, envClientSecret)
	if err != nil {
		return nil, err
	}
	return concur.NewTokenSource(concur.TokenSourceConfig{
		CompanyID:    companyID,
		ClientID:     clientID,
		ClientSecret: secret,
		RequestToken: requestToken,
		AuthURL:      c.String(flagURL),
		Store:        store,
		HTTPClient:   hc,
	})
}

// httpClient returns an HTTP client with the --timeout and a connection
// pool of its own, which the verb closes when it is done.
func httpClient(c *cli.Context) *http.Client {
	return &http.Client{Timeout: c.Duration(flagTimeout), Transport: http.DefaultTransport.(*http.Transport).Clone()}
}

// newClient builds the API client of the company named by the flags over
// hc, using the refresh token in the token store, and returns it with its
// token source.
func newClient(c *cli.Context, hc *http.Client) (*concur.Client, *concur.TokenSource, error) {
	store, companyID, err := openStore(c)
	if err != nil {
		return nil, nil, err
	}
	tokens, err := newTokenSource(c, hc, companyID, store, "")
	if err != nil {
		return nil, nil, err
	}
	cl, err := concur.NewClient(concur.ClientConfig{
		CompanyID:   companyID,
		TokenSource: tokens,
		HTTPClient:  hc,
		BaseURL:     c.String(flagURL),
	})
	return cl, tokens, err
}

// explain reports a refusal of the credentials by the token endpoint as
// its answer and what to do about it, which follows the OAuth2 error (see
// concur.AuthError.Advice). A CLI run makes one attempt, so the back-off
// of the refusal is left out. Other errors are returned as they are (they
// already carry the API's status, message and correlation id).
func explain(err error) error {
	var refused *concur.CredentialsRefusedError
	if !errors.As(err, &refused) {
		return err
	}
	// The token endpoint's own advice: a request token it refused is
	// mended by a new one, not by running the exchange that just failed.
	var authErr *concur.AuthError
	if errors.As(refused.Err, &authErr) && authErr.Advice() != "" {
		return fmt.Errorf("%w: %s", refused.Err, authErr.Advice())
	}
	return fmt.Errorf("%w: %s", refused.Err, refused.Advice())
}

// args returns the positional arguments after checking that there are
// between min and max of them, named by what for the error.
// urfave/cli stops parsing flags at the first argument, so a flag after an
// argument gets its own hint.
func args(c *cli.Context, minArgs, maxArgs int, what string) ([]string, error) {
	a := c.Args().Slice()
	for i, arg := range a {
		if i > 0 && strings.HasPrefix(arg, "-") && arg != "-" {
			return nil, fmt.Errorf("flag %s comes after the argument %q: put flags before arguments", arg, a[0])
		}
	}
	if len(a) < minArgs || len(a) > maxArgs || slices.Contains(a, "") {
		return nil, fmt.Errorf("want %s, got %d", what, len(a))
	}
	return a, nil
}

// erpID returns the ERP id from the only argument, else the --erp-id flag.
func erpID(c *cli.Context) (string, error) {
	a, err := args(c, 0, 1, "at most one argument (the ERP id)")
	if err != nil {
		return "", err
	}
	if len(a) == 1 {
		return a[0], nil
	}
	return required(c, flagERPID, envERPID)
}

// withClient builds the client of the flags, gets its first access token
// (so that refused credentials are reported with advice before any API
// call) and runs fn with it; its connections are closed after.
func withClient(ctx context.Context, c *cli.Context, fn func(*concur.Client) error) error {
	hc := httpClient(c)
	defer hc.CloseIdleConnections()
	cl, tokens, err := newClient(c, hc)
	if err != nil {
		return err
	}
	if _, err := tokens.TokenContext(ctx); err != nil {
		return explain(err)
	}
	return fn(cl)
}

// withERPAndArg reads the one argument (described by what) and the ERP id
// flag, and runs fn with the client, the ERP id and the argument.
func withERPAndArg(ctx context.Context, c *cli.Context, what string, fn func(cl *concur.Client, erpID, arg string) error) error {
	a, err := args(c, 1, 1, what)
	if err != nil {
		return err
	}
	id, err := required(c, flagERPID, envERPID)
	if err != nil {
		return err
	}
	return withClient(ctx, c, func(cl *concur.Client) error {
		return fn(cl, id, a[0])
	})
}

// readInput reads a file, or standard input when path is "-".
func readInput(in io.Reader, path string) ([]byte, error) {
	if path == "-" {
		data, err := io.ReadAll(in)
		if err != nil {
			return nil, fmt.Errorf("reading standard input: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return data, nil
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// writeLines writes every value of seq as a line of compact JSON (raw
// JSON values are compacted too) and returns how many it wrote. What was
// read before an error is written before the error is returned.
func writeLines[T any](w io.Writer, seq iter.Seq2[T, error]) (n int, err error) {
	bw := bufio.NewWriter(w)
	defer func() {
		if ferr := bw.Flush(); ferr != nil && err == nil {
			err = fmt.Errorf("writing output: %w", ferr)
		}
	}()
	for v, err := range seq {
		if err != nil {
			return n, err
		}
		data, err := json.Marshal(v)
		if err != nil {
			return n, fmt.Errorf("encoding output: %w", err)
		}
		if _, err := bw.Write(append(data, '\n')); err != nil {
			return n, fmt.Errorf("writing output: %w", err)
		}
		n++
	}
	return n, nil
}
