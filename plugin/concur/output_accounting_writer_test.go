package concur_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/sandbox"
)

// acctNames returns id → name of company c's accounts in the sandbox.
func (e *acctEnv) acctNames(c int) map[string]string {
	e.t.Helper()
	recs, err := e.sb.Records(e.cos[c].ID, e.erps[c], sandbox.ObjectAccount)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range recs {
		var a struct{ ID, Name string }
		if err := json.Unmarshal(r, &a); err != nil {
			e.t.Fatal(err)
		}
		out[a.ID] = a.Name
	}
	return out
}

// kafkaAccounts is a batch of accounts A<from>…A<from+n-1> of company c
// named "<name> <id>", as read from partition 0 of a topic from offset
// off on.
func (e *acctEnv) kafkaAccounts(c, from, n int, name string, off int) service.MessageBatch {
	var b service.MessageBatch
	for i := range n {
		id := fmt.Sprintf("A%04d", from+i)
		m := e.msg(c, "accounts", fmt.Sprintf(`{"id":%q,"name":"%s %s","type":"EXPENSE"}`, id, name, id))
		m.MetaSetMut("kafka_topic", "erp.changes")
		m.MetaSetMut("kafka_partition", "0")
		m.MetaSetMut("kafka_offset", fmt.Sprint(off+i))
		b = append(b, m)
	}
	return b
}

// TestAccountingWriterLastOffsetWins: with max_in_flight above 1, batches of
// one partition reach the output in any order, and a batch can be
// redelivered after newer ones were written. Whatever the order, Concur
// ends with the value of the highest offset per id, and the older batch is
// acknowledged without being sent.
func TestAccountingWriterLastOffsetWins(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false))
	s := e.start("max_in_flight: 16", false)

	// The newer batch first, the older one after it was acknowledged.
	sendOK(t, s, e.kafkaAccounts(0, 0, 20, "new", 100))
	sendOK(t, s, e.kafkaAccounts(0, 0, 20, "old", 0))
	e.waitIdle()
	for id, name := range e.acctNames(0) {
		if name != "new "+id {
			t.Fatalf("account %s is %q after an older batch arrived late, want the newer value", id, name)
		}
	}
	e.assertOnce(0, 20)

	// Many versions of the same ids written concurrently, in random order.
	r := rand.New(rand.NewPCG(7, 7))
	const versions = 12
	order := r.Perm(versions)
	var batches []service.MessageBatch
	for _, v := range order {
		batches = append(batches, e.kafkaAccounts(0, 100, 30, fmt.Sprintf("v%02d", v), 1000+v*30))
	}
	s.sendConcurrently(t, batches...)
	e.waitIdle()
	names := e.acctNames(0)
	for i := range 30 {
		id := fmt.Sprintf("A%04d", 100+i)
		if want := fmt.Sprintf("v%02d %s", versions-1, id); names[id] != want {
			t.Fatalf("account %s is %q, want %q (the highest offset)", id, names[id], want)
		}
	}
}

// TestAccountingWriterIDsInFlight: while a request is PROCESSING the next
// one may be sent with other ids (once it is full: smaller ones wait for
// the first to finish), not with one of its ids; a record of an id in
// flight waits until the request is final.
func TestAccountingWriterIDsInFlight(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false), sandbox.WithProcessingDelay(3*time.Second))
	s := e.start("await_poll_interval: 50ms", false)
	requests := func() []sandbox.Request {
		reqs, err := e.sb.Requests(e.cos[0].ID, e.erps[0])
		if err != nil {
			t.Fatal(err)
		}
		return reqs
	}

	sendOK(t, s, e.kafkaAccounts(0, 0, 10, "first", 0))
	// 95 records of 40,000 bytes: a full body of other ids.
	r := rand.New(rand.NewPCG(1, 2))
	var big service.MessageBatch
	for i := range 95 {
		raw, _ := e2eAccountOfSize(r, fmt.Sprintf("B%04d", i), 40_000)
		m := e.msg(0, "accounts", raw)
		m.MetaSetMut("kafka_offset", fmt.Sprint(10+i))
		big = append(big, m)
	}
	sendOK(t, s, big)
	reqs := requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if !reqs[0].Completed.IsZero() && reqs[0].Completed.Before(reqs[1].Received) {
		t.Fatal("the full request with other ids waited for the first to finish; it may overlap")
	}

	sendOK(t, s, e.kafkaAccounts(0, 0, 1, "second", 200))
	reqs = requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	if reqs[0].Completed.IsZero() || reqs[2].Received.Before(reqs[0].Completed) {
		t.Fatalf("a new value of A0000 was sent (%v) while the request holding it was processing (completed %v)", reqs[2].Received, reqs[0].Completed)
	}
	e.waitIdle()
	if got := e.acctNames(0)["A0000"]; got != "second A0000" {
		t.Fatalf("A0000 is %q", got)
	}
}

// TestAccountingWriterAcksAfterAcceptOrFinal: small batches written
// concurrently are coalesced into fewer requests, and no message is
// acknowledged before its request is accepted (await: accepted) or final
// (await: final).
func TestAccountingWriterAcksAfterAcceptOrFinal(t *testing.T) {
	for _, await := range []string{"accepted", "final"} {
		t.Run(await, func(t *testing.T) {
			e := newAcctEnv(t, 1, sandbox.WithProcessingDelay(300*time.Millisecond))
			s := e.start("await: "+await+"\nawait_poll_interval: 20ms\nrate_limit: 1\nmax_in_flight: 64", false)
			var batches []service.MessageBatch
			for i := range 40 {
				batches = append(batches, e.kafkaAccounts(0, i*5, 5, "v", i*5))
			}
			s.sendConcurrently(t, batches...)
			// Every batch was acknowledged: all records are in requests
			// that the sandbox accepted and, awaiting final, finished.
			reqs, err := e.sb.Requests(e.cos[0].ID, e.erps[0])
			if err != nil {
				t.Fatal(err)
			}
			carried := 0
			for _, r := range reqs {
				carried += r.Records
				if await == "final" && r.Completed.IsZero() {
					t.Errorf("request %s was still processing when its messages were acknowledged", r.ID)
				}
			}
			if carried != 200 {
				t.Fatalf("acknowledged requests carry %d records, want 200", carried)
			}
			if len(reqs) >= 40 {
				t.Fatalf("%d requests for 40 batches written together at one request per second: not coalesced", len(reqs))
			}
			t.Logf("40 batches in %d requests", len(reqs))
		})
	}
}

// TestAccountingWriterOutputsShareLimiterAndTokens: two outputs of one
// process writing to the same endpoint share its rate limit (the sandbox
// refuses nothing for it) and the company's token source (with refresh
// tokens rotated and invalidated on every refresh, no token request is
// refused).
func TestAccountingWriterOutputsShareLimiterAndTokens(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRefreshRotation(sandbox.RefreshRotateInvalidate), sandbox.WithTokenLifetime(2*time.Second))
	limits := "rate_limit: 1\nrate_limit_margin: 100ms\nrate_limit_margin_max: 100ms"
	child := func(out, suffix string) string {
		y := out + fmt.Sprintf("processors:\n  - mapping: |\n      root = this\n      root.name = this.name + \" %s\"\n", suffix)
		return "    - " + strings.ReplaceAll(strings.TrimRight(y, "\n"), "\n", "\n      ")
	}
	yaml := "broker:\n  pattern: fan_out\n  outputs:\n" + child(e.output(limits), "(a)") + "\n" + child(e.output(limits), "(b)") + "\n"

	b := service.NewStreamBuilder()
	send, err := b.AddBatchProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddOutputYAML(yaml); err != nil {
		t.Fatalf("%v\n%s", err, yaml)
	}
	if err := b.SetLoggerYAML("level: " + acctLogLevel()); err != nil {
		t.Fatal(err)
	}
	stream, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- stream.Run(t.Context()) }()
	defer func() {
		if err := stream.StopWithin(20 * time.Second); err != nil {
			t.Error(err)
		}
		<-done
	}()
	const batches = 4
	for i := range batches {
		if err := send(t.Context(), e.kafkaAccounts(0, i*10, 10, "x", i*10)); err != nil {
			t.Fatal(err)
		}
	}
	e.waitIdle()
	statuses := map[int]int{}
	for _, l := range e.sb.RequestLog() {
		switch {
		case strings.HasSuffix(l.Path, "/accounts"):
			statuses[l.Status]++
		case strings.HasSuffix(l.Path, "/token") && l.Status != 200:
			t.Errorf("token request answered %d: two token sources raced a refresh-token rotation", l.Status)
		}
	}
	if statuses[429] != 0 || statuses[202] < 2*batches {
		t.Fatalf("sandbox answered %v to the two outputs' PATCHes, want %d or more 202s and no 429", statuses, 2*batches)
	}
	if n := len(e.acctNames(0)); n != 10*batches {
		t.Fatalf("%d accounts, want %d", n, 10*batches)
	}
}

// TestAccountingWriterUnknownCompanyFails: a company id with no credentials
// at all (not configured, nothing in the token store) fails its records
// with a clear error, instead of waiting for credentials; the other
// company's records are written.
func TestAccountingWriterUnknownCompanyFails(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false))
	s := e.startWith(func(y string) string {
		// The partner app's client for every company, but no request or
		// refresh token beyond the configured company's.
		return strings.Replace(y, "  auth:\n", fmt.Sprintf("  auth:\n    client_id: %s\n    client_secret: %s\n", e.cos[0].ClientID, e.cos[0].ClientSecret), 1)
	}, "", true)
	stranger := e.msg(0, "accounts", `{"id":"S0001","name":"stranger","type":"EXPENSE"}`)
	stranger.MetaSetMut("company", "7a3c2e11-0000-4000-8000-00000000abcd")
	sendOK(t, s, service.MessageBatch{stranger, e.msg(0, "accounts", `{"id":"A0001","name":"known","type":"EXPENSE"}`)})
	e.waitIdle()
	s.stop(t)
	f := s.failures(t)
	if len(f) != 1 || !strings.Contains(f["S0001"], "has no credentials") || !strings.Contains(f["S0001"], "7a3c2e11-0000-4000-8000-00000000abcd") {
		t.Fatalf("failures %v, want S0001 failed for its company's missing credentials", f)
	}
	e.expectIDs(0, sandbox.ObjectAccount, "[A0001]")
}

// TestAccountingWriterVendorTypeChangeNotCoalesced: a vendor's type cannot
// be changed, so a newer value with another type does not replace the
// queued one but follows it, and Concur judges the change as it would one
// value at a time; a delete followed by a vendor of another type succeeds.
func TestAccountingWriterVendorTypeChangeNotCoalesced(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false))
	s := e.start("await: final\nawait_poll_interval: 20ms", true)
	vendor := func(id, typ string) *service.Message {
		extra := ""
		if typ == "EMPLOYEE" {
			extra = `,"employeeId":"E1","firstName":"Dana","lastName":"Whitfield","email":"d@example.com"`
		}
		return e.msg(0, "vendors", fmt.Sprintf(`{"id":%q,"type":%q,"currencyCode":"EUR","name":"n","companyName":"c"%s}`, id, typ, extra))
	}
	sendOK(t, s, service.MessageBatch{
		vendor("V1", "ACCOUNTING"), vendor("V1", "EMPLOYEE"),
		vendor("V2", "ACCOUNTING"), e.msg(0, "vendors", `{"id":"V2","isDeleted":true}`), vendor("V2", "EMPLOYEE"),
	})
	e.waitIdle()
	s.stop(t)
	f := s.failures(t)
	if len(f) != 1 || !strings.Contains(f["V1"], "Type cannot be updated") {
		t.Fatalf("failures %v, want V1's type change rejected by Concur", f)
	}
	recs, err := e.sb.Records(e.cos[0].ID, e.erps[0], sandbox.ObjectVendor)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, r := range recs {
		var v struct{ ID, Type string }
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatal(err)
		}
		types[v.ID] = v.Type
	}
	if types["V1"] != "ACCOUNTING" || types["V2"] != "EMPLOYEE" {
		t.Fatalf("vendor types %v, want V1 ACCOUNTING and V2 EMPLOYEE", types)
	}
}
