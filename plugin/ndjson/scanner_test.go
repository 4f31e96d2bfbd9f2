package ndjson

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
)

type line struct {
	content string
	num     int64
	err     string
	size    int64
}

func scanAll(t *testing.T, conf, input string) []line {
	t.Helper()
	parsed, err := scannerSpec().ParseYAML(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := fromParsed(parsed)
	if err != nil {
		t.Fatal(err)
	}
	details := service.NewScannerSourceDetails()
	details.SetName("export.ndjson")
	s, err := c.Create(io.NopCloser(strings.NewReader(input)), func(context.Context, error) error { return nil }, details)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	var out []line
	for {
		batch, ack, err := s.NextBatch(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range batch {
			b, err := m.AsBytes()
			if err != nil {
				t.Fatal(err)
			}
			l := line{content: string(b)}
			n, _ := m.MetaGetMut(MetaLine)
			l.num, _ = n.(int64)
			if sz, ok := m.MetaGetMut(MetaLineBytes); ok {
				l.size, _ = sz.(int64)
			}
			if e := m.GetError(); e != nil {
				l.err = e.Error()
			}
			out = append(out, l)
		}
		if err := ack(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLongLineDoesNotEndTheInput: a line over the limit becomes one failed
// message with its first bytes, and the lines after it are read.
func TestLongLineDoesNotEndTheInput(t *testing.T) {
	long := strings.Repeat("x", 100_000) // several reads of the 64 KiB buffer
	got := scanAll(t, "max_line_bytes: 10\nkeep_bytes: 4", "a\r\n{\"id\":\"1\"}\n"+long+"\r\n\n0123456789\nlast")
	want := []line{
		{content: "a", num: 1},
		{content: `{"id":"1"}`, num: 2},
		{content: "xxxx", num: 3, size: 100_001, err: "line 3 of export.ndjson is 100001 bytes, over the 10-byte limit of the concur_lines scanner (max_line_bytes): not read; the message holds its first 4 bytes"},
		{content: "", num: 4},
		{content: "0123456789", num: 5},
		{content: "last", num: 6},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got %+v, want %+v", i+1, got[i], want[i])
		}
	}
}

// TestLikeLines: within the limit, the messages are those of Benthos's
// lines scanner: no line break, no trailing empty message.
func TestLikeLines(t *testing.T) {
	for _, in := range []string{"", "\n", "a\nb\n", "a\nb"} {
		var contents []string
		for _, l := range scanAll(t, "{}", in) {
			if l.err != "" {
				t.Errorf("%q: unexpected error %s", in, l.err)
			}
			contents = append(contents, l.content)
		}
		want := map[string][]string{"": nil, "\n": {""}, "a\nb\n": {"a", "b"}, "a\nb": {"a", "b"}}[in]
		if strings.Join(contents, "|") != strings.Join(want, "|") || len(contents) != len(want) {
			t.Errorf("%q: lines %q, want %q", in, contents, want)
		}
	}
}
