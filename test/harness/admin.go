package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Admin reads a sandbox's state through its admin API (/sandbox/v1).
type Admin struct {
	URL  string
	HTTP *http.Client
}

// SandboxRequest is an accepted write request as the admin API lists it.
type SandboxRequest struct {
	ID          string    `json:"requestId"`
	Method      string    `json:"method"`
	IfNoneMatch string    `json:"ifNoneMatch"`
	Status      string    `json:"status"`
	Records     int       `json:"records"`
	Failed      int       `json:"failedRecords"`
	Completed   time.Time `json:"completed"`
}

// LogEntry is one API or token request in the sandbox's request log.
type LogEntry struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	Status      int    `json:"status"`
	IfNoneMatch string `json:"ifNoneMatch"`
	Reset       bool   `json:"connectionReset"`
}

func (a Admin) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/sandbox/v1"+path, nil)
	if err != nil {
		return err
	}
	cl := a.HTTP
	if cl == nil {
		cl = http.DefaultClient
	}
	resp, err := cl.Do(req)
	if err != nil {
		return fmt.Errorf("reading sandbox %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading sandbox %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reading sandbox %s: %s: %s", path, resp.Status, body)
	}
	wrap := struct {
		Data any `json:"data"`
	}{v}
	if err := json.Unmarshal(body, &wrap); err != nil {
		return fmt.Errorf("decoding sandbox %s: %w", path, err)
	}
	return nil
}

// Names returns id → name of the records cached for a target.
func (a Admin) Names(ctx context.Context, t Target) (map[string]string, error) {
	var recs []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := a.get(ctx, fmt.Sprintf("/companies/%s/erps/%s/%s", t.CompanyID, t.ERPID, t.Object), &recs); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(recs))
	for _, r := range recs {
		out[r.ID] = r.Name
	}
	return out, nil
}

// Requests lists the write requests the sandbox accepted for an ERP.
func (a Admin) Requests(ctx context.Context, companyID, erpID string) ([]SandboxRequest, error) {
	var reqs []SandboxRequest
	err := a.get(ctx, fmt.Sprintf("/companies/%s/erps/%s/requests", companyID, erpID), &reqs)
	return reqs, err
}

// Log returns the sandbox's request log (its most recent entries).
func (a Admin) Log(ctx context.Context) ([]LogEntry, error) {
	var log []LogEntry
	err := a.get(ctx, "/log", &log)
	return log, err
}

// CheckState compares every target's cached records with want. It returns
// an error wrapping ErrNotYet describing the differences, nil when equal.
func (a Admin) CheckState(ctx context.Context, want map[Target]map[string]string) error {
	for t, w := range want {
		got, err := a.Names(ctx, t)
		if err != nil {
			return err
		}
		if d := Diff(w, got); d != "" {
			return fmt.Errorf("%w: company %s %s: %s", ErrNotYet, t.CompanyID, t.Object, d)
		}
	}
	return nil
}

// ApplyStats summarises the write requests of a run.
type ApplyStats struct {
	Accepted  int // write requests accepted (202)
	Records   int // records in them
	Resent412 int // bodies sent again and answered 412
}

// CheckAppliedOnce verifies that no body was applied twice: every accepted
// request of the companies has a distinct if-none-match key, and every PATCH
// in the log that repeats an accepted key was answered 412 (or failed before
// the sandbox read it: a reset or a 429/5xx).
func (a Admin) CheckAppliedOnce(ctx context.Context, cos []Company) (ApplyStats, error) {
	var st ApplyStats
	accepted := map[string]bool{}
	for _, co := range cos {
		reqs, err := a.Requests(ctx, co.ID, co.ERPID)
		if err != nil {
			return st, err
		}
		for _, r := range reqs {
			if r.IfNoneMatch == "" {
				return st, fmt.Errorf("request %s of company %s was sent without if-none-match", r.ID, co.ID)
			}
			if accepted[r.IfNoneMatch] {
				return st, fmt.Errorf("body with if-none-match %s was accepted twice", r.IfNoneMatch)
			}
			accepted[r.IfNoneMatch] = true
			st.Accepted++
			st.Records += r.Records
		}
	}
	log, err := a.Log(ctx)
	if err != nil {
		return st, err
	}
	seen202 := map[string]bool{}
	for _, e := range log {
		if e.IfNoneMatch == "" || (e.Method != http.MethodPatch && e.Method != http.MethodPost && e.Method != http.MethodPut) {
			continue
		}
		switch {
		case e.Status == http.StatusAccepted:
			if seen202[e.IfNoneMatch] {
				return st, fmt.Errorf("if-none-match %s answered 202 twice", e.IfNoneMatch)
			}
			seen202[e.IfNoneMatch] = true
		case e.Status == http.StatusPreconditionFailed:
			if !accepted[e.IfNoneMatch] {
				return st, fmt.Errorf("if-none-match %s answered 412 but never accepted", e.IfNoneMatch)
			}
			st.Resent412++
		}
	}
	return st, nil
}

// WaitIdle polls until every accepted request of the companies finished
// processing.
func (a Admin) WaitIdle(ctx context.Context, cos []Company) error {
	for {
		busy := 0
		for _, co := range cos {
			reqs, err := a.Requests(ctx, co.ID, co.ERPID)
			if err != nil {
				return err
			}
			for _, r := range reqs {
				if r.Completed.IsZero() {
					busy++
				}
			}
		}
		if busy == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d requests to finish: %w", busy, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
