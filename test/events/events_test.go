// Package events drives pipelines/events_to_files.yaml with the sandbox's
// ESS delivery while the pipeline's output fails: deliveries are answered
// with an error, ESS redelivers, and once the output recovers every event
// is written exactly once — duplicates published by ESS included, and
// events arriving out of order land in the file of their own hour.
package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/concurflow/concurflow/plugin"
	"github.com/concurflow/concurflow/sandbox"
	"github.com/concurflow/concurflow/test/harness"
)

func TestRedeliveredOutOfOrderEventsWrittenOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sb := sandbox.New(t, sandbox.WithProcessingDelay(0), sandbox.WithDeliveryBackoff(func(int) time.Duration { return 50 * time.Millisecond }))
	cos := harness.SeedCompanies(t, sb, 1)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "sandbox.pem")
	if err := os.WriteFile(keyFile, sb.PublicKeyPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The output directory is a regular file at first: every write fails.
	eventsDir := filepath.Join(dir, "events")
	if err := os.WriteFile(eventsDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	env := map[string]string{"EVENTS_ADDR": addr, "ESS_PUBLIC_KEY_FILES": "[" + keyFile + "]", "EVENTS_DIR": eventsDir}
	stream := harness.EmbeddedStream(t, "events_to_files.yaml", env, "none")
	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	defer func() {
		if err := stream.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		<-done
	}()
	harness.WaitFor(ctx, t, "the webhook listener", func() error {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	})
	sb.Subscribe("", "http://"+addr+"/concur/events")

	// Six events published newest first, one of them twice.
	hours := []int{15, 13, 11, 9, 7, 5}
	var ids []string
	for i, h := range hours {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1)
		ids = append(ids, id)
		body := fmt.Sprintf(`{"id":%q,"correlationId":"c-%d","eventType":"data.resetRequested","topic":"public.concur.spend.accountingintegration","timeStamp":"2026-11-20T%02d:30:00.000Z","data":null,"facts":{"companyId":%q,"data":"{\"accountingObjects\":[\"LIST\"]}","erpId":%q,"partnerId":"646a2339-1632-4692-8be6-84534f5b41fc"}}`,
			id, i, h, cos[0].ID, cos[0].ERPID)
		n := 1
		if i == 2 {
			n = 2
		}
		for range n {
			if err := sb.PublishRawEvent([]byte(body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	harness.WaitFor(ctx, t, "failed deliveries", func() error {
		failed := 0
		for _, d := range sb.Deliveries() {
			if d.StatusCode != http.StatusOK {
				failed++
			}
		}
		if failed < 2*len(hours) {
			return fmt.Errorf("%d failed deliveries so far", failed)
		}
		return nil
	})
	// The output recovers.
	if err := os.Remove(eventsDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(eventsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := sb.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}

	seen := map[string]int{}
	for i, h := range hours {
		path := filepath.Join(eventsDir, "data.resetRequested", fmt.Sprintf("2026-11-20T%02d.ndjson", h))
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("event %s (hour %d): %v", ids[i], h, err)
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			var line struct {
				Event struct {
					ID string `json:"id"`
				} `json:"event"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			seen[line.Event.ID]++
			if line.Event.ID != ids[i] {
				t.Errorf("event %s in the file of hour %d, want %s", line.Event.ID, h, ids[i])
			}
		}
	}
	var failed, ok int
	for _, d := range sb.Deliveries() {
		if d.StatusCode == http.StatusOK {
			ok++
		} else {
			failed++
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("event %s written %d times, want once", id, seen[id])
		}
	}
	t.Logf("RESULT events: %d events (one published twice, newest first), %d deliveries failed while the output was down, %d answered 200; each written once, in its own hour's file", len(ids), failed, ok)
}
