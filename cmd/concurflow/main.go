// Command concurflow is Benthos with every concurflow component registered,
// plus verbs for working with SAP Concur's Accounting Integration v4 API and
// its sandbox emulator.
//
// The auth, erp, request and data verbs (see docs/cli.md) call Concur
// through the concur package with flags that also come from CONCUR_*
// environment variables or the unprefixed names the sandbox verb prints.
// Choices where the reference pages are silent: only `auth exchange` uses
// a request token, every other verb works from the stored refresh token
// so that a revoked or expired one is reported, not silently replaced;
// `erp unregister` takes the ERP id only as an argument; ERP package files
// with unknown members are refused before anything is sent; exit codes
// are 0 and 1, plus 2 from `auth status --warn-days` for a refresh token
// about to expire. No verb prints a secret or a token.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/redpanda-data/benthos/v4/public/service"

	// Benthos core components (file, stdin/stdout, http_client, bloblang, …).
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	// Every concurflow component.
	_ "github.com/concurflow/concurflow/plugin"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args, streams{in: os.Stdin, out: os.Stdout, errOut: os.Stderr}))
}

// cliOptions are the options of the concurflow CLI, shared by main and the
// tests; the verbs read and write s.
func cliOptions(s streams) []service.CLIOptFunc {
	return []service.CLIOptFunc{
		service.CLIOptSetBinaryName("concurflow"),
		service.CLIOptSetProductName("concurflow"),
		service.CLIOptSetVersion(Version, ""),
		service.CLIOptSetDocumentationURL("https://github.com/concurflow/concurflow/tree/main/docs"),
		service.CLIOptAddCommand(sandboxCommand()),
		service.CLIOptAddCommand(authCommand(s)),
		service.CLIOptAddCommand(erpCommand(s)),
		service.CLIOptAddCommand(requestCommand(s)),
		service.CLIOptAddCommand(dataCommand(s)),
		service.CLIOptAddCommand(demoCommand(s)),
	}
}

// run runs the CLI with args (args[0] is the program name) and returns the
// exit code; errors are printed to s.errOut.
func run(ctx context.Context, args []string, s streams) int {
	code, err := service.RunCLIToCode(ctx, append(cliOptions(s), service.CLIOptSetArgs(args...))...)
	if err == nil {
		return code
	}
	printError(s.errOut, err)
	var exit *exitError
	if errors.As(err, &exit) {
		return exit.code
	}
	return code
}

// printError prints a failure on one line.
func printError(w io.Writer, err error) {
	fmt.Fprintln(w, "concurflow: "+err.Error())
}
