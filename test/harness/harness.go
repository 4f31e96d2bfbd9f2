// Package harness holds what the end-to-end reliability tests share: a
// deterministic generator of ERP change streams for several companies, a
// Kafka producer for them, the final state they must leave in Concur, and
// checks against a sandbox through its admin API (so the sandbox may run in
// the test process or as a process of its own).
//
// The change stream is keyed by company id (one company's changes stay in one
// partition and keep their order) and carries the headers object and erp_id
// that pipelines/kafka_to_concur.yaml reads; deletes use the header
// concur_delete or "isDeleted": true, alternately.
package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Objects the generator writes, named as the pipeline's object header.
const (
	ObjectAccounts = "accounts"
	ObjectVendors  = "vendors"
	ObjectLists    = "lists"
)

// Company is a sandbox company with its registered ERP and credentials.
type Company struct {
	ID, ERPID                            string
	ClientID, ClientSecret, RequestToken string
}

// Change is one ERP change: the upsert or delete of one record.
type Change struct {
	CompanyID, ERPID, Object, ID string
	// Name is the record's name; empty for deletes.
	Name string
	// Delete marks a delete; HeaderDelete says whether it is flagged by the
	// concur_delete header (else by "isDeleted": true in the value).
	Delete, HeaderDelete bool
	// Value is the Kafka record value.
	Value []byte
}

// Target is one company, ERP and object: one set of cached records.
type Target struct{ CompanyID, ERPID, Object string }

// Generate returns n changes spread over cos and the three objects: mostly
// new records, then updates (20 %) and deletes (5 %) of records created
// earlier. The same seed gives the same changes.
func Generate(seed uint64, cos []Company, n int) []Change {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	live := map[Target][]string{}
	next := 0
	out := make([]Change, 0, n)
	for v := 0; len(out) < n; v++ {
		co := cos[rng.IntN(len(cos))]
		obj := []string{ObjectAccounts, ObjectAccounts, ObjectVendors, ObjectVendors, ObjectLists}[rng.IntN(5)]
		t := Target{co.ID, co.ERPID, obj}
		c := Change{CompanyID: co.ID, ERPID: co.ERPID, Object: obj}
		ids := live[t]
		switch r := rng.IntN(100); {
		case r < 5 && len(ids) > 0:
			k := rng.IntN(len(ids))
			c.ID, c.Delete, c.HeaderDelete = ids[k], true, v%2 == 0
			live[t] = append(ids[:k], ids[k+1:]...)
		case r < 25 && len(ids) > 0:
			c.ID = ids[rng.IntN(len(ids))]
		default:
			next++
			c.ID = fmt.Sprintf("%c%07d", strings.ToUpper(obj[:1])[0], next)
			live[t] = append(ids, c.ID)
		}
		if !c.Delete {
			c.Name = fmt.Sprintf("%s %s v%d", obj, c.ID, v)
		}
		c.Value = recordValue(c)
		out = append(out, c)
	}
	return out
}

// recordValue renders a change in the API's record shape.
func recordValue(c Change) []byte {
	switch {
	case c.Delete && c.HeaderDelete:
		return fmt.Appendf(nil, `{"id":%q}`, c.ID)
	case c.Delete:
		return fmt.Appendf(nil, `{"id":%q,"isDeleted":true}`, c.ID)
	}
	switch c.Object {
	case ObjectAccounts:
		return fmt.Appendf(nil, `{"id":%q,"name":%q,"number":%q,"type":"EXPENSE"}`, c.ID, c.Name, c.ID)
	case ObjectVendors:
		return fmt.Appendf(nil, `{"id":%q,"type":"ACCOUNTING","currencyCode":"EUR","name":%q,"companyName":%q}`, c.ID, c.Name, c.Name)
	default:
		return fmt.Appendf(nil, `{"id":%q,"name":%q}`, c.ID, c.Name)
	}
}

// Record returns the Kafka record of a change for topic.
func Record(topic string, c Change) *kgo.Record {
	r := &kgo.Record{
		Topic: topic,
		Key:   []byte(c.CompanyID),
		Value: c.Value,
		Headers: []kgo.RecordHeader{
			{Key: "object", Value: []byte(c.Object)},
			{Key: "erp_id", Value: []byte(c.ERPID)},
		},
	}
	if c.HeaderDelete {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: "concur_delete", Value: []byte("true")})
	}
	return r
}

// Produce writes the changes to topic in order, hashing keys to partitions.
func Produce(ctx context.Context, brokers []string, topic string, changes []Change, extra ...*kgo.Record) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(20*time.Millisecond), kgo.AllowAutoTopicCreation())
	if err != nil {
		return fmt.Errorf("creating producer: %w", err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, 0, len(changes)+len(extra))
	for _, c := range changes {
		recs = append(recs, Record(topic, c))
	}
	for _, r := range extra {
		r.Topic = topic
		recs = append(recs, r)
	}
	const chunk = 5000
	for len(recs) > 0 {
		n := min(chunk, len(recs))
		if err := cl.ProduceSync(ctx, recs[:n]...).FirstErr(); err != nil {
			return fmt.Errorf("producing to %s: %w", topic, err)
		}
		recs = recs[n:]
	}
	return nil
}

// Expected is the final state the changes must leave: per target, id →
// name of the last upsert of every id not deleted afterwards. Every
// company's three targets are present, empty or not.
func Expected(cos []Company, changes []Change) map[Target]map[string]string {
	want := map[Target]map[string]string{}
	for _, co := range cos {
		for _, obj := range []string{ObjectAccounts, ObjectVendors, ObjectLists} {
			want[Target{co.ID, co.ERPID, obj}] = map[string]string{}
		}
	}
	for _, c := range changes {
		t := Target{c.CompanyID, c.ERPID, c.Object}
		if c.Delete {
			delete(want[t], c.ID)
		} else {
			want[t][c.ID] = c.Name
		}
	}
	return want
}

// Diff compares the records found for a target with the expected ones and
// describes at most a few differences; empty means equal.
func Diff(want, got map[string]string) string {
	var diffs []string
	for id, name := range want {
		if g, ok := got[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s missing (want %q)", id, name))
		} else if g != name {
			diffs = append(diffs, fmt.Sprintf("%s is %q, want %q", id, g, name))
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s present (%q) but deleted or never sent", id, g))
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	sort.Strings(diffs)
	n := len(diffs)
	if n > 5 {
		diffs = append(diffs[:5], "…")
	}
	return fmt.Sprintf("%d differences: %s", n, strings.Join(diffs, "; "))
}

// ErrNotYet is returned by checks that may pass later.
var ErrNotYet = errors.New("not yet")
