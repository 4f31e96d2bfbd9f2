// Package ndjson registers concur_lines, a Benthos scanner that splits a
// stream into one message per line like Benthos's `lines`, except that a
// line longer than its limit does not end the input: it becomes a message
// with an error, holding the line's first bytes, and reading goes on with
// the next line. Benthos's `lines` stops at such a line (bufio: token too
// long), the `file` input then moves on to the next file, and the rest of
// the file is lost with only a log line to tell.
package ndjson

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Name is the scanner's name.
const Name = "concur_lines"

// Metadata keys set on every message.
const (
	// MetaLine is the line's number in its source, from 1.
	MetaLine = "concur_line"
	// MetaLineBytes is the line's length without its line break; set only
	// on lines over the limit, whose content is cut.
	MetaLineBytes = "concur_line_bytes"
)

const (
	fieldMaxLineBytes = "max_line_bytes"
	fieldKeepBytes    = "keep_bytes"
)

// DefaultMaxLineBytes is Concur's request body limit: a longer line can
// never be sent, so reading further would only cost memory.
const DefaultMaxLineBytes = 4_000_000

func scannerSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Summary("Splits a stream into one message per line, like `lines`, but a line over `"+fieldMaxLineBytes+"` becomes a failed message with the line's first bytes instead of ending the input.").
		Description(`
Lines end with `+"`\\n`"+`; a `+"`\\r`"+` before it is dropped, and so is the last line break
of the stream, as with Benthos's `+"`lines`"+` scanner. Each message has the
metadata `+"`"+MetaLine+"`"+` (the line's number, from 1).

A line longer than `+"`"+fieldMaxLineBytes+"`"+` is not held in memory: its first
`+"`"+fieldKeepBytes+"`"+` bytes become the message, which is marked as failed with an
error naming the line, its length and the limit (test it with `+"`errored()`"+`,
read it with `+"`error()`"+`), `+"`"+MetaLineBytes+"`"+` holds its length, and the
scanner goes on with the next line. Benthos's `+"`lines`"+` scanner instead stops
reading the file at such a line (`+"`bufio.Scanner: token too long`"+`), and a
`+"`file`"+` input then goes on with the next file: the rest of the file is lost,
with one ERROR log line and exit code 0.`).
		Fields(
			service.NewIntField(fieldMaxLineBytes).
				Description("Longest line read whole, without its line break. The default is Concur's request body limit (4,000,000 bytes); records over 200,000 bytes are refused by `concur_accounting` anyway, with a reason.").
				Default(DefaultMaxLineBytes).
				Example(1_000_000),
			service.NewIntField(fieldKeepBytes).
				Description("How many leading bytes of a line over `"+fieldMaxLineBytes+"` its message keeps, to tell which record it was.").
				Default(1024).
				Advanced(),
		).
		Example("NDJSON export, nothing lost", "Lines too long go to a dead-letter file with the reason; the rest of the file is still read.", `
input:
  file:
    paths: [ ./exports/tax_data*.ndjson ]
    scanner:
      concur_lines: {}
output:
  switch:
    cases:
      - check: errored()
        output:
          file:
            path: ./dlq/too_long.ndjson
            codec: lines
          processors:
            - mapping: 'root = {"file": @path, "line": @concur_line, "error": error(), "start": content().string()}'
      - output:
          stdout: {}
`)
}

func init() {
	service.MustRegisterBatchScannerCreator(Name, scannerSpec(),
		func(conf *service.ParsedConfig, _ *service.Resources) (service.BatchScannerCreator, error) {
			return fromParsed(conf)
		})
}

type creator struct {
	maxLine, keep int
}

func fromParsed(conf *service.ParsedConfig) (*creator, error) {
	c := &creator{}
	var err error
	if c.maxLine, err = conf.FieldInt(fieldMaxLineBytes); err != nil {
		return nil, err
	}
	if c.keep, err = conf.FieldInt(fieldKeepBytes); err != nil {
		return nil, err
	}
	if c.maxLine < 1 || c.keep < 0 {
		return nil, fmt.Errorf("%s must be at least 1 and %s not negative", fieldMaxLineBytes, fieldKeepBytes)
	}
	c.keep = min(c.keep, c.maxLine)
	return c, nil
}

// Create implements service.BatchScannerCreator.
func (c *creator) Create(rc io.ReadCloser, aFn service.AckFunc, details *service.ScannerSourceDetails) (service.BatchScanner, error) {
	name := ""
	if details != nil {
		name = details.Name()
	}
	return service.AutoAggregateBatchScannerAcks(&stream{
		r: bufio.NewReaderSize(rc, 64*1024), rc: rc, maxLine: c.maxLine, keep: c.keep, name: name,
	}, aFn), nil
}

// Close implements service.BatchScannerCreator.
func (c *creator) Close(context.Context) error { return nil }

type stream struct {
	r             *bufio.Reader
	rc            io.ReadCloser
	maxLine, keep int
	name          string
	line          int64
}

// NextBatch returns the next line as a message, io.EOF after the last.
func (s *stream) NextBatch(context.Context) (service.MessageBatch, error) {
	var (
		buf   []byte // the line, up to maxLine+1 bytes ("\r" may follow)
		total int    // bytes of the line read so far, line break excluded
		read  bool
	)
	for {
		chunk, err := s.r.ReadSlice('\n')
		if len(chunk) > 0 {
			read = true
		}
		part := bytes.TrimSuffix(chunk, []byte("\n"))
		total += len(part)
		if room := s.maxLine + 1 - len(buf); room > 0 {
			buf = append(buf, part[:min(room, len(part))]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading %s after line %d: %w", s.name, s.line, err)
		}
		if !read {
			return nil, io.EOF
		}
		break
	}
	s.line++
	if total <= s.maxLine+1 && bytes.HasSuffix(buf, []byte("\r")) {
		buf = buf[:len(buf)-1]
		total--
	}
	if total <= s.maxLine {
		msg := service.NewMessage(buf)
		msg.MetaSetMut(MetaLine, s.line)
		return service.MessageBatch{msg}, nil
	}
	msg := service.NewMessage(bytes.Clone(buf[:min(s.keep, len(buf))]))
	msg.MetaSetMut(MetaLine, s.line)
	msg.MetaSetMut(MetaLineBytes, int64(total))
	msg.SetError(fmt.Errorf("line %d of %s is %d bytes, over the %d-byte limit of the %s scanner (%s): not read; the message holds its first %d bytes",
		s.line, s.name, total, s.maxLine, Name, fieldMaxLineBytes, min(s.keep, len(buf))))
	return service.MessageBatch{msg}, nil
}

// Close closes the source.
func (s *stream) Close(context.Context) error { return s.rc.Close() }
