package concur

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
)

// RegisterERP registers an ERP integration and returns it with its ErpID
// (see the Registration page). Concur allows one call per minute.
func (c *Client) RegisterERP(ctx context.Context, pkg ErpPackage) (*ErpPackage, error) {
	body, err := json.Marshal(pkg)
	if err != nil {
		return nil, fmt.Errorf("encoding erp package: %w", err)
	}
	var out ErpPackage
	if _, err := c.do(ctx, call{method: http.MethodPost, body: body, out: &out}); err != nil {
		return nil, fmt.Errorf("registering erp for company %s: %w", c.companyID, err)
	}
	return &out, nil
}

// ListERPs returns every ERP integration registered for the company,
// following next links.
func (c *Client) ListERPs(ctx context.Context) ([]ErpPackage, error) {
	var out []ErpPackage
	for pkg, err := range paginate[ErpPackage](ctx, c) {
		if err != nil {
			return nil, fmt.Errorf("listing erps for company %s: %w", c.companyID, err)
		}
		out = append(out, pkg)
	}
	return out, nil
}

// GetERP returns one ERP integration.
func (c *Client) GetERP(ctx context.Context, erpID string) (*ErpPackage, error) {
	var out ErpPackage
	if _, err := c.do(ctx, call{method: http.MethodGet, segments: []string{erpID}, out: &out}); err != nil {
		return nil, fmt.Errorf("getting erp %s for company %s: %w", erpID, c.companyID, err)
	}
	return &out, nil
}

// UpdateERP replaces the features and/or posting options of an ERP
// integration. As the Registration page says, each list sent must hold the
// whole set, not only the changed entries. A nil slice is left out of the
// request and keeps what Concur has; a non-nil empty slice is sent as []
// and clears it (so the last feature can be switched off). At least one of
// the two must be non-nil; the other fields of pkg are not sent.
func (c *Client) UpdateERP(ctx context.Context, erpID string, pkg ErpPackage) (*ErpPackage, error) {
	if pkg.Features == nil && pkg.PostingOptions == nil {
		return nil, fmt.Errorf("updating erp %s for company %s: neither features nor posting options given (use an empty list to clear one)", erpID, c.companyID)
	}
	// ErpPackage omits empty lists, as registration wants; an update must
	// be able to send [] to clear a list.
	body, err := json.Marshal(struct {
		Features       *[]ErpFeature    `json:"features,omitempty"`
		PostingOptions *[]PostingOption `json:"postingOptions,omitempty"`
	}{nilIfNil(pkg.Features), nilIfNil(pkg.PostingOptions)})
	if err != nil {
		return nil, fmt.Errorf("encoding erp package: %w", err)
	}
	var out ErpPackage
	if _, err := c.do(ctx, call{method: http.MethodPatch, segments: []string{erpID}, body: body, out: &out}); err != nil {
		return nil, fmt.Errorf("updating erp %s for company %s: %w", erpID, c.companyID, err)
	}
	return &out, nil
}

// nilIfNil points at s, or is nil when s is nil, so that omitempty drops
// only a missing list and an empty one is sent as [].
func nilIfNil[T any](s []T) *[]T {
	if s == nil {
		return nil
	}
	return &s
}

// UnregisterERP removes the ERP integration and all its cached data.
func (c *Client) UnregisterERP(ctx context.Context, erpID string) error {
	if _, err := c.do(ctx, call{method: http.MethodDelete, segments: []string{erpID}}); err != nil {
		return fmt.Errorf("unregistering erp %s for company %s: %w", erpID, c.companyID, err)
	}
	return nil
}

// Patch sends body, a whole Update ERP ... Request (see the Schema page), as
// is to the PATCH endpoint of obj (accounts, vendors or lists) and returns
// the accepted request's status. ifNoneMatch, when not empty, is sent as the
// if-none-match header: Concur answers 412 (ErrAlreadyAccepted) when it has
// already accepted a request with that key. The body is not checked; keep
// it within the 4 MB limit of the object's page.
func (c *Client) Patch(ctx context.Context, erpID string, obj Object, body []byte, ifNoneMatch string) (*RequestStatus, error) {
	if !obj.Patchable() {
		return nil, fmt.Errorf("patching %s for company %s: no PATCH endpoint (tax data uses AddTaxData or ReplaceTaxData)", obj, c.companyID)
	}
	st, err := c.write(ctx, http.MethodPatch, erpID, obj, body, ifNoneMatch)
	if err != nil {
		return nil, fmt.Errorf("patching %s for company %s: %w", obj, c.companyID, err)
	}
	return st, nil
}

// AddTaxData POSTs body, a whole tax data request (see the Tax Data page), as
// is: the data is added to the tax data cached in Concur.
func (c *Client) AddTaxData(ctx context.Context, erpID string, body []byte, ifNoneMatch string) (*RequestStatus, error) {
	st, err := c.write(ctx, http.MethodPost, erpID, ObjectTaxData, body, ifNoneMatch)
	if err != nil {
		return nil, fmt.Errorf("adding tax data for company %s: %w", c.companyID, err)
	}
	return st, nil
}

// ReplaceTaxData PUTs body, a whole tax data request, as is: all the tax
// data cached in Concur is replaced by it (isDeleted is ignored).
func (c *Client) ReplaceTaxData(ctx context.Context, erpID string, body []byte, ifNoneMatch string) (*RequestStatus, error) {
	st, err := c.write(ctx, http.MethodPut, erpID, ObjectTaxData, body, ifNoneMatch)
	if err != nil {
		return nil, fmt.Errorf("replacing tax data for company %s: %w", c.companyID, err)
	}
	return st, nil
}

func (c *Client) write(ctx context.Context, method, erpID string, obj Object, body []byte, ifNoneMatch string) (*RequestStatus, error) {
	if body == nil {
		return nil, errors.New("empty body")
	}
	var st RequestStatus
	corr, err := c.do(ctx, call{method: method, segments: []string{erpID, string(obj)}, body: body, ifNoneMatch: ifNoneMatch, out: &st})
	if err != nil {
		return nil, err
	}
	st.CorrelationID = corr
	return &st, nil
}

// PatchOptions are the options of the typed PATCH conveniences.
type PatchOptions struct {
	// DeleteAll deletes all cached data of the object before the new data
	// is processed.
	DeleteAll bool
	// IfNoneMatch is the idempotency key sent as if-none-match.
	IfNoneMatch string
}

// PatchAccounts sends accounts in one PATCH request.
func (c *Client) PatchAccounts(ctx context.Context, erpID string, accounts []Account, opts PatchOptions) (*RequestStatus, error) {
	return patchTyped(ctx, c, erpID, ObjectAccounts, accounts, opts)
}

// PatchVendors sends vendors in one PATCH request.
func (c *Client) PatchVendors(ctx context.Context, erpID string, vendors []Vendor, opts PatchOptions) (*RequestStatus, error) {
	return patchTyped(ctx, c, erpID, ObjectVendors, vendors, opts)
}

// PatchLists sends list names in one PATCH request.
func (c *Client) PatchLists(ctx context.Context, erpID string, lists []ListName, opts PatchOptions) (*RequestStatus, error) {
	return patchTyped(ctx, c, erpID, ObjectLists, lists, opts)
}

func patchTyped[T any](ctx context.Context, c *Client, erpID string, obj Object, data []T, opts PatchOptions) (*RequestStatus, error) {
	body, err := json.Marshal(DataRequest[T]{DeleteAll: opts.DeleteAll, Data: data})
	if err != nil {
		return nil, fmt.Errorf("encoding %s for company %s: %w", obj, c.companyID, err)
	}
	return c.Patch(ctx, erpID, obj, body, opts.IfNoneMatch)
}

// RequestStatus returns the processing status of a data request (see the
// Request Processing page).
func (c *Client) RequestStatus(ctx context.Context, erpID, requestID string) (*RequestStatus, error) {
	var st RequestStatus
	corr, err := c.do(ctx, call{method: http.MethodGet, segments: []string{erpID, "requests", requestID}, out: &st})
	if err != nil {
		return nil, fmt.Errorf("getting status of request %s for company %s: %w", requestID, c.companyID, err)
	}
	st.CorrelationID = corr
	return &st, nil
}

// Mappings returns the configuration settings and mappings of the ERP
// integration (see the Mappings page).
func (c *Client) Mappings(ctx context.Context, erpID string) (*MappingsResponse, error) {
	raw, err := c.MappingsRaw(ctx, erpID)
	if err != nil {
		return nil, err
	}
	var out MappingsResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decoding mappings of erp %s for company %s: %w", erpID, c.companyID, err)
	}
	return &out, nil
}

// MappingsRaw returns the Mappings answer as Concur sent it (a JSON
// object), members MappingsResponse does not know included; for callers
// that pass the mappings on rather than read them.
func (c *Client) MappingsRaw(ctx context.Context, erpID string) (json.RawMessage, error) {
	var out json.RawMessage
	if _, err := c.do(ctx, call{method: http.MethodGet, segments: []string{erpID, "mappings"}, out: &out}); err != nil {
		return nil, fmt.Errorf("getting mappings of erp %s for company %s: %w", erpID, c.companyID, err)
	}
	return out, nil
}

// Accounts iterates over the cached ERP accounts, following next links.
// Iteration stops after the first error, which is yielded.
func (c *Client) Accounts(ctx context.Context, erpID string) iter.Seq2[Account, error] {
	return listObject[Account](ctx, c, erpID, ObjectAccounts)
}

// Vendors iterates over the cached ERP vendors, following next links.
func (c *Client) Vendors(ctx context.Context, erpID string) iter.Seq2[Vendor, error] {
	return listObject[Vendor](ctx, c, erpID, ObjectVendors)
}

// Lists iterates over the cached ERP list names, following next links.
func (c *Client) Lists(ctx context.Context, erpID string) iter.Seq2[ListName, error] {
	return listObject[ListName](ctx, c, erpID, ObjectLists)
}

// TaxData iterates over the cached ERP tax data, one country at a time,
// following next links.
func (c *Client) TaxData(ctx context.Context, erpID string) iter.Seq2[TaxData, error] {
	return listObject[TaxData](ctx, c, erpID, ObjectTaxData)
}

// RawRecords iterates over the cached records of obj as raw JSON, following
// next links; useful to copy records without a typed round trip.
func (c *Client) RawRecords(ctx context.Context, erpID string, obj Object) iter.Seq2[json.RawMessage, error] {
	return listObject[json.RawMessage](ctx, c, erpID, obj)
}

// RequestErrors iterates over the processing errors of a data request,
// following next links.
func (c *Client) RequestErrors(ctx context.Context, erpID, requestID string) iter.Seq2[ProcessingError, error] {
	return wrapSeq(paginate[ProcessingError](ctx, c, erpID, "requests", requestID, "errors"),
		func(err error) error {
			return fmt.Errorf("listing errors of request %s for company %s: %w", requestID, c.companyID, err)
		})
}

// listObject iterates over the cached records of obj with errors wrapped.
func listObject[T any](ctx context.Context, c *Client, erpID string, obj Object) iter.Seq2[T, error] {
	return wrapSeq(paginate[T](ctx, c, erpID, string(obj)), func(err error) error {
		return fmt.Errorf("listing %s of erp %s for company %s: %w", obj, erpID, c.companyID, err)
	})
}

// paginate GETs the company path of segments and each next page, yielding
// every record. It stops at the first error (yielded), at a page without
// records, and refuses to visit the same href twice.
func paginate[T any](ctx context.Context, c *Client, segments ...string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		href, err := c.companyPath(segments...)
		if err != nil {
			yield(zero, err)
			return
		}
		seen := make(map[string]bool)
		for href != "" {
			if seen[href] {
				yield(zero, fmt.Errorf("next link %q repeats an earlier page", href))
				return
			}
			seen[href] = true
			var answer pageAnswer[T]
			if _, err := c.do(ctx, call{method: http.MethodGet, href: href, out: &answer}); err != nil {
				yield(zero, err)
				return
			}
			page := answer.page()
			for _, rec := range page.Data {
				if !yield(rec, nil) {
					return
				}
			}
			if len(page.Data) == 0 {
				return
			}
			href = page.Links.Href(RelNext)
		}
	}
}

// wrapSeq wraps every error of seq with wrap.
func wrapSeq[T any](seq iter.Seq2[T, error], wrap func(error) error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for v, err := range seq {
			if err != nil {
				err = wrap(err)
			}
			if !yield(v, err) {
				return
			}
		}
	}
}
