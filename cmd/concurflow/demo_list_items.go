package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/concurflow/concurflow/sandbox"
)

// The list item part of the demo: list_items_sync.yaml with an in-memory
// Kafka broker, the snapshots and changes of testdata/list_items, and the
// Concur lists the administrator maps the ERP lists to.
const (
	demoListItemsPipeline = "list_items_sync.yaml"
	demoListItemsTopic    = "erp.list_items"
)

var demoListMappings = []sandbox.ListMapping{
	{ERPListID: "COST_CENTER", ConcurListID: "0b7a1e55-2c54-4c11-9a51-6f3c1d2e4a01"},
	{ERPListID: "PROJECT", ConcurListID: "0b7a1e55-2c54-4c11-9a51-6f3c1d2e4a02"},
}

// demoItem is one line of a list item snapshot or change.
type demoItem struct {
	ERPListID  string `json:"erpListId"`
	ShortCode  string `json:"shortCode"`
	Value      string `json:"value"`
	ParentCode string `json:"parentCode"`
	Deleted    bool   `json:"deleted"`
}

func (it demoItem) code() string {
	if it.ParentCode == "" {
		return it.ShortCode
	}
	return it.ParentCode + "-" + it.ShortCode
}

// demoListItemsDir is testdata/list_items beside the ERP exports, or "" when
// the exports are elsewhere.
func demoListItemsDir(data string) string {
	dir := filepath.Join(filepath.Dir(data), "list_items")
	if _, err := os.Stat(filepath.Join(dir, "updates.ndjson")); err != nil {
		return ""
	}
	return dir
}

// listItems runs the listMapping.created → List Item v4 flow: the
// administrator maps two ERP lists (each gets its snapshot), changes stream
// in from Kafka, the administrator unmaps one list (its later items are not
// sent). It prints what each Concur list holds and fails when the sandbox
// does not hold what the flow should have sent.
func (d *demoRun) listItems(ctx context.Context, w io.Writer, dir string) (err error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, demoListItemsTopic), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		return fmt.Errorf("starting the in-memory Kafka broker: %w", err)
	}
	defer cluster.Close()
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DefaultProduceTopic(demoListItemsTopic))
	if err != nil {
		return fmt.Errorf("creating a Kafka producer: %w", err)
	}
	defer producer.Close()
	d.env["KAFKA_BROKERS"] = strings.Join(cluster.ListenAddrs(), ",")
	d.env["LIST_ITEMS_DIR"] = dir
	stop, err := d.startEvents(ctx, demoListItemsPipeline)
	if err != nil {
		return err
	}
	defer func() {
		if serr := stop(); serr != nil && err == nil {
			err = serr
		}
	}()

	// want: what each mapped ERP list should hold in Concur, code → value.
	want := map[string]map[string]string{}
	fmt.Fprintf(w, "\nList items (%s: listMapping events → List Item v4)\n", demoListItemsPipeline)
	for _, m := range demoListMappings {
		snap, err := readDemoItems(filepath.Join(dir, m.ERPListID+".ndjson"))
		if err != nil {
			return err
		}
		want[m.ERPListID] = map[string]string{}
		applyDemoItems(want[m.ERPListID], snap)
		if err := d.srv.MapList(d.co.ID, d.erpID, m); err != nil {
			return fmt.Errorf("mapping list %s: %w", m.ERPListID, err)
		}
		fmt.Fprintf(w, "  admin maps ERP list %-12s → Concur list %s: full send of %d items\n", m.ERPListID, m.ConcurListID, len(snap))
	}
	if err := d.waitLists(ctx, want); err != nil {
		return err
	}

	changes, err := readDemoItems(filepath.Join(dir, "updates.ndjson"))
	if err != nil {
		return err
	}
	for _, c := range changes {
		if lst, ok := want[c.ERPListID]; ok {
			applyDemoItems(lst, []demoItem{c})
		}
	}
	if err := d.produceItems(ctx, producer, changes); err != nil {
		return err
	}
	fmt.Fprintf(w, "  %d changes from Kafka (items of unmapped lists are skipped)\n", len(changes))
	if err := d.waitLists(ctx, want); err != nil {
		return err
	}

	unmapped := demoListMappings[1]
	if err := d.srv.UnmapList(d.co.ID, d.erpID, unmapped.ERPListID); err != nil {
		return fmt.Errorf("unmapping list %s: %w", unmapped.ERPListID, err)
	}
	if err := d.srv.WaitIdle(ctx); err != nil {
		return fmt.Errorf("waiting for the listMapping.deleted event: %w", err)
	}
	after := []demoItem{
		{ERPListID: unmapped.ERPListID, ShortCode: "P900", Value: "After unmapping"},
		{ERPListID: demoListMappings[0].ERPListID, ShortCode: "CC9000", Value: "Sent after the other list was unmapped"},
	}
	stopped := maps.Clone(want[unmapped.ERPListID])
	applyDemoItems(want[demoListMappings[0].ERPListID], after[1:])
	if err := d.produceItems(ctx, producer, after); err != nil {
		return err
	}
	fmt.Fprintf(w, "  admin unmaps ERP list %s; then one item of each list arrives\n", unmapped.ERPListID)
	if err := d.waitLists(ctx, map[string]map[string]string{demoListMappings[0].ERPListID: want[demoListMappings[0].ERPListID]}); err != nil {
		return err
	}
	held, err := d.heldItems(unmapped.ConcurListID)
	if err != nil {
		return err
	}
	if !maps.Equal(held, stopped) {
		return fmt.Errorf("after unmapping %s, its Concur list holds %d items, want the %d it held before", unmapped.ERPListID, len(held), len(stopped))
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ERP list\tConcur list\tmapped\titems in Concur\tcodes")
	for _, m := range demoListMappings {
		held, err := d.heldItems(m.ConcurListID)
		if err != nil {
			return err
		}
		codes := slices.Sorted(maps.Keys(held))
		fmt.Fprintf(tw, "  %s\t%s\t%v\t%d\t%s\n", m.ERPListID, m.ConcurListID, m.ERPListID != unmapped.ERPListID, len(held), strings.Join(codes, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	dead, err := readDLQ(filepath.Join(d.env["DLQ_DIR"], "list_items.ndjson"))
	if err != nil {
		return err
	}
	if len(dead) > 0 {
		return fmt.Errorf("list items in the dead-letter file: %v", dead)
	}
	fmt.Fprintln(w, "  OK: each mapped list received its snapshot and changes; after unmapping, PROJECT items were no longer sent.")
	return nil
}

// produceItems writes items to the topic, in order.
func (d *demoRun) produceItems(ctx context.Context, cl *kgo.Client, items []demoItem) error {
	for _, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			return err
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: b}).FirstErr(); err != nil {
			return fmt.Errorf("producing list item changes: %w", err)
		}
	}
	return nil
}

// heldItems returns code → value of a Concur list's live items (none when
// the list does not exist yet).
func (d *demoRun) heldItems(listID string) (map[string]string, error) {
	items, err := d.srv.ListItems(d.co.ID, listID)
	if errors.Is(err, sandbox.ErrNotFound) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, it := range items {
		if !it.IsDeleted {
			out[it.Code] = it.Value
		}
	}
	return out, nil
}

// waitLists waits until each ERP list's Concur list holds exactly want.
func (d *demoRun) waitLists(ctx context.Context, want map[string]map[string]string) error {
	for {
		done := true
		for _, m := range demoListMappings {
			w, ok := want[m.ERPListID]
			if !ok {
				continue
			}
			held, err := d.heldItems(m.ConcurListID)
			if err != nil {
				return err
			}
			if !maps.Equal(held, w) {
				done = false
			}
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the list items to reach Concur: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// applyDemoItems applies items to code → value as Concur ends up: upserts
// set the value, deletes remove the item and its descendants.
func applyDemoItems(held map[string]string, items []demoItem) {
	for _, it := range items {
		code := it.code()
		if !it.Deleted {
			held[code] = it.Value
			continue
		}
		for c := range held {
			if c == code || strings.HasPrefix(c, code+"-") {
				delete(held, c)
			}
		}
	}
}

func readDemoItems(path string) ([]demoItem, error) {
	var out []demoItem
	err := eachLine(path, func(b []byte) error {
		var it demoItem
		if err := json.Unmarshal(b, &it); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, it)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list item fixtures: %w", err)
	}
	return out, err
}
