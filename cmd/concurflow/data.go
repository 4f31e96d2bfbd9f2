package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/concurflow/concurflow/concur"
)

// dataObject returns the API object of a name `data get` accepts: the
// API's path segment (taxData), as the concur_accounting output's object
// field takes it; tax-data and tax_data are accepted too.
func dataObject(name string) (concur.Object, error) {
	if name == "tax-data" {
		return concur.ObjectTaxData, nil
	}
	obj, err := concur.ParseObject(name)
	if err != nil {
		return "", fmt.Errorf("unknown object %q: want accounts, vendors, lists or taxData", name)
	}
	return obj, nil
}

// dataCommand is `concurflow data`: the ERP data cached in Concur.
func dataCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "data",
		Usage: "Read the ERP data cached in Concur",
		Subcommands: []*cli.Command{
			{
				Name:      "get",
				Usage:     "Print every cached record of accounts, vendors, lists or taxData, one JSON object a line",
				ArgsUsage: "accounts|vendors|lists|taxData",
				Description: `Follows every next link of the object's GET endpoint (pages of about
1 MB, see the Accounts page) and prints each record as Concur returned it,
compacted to one line. Records already printed stay printed when a later
page fails; the error then goes to standard error with a non-zero exit.
Tax data is printed one country a record.`,
				Flags: append(clientFlags(), erpFlag()),
				Action: verbAction(func(ctx context.Context, c *cli.Context) error {
					what := "exactly one argument (accounts, vendors, lists or taxData)"
					return withERPAndArg(ctx, c, what, func(cl *concur.Client, erpID, name string) error {
						obj, err := dataObject(name)
						if err != nil {
							return err
						}
						n, err := writeLines(s.out, cl.RawRecords(ctx, erpID, obj))
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
