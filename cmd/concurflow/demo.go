package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/urfave/cli/v2"

	"github.com/concurflow/concurflow/pipelines"
	"github.com/concurflow/concurflow/sandbox"
)

// Flag names of the demo verb.
const (
	flagDemoData    = "data"
	flagDemoOut     = "out"
	flagDemoTimeout = "timeout"
)

// demoDrops are the file-drop pipelines the demo runs over the data folder,
// in this order, with the object each writes and the dead-letter file of
// its schema-invalid records.
var demoDrops = []struct {
	pipeline string
	object   sandbox.Object
	dlq      string
}{
	{"file_drop_accounts.yaml", sandbox.ObjectAccount, "accounts.ndjson"},
	{"parquet_vendors.yaml", sandbox.ObjectVendor, "vendors.ndjson"},
	{"file_drop_lists.yaml", sandbox.ObjectList, "lists.ndjson"},
	{"file_drop_tax_data.yaml", sandbox.ObjectTaxData, "tax_data.ndjson"},
}

// The events pipelines the demo runs: one keeps every event, one the
// records Concur rejected.
const (
	demoEventsPipeline   = "events_to_files.yaml"
	demoRejectedPipeline = "request_errors_dlq.yaml"
)

// demoCommand is `concurflow demo`: the whole ERP → Concur → events loop
// against the embedded sandbox.
func demoCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "Run the ERP → Concur → events loop against the embedded sandbox and print what happened",
		Description: `Starts the sandbox, seeds a company with a registered ERP, runs the
file-drop pipelines of pipelines/ over the ERP exports in --data (accounts CSV,
vendors Parquet, lists CSV, tax data NDJSON, each with its invalid records),
receives the sandbox's signed ESS events with events_to_files.yaml and
request_errors_dlq.yaml, waits for the data.statusUpdated event of every
accounts, vendors and lists request (tax data publishes none)
and prints a summary. Exits 0 only when every request reached a final status,
every expected event arrived and the sandbox holds what was sent. Then, with
testdata/list_items beside --data, it runs list_items_sync.yaml with an
in-memory Kafka broker: the administrator maps two ERP lists (each receives
its items), changes follow from Kafka, one list is unmapped (its later items
must not be sent).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagDemoData, Usage: "folder of the ERP exports (default: testdata/erp of the repository around the working directory)"},
			&cli.StringFlag{Name: flagDemoOut, Usage: "keep the dead-letter and event files in this folder (default: a temporary folder, removed)"},
			&cli.DurationFlag{Name: flagDemoTimeout, Value: 2 * time.Minute, Usage: "give up after this long"},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, c.Duration(flagDemoTimeout))
			defer cancel()
			data, err := findDemoData(c.String(flagDemoData))
			if err != nil {
				return err
			}
			if err := runDemo(ctx, data, c.String(flagDemoOut), s); err != nil {
				return &exitError{code: 1, err: fmt.Errorf("demo: %w", err)}
			}
			return nil
		},
	}
}

// findDemoData returns the ERP export folder: flag when set, otherwise
// testdata/erp in the working directory or one of its parents, otherwise
// the one beside this source file (go run from elsewhere).
func findDemoData(flag string) (string, error) {
	isData := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "accounts.csv"))
		return err == nil
	}
	if flag != "" {
		if !isData(flag) {
			return "", fmt.Errorf("--%s %s: no accounts.csv there; point it at a folder of ERP exports like testdata/erp", flagDemoData, flag)
		}
		return flag, nil
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if cand := filepath.Join(dir, "testdata", "erp"); isData(cand) {
				return cand, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		if cand := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "erp"); isData(cand) {
			return filepath.Clean(cand), nil
		}
	}
	return "", fmt.Errorf("testdata/erp not found around the working directory; run from the repository or pass --%s", flagDemoData)
}

// demoRun is one run of the demo: the sandbox, its company and the
// environment the pipelines read.
type demoRun struct {
	srv   *sandbox.Server
	co    sandbox.Company
	erpID string
	env   map[string]string
	log   *slog.Logger
}

func runDemo(ctx context.Context, data, out string, s streams) (err error) {
	outNote := ""
	if out == "" {
		if out, err = os.MkdirTemp("", "concurflow-demo-"); err != nil {
			return fmt.Errorf("creating the work folder: %w", err)
		}
		defer os.RemoveAll(out)
		outNote = " (removed at exit; keep it with --" + flagDemoOut + ")"
	}
	data, err = filepath.Abs(data)
	if err != nil {
		return err
	}
	d := &demoRun{log: slog.New(demoLogHandler{slog.NewTextHandler(s.errOut, &slog.HandlerOptions{Level: slog.LevelWarn})})}
	if d.srv, err = sandbox.Start(sandbox.WithDeliveryBackoff(func(int) time.Duration { return 100 * time.Millisecond })); err != nil {
		return fmt.Errorf("starting the sandbox: %w", err)
	}
	defer d.srv.Close()
	if d.co, err = d.srv.SeedCompany(); err != nil {
		return fmt.Errorf("seeding a company: %w", err)
	}
	if d.erpID, err = d.srv.RegisterERP(d.co.ID); err != nil {
		return fmt.Errorf("registering an ERP: %w", err)
	}
	if err := d.prepare(data, out); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "concurflow demo: ERP exports → Concur (sandbox %s) → events\n", d.srv.URL())
	fmt.Fprintf(s.out, "  company %s, ERP %s\n  exports %s\n  output  %s%s\n\n", d.co.ID, d.erpID, data, out, outNote)

	for _, name := range []string{demoEventsPipeline, demoRejectedPipeline} {
		stop, err := d.startEvents(ctx, name)
		if err != nil {
			return err
		}
		defer func() {
			if serr := stop(); serr != nil && err == nil {
				err = serr
			}
		}()
	}
	for _, drop := range demoDrops {
		if err := d.runToEnd(ctx, drop.pipeline); err != nil {
			return err
		}
	}
	if err := d.srv.WaitIdle(ctx); err != nil {
		return fmt.Errorf("waiting for Concur's processing and the events: %w", err)
	}
	if err := d.report(s.out); err != nil {
		return err
	}
	if dir := demoListItemsDir(data); dir != "" {
		return d.listItems(ctx, s.out, dir)
	}
	return nil
}

// prepare writes the sandbox's signing key into out and fills the
// environment of the pipelines.
func (d *demoRun) prepare(data, out string) error {
	key := filepath.Join(out, "sandbox.pem")
	if err := os.WriteFile(key, d.srv.PublicKeyPEM(), 0o600); err != nil {
		return fmt.Errorf("writing the sandbox's signing key: %w", err)
	}
	keys, err := json.Marshal([]string{key})
	if err != nil {
		return err
	}
	d.env = map[string]string{
		"CONCUR_URL":           d.srv.URL(),
		"COMPANY_ID":           d.co.ID,
		"ERP_ID":               d.erpID,
		"CLIENT_ID":            d.co.ClientID,
		"CLIENT_SECRET":        d.co.ClientSecret,
		"REQUEST_TOKEN":        d.co.RequestToken,
		"TOKEN_STORE":          filepath.Join(out, "tokens"),
		"DROP_DIR":             data,
		"DLQ_DIR":              filepath.Join(out, "dlq"),
		"EVENTS_DIR":           filepath.Join(out, "events"),
		"ESS_PUBLIC_KEY_FILES": string(keys),
		// The pipelines run side by side in this process: none serves HTTP.
		"HTTP_ENABLED": "false",
	}
	return nil
}

// stream builds a pipeline of pipelines/ with the demo's environment plus
// extra.
func (d *demoRun) stream(name string, extra map[string]string) (*service.Stream, error) {
	b, err := pipelines.NewStreamBuilder(name, func(k string) (string, bool) {
		if v, ok := extra[k]; ok {
			return v, true
		}
		v, ok := d.env[k]
		return v, ok
	})
	if err != nil {
		return nil, err
	}
	b.SetLogger(d.log.With("pipeline", name))
	s, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("building pipeline %s: %w", name, err)
	}
	return s, nil
}

// runToEnd runs a bounded pipeline until its input is exhausted.
func (d *demoRun) runToEnd(ctx context.Context, name string) error {
	s, err := d.stream(name, nil)
	if err != nil {
		return err
	}
	if err := s.Run(ctx); err != nil {
		return fmt.Errorf("running pipeline %s: %w", name, err)
	}
	return nil
}

// startEvents runs an events pipeline on a free loopback port subscribed to
// the company's events. stop shuts it down and waits for it.
func (d *demoRun) startEvents(ctx context.Context, name string) (stop func() error, err error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	s, err := d.stream(name, map[string]string{"EVENTS_ADDR": addr})
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	stop = func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		serr := s.Stop(sctx)
		select {
		case rerr := <-done:
			if rerr != nil && !errors.Is(rerr, context.Canceled) && serr == nil {
				serr = rerr
			}
		case <-sctx.Done():
			if serr == nil {
				serr = sctx.Err()
			}
		}
		if serr != nil {
			return fmt.Errorf("stopping pipeline %s: %w", name, serr)
		}
		return nil
	}
	if err := waitListening(ctx, addr, done); err != nil {
		_ = stop()
		return nil, fmt.Errorf("pipeline %s: %w", name, err)
	}
	d.srv.Subscribe(d.co.ID, "http://"+addr+"/concur/events")
	return stop, nil
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port free right now.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// waitListening waits until addr accepts connections, the stream ended or
// ctx is done.
func waitListening(ctx context.Context, addr string, done <-chan error) error {
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		select {
		case err := <-done:
			return fmt.Errorf("ended before listening on %s: %v", addr, err)
		case <-ctx.Done():
			return fmt.Errorf("not listening on %s: %w", addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// demoEvent is the part of an events_to_files.yaml line the demo reads.
type demoEvent struct {
	Event struct {
		EventType string `json:"eventType"`
		Facts     struct {
			Data json.RawMessage `json:"data"`
		} `json:"facts"`
	} `json:"event"`
}

// demoStatus is the facts.data of data.statusUpdated.
type demoStatus struct {
	RequestID string `json:"requestId"`
	Status    string `json:"status"`
}

// report prints the summary and checks that the loop completed.
func (d *demoRun) report(w io.Writer) error {
	reqs, err := d.srv.Requests(d.co.ID, d.erpID)
	if err != nil {
		return err
	}
	events, err := readDemoEvents(d.env["EVENTS_DIR"])
	if err != nil {
		return err
	}
	var problems []string
	statusByReq := map[string][]string{}
	typeCount := map[string]int{}
	for _, e := range events {
		typeCount[e.Event.EventType]++
		if e.Event.EventType != "data.statusUpdated" {
			continue
		}
		var st demoStatus
		if err := json.Unmarshal(e.Event.Facts.Data, &st); err != nil {
			problems = append(problems, fmt.Sprintf("data.statusUpdated event with unreadable facts.data: %v", err))
			continue
		}
		statusByReq[st.RequestID] = append(statusByReq[st.RequestID], st.Status)
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "Records (file-drop pipelines → concur_accounting)")
	fmt.Fprintln(tw, "  object\tinvalid→DLQ\tsent\trequests\trejected by Concur\tConcur holds")
	failedBy := map[sandbox.Object]int{}
	for _, drop := range demoDrops {
		invalid, err := countLines(filepath.Join(d.env["DLQ_DIR"], drop.dlq))
		if err != nil {
			return err
		}
		var sent, n, failed int
		for _, r := range reqs {
			if r.Object == drop.object {
				sent += r.Records
				failed += r.Failed
				n++
			}
		}
		failedBy[drop.object] = failed
		held, err := d.srv.Records(d.co.ID, d.erpID, drop.object)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\n", drop.object, invalid, sent, n, failed, len(held))
		if n == 0 {
			problems = append(problems, fmt.Sprintf("no %s request was sent", drop.object))
		}
		if sent-failed != len(held) {
			problems = append(problems, fmt.Sprintf("%s: %d sent − %d rejected ≠ %d held", drop.object, sent, failed, len(held)))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nRequests (final status from the sandbox / from the data.statusUpdated event)")
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].Received.Before(reqs[j].Received) })
	evented := len(reqs) // requests that publish data.statusUpdated
	for _, r := range reqs {
		got := statusByReq[r.ID]
		note := strings.Join(got, ",")
		if r.Object == sandbox.ObjectTaxData && len(got) == 0 {
			note = "none for tax data"
		}
		fmt.Fprintf(w, "  %-8s %-5s %s  %-8s event: %s\n", r.Object, r.Method, r.ID, r.Status, note)
		switch {
		case r.Completed.IsZero() || r.Status == sandbox.StatusProcessing:
			problems = append(problems, fmt.Sprintf("request %s did not finish", r.ID))
		case r.Object == sandbox.ObjectTaxData:
			// Concur publishes data.statusUpdated for accounts, vendors
			// and lists only (the Events page).
			if len(got) != 0 {
				problems = append(problems, fmt.Sprintf("tax data request %s has events %v", r.ID, got))
			}
			evented--
		case len(got) != 1 || got[0] != r.Status:
			problems = append(problems, fmt.Sprintf("request %s is %s but its events say %v", r.ID, r.Status, got))
		}
	}

	fmt.Fprintln(w, "\nRejected by Concur (request_errors_dlq.yaml)")
	rejected, err := readRejected(d.env["DLQ_DIR"])
	if err != nil {
		return err
	}
	rejectedBy := map[string]int{}
	for _, r := range rejected {
		rejectedBy[r.ObjectType]++
		fmt.Fprintf(w, "  %-8s %-10s %s\n", r.ObjectType, r.RecordID, r.reason())
	}
	if len(rejected) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for obj, n := range failedBy {
		if obj == sandbox.ObjectTaxData && n > 0 {
			// Without an event, request_errors_dlq.yaml never hears of them.
			fmt.Fprintf(w, "  TAX_DATA   %d rejected records: see GET …/requests/{id}/errors (tax data publishes no event)\n", n)
			continue
		}
		if rejectedBy[string(obj)] != n {
			problems = append(problems, fmt.Sprintf("%s: Concur rejected %d records, %d reached the dead-letter file", obj, n, rejectedBy[string(obj)]))
		}
	}

	fmt.Fprintln(w, "\nInvalid before sending (concur_accounting's schema check → dead-letter files)")
	for _, drop := range demoDrops {
		lines, err := readDLQ(filepath.Join(d.env["DLQ_DIR"], drop.dlq))
		if err != nil {
			return err
		}
		for _, l := range lines {
			fmt.Fprintf(w, "  %-8s %s\n", drop.object, l)
		}
	}

	fmt.Fprintln(w, "\nEvents received (events_to_files.yaml)")
	types := make([]string, 0, len(typeCount))
	for t := range typeCount {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		fmt.Fprintf(w, "  %-20s %d\n", t, typeCount[t])
	}
	if typeCount["data.statusUpdated"] != evented {
		problems = append(problems, fmt.Sprintf("%d data.statusUpdated events for %d accounts, vendors and lists requests", typeCount["data.statusUpdated"], evented))
	}

	if len(problems) > 0 {
		fmt.Fprintln(w, "\nFAILED: the loop did not complete:")
		for _, p := range problems {
			fmt.Fprintln(w, "  - "+p)
		}
		return fmt.Errorf("%d checks failed", len(problems))
	}
	fmt.Fprintln(w, "\nOK: every request reached a final status, its event arrived and Concur holds what was sent.")
	return nil
}

// readDemoEvents reads every line events_to_files.yaml wrote under dir.
func readDemoEvents(dir string) ([]demoEvent, error) {
	var out []demoEvent
	err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		return eachLine(path, func(b []byte) error {
			var e demoEvent
			if err := json.Unmarshal(b, &e); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			out = append(out, e)
			return nil
		})
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return out, err
}

// demoRejected is a line of request_errors_dlq.yaml's output.
type demoRejected struct {
	RecordID         string          `json:"recordId"`
	ObjectType       string          `json:"objectType"`
	ErrorMessage     string          `json:"errorMessage"`
	ValidationErrors json.RawMessage `json:"validationErrors"`
}

func (r demoRejected) reason() string {
	return r.ErrorMessage + " " + string(r.ValidationErrors)
}

func readRejected(dir string) ([]demoRejected, error) {
	files, err := filepath.Glob(filepath.Join(dir, "rejected_*.ndjson"))
	if err != nil {
		return nil, err
	}
	var out []demoRejected
	for _, f := range files {
		err := eachLine(f, func(b []byte) error {
			var r demoRejected
			if err := json.Unmarshal(b, &r); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			out = append(out, r)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readDLQ returns "<id>: <reason>" for each line of a file-drop dead-letter
// file (none when it does not exist).
func readDLQ(path string) ([]string, error) {
	var out []string
	err := eachLine(path, func(b []byte) error {
		var l struct {
			Record map[string]any `json:"record"`
			Error  string         `json:"error"`
		}
		if err := json.Unmarshal(b, &l); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		id := fmt.Sprint(l.Record["id"])
		if cc, ok := l.Record["countryCode"]; ok {
			id = fmt.Sprint(cc)
		}
		if l.Record["id"] == nil && l.Record["countryCode"] == nil {
			id = "(no id)"
		}
		out = append(out, fmt.Sprintf("%-10s %s", id, shortReason(l.Error)))
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return out, err
}

// demoRecordPrefix is the "record 3 (id \"V9900004\") " that
// concur_accounting puts in front of a schema failure: the summary shows
// the key in a column of its own.
var demoRecordPrefix = regexp.MustCompile(`^record \d+ \((id|countryCode) "[^"]*"\) `)

// shortReason is a dead-letter reason on one line, without the record's
// index and key.
func shortReason(err string) string {
	return strings.ReplaceAll(demoRecordPrefix.ReplaceAllString(err, ""), "\n", "; ")
}

func countLines(path string) (int, error) {
	n := 0
	err := eachLine(path, func([]byte) error { n++; return nil })
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	return n, err
}

// eachLine calls fn with each non-empty line of a file.
func eachLine(path string, fn func([]byte) error) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if err := fn([]byte(l)); err != nil {
			return err
		}
	}
	return nil
}
