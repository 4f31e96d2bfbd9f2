package concur

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concurflow/concurflow/sandbox"
)

// sandboxClient seeds a company in sb and returns a Client for it whose
// token source bootstraps from the request token and keeps refresh tokens
// in a DirStore in dir.
func sandboxClient(t *testing.T, sb *sandbox.Server, dir string, clock *testClock) (*Client, *TokenSource, sandbox.Company) {
	t.Helper()
	co, err := sb.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	ts := sandboxSource(t, sb, co, dir, clock, co.RequestToken)
	c, err := NewClient(ClientConfig{CompanyID: co.ID, TokenSource: ts})
	if err != nil {
		t.Fatal(err)
	}
	return c, ts, co
}

func sandboxSource(t *testing.T, sb *sandbox.Server, co sandbox.Company, dir string, clock *testClock, requestToken string) *TokenSource {
	t.Helper()
	store, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := TokenSourceConfig{
		CompanyID:    co.ID,
		ClientID:     co.ClientID,
		ClientSecret: co.ClientSecret,
		RequestToken: requestToken,
		AuthURL:      sb.URL(),
		Store:        store,
	}
	if clock != nil {
		cfg.Now = clock.Now
	}
	return mustSource(t, cfg)
}

func waitIdle(t *testing.T, sb *sandbox.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sb.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSandboxEveryEndpoint walks every endpoint against the sandbox: token
// bootstrap, registration, writes of every object, request status and
// errors, paged reads, mappings, idempotency and unregistration.
func TestSandboxEveryEndpoint(t *testing.T) {
	sb := sandbox.New(t, sandbox.WithRateLimit(false), sandbox.WithPageSize(1024), sandbox.WithProcessingDelay(0))
	c, ts, _ := sandboxClient(t, sb, t.TempDir(), nil)
	ctx := context.Background()

	reg, err := c.RegisterERP(ctx, ErpPackage{
		PartnerAppName: "concurflow", ErpName: "TestERP", ExternalErpID: "ext-1",
		Features: []ErpFeature{FeatureSupportsReceiptPosting, FeatureEnableTaxIntegration},
		PostingOptions: []PostingOption{{PostingCode: "PC", PostingName: "Posting", AvailableForOutOfPocketExpenses: true,
			ConfigurationFields: []ConfigurationField{{ConfigurationFieldType: ConfigFieldPostingDate, Required: true}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if reg.ErpID == "" || ts.Geolocation() != sb.URL() || ts.Refreshes() != 1 {
		t.Fatalf("registered %+v; geolocation %q; refreshes %d", reg, ts.Geolocation(), ts.Refreshes())
	}
	erpID := reg.ErpID
	if all, err := c.ListERPs(ctx); err != nil || len(all) != 1 || all[0].ErpID != erpID {
		t.Fatalf("list erps: %+v %v", all, err)
	}
	if _, err := c.UpdateERP(ctx, erpID, ErpPackage{Features: []ErpFeature{FeatureSupportsLiabilityAccount}}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetERP(ctx, erpID); err != nil || len(got.Features) != 1 || got.Features[0] != FeatureSupportsLiabilityAccount {
		t.Fatalf("get erp after update: %+v %v", got, err)
	}

	// Accounts: one record lacks its type and fails on its own.
	var accounts []Account
	var want []string
	for i := range 40 {
		id := fmt.Sprintf("%03d", i+1)
		want = append(want, id)
		accounts = append(accounts, Account{ID: id, Name: "Account " + id, Type: AccountTypeExpense})
	}
	accounts = append(accounts, Account{ID: "bad", Name: "No type"})
	st, err := c.PatchAccounts(ctx, erpID, accounts, PatchOptions{DeleteAll: true, IfNoneMatch: "3b241101-e2bb-4255-8caf-4136c566a962"})
	if err != nil {
		t.Fatal(err)
	}
	if st.RequestID == "" || st.Links.Href(RelSelf) == "" {
		t.Fatalf("accepted %+v", st)
	}
	waitIdle(t, sb)
	final, err := c.RequestStatus(ctx, erpID, st.RequestID)
	if err != nil || final.Status != StatusPartial {
		t.Fatalf("final status %+v %v", final, err)
	}
	for pe, err := range c.RequestErrors(ctx, erpID, st.RequestID) {
		if err == nil && (pe.ObjectType != ObjectTypeAccount || len(pe.ValidationErrors) == 0) {
			t.Errorf("processing error %+v", pe)
		}
	}
	failed := keys(t, c.RequestErrors(ctx, erpID, st.RequestID), ProcessingError.ID)
	if strings.Join(failed, ",") != "bad" {
		t.Errorf("failed records %v, want [bad]", failed)
	}
	var pages int
	counting, err := NewClient(ClientConfig{CompanyID: c.CompanyID(), TokenSource: ts, OnResponse: func(i ResponseInfo) {
		if i.Method == "GET" && strings.HasSuffix(i.Path, "/accounts") && i.StatusCode == 200 {
			pages++
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ids := keys(t, counting.Accounts(ctx, erpID), func(a Account) string { return a.ID })
	if pages < 3 {
		t.Errorf("40 accounts came in %d pages of 1 KB, want at least 3", pages)
	}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("accounts read back over pages of 1 KB: %v", ids)
	}

	// The same if-none-match key again: already accepted.
	_, err = c.PatchAccounts(ctx, erpID, accounts[:1], PatchOptions{IfNoneMatch: "3b241101-e2bb-4255-8caf-4136c566a962"})
	if !errors.Is(err, ErrAlreadyAccepted) || IsRetryable(err) {
		t.Errorf("repeated key: %v", err)
	}

	// Vendors and lists.
	if _, err := c.PatchVendors(ctx, erpID, []Vendor{
		{ID: "V1", Type: VendorTypeAccounting, CurrencyCode: "USD", Name: "SAP America, Inc.", CompanyName: "SAP America, Inc.", Address: &Address{Addr1: "3999 West Chester Pike", City: "Newton Square", Country: "USA"}},
		{ID: "V2", Type: VendorTypeEmployee, CurrencyCode: "USD", Name: "Joe J", FirstName: "J", LastName: "Joe", EmployeeID: "1", CompanyName: "SAP", Email: "JoeJ@example.com"},
	}, PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PatchLists(ctx, erpID, []ListName{{ID: "1", Name: "Customer"}, {ID: "2", Name: "Department"}}, PatchOptions{}); err != nil {
		t.Fatal(err)
	}

	// Tax data: the Tax Data page's own example body, added then replaced.
	examples := docExamples(t, "accounting-integration/v4.accountingintegration-taxData.markdown")
	if _, err := c.AddTaxData(ctx, erpID, []byte(examples[0]), ""); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, sb)
	replace := `{"data":[{"countryCode":"DE","countryDesc":"Germany","stateEntries":[{"reclaimEntries":[{"reclaimCode":"19%","reclaimDetails":[{"taxCode":"D19","percentage":19,"validFrom":"2024-01-01"}]}]}]}]}`
	rst, err := c.ReplaceTaxData(ctx, erpID, []byte(replace), "")
	if err != nil {
		t.Fatal(err)
	}
	waitIdle(t, sb)
	if s, err := c.RequestStatus(ctx, erpID, rst.RequestID); err != nil || s.Status != StatusSuccess {
		t.Fatalf("replace status %+v %v", s, err)
	}
	countries := keys(t, c.TaxData(ctx, erpID), func(d TaxData) string { return d.CountryCode })
	if strings.Join(countries, ",") != "DE" {
		t.Errorf("tax data after replace: %v", countries)
	}
	vendors := keys(t, c.Vendors(ctx, erpID), func(v Vendor) string { return v.ID })
	lists := keys(t, c.Lists(ctx, erpID), func(l ListName) string { return l.ID })
	if strings.Join(vendors, ",") != "V1,V2" || strings.Join(lists, ",") != "1,2" {
		t.Errorf("vendors %v, lists %v", vendors, lists)
	}

	m, err := c.Mappings(ctx, erpID)
	if err != nil || m.ErpID != erpID || len(m.CompanyEdition) == 0 {
		t.Fatalf("mappings %+v %v", m, err)
	}

	if err := c.UnregisterERP(ctx, erpID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetERP(ctx, erpID); !errors.Is(err, ErrNotFound) {
		t.Errorf("after unregistering: %v", err)
	}
}

// TestSandboxRotationAndRestart refreshes with rotation (the old refresh
// token invalidated), then restarts from the DirStore without a request
// token.
func TestSandboxRotationAndRestart(t *testing.T) {
	clock := newTestClock()
	sb := sandbox.New(t, sandbox.WithRefreshRotation(sandbox.RefreshRotateInvalidate), sandbox.WithClock(clock.Now))
	dir := filepath.Join(t.TempDir(), "tokens")
	c, ts, co := sandboxClient(t, sb, dir, clock)
	ctx := context.Background()
	if _, err := c.ListERPs(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(dir, co.ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	expiry := ts.RefreshExpiry()
	if d := expiry.Sub(clock.Now()); d < 24*time.Hour {
		t.Errorf("refresh token expires in %v", d)
	}

	clock.Advance(time.Hour) // the access token has expired
	if _, err := c.ListERPs(ctx); err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(filepath.Join(dir, co.ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if string(first) == string(second) || ts.Refreshes() != 2 {
		t.Fatalf("rotation not persisted (refreshes %d)", ts.Refreshes())
	}

	// Restart: no request token, and the old ones are expired anyway.
	sb.ExpireRequestTokens(co.ID)
	restarted := sandboxSource(t, sb, co, dir, clock, "")
	c2, err := NewClient(ClientConfig{CompanyID: co.ID, TokenSource: restarted})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ListERPs(ctx); err != nil {
		t.Fatalf("after restart from the store: %v", err)
	}
	// The restart's rotation invalidated the first source's refresh token;
	// the first source shares the store, finds the new token there and
	// carries on (TestSandboxDefaultRotationAcrossRestart shows a source
	// without it failing with code 108).
	clock.Advance(time.Hour)
	if _, err := ts.TokenContext(ctx); err != nil {
		t.Errorf("first source after the restart rotated: %v", err)
	}
}

// TestSandboxRotationSharedStore: processes sharing a token store (one
// pipeline per object, say) each refresh with the token they hold. With the
// sandbox's default rotation every refresh invalidates the token presented,
// so all but the first are refused: each must find the newer token in the
// store and go on, without an error and without a request token.
func TestSandboxRotationSharedStore(t *testing.T) {
	clock := newTestClock()
	sb := sandbox.New(t, sandbox.WithClock(clock.Now))
	dir := filepath.Join(t.TempDir(), "tokens")
	first, _, co := sandboxClient(t, sb, dir, clock)
	ctx := context.Background()
	if _, err := first.ListERPs(ctx); err != nil {
		t.Fatal(err)
	}
	sb.ExpireRequestTokens(co.ID)
	var clients []*Client
	var sources []*TokenSource
	for range 3 {
		ts := sandboxSource(t, sb, co, dir, clock, "")
		c, err := NewClient(ClientConfig{CompanyID: co.ID, TokenSource: ts})
		if err != nil {
			t.Fatal(err)
		}
		clients, sources = append(clients, c), append(sources, ts)
	}
	for round := range 3 {
		clock.Advance(time.Hour) // every access token expired
		for i, c := range clients {
			if _, err := c.ListERPs(ctx); err != nil {
				t.Fatalf("round %d, process %d: %v", round, i, err)
			}
		}
	}
	for i, ts := range sources {
		if ts.Refused() != nil {
			t.Errorf("process %d: %v", i, ts.Refused())
		}
	}
}

// TestSandboxRevokedTokensRecover revokes every token of the company: the
// 401 forces a refresh, whose refusal falls back to the request token.
func TestSandboxRevokedTokensRecover(t *testing.T) {
	sb := sandbox.New(t)
	c, ts, co := sandboxClient(t, sb, t.TempDir(), nil)
	ctx := context.Background()
	if _, err := c.ListERPs(ctx); err != nil {
		t.Fatal(err)
	}
	sb.RevokeTokens(co.ID)
	if _, err := c.ListERPs(ctx); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if ts.Refreshes() != 2 {
		t.Errorf("refreshes %d, want 2", ts.Refreshes())
	}
}

func TestSandboxSingleFlight(t *testing.T) {
	sb := sandbox.New(t)
	c, ts, _ := sandboxClient(t, sb, t.TempDir(), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.ListERPs(context.Background())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if ts.Refreshes() != 1 {
		t.Errorf("50 concurrent calls made %d token calls, want 1", ts.Refreshes())
	}
}

func TestSandboxRateLimitsAndFaults(t *testing.T) {
	clock := newTestClock() // frozen: the second PATCH is in the same second
	for _, form := range []sandbox.RateLimitForm{sandbox.RateLimit429, sandbox.RateLimit400, sandbox.RateLimit429ErrorMessage} {
		sb := sandbox.New(t, sandbox.WithClock(clock.Now), sandbox.WithRateLimitForm(form))
		c, _, co := sandboxClient(t, sb, t.TempDir(), clock)
		erpID, err := sb.RegisterERP(co.ID)
		if err != nil {
			t.Fatal(err)
		}
		body := []byte(`{"data":[{"id":"1","name":"n","type":"BANK"}]}`)
		if _, err := c.Patch(context.Background(), erpID, ObjectAccounts, body, ""); err != nil {
			t.Fatal(err)
		}
		_, err = c.Patch(context.Background(), erpID, ObjectAccounts, body, "")
		if !errors.Is(err, ErrRateLimited) || !IsRetryable(err) || errors.Is(err, ErrValidation) {
			t.Errorf("form %v: %v", form, err)
		}
		if RetryAfter(err) <= 0 {
			t.Errorf("form %v: no retry-after in %v", form, err)
		}
		if apiErr := (*APIError)(nil); !errors.As(err, &apiErr) || apiErr.Message.Code() != "security.rate.limit.reached" {
			t.Errorf("form %v: code not read from %v", form, err)
		}

		// Faults on PATCH (which net/http never retries by itself).
		for kind, want := range map[sandbox.FaultKind]error{sandbox.FaultServerError: ErrServer, sandbox.FaultReset: nil} {
			if err := sb.InjectFault(sandbox.Fault{Endpoint: sandbox.EndpointLists, Method: "PATCH", Kind: kind, Count: 1}); err != nil {
				t.Fatal(err)
			}
			_, err := c.PatchLists(context.Background(), erpID, []ListName{{ID: "1", Name: "n"}}, PatchOptions{})
			if err == nil || !IsRetryable(err) || (want != nil && !errors.Is(err, want)) {
				t.Errorf("fault %s: %v", kind, err)
			}
		}
		if _, err := c.PatchLists(context.Background(), erpID, []ListName{{ID: "1", Name: "n"}}, PatchOptions{}); err != nil {
			t.Errorf("after the faults: %v", err)
		}
	}
}

// TestSandboxUpdateERPSwitchesOffLastFeature: features: [] and
// postingOptions: [] clear what the registration set.
func TestSandboxUpdateERPSwitchesOffLastFeature(t *testing.T) {
	sb := sandbox.New(t, sandbox.WithRateLimit(false))
	c, _, _ := sandboxClient(t, sb, t.TempDir(), nil)
	ctx := context.Background()
	reg, err := c.RegisterERP(ctx, ErpPackage{
		PartnerAppName: "concurflow", ErpName: "TestERP", ExternalErpID: "ext-1",
		Features:       []ErpFeature{FeatureEnableTaxIntegration},
		PostingOptions: []PostingOption{{PostingCode: "PC", PostingName: "Posting"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateERP(ctx, reg.ErpID, ErpPackage{Features: []ErpFeature{}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetERP(ctx, reg.ErpID)
	if err != nil || len(got.Features) != 0 || len(got.PostingOptions) != 1 {
		t.Fatalf("after features: []: %+v %v", got, err)
	}
	if _, err := c.UpdateERP(ctx, reg.ErpID, ErpPackage{PostingOptions: []PostingOption{}}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetERP(ctx, reg.ErpID); err != nil || len(got.Features) != 0 || len(got.PostingOptions) != 0 {
		t.Fatalf("after postingOptions: []: %+v %v", got, err)
	}
}

// TestSandboxDefaultRotationAcrossRestart runs the client against a
// sandbox with its default options, under which every refresh returns a
// new refresh token and invalidates the one presented (as the
// Authentication page tells clients to expect). Each refresh must be
// stored before it is used, and a restarted process, without a request
// token, must carry on from the store.
func TestSandboxDefaultRotationAcrossRestart(t *testing.T) {
	clock := newTestClock()
	sb := sandbox.New(t, sandbox.WithClock(clock.Now)) // the clock only lets access tokens expire
	dir := filepath.Join(t.TempDir(), "tokens")
	c, ts, co := sandboxClient(t, sb, dir, clock)
	ctx := context.Background()
	store, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	stored := func() string {
		t.Helper()
		st, err := store.Load(ctx, co.ID)
		if err != nil {
			t.Fatal(err)
		}
		return st.RefreshToken
	}
	if _, err := c.ListERPs(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{stored(): true}
	var lastSeen string
	for i := range 3 {
		lastSeen = stored()
		clock.Advance(time.Hour) // the access token expired: refresh
		if _, err := c.ListERPs(ctx); err != nil {
			t.Fatalf("call %d after the refresh: %v", i, err)
		}
		now := stored()
		if seen[now] {
			t.Fatalf("refresh %d: the store still holds an earlier refresh token", i)
		}
		seen[now] = true
	}
	if ts.Refreshes() != 4 {
		t.Errorf("refreshes %d, want 4 (one password grant, three refresh grants)", ts.Refreshes())
	}
	// The sandbox really refuses the replaced token: a client that kept it
	// would be stuck.
	stale := mustSource(t, TokenSourceConfig{CompanyID: co.ID, ClientID: co.ClientID, ClientSecret: co.ClientSecret,
		RefreshToken: lastSeen, AuthURL: sb.URL(), Store: NewMemoryStore(), Now: clock.Now})
	var authErr *AuthError
	if _, err := stale.TokenContext(ctx); !errors.As(err, &authErr) || authErr.Code != 108 {
		t.Fatalf("a replaced refresh token: %v, want code 108", err)
	}

	// Restart: a new process with no request token (and none valid) reads
	// the store, refreshes (rotating again) and stores the new token.
	sb.ExpireRequestTokens(co.ID)
	before := stored()
	restarted := sandboxSource(t, sb, co, dir, clock, "")
	c2, err := NewClient(ClientConfig{CompanyID: co.ID, TokenSource: restarted})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ListERPs(ctx); err != nil {
		t.Fatalf("after restart from the store: %v", err)
	}
	if after := stored(); after == before || seen[after] {
		t.Fatal("the restart's refresh was not rotated and stored")
	}
	clock.Advance(time.Hour)
	if _, err := c2.ListERPs(ctx); err != nil {
		t.Fatalf("second refresh after the restart: %v", err)
	}
	if restarted.Refreshes() != 2 {
		t.Errorf("restarted source: %d refreshes, want 2", restarted.Refreshes())
	}
}
