package pipelines_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/concurflow/concurflow/sandbox"
	"github.com/concurflow/concurflow/test/harness"
)

// listItemsDir is the fixture snapshots and updates of ERP list items.
const listItemsDir = "../testdata/list_items"

// Concur lists the administrator maps the ERP lists to.
const (
	costCenterList = "0b7a1e55-2c54-4c11-9a51-6f3c1d2e4a01"
	projectList    = "0b7a1e55-2c54-4c11-9a51-6f3c1d2e4a02"
)

// TestListItemsSync runs list_items_sync.yaml against the sandbox and a
// kfake broker through the documented flow: an item of a list nobody mapped
// is skipped; the administrator maps two ERP lists and each receives its
// snapshot (listMapping.created → full send); item changes from Kafka follow;
// the administrator unmaps one list and its later items are not sent, while
// the other list's still are.
func TestListItemsSync(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := newFixture(t)
	addr := f.listenEvents(t)
	const topic, group = "erp.list_items", "concurflow-list-items"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	// The snapshots, with two bad lines in COST_CENTER's.
	dir := t.TempDir()
	for _, n := range []string{"COST_CENTER.ndjson", "PROJECT.ndjson", "updates.ndjson"} {
		copyFile(t, filepath.Join(listItemsDir, n), filepath.Join(dir, n))
	}
	appendFile(t, filepath.Join(dir, "COST_CENTER.ndjson"), `{"shortCode":"CC-BAD","value":"hyphenated code"}`+"\n"+`not json`+"\n")
	f.env["KAFKA_BROKERS"] = strings.Join(brokers, ",")
	f.env["LIST_ITEMS_DIR"] = dir
	produce := func(values ...string) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for _, v := range values {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	consumed := func() {
		t.Helper()
		harness.WaitFor(ctx, t, "the consumer group to catch up", func() error {
			lag, _, err := harness.GroupLag(ctx, brokers, group, topic)
			if err == nil && lag != 0 {
				err = fmt.Errorf("lag %d", lag)
			}
			return err
		})
	}

	// Before any mapping: nothing to send to.
	produce(`{"erpListId":"COST_CENTER","shortCode":"CC9999","value":"Before mapping"}`)
	runInBackground(t, "list_items_sync.yaml", f.env, addr)
	consumed()

	// The administrator maps both lists: each gets its snapshot.
	for _, m := range []sandbox.ListMapping{
		{ERPListID: "COST_CENTER", ConcurListID: costCenterList},
		{ERPListID: "PROJECT", ConcurListID: projectList},
	} {
		if err := f.srv.MapList(f.co.ID, f.erpID, m); err != nil {
			t.Fatal(err)
		}
	}
	wantCC := snapshot(t, "COST_CENTER")
	wantProjects := snapshot(t, "PROJECT")
	waitItems(ctx, t, f, costCenterList, wantCC)
	waitItems(ctx, t, f, projectList, wantProjects)

	// Changes stream in from Kafka; DEPARTMENT is not mapped.
	b, err := os.ReadFile(filepath.Join(dir, "updates.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	produce(strings.Split(strings.TrimSpace(string(b)), "\n")...)
	produce(`{"erpListId":"PROJECT","shortCode":"T50","value":"Orphan","parentCode":"P999"}`, `{"erpListId":"COST_CENTER","value":"no code"}`)
	wantCC = slices.DeleteFunc(wantCC, func(s string) bool { return strings.HasPrefix(s, "CC2100=") || strings.HasPrefix(s, "CC4100=") })
	wantCC = sorted(append(wantCC, "CC2100=Sales Europe and Middle East", "CC7000=Legal"))
	wantProjects = slices.DeleteFunc(wantProjects, func(s string) bool { return strings.HasPrefix(s, "P300=") })
	wantProjects = sorted(append(wantProjects, "P100-T40=Hypercare"))
	consumed()
	waitItems(ctx, t, f, costCenterList, wantCC)
	waitItems(ctx, t, f, projectList, wantProjects)

	// The administrator removes the PROJECT mapping; once its event was
	// handled, PROJECT items stop flowing and COST_CENTER's go on.
	if err := f.srv.UnmapList(f.co.ID, f.erpID, "PROJECT"); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, f.srv)
	produce(`{"erpListId":"PROJECT","shortCode":"P400","value":"After unmapping"}`,
		`{"erpListId":"COST_CENTER","shortCode":"CC8000","value":"Procurement"}`)
	consumed()
	waitItems(ctx, t, f, costCenterList, sorted(append(wantCC, "CC8000=Procurement")))
	if got := liveItems(t, f, projectList); !slices.Equal(got, wantProjects) {
		t.Errorf("after unmapping, the PROJECT list holds %v, want %v", got, wantProjects)
	}

	// A list mapped before its snapshot exists: the event is refused (ESS
	// delivers it again) until the snapshot is written, then sent whole.
	const deptList = "0b7a1e55-2c54-4c11-9a51-6f3c1d2e4a03"
	refused := func() int {
		n := 0
		for _, d := range f.srv.Deliveries() {
			if d.StatusCode >= 500 && d.WillRetry {
				n++
			}
		}
		return n
	}
	before := refused()
	if err := f.srv.MapList(f.co.ID, f.erpID, sandbox.ListMapping{ERPListID: "DEPARTMENT", ConcurListID: deptList}); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(ctx, t, "a refused delivery of the DEPARTMENT mapping", func() error {
		if refused() > before {
			return nil
		}
		return errors.New("no refused delivery yet")
	})
	if got := liveItems(t, f, deptList); len(got) != 0 {
		t.Fatalf("DEPARTMENT list holds %v before its snapshot exists", got)
	}
	appendFile(t, filepath.Join(dir, "DEPARTMENT.ndjson"), `{"shortCode":"D10","value":"Finance"}`+"\n"+`{"shortCode":"D20","value":"Sales"}`+"\n")
	waitItems(ctx, t, f, deptList, []string{"D10=Finance", "D20=Sales"})

	// Exactly the bad items are dead letters, with the reason.
	dead := readNDJSON(t, filepath.Join(f.env["DLQ_DIR"], "list_items.ndjson"))
	wantDead := map[string]string{
		`{"erpListId":"COST_CENTER","shortCode":"CC-BAD","value":"hyphenated code"}`: "hyphen",
		`"not json"`: "not a JSON object",
		`{"erpListId":"PROJECT","parentCode":"P999","shortCode":"T50","value":"Orphan"}`: "item.parent.not.found",
		`{"erpListId":"COST_CENTER","value":"no code"}`:                                  "without a shortCode",
	}
	if len(dead) != len(wantDead) {
		t.Errorf("%d dead letters, want %d: %v", len(dead), len(wantDead), dead)
	}
	for _, d := range dead {
		item, _ := json.Marshal(d["item"])
		reason, ok := wantDead[string(item)]
		if !ok || !strings.Contains(fmt.Sprint(d["error"]), reason) {
			t.Errorf("dead letter %s: %v, want a reason mentioning %q", item, d["error"], reason)
		}
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// snapshot returns code=value of a snapshot file's items, sorted.
func snapshot(t *testing.T, list string) []string {
	t.Helper()
	var out []string
	for _, m := range readNDJSON(t, filepath.Join(listItemsDir, list+".ndjson")) {
		code, _ := m["shortCode"].(string)
		if p, _ := m["parentCode"].(string); p != "" {
			code = p + "-" + code
		}
		out = append(out, fmt.Sprintf("%s=%s", code, m["value"]))
	}
	return sorted(out)
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

// liveItems returns code=value of the sandbox list's items that are not
// deleted, sorted; none when the list does not exist (yet).
func liveItems(t *testing.T, f *fixture, listID string) []string {
	t.Helper()
	items, err := f.srv.ListItems(f.co.ID, listID)
	if errors.Is(err, sandbox.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		if !it.IsDeleted {
			out = append(out, it.Code+"="+it.Value)
		}
	}
	return sorted(out)
}

func waitItems(ctx context.Context, t *testing.T, f *fixture, listID string, want []string) {
	t.Helper()
	harness.WaitFor(ctx, t, "the items of list "+listID, func() error {
		if got := liveItems(t, f, listID); !slices.Equal(got, want) {
			return fmt.Errorf("list holds %v, want %v", got, want)
		}
		return nil
	})
}
