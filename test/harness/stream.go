package harness

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/pipelines"
)

// RunPipeline starts the pipeline file in this process with env as its only
// environment and every log line (debug level, or env["LOG_LEVEL"] when
// set, e.g. WARN for a benchmark) written to logs, and returns
// a function stopping it (also called when the test ends). The components
// must be registered by the caller's imports.
func RunPipeline(t testing.TB, path string, env map[string]string, logs *LockedBuffer) (stop func()) {
	t.Helper()
	return RunPipelineMux(t, path, env, logs, nil)
}

// RunPipelineMux is RunPipeline with the stream's HTTP endpoints (metrics,
// health) registered on mux instead of a server of their own.
func RunPipelineMux(t testing.TB, path string, env map[string]string, logs *LockedBuffer, mux *http.ServeMux) (stop func()) {
	t.Helper()
	yaml, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b := service.NewStreamBuilder()
	b.SetEnvVarLookupFunc(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err := b.SetYAML(string(yaml)); err != nil {
		t.Fatal(err)
	}
	if mux != nil {
		b.SetHTTPMux(mux)
	}
	level := slog.LevelDebug
	if v, ok := env["LOG_LEVEL"]; ok {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			t.Fatalf("LOG_LEVEL: %v", err)
		}
	}
	b.SetLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level})))
	stream, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := stream.Stop(ctx); err != nil {
				t.Errorf("stopping the pipeline: %v", err)
			}
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("pipeline ended with %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// WaitFor polls check until it returns nil, failing the test with its last
// error when ctx ends.
func WaitFor(ctx context.Context, t testing.TB, what string, check func() error) {
	t.Helper()
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// LockedBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// EmbeddedStream builds one of the pipelines/ files, as embedded in the
// pipelines package, with env as its only environment and Benthos's own
// logger at level (e.g. "warn", "none").
func EmbeddedStream(t testing.TB, name string, env map[string]string, level string) *service.Stream {
	t.Helper()
	b, err := pipelines.NewStreamBuilder(name, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetLoggerYAML("level: " + level); err != nil {
		t.Fatal(err)
	}
	stream, err := b.Build()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return stream
}
