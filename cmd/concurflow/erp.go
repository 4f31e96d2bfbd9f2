package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/urfave/cli/v2"

	"github.com/concurflow/concurflow/concur"
)

// flagFile is the ERP package file flag of `erp register` and `erp update`.
const flagFile = "file"

// erpCommand is `concurflow erp`: the ERP registration endpoints (see the
// Registration page).
func erpCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "erp",
		Usage: "Register, list, show, update and unregister ERP integrations",
		Description: `The ERP registration endpoints of the Accounting Integration v4 API (see
the Registration page), with the refresh token from the token store
(run "concurflow auth exchange" first). Results are printed as JSON.`,
		Subcommands: []*cli.Command{
			{
				Name:      "register",
				Usage:     "Register an ERP integration from an ErpPackage JSON file and print it with its erpId",
				ArgsUsage: " ",
				Description: `The file is an ErpPackage as on the Registration page (partnerAppName,
erpName, externalErpId, features, postingOptions); unknown members are
refused so that a misspelt one is not silently dropped. Concur accepts
one registration per company per minute.`,
				Flags: append(clientFlags(), fileFlag()),
				Action: verbAction(func(ctx context.Context, c *cli.Context) error {
					if _, err := args(c, 0, 0, "no arguments"); err != nil {
						return err
					}
					pkg, err := readERPPackage(c, s.in)
					if err != nil {
						return err
					}
					return withClient(ctx, c, func(cl *concur.Client) error {
						return s.printERP(cl.RegisterERP(ctx, pkg))
					})
				}),
			},
			{
				Name:      "list",
				Usage:     "List the company's ERP integrations, one JSON object a line",
				ArgsUsage: " ",
				Flags:     clientFlags(),
				Action: verbAction(func(ctx context.Context, c *cli.Context) error {
					if _, err := args(c, 0, 0, "no arguments"); err != nil {
						return err
					}
					return withClient(ctx, c, func(cl *concur.Client) error {
						erps, err := cl.ListERPs(ctx)
						if err != nil {
							return err
						}
						_, err = writeLines(s.out, okSeq(erps))
						return err
					})
				}),
			},
			{
				Name:        "get",
				Usage:       "Show one ERP integration",
				ArgsUsage:   "[ERP_ID]",
				Description: `ERP_ID defaults to --erp-id, $CONCUR_ERP_ID or $ERP_ID.`,
				Flags:       append(clientFlags(), erpFlag()),
				Action: verbAction(func(ctx context.Context, c *cli.Context) error {
					id, err := erpID(c)
					if err != nil {
						return err
					}
					return withClient(ctx, c, func(cl *concur.Client) error {
						return s.printERP(cl.GetERP(ctx, id))
					})
				}),
			},
			{
				Name:      "update",
				Usage:     "Replace the features and posting options of an ERP integration",
				ArgsUsage: "[ERP_ID]",
				Description: `The file is an ErpPackage; only its features and postingOptions are
sent, and, as the Registration page says, each must hold the whole set,
not only what changes. ERP_ID defaults to --erp-id, $CONCUR_ERP_ID or
$ERP_ID.`,
				Flags: append(clientFlags(), erpFlag(), fileFlag()),
				Action: verbAction(func(ctx context.Context, c *cli.Context) error {
					id, err := erpID(c)
					if err != nil {
						return err
					}
					pkg, err := readERPPackage(c, s.in)
					if err != nil {
						return err
					}
					return withClient(ctx, c, func(cl *concur.Client) error {
						return s.printERP(cl.UpdateERP(ctx, id, pkg))
					})
				}),
			},
			{
				Name:      "unregister",
				Usage:     "Unregister an ERP integration and delete all its cached data",
				ArgsUsage: "ERP_ID",
				Description: `Deletes the integration and everything cached for it. The ERP id must
be given as an argument (not taken from the environment), so that an
exported ERP_ID is never deleted by accident.`,
				Flags: clientFlags(),
				Action: verbAction(func(ctx context.Context, c *cli.Context) error {
					a, err := args(c, 1, 1, "exactly one argument (the ERP id)")
					if err != nil {
						return err
					}
					id := a[0]
					return withClient(ctx, c, func(cl *concur.Client) error {
						if err := cl.UnregisterERP(ctx, id); err != nil {
							return err
						}
						fmt.Fprintf(s.errOut, "unregistered erp %s of company %s\n", id, cl.CompanyID())
						return nil
					})
				}),
			},
		},
	}
}

func fileFlag() cli.Flag {
	return &cli.StringFlag{Name: flagFile, Aliases: []string{"f"}, Required: true, Usage: "ErpPackage JSON file, or - for standard input"}
}

// printERP prints the ERP package an API call returned, or returns its
// error.
func (s streams) printERP(pkg *concur.ErpPackage, err error) error {
	if err != nil {
		return err
	}
	return printJSON(s.out, pkg)
}

// readERPPackage reads the ErpPackage of --file strictly: one JSON object
// with known members only.
func readERPPackage(c *cli.Context, in io.Reader) (concur.ErpPackage, error) {
	path := c.String(flagFile)
	data, err := readInput(in, path)
	if err != nil {
		return concur.ErpPackage{}, err
	}
	var pkg concur.ErpPackage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pkg); err != nil {
		return pkg, fmt.Errorf("reading ErpPackage from %s: %w", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return pkg, fmt.Errorf("reading ErpPackage from %s: more than one JSON value", path)
	}
	return pkg, nil
}

// okSeq iterates over values without errors.
func okSeq[T any](values []T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, v := range values {
			if !yield(v, nil) {
				return
			}
		}
	}
}
