package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/concurflow/concurflow/concur"
)

// dataObject returns the API object of a name `data get` accepts.
func dataObject(name string) (concur.Object, error) {
	switch name {
	case "accounts", "vendors", "lists":
		return concur.Object(name), nil
	case "tax-data":
		return concur.ObjectTaxData, nil
	}
	return "", fmt.Errorf("unknown object %q: want accounts, vendors, lists or tax-data", name)
}

// dataCommand is `concurflow data`: the ERP data cached in Concur.
func dataCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "data",
		Usage: "Read the ERP data cached in Concur",
		Subcommands: []*cli.Command{
			{
				Name:      "get",
				Usage:     "Print every cached record of accounts, vendors, lists or tax-data, one JSON object a line",
				ArgsUsage: "accounts|vendors|lists|tax-data",
				Description: `Follows every next link of the object's GET endpoint (pages of about
1 MB, see the Accounts page) and prints each record as Concur returned it,
compacted to one line. Records already printed stay printed when a later
page fails; the error then goes to standard error with a non-zero exit.
Tax data is printed one country a record.`,
				Flags: append(clientFlags(), erpFlag()),
				Action: verbAction(func(ctx context.Context, c *cli.Context) error {
					a, err := args(c, 1, 1, "exactly one argument (accounts, vendors, lists or tax-data)")
					if err != nil {
						return err
					}
					obj, err := dataObject(a[0])
					if err != nil {
						return err
					}
					id, err := required(c, flagERPID, envERPID)
					if err != nil {
						return err
					}
					return withClient(c, func(cl *concur.Client) error {
						n, err := writeLines(s.out, cl.RawRecords(ctx, id, obj))
						if err != nil {
							return fmt.Errorf("%w (after %d records printed)", err, n)
						}
						return nil
					})
				}),
			},
		},
	}
}
