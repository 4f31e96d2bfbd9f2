package pipelines_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/concurflow/concurflow/plugin"
	"github.com/concurflow/concurflow/sandbox"
	"github.com/concurflow/concurflow/test/harness"
)

// badRecord is a record the pipeline must put in the DLQ, with a fragment
// of the reason it must give.
type badRecord struct {
	rec    *kgo.Record
	reason string
}

// TestKafkaToConcur runs pipelines/kafka_to_concur.yaml as committed against
// an in-process sandbox and kfake broker: changes of three companies end up
// as the last value per id, deletes applied, every bad record in the DLQ with
// its reason, and the group's offsets committed to the end.
func TestKafkaToConcur(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	sb := sandbox.New(t, sandbox.WithProcessingDelay(0))
	cos := harness.SeedCompanies(t, sb, 3)
	const topic = "erp.changes"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, topic), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	changes := harness.Generate(7, cos, 1500)
	co := cos[0]
	hdr := func(obj string) []kgo.RecordHeader {
		return []kgo.RecordHeader{{Key: "object", Value: []byte(obj)}, {Key: "erp_id", Value: []byte(co.ERPID)}}
	}
	bad := []badRecord{
		{&kgo.Record{Key: []byte(co.ID), Value: []byte(`not json`), Headers: hdr("accounts")}, "not a JSON object"},
		{&kgo.Record{Key: []byte(co.ID), Value: []byte(`[{"id":"A1"}]`), Headers: hdr("accounts")}, "not a JSON object"},
		{&kgo.Record{Value: []byte(`{"id":"A2","name":"n","type":"BANK"}`), Headers: hdr("accounts")}, "no company id"},
		{&kgo.Record{Key: []byte(co.ID), Value: []byte(`{"id":"A3","name":"n"}`), Headers: hdr("invoices")}, "object"},
		{&kgo.Record{Key: []byte(co.ID), Value: []byte(`{"name":"no id","type":"BANK"}`), Headers: hdr("accounts")}, "id"},
		{&kgo.Record{Key: []byte(co.ID), Value: []byte(`{"id":42,"name":"numeric id"}`), Headers: hdr("lists")}, "id"},
		{&kgo.Record{Key: []byte(co.ID), Value: []byte(`{"id":"BADTYPE1","name":5,"type":"BANK"}`), Headers: hdr("accounts")}, "name"},
		{&kgo.Record{Key: []byte(co.ID), Value: []byte(`{"id":"BADENUM1","name":"n","type":"NOT_A_TYPE"}`), Headers: hdr("accounts")}, "type"},
		// Rejected after the mapping rewrote it: the DLQ keeps the bytes
		// as read from Kafka, key order, spacing and objectType included
		// (issue 11, item 8).
		{&kgo.Record{Key: []byte(co.ID), Value: []byte(`{"type": "NOT_A_TYPE", "objectType": "accounts", "name": "n", "id": "BADENUM2"}`), Headers: hdr("accounts")}, "type"},
		{&kgo.Record{Key: []byte(co.ID), Value: []byte(`{"id":"BIG1","name":"` + strings.Repeat("x", 210_000) + `","type":"BANK"}`), Headers: hdr("accounts")}, "200"},
		// A company nobody set up: its records fail at once instead of
		// holding the stream back while waiting for credentials.
		{&kgo.Record{Key: []byte("5b0f6a52-0000-4000-8000-00000000c0de"), Value: []byte(`{"id":"NOCREDS1","name":"n","type":"BANK"}`), Headers: hdr("accounts")}, "has no credentials"},
	}
	// Good records off the common path: no object header (the object
	// comes from the record's "objectType", removed before sending), and
	// both a header and the member.
	erpOnly := []kgo.RecordHeader{{Key: "erp_id", Value: []byte(co.ERPID)}}
	good := []*kgo.Record{
		{Key: []byte(co.ID), Value: []byte(`{"id":"OT1","name":"object from objectType","type":"BANK","objectType":"accounts"}`), Headers: erpOnly},
		{Key: []byte(co.ID), Value: []byte(`{"objectType":"vendors","id":"OT2","name":"header and member","type":"ACCOUNTING","currencyCode":"USD","companyName":"c"}`), Headers: hdr("vendors")},
	}
	// Keyed by company and object, the company in a header: each object
	// can have a partition of its own.
	good = append(good, &kgo.Record{Key: []byte(co.ID + "/accounts"), Value: []byte(`{"id":"CH1","name":"company from header","type":"BANK"}`),
		Headers: append(hdr("accounts"), kgo.RecordHeader{Key: "company_id", Value: []byte(co.ID)})})
	bad = append(bad, badRecord{&kgo.Record{Key: []byte(co.ID), Value: []byte(`{"id":"OT3","name":"n","type":"BANK"}`), Headers: erpOnly}, "object"})
	// An empty company_id header names no company, whatever the key.
	bad = append(bad, badRecord{&kgo.Record{Key: []byte(co.ID), Value: []byte(`{"id":"CH2","name":"n","type":"BANK"}`),
		Headers: append(hdr("accounts"), kgo.RecordHeader{Key: "company_id", Value: nil})}, "no company id"})
	extra := make([]*kgo.Record, 0, len(bad)+len(good))
	for _, b := range bad {
		extra = append(extra, b.rec)
	}
	extra = append(extra, good...)
	// The bad records go between the first and the second half of the
	// changes, so good records flow on after them.
	half := len(changes) / 2
	if err := harness.Produce(ctx, brokers, topic, changes[:half], extra...); err != nil {
		t.Fatal(err)
	}
	if err := harness.Produce(ctx, brokers, topic, changes[half:]); err != nil {
		t.Fatal(err)
	}

	env := harness.PipelineEnv(sb.URL(), strings.Join(brokers, ","), filepath.Join(t.TempDir(), "tokens"), cos)
	// Many small batches per partition, written concurrently: the output
	// must keep the last value per id and pack them into few requests.
	const batchCount = 20
	env["KAFKA_BATCH_COUNT"] = fmt.Sprint(batchCount)
	dlqPath := filepath.Join(t.TempDir(), "dlq.ndjson")
	env["DLQ_PATH"] = dlqPath
	var logs harness.LockedBuffer
	stop := harness.RunPipeline(t, "kafka_to_concur.yaml", env, &logs)

	admin := harness.Admin{URL: sb.URL()}
	want := harness.Expected(cos, changes)
	want[harness.Target{CompanyID: co.ID, ERPID: co.ERPID, Object: harness.ObjectAccounts}]["OT1"] = "object from objectType"
	want[harness.Target{CompanyID: co.ID, ERPID: co.ERPID, Object: harness.ObjectAccounts}]["CH1"] = "company from header"
	want[harness.Target{CompanyID: co.ID, ERPID: co.ERPID, Object: harness.ObjectVendors}]["OT2"] = "header and member"
	harness.WaitFor(ctx, t, "final state", func() error {
		if err := admin.CheckState(ctx, want); err != nil {
			return err
		}
		lag, _, err := harness.GroupLag(ctx, brokers, "concurflow-erp-changes", topic)
		if err == nil && lag != 0 {
			err = errors.New("consumer group lag is not 0 yet")
		}
		return err
	})
	var dead []harness.DeadLetter
	harness.WaitFor(ctx, t, "the DLQ", func() error {
		var err error
		dead, err = harness.ReadDLQ(dlqPath)
		if err == nil && len(dead) < len(bad) {
			err = fmt.Errorf("%d of %d dead letters", len(dead), len(bad))
		}
		return err
	})
	stop()
	if dead, err = harness.ReadDLQ(dlqPath); err != nil {
		t.Fatal(err)
	}

	if len(dead) != len(bad) {
		t.Fatalf("DLQ holds %d records, want %d; e.g.: %+v", len(dead), len(bad), dead[len(dead)-1])
	}
	for _, b := range bad {
		var found *harness.DeadLetter
		for i, d := range dead {
			if d.Value == string(b.rec.Value) {
				found = &dead[i]
			}
		}
		if found == nil {
			t.Errorf("bad record %.60q is not in the DLQ: %+v", b.rec.Value, dead)
			continue
		}
		if !strings.Contains(found.Error, b.reason) {
			t.Errorf("DLQ reason of %.60q is %q, want it to mention %q", b.rec.Value, found.Error, b.reason)
		}
		if found.Key != string(b.rec.Key) || found.Object != header(b.rec, "object") || found.Topic != topic {
			t.Errorf("DLQ record of %.60q lost its origin: %+v", b.rec.Value, *found)
		}
	}
	st, err := admin.CheckAppliedOnce(ctx, cos)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d changes + %d bad records: %d requests accepted carrying %d records, %d re-sent bodies answered 412", len(changes), len(bad), st.Accepted, st.Records, st.Resent412)
	if batches := len(changes) / batchCount; st.Accepted >= batches {
		t.Errorf("%d requests for at least %d Kafka batches: records of several batches were not packed together", st.Accepted, batches)
	}
	for _, co := range cos {
		if strings.Contains(logs.String(), co.ClientSecret) || strings.Contains(logs.String(), co.RequestToken) {
			t.Errorf("the pipeline's logs contain a secret of company %s", co.ID)
		}
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
