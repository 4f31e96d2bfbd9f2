package parquet

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	pgo "github.com/parquet-go/parquet-go"
	xpq "github.com/xitongsys/parquet-go/parquet"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// row is one message as it arrived at the output.
type row struct {
	path     string
	rowGroup int
	row      int
	body     string
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runStream runs a whole Benthos stream with the given input config and
// returns every message that reached the output, and the logs.
func runStream(t *testing.T, inputYAML string) ([]row, string) {
	t.Helper()
	logs := &syncBuffer{}
	sb := service.NewStreamBuilder()
	sb.SetLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := sb.AddInputYAML(inputYAML); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var rows []row
	if err := sb.AddConsumerFunc(func(_ context.Context, m *service.Message) error {
		b, err := m.AsBytes()
		if err != nil {
			return err
		}
		r := row{body: string(b)}
		r.path, _ = m.MetaGet("path")
		rg, _ := m.MetaGetMut(MetaRowGroup)
		rn, _ := m.MetaGetMut(MetaRow)
		r.rowGroup, r.row = toInt(t, rg), toInt(t, rn)
		mu.Lock()
		rows = append(rows, r)
		mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	strm, err := sb.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := strm.Run(ctx); err != nil {
		t.Fatalf("stream: %v\nlogs:\n%s", err, logs.String())
	}
	return rows, logs.String()
}

func toInt(t *testing.T, v any) int {
	switch x := v.(type) {
	case int:
		return x
	case int64:
		return int(x)
	}
	t.Fatalf("metadata value %v has type %T", v, v)
	return 0
}

// newTestCreator builds the scanner creator from a YAML config, as Benthos
// would.
func newTestCreator(tb testing.TB, yaml string) *parquetRowsCreator {
	tb.Helper()
	conf, err := parquetRowsScannerSpec().ParseYAML(yaml, service.NewEnvironment())
	if err != nil {
		tb.Fatal(err)
	}
	creator, err := parquetRowsCreatorFromParsed(conf, service.MockResources())
	if err != nil {
		tb.Fatal(err)
	}
	return creator
}

// fileInput is a file input over paths with the parquet_rows scanner.
func fileInput(scannerConf string, paths ...string) string {
	return fmt.Sprintf("file:\n  paths: [ %s ]\n  scanner:\n    parquet_rows: %s\n", strings.Join(paths, ", "), scannerConf)
}

// assertJSON compares a row with the expected JSON exactly: same keys in
// the same order, same values, numbers compared by their literal text.
func assertJSON(t *testing.T, label, got, want string) {
	t.Helper()
	if !json.Valid([]byte(got)) {
		t.Fatalf("%s: not valid JSON: %s", label, got)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(want)); err != nil {
		t.Fatalf("%s: bad expectation: %v", label, err)
	}
	if got != compact.String() {
		t.Errorf("%s:\n got %s\nwant %s", label, got, compact.String())
	}
}

// assertRows checks that exactly the wanted rows arrived, in order.
func assertRows(t *testing.T, rows []row, want []string, logs string) {
	t.Helper()
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d; logs:\n%s", len(rows), len(want), logs)
	}
	for i, r := range rows {
		assertJSON(t, fmt.Sprintf("row %d", i), r.body, want[i])
	}
}

func TestXitongsysFixtureAllTypes(t *testing.T) {
	for _, codec := range []xpq.CompressionCodec{xpq.CompressionCodec_SNAPPY, xpq.CompressionCodec_GZIP, xpq.CompressionCodec_ZSTD, xpq.CompressionCodec_UNCOMPRESSED} {
		t.Run(codec.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "xs.parquet")
			writeXS(t, path, codec)
			rows, logs := runStream(t, fileInput("{ batch_count: 2 }", path))
			assertRows(t, rows, xsWant, logs)
			for i, r := range rows {
				// One row group per row.
				if r.rowGroup != i || r.row != i || r.path != path {
					t.Errorf("row %d: metadata row_group=%d row=%d path=%q", i, r.rowGroup, r.row, r.path)
				}
			}
		})
	}
}

func TestParquetGoFixtureAllTypes(t *testing.T) {
	codecs := map[string]pgo.WriterOption{
		"snappy": pgo.Compression(&pgo.Snappy),
		"gzip":   pgo.Compression(&pgo.Gzip),
		"zstd":   pgo.Compression(&pgo.Zstd),
	}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pg.parquet")
			writePG(t, path, codec)
			rows, logs := runStream(t, fileInput("{}", path))
			assertRows(t, rows, pgWant, logs)
			for i, r := range rows {
				if wantRG := i / 2; r.rowGroup != wantRG || r.row != i {
					t.Errorf("row %d: metadata row_group=%d row=%d, want %d %d", i, r.rowGroup, r.row, wantRG, i)
				}
			}
		})
	}
}

func TestLegacyListAndMapEncodings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "legacy.parquet")
	writeLegacy(t, path)
	rows, logs := runStream(t, fileInput("{}", path))
	assertRows(t, rows, legacyWant, logs)
}

func TestColumnsAndDecimalAsNumber(t *testing.T) {
	path := filepath.Join(t.TempDir(), "xs.parquet")
	writeXS(t, path, xpq.CompressionCodec_SNAPPY)
	rows, logs := runStream(t, fileInput("{ columns: [ dec_fixed, id, classes, dec32 ], decimal_as: number }", path))
	want := []string{
		`{"id":-9000000000000,"dec32":-0.05,"dec_fixed":-1234567890123456789012.345,"classes":[{"name":"math","score":90},{"name":"art","score":null}]}`,
		`{"id":0,"dec32":0.00,"dec_fixed":0.000,"classes":[]}`,
		`{"id":42,"dec32":9999999.99,"dec_fixed":0.007,"classes":[{"name":"x","score":-1}]}`,
	}
	assertRows(t, rows, want, logs)
}

func TestTruncatedFileFailsAndNextFileIsRead(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeXS(t, good, xpq.CompressionCodec_SNAPPY)
	cases := map[string]int{
		"footer cut":       -3,
		"half the file":    -1, // replaced below by half the size
		"only the header":  4,
		"not parquet data": 0,
	}
	st, err := os.Stat(good)
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range cases {
		t.Run(name, func(t *testing.T) {
			sub := t.TempDir()
			var bad string
			switch name {
			case "half the file":
				bad = truncate(t, good, int(st.Size()/2), sub)
			case "not parquet data":
				bad = filepath.Join(sub, "text.parquet")
				if err := os.WriteFile(bad, []byte("id,name\n1,ann\n2,bo\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			default:
				bad = truncate(t, good, n, sub)
			}
			rows, logs := runStream(t, fileInput("{}", bad, good))
			if len(rows) != len(xsWant) {
				t.Fatalf("got %d rows, want the %d of the good file; logs:\n%s", len(rows), len(xsWant), logs)
			}
			for i, r := range rows {
				if r.path != good {
					t.Errorf("row %d came from %s", i, r.path)
				}
				assertJSON(t, fmt.Sprintf("row %d", i), r.body, xsWant[i])
			}
			if !strings.Contains(logs, "parquet_rows: reading "+bad) {
				t.Errorf("logs do not name the bad file %s:\n%s", bad, logs)
			}
		})
	}
}

func TestCorruptPageFailsFileWithClearError(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeXS(t, good, xpq.CompressionCodec_UNCOMPRESSED)
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// Overwrite the pages of one column chunk of the last row group with
	// garbage, leaving the footer intact.
	f, err := openFile(context.Background(), bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	md := f.meta.RowGroups[2].Columns[3].MetaData
	for i := md.DataPageOffset; i < md.DataPageOffset+md.TotalCompressedSize; i++ {
		b[i] = 0xff
	}
	bad := filepath.Join(dir, "corrupt.parquet")
	if err := os.WriteFile(bad, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rows, logs := runStream(t, fileInput("{}", bad, good))
	var fromGood int
	for _, r := range rows {
		if r.path == good {
			assertJSON(t, "good row", r.body, xsWant[fromGood])
			fromGood++
		} else if r.rowGroup >= 2 {
			t.Errorf("row from the corrupt row group arrived: %s", r.body)
		}
	}
	if fromGood != len(xsWant) {
		t.Errorf("got %d rows of the good file, want %d; logs:\n%s", fromGood, len(xsWant), logs)
	}
	if !strings.Contains(logs, "parquet_rows: reading "+bad+`: row group 2 column \"i8\": reading page header`) {
		t.Errorf("logs do not name the bad file and row group:\n%s", logs)
	}
}

func TestUnknownColumnFailsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "xs.parquet")
	writeXS(t, path, xpq.CompressionCodec_SNAPPY)
	rows, logs := runStream(t, fileInput("{ columns: [ id, nope ] }", path))
	if len(rows) != 0 {
		t.Errorf("got %d rows, want none", len(rows))
	}
	if !strings.Contains(logs, `columns [\"nope\"] are not top-level fields`) && !strings.Contains(logs, `columns ["nope"] are not top-level fields`) {
		t.Errorf("logs lack the column error:\n%s", logs)
	}
}

// TestGzippedFileThroughDecompressScanner reads a gzip-compressed Parquet
// file through the core decompress scanner: a non-seekable stream that the
// scanner must spool, in a whole stream.
func TestGzippedFileThroughDecompressScanner(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "xs.parquet")
	writeXS(t, src, xpq.CompressionCodec_UNCOMPRESSED)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "xs.parquet.gz")
	if err := os.WriteFile(path, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	spoolDir := t.TempDir()
	rows, logs := runStream(t, fmt.Sprintf(`
file:
  paths: [ %s ]
  scanner:
    decompress:
      algorithm: gzip
      into:
        parquet_rows:
          spool_dir: %q
`, path, spoolDir))
	assertRows(t, rows, xsWant, logs)
	if left, _ := os.ReadDir(spoolDir); len(left) != 0 {
		t.Errorf("spool files left behind: %v", left)
	}
}

// TestScannerDirect drives the scanner through OwnedScannerCreator with a
// plain io.Reader (no ReaderAt), checking batching across row groups, the
// ack and spool cleanup.
func TestScannerDirect(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "pg.parquet")
	writePG(t, src, pgo.Compression(&pgo.Zstd))
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	spoolDir := t.TempDir()
	creator := newTestCreator(t, fmt.Sprintf("batch_count: 5\nspool_dir: %q\n", spoolDir))
	var acked []error
	rc := io.NopCloser(bytes.NewReader(data))
	sc, err := creator.Create(rc, func(_ context.Context, err error) error {
		acked = append(acked, err)
		return nil
	}, service.NewScannerSourceDetails())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var sizes []int
	var acks []service.AckFunc
	for {
		b, ack, err := sc.NextBatch(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(b))
		acks = append(acks, ack)
	}
	if want := []int{2, 1}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("batch sizes %v, want %v (batches end at row groups)", sizes, want)
	}
	if files, _ := os.ReadDir(spoolDir); len(files) != 1 {
		t.Errorf("want one spool file while reading, got %d", len(files))
	}
	for _, a := range acks {
		if err := a(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(acked, []error{nil}) {
		t.Errorf("source acks %v, want one nil", acked)
	}
	if files, _ := os.ReadDir(spoolDir); len(files) != 0 {
		t.Errorf("spool files left after Close: %d", len(files))
	}
}

func TestConfigRejectsBadBatchCount(t *testing.T) {
	conf, err := parquetRowsScannerSpec().ParseYAML("batch_count: 0", service.NewEnvironment())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parquetRowsCreatorFromParsed(conf, service.MockResources()); err == nil || !strings.Contains(err.Error(), "batch_count") {
		t.Errorf("want a batch_count error, got %v", err)
	}
}

func TestEmptyFileYieldsNoRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pgo.NewGenericWriter[pgRow](f)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	rows, logs := runStream(t, fileInput("{}", path))
	// The only error allowed is Benthos's own when a stream ends before its
	// consumer func was attached ("pipe was not found"): with an empty file
	// the input can finish that fast. An error about the file is a failure.
	if len(rows) != 0 || strings.Contains(logs, "parquet") {
		t.Errorf("got %d rows; logs:\n%s", len(rows), logs)
	}
}

// TestDeleteOnFinishKeepsFailedFile checks that a failed file's
// acknowledgement carries the error: with delete_on_finish the good file is
// removed once its rows are delivered, the bad one stays.
func TestDeleteOnFinishKeepsFailedFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeXS(t, good, xpq.CompressionCodec_SNAPPY)
	bad := truncate(t, good, -100, t.TempDir())
	rows, logs := runStream(t, fmt.Sprintf(`
file:
  paths: [ %s, %s ]
  delete_on_finish: true
  scanner:
    parquet_rows: {}
`, bad, good))
	assertRows(t, rows, xsWant, logs)
	if _, err := os.Stat(good); !os.IsNotExist(err) {
		t.Errorf("good file not deleted after delivery: %v", err)
	}
	if _, err := os.Stat(bad); err != nil {
		t.Errorf("failed file was deleted: %v", err)
	}
}
