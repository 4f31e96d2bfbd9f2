package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestDemoLogHandlerDropsOnlyTheExpectedError(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(demoLogHandler{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})}).With("pipeline", "p.yaml")
	log.Error("Failed to send message to concur_accounting: writing to Concur: record 3 rejected")
	log.Error("Failed to send message to dlq: open /x: permission denied")
	log.Warn("Failed to send message to concur_accounting: a warning is kept")
	log.Error("something else broke")
	got := buf.String()
	if strings.Contains(got, "record 3 rejected") {
		t.Errorf("the expected output error was logged:\n%s", got)
	}
	for _, want := range []string{"permission denied", "a warning is kept", "something else broke", "pipeline=p.yaml"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
}
