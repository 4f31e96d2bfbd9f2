package concur

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Status of a List Item Bulk v4 answer (see Bulk List Item Response).
const (
	BulkSuccess        = "SUCCESS"
	BulkPartialSuccess = "PARTIAL_SUCCESS"
	BulkFailure        = "FAILURE"
)

// Error ids of the failed parts of a List Item Bulk v4 answer, as the page's
// Error Messages tables list them.
const (
	ListItemErrListNotFound             = "list.not.found"
	ListItemErrListDeleted              = "list.deleted"
	ListItemErrDuplicateCode            = "item.duplicate.code"
	ListItemErrDuplicateCodeDeleted     = "item.duplicate.code.deleted"
	ListItemErrParentNotFound           = "item.parent.not.found"
	ListItemErrParentDeleted            = "item.parent.deleted"
	ListItemErrListIDNotMatchParent     = "item.list.id.not.match.parent"
	ListItemErrMaxLevelExceeded         = "item.max.level.exceeded"
	ListItemErrDuplicateItemShared      = "item.duplicate.item.shared"
	ListItemErrOperationTimeout         = "item.operation.timeout"
	ListItemErrNotFound                 = "item.not.found"
	ListItemErrDeleted                  = "item.deleted"
	ListItemErrRequestValidation        = "request.validation.error"
	ListItemErrSecurityRateLimitReached = "security.rate.limit.reached"
)

// BulkListItemCreate is one part of a bulk create (see Bulk List Item
// Create Request Part): ShortCode and Value are required, ParentCode is the
// parent's long code for a child item.
type BulkListItemCreate struct {
	ShortCode  string `json:"shortCode"`
	Value      string `json:"value"`
	ParentCode string `json:"parentCode,omitempty"`
}

// Code returns the long code the created item will have: the parent's long
// code and the short code joined by a hyphen, or the short code alone.
func (p BulkListItemCreate) Code() string {
	if p.ParentCode == "" {
		return p.ShortCode
	}
	return p.ParentCode + ListItemCodeSeparator + p.ShortCode
}

// BulkListItemUpdate is one part of a bulk update (see Bulk List Item Update
// Request Part): Code, the item's long code, is required; Value changes the
// value and Deleted, when not nil, the deleted state.
type BulkListItemUpdate struct {
	Code    string `json:"code"`
	Value   string `json:"value,omitempty"`
	Deleted *bool  `json:"deleted,omitempty"`
}

// BulkListItemPart is the request part echoed in a Bulk List Item Error:
// either a create part (ShortCode, Value, ParentCode) or an update part
// (Code, Value, Deleted).
type BulkListItemPart struct {
	Code       string `json:"code,omitempty"`
	ShortCode  string `json:"shortCode,omitempty"`
	Value      string `json:"value,omitempty"`
	ParentCode string `json:"parentCode,omitempty"`
	Deleted    *bool  `json:"deleted,omitempty"`
}

// Key returns the long code the part is about: Code for an update part,
// else the code a create part would give the item.
func (p BulkListItemPart) Key() string {
	if p.Code != "" {
		return p.Code
	}
	return BulkListItemCreate{ShortCode: p.ShortCode, ParentCode: p.ParentCode}.Code()
}

// BulkListItemResponse is the answer to a bulk create or update (see Bulk
// List Item Response). Concur answers it with 200 or 201 on SUCCESS, 206 on
// PARTIAL_SUCCESS and 400 on FAILURE; each of these is returned as a
// response, not as an error.
type BulkListItemResponse struct {
	Status           string              `json:"status"`
	RecordsSucceeded int                 `json:"recordsSucceeded"`
	RecordsFailed    int                 `json:"recordsFailed"`
	Errors           []BulkListItemError `json:"errors"`
	// StatusCode and CorrelationID come from the HTTP answer.
	StatusCode    int    `json:"-"`
	CorrelationID string `json:"-"`
}

// BulkListItemError is one failed part of a bulk request (see Bulk List Item
// Error). It implements error, so that callers can attach it to the record
// it belongs to.
type BulkListItemError struct {
	ID       string           `json:"id"`
	Message  string           `json:"message"`
	ListItem BulkListItemPart `json:"listItem"`
}

// Error formats the failure as "list item CODE: id: message".
func (e *BulkListItemError) Error() string {
	return fmt.Sprintf("list item %q: %s: %s", e.ListItem.Key(), e.ID, e.Message)
}

// CreateListItems creates up to MaxBulkListItems items in a list (POST
// /list/v4/lists/{listId}/bulk). Parts run in order, each on its own: the
// answer says which failed. An empty or oversized request is refused before
// anything is sent.
func (c *Client) CreateListItems(ctx context.Context, listID string, parts []BulkListItemCreate) (*BulkListItemResponse, error) {
	resp, err := c.bulk(ctx, http.MethodPost, listID, len(parts), struct {
		Requests []BulkListItemCreate `json:"requests"`
	}{parts})
	if err != nil {
		return nil, fmt.Errorf("creating %d items in list %s for company %s: %w", len(parts), listID, c.companyID, err)
	}
	return resp, nil
}

// UpdateListItems updates or deletes up to MaxBulkListItems items of a list
// by long code (PATCH /list/v4/lists/{listId}/bulk). Parts run in order,
// each on its own: the answer says which failed.
func (c *Client) UpdateListItems(ctx context.Context, listID string, parts []BulkListItemUpdate) (*BulkListItemResponse, error) {
	resp, err := c.bulk(ctx, http.MethodPatch, listID, len(parts), struct {
		Requests []BulkListItemUpdate `json:"requests"`
	}{parts})
	if err != nil {
		return nil, fmt.Errorf("updating %d items in list %s for company %s: %w", len(parts), listID, c.companyID, err)
	}
	return resp, nil
}

// bulk sends one bulk request. Unlike other calls, a 400 or 206 whose body
// is a Bulk List Item Response is an answer, not an error; a 400 with an
// Error Message body (request validation, rate limit) is an *APIError.
func (c *Client) bulk(ctx context.Context, method, listID string, n int, in any) (*BulkListItemResponse, error) {
	if n < 1 || n > MaxBulkListItems {
		return nil, fmt.Errorf("%d request parts: a bulk request carries 1 to %d", n, MaxBulkListItems)
	}
	p, err := listItemPath("lists", listID, "bulk")
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	u, err := c.resolve(ctx, p)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	start := c.now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.report(ResponseInfo{Method: method, Path: u.Path, Duration: c.now().Sub(start), Err: err})
		return nil, err
	}
	defer resp.Body.Close()
	corr := resp.Header.Get("Concur-Correlationid")
	c.report(ResponseInfo{Method: method, Path: u.Path, StatusCode: resp.StatusCode, Duration: c.now().Sub(start), CorrelationID: corr})
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	if !ok && resp.StatusCode != http.StatusBadRequest {
		return nil, newAPIError(resp, c.now())
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading answer: %w", err)
	}
	if int64(len(data)) > c.maxBody {
		return nil, fmt.Errorf("answer larger than %d bytes", c.maxBody)
	}
	var out BulkListItemResponse
	decodeErr := json.Unmarshal(data, &out)
	if !ok && (decodeErr != nil || out.Status == "") {
		// An Error Message, not a bulk answer.
		resp.Body = io.NopCloser(bytes.NewReader(data))
		return nil, newAPIError(resp, c.now())
	}
	if decodeErr != nil {
		return nil, fmt.Errorf("decoding answer (status %d): %w", resp.StatusCode, decodeErr)
	}
	if out.Status == "" {
		return nil, errors.New("answer without a status")
	}
	out.StatusCode, out.CorrelationID = resp.StatusCode, corr
	return &out, nil
}
