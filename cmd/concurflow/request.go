package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/concurflow/concurflow/concur"
)

// Flag names of the request verbs.
const (
	flagWait         = "wait"
	flagPollInterval = "poll-interval"
)

// requestCommand is `concurflow request`: the status and the errors of an
// asynchronous data request (see the Request Processing page).
func requestCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "request",
		Usage: "Show the processing status and the record errors of a data request",
		Description: `Every PATCH of accounts, vendors or lists and every tax data write is
answered with a requestId and processed asynchronously (see the Request
Processing page). These verbs read its status and its per-record errors.`,
		Subcommands: []*cli.Command{
			{
				Name:      "status",
				Usage:     "Print the status of a data request as JSON",
				ArgsUsage: "REQUEST_ID",
				Description: `Prints the RequestStatus (requestId, status PROCESSING, SUCCESS, PARTIAL
or ERROR, links). With --wait it polls until the status is final. The exit
code is 0 whatever the status: read the status field.`,
				Flags: append(clientFlags(), erpFlag(),
					&cli.BoolFlag{Name: flagWait, Usage: "poll until the status is final (SUCCESS, PARTIAL or ERROR)"},
					&cli.DurationFlag{Name: flagPollInterval, Value: time.Second, Usage: "wait between polls with --wait"},
				),
				Action: verbAction(func(ctx context.Context, c *cli.Context) error {
					return withERPAndArg(ctx, c, "exactly one argument (the request id)", func(cl *concur.Client, erpID, requestID string) error {
						st, err := requestStatus(ctx, cl, erpID, requestID, c.Bool(flagWait), c.Duration(flagPollInterval))
						if err != nil {
							return err
						}
						return printJSON(s.out, st)
					})
				}),
			},
			{
				Name:      "errors",
				Usage:     "Print every record error of a data request, one JSON object a line",
				ArgsUsage: "REQUEST_ID",
				Description: `Follows every page of the request's errors and prints each
ProcessingError (errorCode, errorMessage, objectType, values,
validationErrors) on its own line. A request without errors prints
nothing.`,
				Flags: append(clientFlags(), erpFlag()),
				Action: verbAction(func(ctx context.Context, c *cli.Context) error {
					return withERPAndArg(ctx, c, "exactly one argument (the request id)", func(cl *concur.Client, erpID, requestID string) error {
						n, err := writeLines(s.out, cl.RequestErrors(ctx, erpID, requestID))
						if err != nil {
							return fmt.Errorf("%w (after %d errors printed)", err, n)
						}
						return nil
					})
				}),
			},
		},
	}
}

// requestStatus gets the status of a request, polling every interval until
// it is final when wait is set.
func requestStatus(ctx context.Context, cl *concur.Client, erpID, requestID string, wait bool, interval time.Duration) (*concur.RequestStatus, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("--%s must be positive", flagPollInterval)
	}
	for {
		st, err := cl.RequestStatus(ctx, erpID, requestID)
		if err != nil || !wait || st.Status.Final() {
			return st, err
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("waiting for request %s: %w", requestID, ctx.Err())
		case <-t.C:
		}
	}
}
