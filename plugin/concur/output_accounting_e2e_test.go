package concur_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	concurapi "github.com/concurflow/concurflow/concur"
	"github.com/concurflow/concurflow/sandbox"
)

// Limits the output must respect (see the Accounts page: "4 MB" per request,
// "200 KB" per record, read in decimal units).
const (
	e2eMaxBody   = 4_000_000
	e2eMaxRecord = 200_000
)

// e2eSeed returns the seed of a randomised test: ACCT_E2E_SEED when set,
// else def. The seed is logged, and repeated on failure with how to rerun.
func e2eSeed(t *testing.T, def uint64) uint64 {
	t.Helper()
	seed := def
	if v := os.Getenv("ACCT_E2E_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("ACCT_E2E_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("seed %d", seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("failed with seed %d; rerun with ACCT_E2E_SEED=%d", seed, seed)
		}
	})
	return seed
}

// e2eAccount is an account as the sandbox caches it.
type e2eAccount struct {
	ID     string  `json:"id"`
	Number *string `json:"number"`
	Name   string  `json:"name"`
	Type   string  `json:"type"`
}

// e2eRecord is one generated input message.
type e2eRecord struct {
	id     string
	raw    string
	del    bool // a delete: isDeleted in raw or concur_delete metadata
	meta   bool // the delete is asked for by metadata
	over   bool // larger than the record limit: must fail alone
	parsed e2eAccount
}

var e2eAccountTypes = []string{"EXPENSE", "BANK", "EQUITY", "INCOME", "LOAN", "CREDIT_CARD"}

// e2eAccountOfSize returns an account record of exactly size bytes (at
// least about 80), its name padded with a random repeated chunk.
func e2eAccountOfSize(r *rand.Rand, id string, size int) (string, e2eAccount) {
	acc := e2eAccount{ID: id, Type: e2eAccountTypes[r.IntN(len(e2eAccountTypes))]}
	var prefix string
	if r.IntN(3) == 0 {
		prefix = fmt.Sprintf(`{"id":%q,"type":%q,"name":"`, id, acc.Type) // no number: cached as null
	} else {
		n := fmt.Sprintf("GL-%d", r.IntN(100_000))
		acc.Number = &n
		prefix = fmt.Sprintf(`{"id":%q,"number":%q,"type":%q,"name":"`, id, n, acc.Type)
	}
	const suffix = `"}`
	pad := max(1, size-len(prefix)-len(suffix))
	chunk := make([]byte, 16)
	for i := range chunk {
		chunk[i] = "abcdefghijklmnopqrstuvwxyz0123456789 -_."[r.IntN(40)]
	}
	name := strings.Repeat(string(chunk), pad/len(chunk)+1)[:pad]
	acc.Name = name
	return prefix + name + suffix, acc
}

// e2eRecords generates n account messages: ids drawn from a pool so they
// repeat, about 3 % deletes by isDeleted, 1 % deletes by metadata, 1.5 %
// near the record limit (the first exactly at it), 0.4 % just over it (the
// first one byte over), the rest small: about 40 MB in all.
func e2eRecords(r *rand.Rand, n int) []e2eRecord {
	recs := make([]e2eRecord, n)
	pool := n * 2 / 5
	firstNear, firstOver := true, true
	for i := range recs {
		id := fmt.Sprintf("P%05d", r.IntN(pool))
		rec := e2eRecord{id: id}
		switch p := r.IntN(1000); {
		case p < 30:
			rec.raw, rec.del = fmt.Sprintf(`{"id":%q,"isDeleted":true}`, id), true
		case p < 40:
			rec.raw, _ = e2eAccountOfSize(r, id, 80+r.IntN(400))
			rec.del, rec.meta = true, true
		case p < 44:
			size := e2eMaxRecord + 1 + r.IntN(200)
			if firstOver {
				size, firstOver = e2eMaxRecord+1, false
			}
			rec.raw, rec.parsed = e2eAccountOfSize(r, id, size)
			rec.over = true
		case p < 59:
			size := e2eMaxRecord - r.IntN(2000)
			if firstNear {
				size, firstNear = e2eMaxRecord, false
			}
			rec.raw, rec.parsed = e2eAccountOfSize(r, id, size)
		default:
			rec.raw, rec.parsed = e2eAccountOfSize(r, id, 80+r.IntN(1500))
		}
		recs[i] = rec
	}
	return recs
}

// e2eFailure is one line of a stream's fallback file.
type e2eFailure struct {
	ID    string `json:"id"`
	Error string `json:"error"`
}

// failureList reads every line of the fallback file, keeping repeats.
func (s *acctStream) failureList(t *testing.T) []e2eFailure {
	t.Helper()
	f, err := os.Open(s.failed)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []e2eFailure
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var fl e2eFailure
		if err := json.Unmarshal(sc.Bytes(), &fl); err != nil {
			t.Fatalf("fallback line %q: %v", sc.Text(), err)
		}
		out = append(out, fl)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAccountingE2EPropertyPacking sends 10,000 random accounts with sizes
// around the limits, repeated ids and deletes, in batches of random size,
// through a whole stream into the sandbox, and checks from the sandbox's
// side: no body over 4,000,000 bytes reached it (no 413, no accepted body
// larger), the cached accounts are the last value of every id with deletes
// applied, every record was carried once, and exactly the over-limit records
// failed.
func TestAccountingE2EPropertyPacking(t *testing.T) {
	r := rand.New(rand.NewPCG(e2eSeed(t, 20261122), 0))
	recs := e2eRecords(r, 10_000)

	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false))
	s := e.start("", true)

	want := map[string]e2eAccount{}
	var wantFailed []string
	payload := 0
	for _, rec := range recs {
		payload += len(rec.raw)
		switch {
		case rec.over:
			wantFailed = append(wantFailed, rec.id)
		case rec.del:
			delete(want, rec.id)
		default:
			want[rec.id] = rec.parsed
		}
	}
	t.Logf("%d records, %d bytes, %d over the record limit, %d ids at the end", len(recs), payload, len(wantFailed), len(want))
	if len(wantFailed) == 0 {
		t.Fatal("generator made no over-limit record")
	}

	// Batches are sent one after another, each acknowledged before the
	// next, so that later values of an id reach the sandbox later. Within
	// a batch the last value of an id replaces the earlier ones before
	// anything is sent, so each batch sends its distinct ids once.
	batches, accepted := 0, 0
	for from := 0; from < len(recs); batches++ {
		to := min(len(recs), from+1+r.IntN(1500))
		var b service.MessageBatch
		distinct := map[string]bool{}
		for _, rec := range recs[from:to] {
			if !rec.over {
				distinct[rec.id] = true
			}
			m := e.msg(0, "accounts", rec.raw)
			if rec.meta {
				m.MetaSetMut("concur_delete", "true")
			}
			b = append(b, m)
		}
		sendOK(t, s, b)
		accepted += len(distinct)
		from = to
	}
	e.waitIdle()
	s.stop(t)

	// Nothing over the body limit reached the sandbox.
	for _, l := range e.sb.RequestLog() {
		if strings.HasSuffix(l.Path, "/accounts") && l.Status != http.StatusAccepted {
			t.Errorf("sandbox answered %d to %s %s", l.Status, l.Method, l.Path)
		}
	}
	reqs, err := e.sb.Requests(e.cos[0].ID, e.erps[0])
	if err != nil {
		t.Fatal(err)
	}
	largest := 0
	for _, q := range reqs {
		largest = max(largest, q.BodyBytes)
		if q.BodyBytes > e2eMaxBody {
			t.Errorf("request %s: body of %d bytes accepted", q.ID, q.BodyBytes)
		}
		if q.Status != sandbox.StatusSuccess || q.Failed != 0 {
			t.Errorf("request %s: status %s with %d failed records", q.ID, q.Status, q.Failed)
		}
	}
	t.Logf("%d batches, %d requests, largest body %d bytes", batches, len(reqs), largest)

	// The sandbox holds the last value of every id, deletes applied.
	cached, err := e.sb.Accounts(e.cos[0].ID, e.erps[0])
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]e2eAccount{}
	for _, raw := range cached {
		var a e2eAccount
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		got[a.ID] = a
	}
	if len(got) != len(want) {
		t.Errorf("sandbox holds %d accounts, want %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			t.Errorf("account %s missing", id)
		case g.Name != w.Name || g.Type != w.Type || !e2eEqualPtr(g.Number, w.Number):
			t.Errorf("account %s: sandbox holds name of %d bytes, type %s, number %v; want %d bytes, %s, %v",
				id, len(g.Name), g.Type, e2eStrPtr(g.Number), len(w.Name), w.Type, e2eStrPtr(w.Number))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("account %s should not be there", id)
		}
	}

	// Exactly the over-limit records failed, each for its size.
	fails := s.failureList(t)
	var gotFailed []string
	for _, f := range fails {
		gotFailed = append(gotFailed, f.ID)
		if !strings.Contains(f.Error, "record limit") {
			t.Errorf("record %s failed with %q, want the record limit", f.ID, f.Error)
		}
	}
	slices.Sort(gotFailed)
	slices.Sort(wantFailed)
	if !slices.Equal(gotFailed, wantFailed) {
		t.Errorf("failed records %v, want %v", gotFailed, wantFailed)
	}

	// Every accepted record was carried by exactly one accepted request.
	e.assertOnce(0, accepted)
}

func e2eEqualPtr(a, b *string) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func e2eStrPtr(p *string) string {
	if p == nil {
		return "null"
	}
	return strconv.Quote(*p)
}

// e2eStoredRefreshToken reads the refresh token the token store holds for a
// company and checks that its file is private.
func e2eStoredRefreshToken(t *testing.T, dir, companyID string) string {
	t.Helper()
	p := filepath.Join(dir, companyID+".json")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("token file %s has mode %v, want 0600", p, perm)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ RefreshToken string }
	if err := json.Unmarshal(data, &tok); err != nil {
		t.Fatalf("token file %s: %v", p, err)
	}
	if tok.RefreshToken == "" {
		t.Fatalf("token file %s holds no refresh token", p)
	}
	return tok.RefreshToken
}

// e2eRefreshGrant asks the sandbox's token endpoint to refresh with token and
// returns the status and the OAuth2 error, if any.
func e2eRefreshGrant(t *testing.T, e *acctEnv, token string) (int, string) {
	t.Helper()
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {e.cos[0].ClientID},
		"client_secret": {e.cos[0].ClientSecret},
		"refresh_token": {token},
	}
	resp, err := http.PostForm(e.sb.URL()+concurapi.TokenPath, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(body.Error + " " + body.Description)
}

// e2eTokenGrants counts the token endpoint's answers in the sandbox log by
// status.
func e2eTokenGrants(e *acctEnv) map[int]int {
	n := map[int]int{}
	for _, l := range e.sb.RequestLog() {
		if l.Path == concurapi.TokenPath {
			n[l.Status]++
		}
	}
	return n
}

// e2eWriteUntilRefreshed sends batches of 5 accounts, from id number *next on,
// 100 ms apart, until the token endpoint has answered 200 at least want
// times in all. Access tokens live one second, so this takes a few seconds;
// the 30-second bound only stops a stream that never refreshes.
func e2eWriteUntilRefreshed(t *testing.T, e *acctEnv, s *acctStream, next *int, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for e2eTokenGrants(e)[http.StatusOK] < want {
		if time.Now().After(deadline) {
			t.Fatalf("token endpoint answered %v, want %d successes", e2eTokenGrants(e), want)
		}
		sendOK(t, s, e.accounts(0, 5, *next))
		*next += 5
		time.Sleep(100 * time.Millisecond)
	}
	sendOK(t, s, e.accounts(0, 5, *next))
	*next += 5
}

// TestAccountingE2ERefreshRotationRestart: the sandbox rotates refresh
// tokens and invalidates the old one on every refresh, and access tokens
// live one second. A first stream bootstraps from the request token and
// writes; once it has stopped the request token expires, so a second
// stream, configured without one, can only go on from the refresh token the
// first left in the token store, and refreshes several times itself. Every
// record lands exactly once, the store file stays private, and the refresh
// token the restart began with is refused afterwards: it was rotated out.
func TestAccountingE2ERefreshRotationRestart(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false),
		sandbox.WithRefreshRotation(sandbox.RefreshRotateInvalidate),
		sandbox.WithTokenLifetime(time.Second))
	co := e.cos[0].ID
	next := 0

	first := e.start("", false)
	e2eWriteUntilRefreshed(t, e, first, &next, 2) // the request token grant and a refresh
	first.stop(t)
	e.waitIdle()
	afterFirst := next
	atRestart := e2eStoredRefreshToken(t, e.store, co)

	// The restart: the request token is no longer valid, and the second
	// stream is not given one ("" in YAML).
	e.sb.ExpireRequestTokens(co)
	e.cos[0].RequestToken = `""`
	grantsBefore := e2eTokenGrants(e)[http.StatusOK]
	second := e.start("", false)
	e2eWriteUntilRefreshed(t, e, second, &next, grantsBefore+3)
	second.stop(t)
	e.waitIdle()

	if grants := e2eTokenGrants(e); len(grants) != 1 {
		t.Errorf("token endpoint answered %v: every grant should have succeeded", grants)
	}
	t.Logf("first stream wrote %d accounts, second %d; token grants %v", afterFirst, next-afterFirst, e2eTokenGrants(e))
	e.expectIDs(0, sandbox.ObjectAccount, fmt.Sprint(rangeIDs("A", 0, next)))
	e.assertOnce(0, next)

	final := e2eStoredRefreshToken(t, e.store, co)
	if final == atRestart {
		t.Fatal("the token store still holds the refresh token of the restart")
	}
	// The token the second stream started from was used (the stream could
	// not have authenticated otherwise) and rotated out: it is refused now.
	if status, oauthErr := e2eRefreshGrant(t, e, atRestart); status != http.StatusBadRequest || !strings.Contains(oauthErr, "invalid_grant") {
		t.Errorf("rotated-out refresh token: %d %q, want 400 invalid_grant", status, oauthErr)
	}
	// Control: the same call with the stored token succeeds.
	if status, oauthErr := e2eRefreshGrant(t, e, final); status != http.StatusOK {
		t.Errorf("stored refresh token refused: %d %q", status, oauthErr)
	}
}
