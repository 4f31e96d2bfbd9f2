// Package parquet registers the parquet_rows Benthos batch scanner, which
// turns a Parquet file arriving on any byte-stream input into one JSON
// message per row.
//
// The file is read column chunk by column chunk with the page decoders,
// compression codecs and Thrift metadata types of
// github.com/xitongsys/parquet-go; records are assembled here from the
// repetition and definition levels (Dremel assembly) and written straight
// to JSON, so memory is bounded by the decoded columns of one row group.
// The RLE/bit-packed hybrid decoder and the PLAIN byte-array decoder are
// our own, so that corrupt lengths fail with an error instead of a huge
// allocation; remaining panics inside the library are recovered and fail
// the file.
//
// Choices where the Parquet documents leave room:
//   - Byte arrays are strings only when annotated STRING/UTF8, ENUM or JSON;
//     everything else is binary and written as standard base64 (the type
//     decides, never the bytes, so a column keeps one JSON type).
//   - Timestamps not adjusted to UTC are written with a "Z" like the others;
//     the fraction always has the unit's digits (3, 6, 9; 9 for INT96).
//   - NaN and ±Inf become the strings "NaN", "Infinity", "-Infinity".
//   - MAP keys are written as strings: a string key as is, any other key as
//     the text of its JSON value (7 becomes "7"). Duplicate keys are kept.
//   - A LIST or MAP group whose shape does not match its annotation is
//     written as a plain object rather than rejected.
//   - FLOAT16 (not in the library's metadata types) is written as base64.
package parquet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	prFieldColumns    = "columns"
	prFieldBatchCount = "batch_count"
	prFieldDecimalAs  = "decimal_as"
	prFieldSpoolDir   = "spool_dir"

	// MetaRowGroup is the metadata key holding a row's row group index.
	MetaRowGroup = "parquet_row_group"
	// MetaRow is the metadata key holding a row's index within the file.
	MetaRow = "parquet_row"
)

func parquetRowsScannerSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Summary("Consume an Apache Parquet file row by row, each row a JSON object.").
		Description(`
Reads a Parquet file from any byte-stream input (`+"`file`, `stdin`, `http_client`"+`, …) and emits one message per row: a JSON object whose keys are the top-level field names in schema order.

### Reading

Parquet keeps its index at the end of the file, so the scanner needs random access. When the input hands over a seekable file (the `+"`file`"+` input does) it is read in place. Any other stream (`+"`stdin`"+`, HTTP bodies, the output of a `+"`decompress`"+` scanner) is first copied to a temporary file in `+"`"+prFieldSpoolDir+"`"+`, which is removed when the file is done. Memory is bounded by one row group: the scanner reads and decodes the selected columns of one row group, emits its rows, then moves on. Batches never span row groups.

### Value mapping

- BOOLEAN, INT32, INT64 (with signed or unsigned INT/UINT annotations), FLOAT and DOUBLE: JSON booleans and numbers, integers written exactly. NaN and infinities, which JSON cannot hold, become the strings `+"`\"NaN\"`, `\"Infinity\"`, `\"-Infinity\"`"+`.
- STRING/UTF8, ENUM and JSON byte arrays: JSON strings (invalid UTF-8 replaced by U+FFFD). Other BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY values (binary, BSON): standard base64 strings. UUID: the canonical hyphenated form.
- DECIMAL (on INT32, INT64, BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY): written exactly from the unscaled integer, as a string by default or as a JSON number with `+"`"+prFieldDecimalAs+": number`"+`. Never through a float.
- DATE: `+"`YYYY-MM-DD`"+`. TIME: `+"`HH:MM:SS.fff`"+` with 3, 6 or 9 fractional digits for millis, micros and nanos. TIMESTAMP (millis, micros, nanos) and INT96: RFC 3339 in UTC with 3, 6, 9 (and 9 for INT96) fractional digits. Timestamps not adjusted to UTC are written as if they were.
- INTERVAL: an object `+"`{\"months\":…,\"days\":…,\"milliseconds\":…}`"+`.
- Groups: objects. LIST: arrays, MAP: objects with keys rendered as strings; both the standard 3-level and the legacy 2-level encodings are understood. Other repeated fields: arrays. Nulls: `+"`null`"+`; an absent repeated field: `+"`[]`"+`.

### Errors and delivery

A file that is not Parquet, is truncated or has corrupt pages fails with an error naming the file (and row group and column); the input logs it and moves on to its next file. Rows of row groups read before the failure have already been emitted; the file's acknowledgement carries the error, so for example `+"`delete_on_finish`"+` keeps it. Delivery is at-least-once as provided by the input.

### Metadata

This scanner adds the following metadata to each message:

- `+"`"+MetaRowGroup+"`"+`: the index of the row's row group, from 0.
- `+"`"+MetaRow+"`"+`: the index of the row within the file, from 0.

### Metrics

Counters `+"`parquet_rows_rows`"+` (rows emitted), `+"`parquet_rows_row_groups`"+` (row groups decoded), `+"`parquet_rows_files_failed`"+` and `+"`parquet_rows_spooled_bytes`"+`.
`).
		Fields(
			service.NewStringListField(prFieldColumns).
				Description("Top-level fields to emit, in schema order whatever the order here; only their columns are read. Empty means every field. A name missing from a file's schema fails that file.").
				Example([]string{"id", "name", "amount"}).
				Default([]string{}),
			service.NewIntField(prFieldBatchCount).
				Description("The maximum number of rows per message batch. A batch also ends at each row group boundary.").
				Example(1).
				Example(5000).
				Default(1000),
			service.NewStringEnumField(prFieldDecimalAs, "string", "number").
				Description("How DECIMAL values are written: `string` (`\"12.30\"`, safe for every consumer) or `number` (`12.30`, the exact digits as a JSON number; consumers that parse JSON numbers as floats may round them).").
				Default("string"),
			service.NewStringField(prFieldSpoolDir).
				Description("Directory for the temporary copy of non-seekable streams. Empty means the system temporary directory.").
				Example("/var/tmp").
				Default(""),
		).
		Example("Files as rows", "Read every Parquet file of a directory, keeping three columns, and write the rows as NDJSON.", `
input:
  file:
    paths: [ ./exports/*.parquet ]
    scanner:
      parquet_rows:
        columns: [ id, name, amount ]
        batch_count: 500
output:
  file:
    path: ./rows.ndjson
    codec: lines
`)
}

func init() {
	service.MustRegisterBatchScannerCreator("parquet_rows", parquetRowsScannerSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchScannerCreator, error) {
			return parquetRowsCreatorFromParsed(conf, mgr)
		})
}

type parquetRowsCreator struct {
	columns    []string
	batchCount int
	dm         decimalMode
	spoolDir   string

	log          *service.Logger
	rows         *service.MetricCounter
	rowGroups    *service.MetricCounter
	filesFailed  *service.MetricCounter
	spooledBytes *service.MetricCounter
}

func parquetRowsCreatorFromParsed(conf *service.ParsedConfig, mgr *service.Resources) (*parquetRowsCreator, error) {
	c := &parquetRowsCreator{log: mgr.Logger()}
	var err error
	if c.columns, err = conf.FieldStringList(prFieldColumns); err != nil {
		return nil, err
	}
	if c.batchCount, err = conf.FieldInt(prFieldBatchCount); err != nil {
		return nil, err
	}
	if c.batchCount < 1 {
		return nil, fmt.Errorf("%s must be at least 1, got %d", prFieldBatchCount, c.batchCount)
	}
	dm, err := conf.FieldString(prFieldDecimalAs)
	if err != nil {
		return nil, err
	}
	if dm == "number" {
		c.dm = decimalNumber
	}
	if c.spoolDir, err = conf.FieldString(prFieldSpoolDir); err != nil {
		return nil, err
	}
	m := mgr.Metrics()
	c.rows = m.NewCounter("parquet_rows_rows")
	c.rowGroups = m.NewCounter("parquet_rows_row_groups")
	c.filesFailed = m.NewCounter("parquet_rows_files_failed")
	c.spooledBytes = m.NewCounter("parquet_rows_spooled_bytes")
	return c, nil
}

// Create returns a scanner for one Parquet stream. Nothing is read here: a
// failure in Create would make the file input retry the same file forever,
// so opening, spooling and footer checks happen on the first NextBatch.
func (c *parquetRowsCreator) Create(rdr io.ReadCloser, aFn service.AckFunc, details *service.ScannerSourceDetails) (service.BatchScanner, error) {
	name := details.Name()
	if name == "" {
		name = "stream"
	}
	return service.AutoAggregateBatchScannerAcks(&parquetRowsScanner{c: c, rc: rdr, name: name}, aFn), nil
}

// Close releases nothing: scanners own their resources.
func (c *parquetRowsCreator) Close(context.Context) error { return nil }

// parquetRowsScanner emits the rows of one Parquet stream.
type parquetRowsScanner struct {
	c    *parquetRowsCreator
	rc   io.ReadCloser
	name string

	spool     *os.File // temporary copy of a non-seekable stream
	spoolSize int64
	file      *fileReader
	err       error // sticky: once failed, the stream stays failed

	rg      int        // index of the current row group
	asm     *assembler // current row group, nil before the first
	rgRows  int64      // rows in the current row group
	rgNext  int64      // next row within the current row group
	fileRow int64      // index of the next row within the file
	bufHint int        // JSON buffer size for the next batch
}

// NextBatch emits up to batch_count rows of the current row group.
func (s *parquetRowsScanner) NextBatch(ctx context.Context) (batch service.MessageBatch, err error) {
	if s.err != nil {
		return nil, s.err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupt data: %v", r)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			batch = nil
			err = fmt.Errorf("parquet_rows: reading %s: %w", s.name, err)
			// A cancelled context (shutdown) leaves the scanner where it
			// was, so a later call can resume; anything else fails the file.
			if ctx.Err() == nil {
				s.c.filesFailed.Incr(1)
				s.err = err
			}
		}
	}()
	if s.file == nil {
		if err := s.open(ctx); err != nil {
			return nil, err
		}
	}
	for s.asm == nil || s.rgNext == s.rgRows {
		if s.asm != nil {
			if err := s.asm.done(); err != nil {
				return nil, fmt.Errorf("row group %d: %w", s.rg, err)
			}
			s.asm = nil
			s.rg++
		}
		if s.rg >= s.file.numRowGroups() {
			return nil, io.EOF
		}
		asm, rows, err := s.file.readRowGroup(ctx, s.rg)
		if err != nil {
			return nil, err
		}
		asm.dm = s.c.dm
		s.asm, s.rgRows, s.rgNext = asm, rows, 0
		s.c.rowGroups.Incr(1)
	}
	n := int(min(int64(s.c.batchCount), s.rgRows-s.rgNext))
	batch = make(service.MessageBatch, n)
	buf := make([]byte, 0, s.bufHint)
	for i := range batch {
		start := len(buf)
		if buf, err = s.asm.appendRow(buf, s.file.fields); err != nil {
			return nil, fmt.Errorf("row group %d row %d: %w", s.rg, s.rgNext, err)
		}
		// Rows share one buffer; the capped slice keeps a processor that
		// appends to one row from overwriting the next.
		msg := service.NewMessage(buf[start:len(buf):len(buf)])
		msg.MetaSetMut(MetaRowGroup, int64(s.rg))
		msg.MetaSetMut(MetaRow, s.fileRow)
		batch[i] = msg
		s.rgNext++
		s.fileRow++
	}
	s.bufHint = len(buf) + len(buf)/8
	s.c.rows.Incr(int64(n))
	return batch, nil
}

// open gets random access to the stream, spooling it to disk when needed,
// and reads the footer.
func (s *parquetRowsScanner) open(ctx context.Context) error {
	ra, size, ok := seekable(s.rc)
	if !ok {
		var err error
		if ra, size, err = s.spoolStream(ctx); err != nil {
			return err
		}
	}
	f, err := openFile(ctx, ra, size, s.c.columns)
	if err != nil {
		return err
	}
	s.file = f
	return nil
}

// seekable reports whether r offers random access, and its size. Files that
// cannot seek (pipes, FIFOs, terminals) report false.
func seekable(r io.Reader) (io.ReaderAt, int64, bool) {
	ra, ok := r.(io.ReaderAt)
	if !ok {
		return nil, 0, false
	}
	sk, ok := r.(io.Seeker)
	if !ok {
		return nil, 0, false
	}
	size, err := sk.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, false
	}
	return ra, size, true
}

// spoolStream copies the stream into a temporary file. Interrupted by a
// cancelled context, it resumes on the next call where it stopped.
func (s *parquetRowsScanner) spoolStream(ctx context.Context) (io.ReaderAt, int64, error) {
	if s.spool == nil {
		f, err := os.CreateTemp(s.c.spoolDir, "parquet_rows-*.parquet")
		if err != nil {
			return nil, 0, fmt.Errorf("creating spool file: %w", err)
		}
		s.spool = f
		s.c.log.Debugf("Spooling non-seekable Parquet stream %s to %s", s.name, f.Name())
	}
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		n, rerr := s.rc.Read(buf)
		if n > 0 {
			if _, err := s.spool.Write(buf[:n]); err != nil {
				return nil, 0, fmt.Errorf("writing spool file: %w", err)
			}
			s.spoolSize += int64(n)
			s.c.spooledBytes.Incr(int64(n))
		}
		if errors.Is(rerr, io.EOF) {
			return s.spool, s.spoolSize, nil
		}
		if rerr != nil {
			return nil, 0, fmt.Errorf("spooling stream: %w", rerr)
		}
	}
}

// Close closes the stream and removes any spool file.
func (s *parquetRowsScanner) Close(context.Context) error {
	s.asm, s.file = nil, nil
	err := s.rc.Close()
	if s.spool != nil {
		name := s.spool.Name()
		if cerr := s.spool.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if rerr := os.Remove(name); rerr != nil && err == nil {
			err = fmt.Errorf("removing spool file: %w", rerr)
		}
		s.spool = nil
	}
	return err
}
