package main

import (
	"context"
	"log/slog"
	"strings"
)

// demoLogHandler drops the one log record the demo's pipelines write on
// purpose: Benthos logs "Failed to send message to concur_accounting: …" at
// ERROR when the output rejects invalid records, which every demo pipeline
// then routes through its fallback to a dead-letter file — and the demo
// prints those records with their reasons in its summary. Shown as ERRORs
// before the summary they read as if the demo had failed. Everything else
// passes through.
type demoLogHandler struct{ slog.Handler }

// demoExpectedError is the start of the message that is dropped.
const demoExpectedError = "Failed to send message to concur_accounting"

func (h demoLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelError && strings.HasPrefix(r.Message, demoExpectedError) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h demoLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return demoLogHandler{h.Handler.WithAttrs(attrs)}
}

func (h demoLogHandler) WithGroup(name string) slog.Handler {
	return demoLogHandler{h.Handler.WithGroup(name)}
}
