package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/concurflow/concurflow/sandbox"
)

// Flag names of the sandbox verb.
const (
	flagAddr            = "addr"
	flagProcessingDelay = "processing-delay"
	flagPerRecord       = "processing-per-record"
	flagRateLimit       = "rate-limit"
	flagRateLimitForm   = "rate-limit-form"
	flagSeed            = "seed"
	flagTokenLifetime   = "token-lifetime"
	flagPageSize        = "page-size"
)

// sandboxCommand is `concurflow sandbox`: the Concur emulator as a
// standalone server.
func sandboxCommand() *cli.Command {
	return &cli.Command{
		Name:  "sandbox",
		Usage: "Run the SAP Concur Accounting Integration v4 emulator (API, OAuth2 token endpoint, ESS delivery) on loopback",
		Description: `Serves the Accounting Integration v4 API, POST /oauth2/v0/token and the
sandbox admin API (/sandbox/v1) from one address, seeds companies with a
registered ERP, prints their credentials as shell export lines (one partner
app's CLIENT_ID and CLIENT_SECRET; COMPANY_ID_<n>, REQUEST_TOKEN_<n> and
ERP_ID_<n> per company, the first also unsuffixed) and runs until SIGINT
or SIGTERM.
See docs/sandbox.md for the admin API and a curl walk-through.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagAddr, Value: "127.0.0.1:8089", Usage: "listen address (loopback)"},
			&cli.DurationFlag{Name: flagProcessingDelay, Value: sandbox.DefaultProcessingDelay, Usage: "fixed part of the time between accepting a write request and processing it; given alone, the whole time (--processing-delay 0s processes at once)"},
			&cli.DurationFlag{Name: flagPerRecord, Value: sandbox.DefaultProcessingPerRecord, Usage: "part of the processing time per record of the request"},
			&cli.BoolFlag{Name: flagRateLimit, Value: true, Usage: "enforce 1 write/s per endpoint and 1 registration/min (--rate-limit=false to lift)"},
			&cli.StringFlag{Name: flagRateLimitForm, Value: "429", Usage: "how rate-limited calls are answered: 429 (the documented gateway body with error.id), 400 (the same body as 400) or 429-errormessage (an ErrorMessage body)"},
			&cli.IntFlag{Name: flagSeed, Value: 1, Usage: "number of companies to seed, each with a registered ERP"},
			&cli.DurationFlag{Name: flagTokenLifetime, Value: time.Hour, Usage: "access-token lifetime"},
			&cli.IntFlag{Name: flagPageSize, Value: 1 << 20, Usage: "maximum bytes of data per GET page"},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runSandbox(ctx, c, c.App.Writer)
		},
	}
}

// runSandbox starts the sandbox, prints the seeded credentials and blocks
// until ctx is done.
func runSandbox(ctx context.Context, c *cli.Context, out io.Writer) error {
	form := sandbox.RateLimit429
	switch c.String(flagRateLimitForm) {
	case "429":
	case "400":
		form = sandbox.RateLimit400
	case "429-errormessage":
		form = sandbox.RateLimit429ErrorMessage
	default:
		return fmt.Errorf("--%s must be 429, 400 or 429-errormessage, not %q", flagRateLimitForm, c.String(flagRateLimitForm))
	}
	if c.Int(flagSeed) < 0 {
		return fmt.Errorf("--%s must not be negative", flagSeed)
	}
	processing := sandbox.WithProcessingTime(c.Duration(flagProcessingDelay), c.Duration(flagPerRecord))
	if c.IsSet(flagProcessingDelay) && !c.IsSet(flagPerRecord) {
		processing = sandbox.WithProcessingDelay(c.Duration(flagProcessingDelay))
	}
	srv, err := sandbox.Start(
		sandbox.WithAddr(c.String(flagAddr)),
		processing,
		sandbox.WithRateLimit(c.Bool(flagRateLimit)),
		sandbox.WithRateLimitForm(form),
		sandbox.WithTokenLifetime(c.Duration(flagTokenLifetime)),
		sandbox.WithPageSize(c.Int(flagPageSize)),
	)
	if err != nil {
		return fmt.Errorf("starting sandbox: %w", err)
	}
	defer srv.Close()

	fmt.Fprintf(out, "concurflow sandbox listening on %s\n", srv.URL())
	fmt.Fprintf(out, "  token endpoint: %s/oauth2/v0/token\n  admin API:      %s/sandbox/v1/companies\n", srv.URL(), srv.URL())
	printApp(out, srv.URL(), srv.DefaultApp())
	for i := range c.Int(flagSeed) {
		co, err := srv.SeedCompany()
		if err != nil {
			return fmt.Errorf("seeding company %d: %w", i+1, err)
		}
		erpID, err := srv.RegisterERP(co.ID)
		if err != nil {
			return fmt.Errorf("registering ERP of company %d: %w", i+1, err)
		}
		printCompany(out, i+1, co, erpID)
	}
	<-ctx.Done()
	fmt.Fprintln(out, "concurflow sandbox: shutting down")
	return nil
}

// printApp prints the partner app every seeded company is connected to as
// shell variables.
func printApp(out io.Writer, base string, app sandbox.App) {
	fmt.Fprintf(out, `
# partner app, connected to every seeded company
export CONCUR_URL=%s
export CLIENT_ID=%s
export CLIENT_SECRET=%s
`, base, app.ClientID, app.ClientSecret)
}

// printCompany prints one seeded company's credentials as shell variables
// suffixed _<n>, and for the first company also unsuffixed, and the URLs to
// try them with.
func printCompany(out io.Writer, n int, co sandbox.Company, erpID string) {
	fmt.Fprintf(out, "\n# company %d (request token valid until %s)\n", n, co.RequestUntil.UTC().Format(time.RFC3339))
	suffixes := []string{fmt.Sprintf("_%d", n)}
	if n == 1 {
		suffixes = []string{"", "_1"}
	}
	for _, sfx := range suffixes {
		fmt.Fprintf(out, "export COMPANY_ID%[1]s=%[2]s\nexport REQUEST_TOKEN%[1]s=%[3]s\nexport ERP_ID%[1]s=%[4]s\n", sfx, co.ID, co.RequestToken, erpID)
	}
	if n == 1 {
		fmt.Fprint(out, `#   token:    POST $CONCUR_URL/oauth2/v0/token
#   accounts: $CONCUR_URL/accountingintegration/v4/companies/$COMPANY_ID/erps/$ERP_ID/accounts
`)
	}
}
