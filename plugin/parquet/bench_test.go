package parquet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	pgo "github.com/parquet-go/parquet-go"
	"github.com/xitongsys/parquet-go-source/local"
	"github.com/xitongsys/parquet-go/reader"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// benchRow is the 12-column, mixed-type row of the benchmark file.
type benchRow struct {
	ID      int64     `parquet:"id"`
	Company string    `parquet:"company,dict"`
	Account string    `parquet:"account"`
	Amount  int64     `parquet:"amount,decimal(2:18)"`
	Qty     int32     `parquet:"qty"`
	Price   float64   `parquet:"price"`
	Ratio   float32   `parquet:"ratio"`
	Active  bool      `parquet:"active"`
	Day     int32     `parquet:"day,date"`
	At      time.Time `parquet:"at,timestamp(millisecond)"`
	Note    *string   `parquet:"note,optional"`
	Code    string    `parquet:"code,dict"`
}

const (
	benchRows         = 1_000_000
	benchRowsPerGroup = 100_000
)

// writeBenchFile writes benchRows rows, benchRowsPerGroup per row group,
// snappy-compressed, and returns the path and the file size.
func writeBenchFile(tb testing.TB, dir string) (string, int64) {
	tb.Helper()
	path := filepath.Join(dir, "bench.parquet")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pgo.NewGenericWriter[benchRow](bw, pgo.Compression(&pgo.Snappy), pgo.MaxRowsPerRowGroup(benchRowsPerGroup))
	companies := []string{"ACME", "Globex", "Initech", "Umbrella", "Hooli"}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]benchRow, 0, 10_000)
	for i := 0; i < benchRows; i++ {
		r := benchRow{
			ID:      int64(i),
			Company: companies[i%len(companies)],
			Account: "ACC-" + strconv.Itoa(100000+i%50000),
			Amount:  int64(i%1000000) * 7,
			Qty:     int32(i % 1000),
			Price:   float64(i%10000) / 7,
			Ratio:   float32(i%100) / 3,
			Active:  i%3 != 0,
			Day:     int32(19000 + i%365),
			At:      base.Add(time.Duration(i) * time.Second),
			Code:    fmt.Sprintf("C%03d", i%200),
		}
		if i%2 == 0 {
			s := "note " + strconv.Itoa(i)
			r.Note = &s
		}
		batch = append(batch, r)
		if len(batch) == cap(batch) {
			if _, err := w.Write(batch); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if _, err := w.Write(batch); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		tb.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	return path, st.Size()
}

// scanFile runs the scanner over path as the file input would and returns
// the rows and JSON bytes produced. sample, if set, is called after every
// batch.
func scanFile(tb testing.TB, path string, batchCount int, sample func()) (rows, jsonBytes int64) {
	tb.Helper()
	creator := newTestCreator(tb, fmt.Sprintf("batch_count: %d", batchCount))
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	details := service.NewScannerSourceDetails()
	details.SetName(path)
	sc, err := creator.Create(f, func(context.Context, error) error { return nil }, details)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	for {
		batch, ack, err := sc.NextBatch(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		for _, m := range batch {
			b, err := m.AsBytes()
			if err != nil {
				tb.Fatal(err)
			}
			jsonBytes += int64(len(b))
		}
		rows += int64(len(batch))
		if err := ack(ctx, nil); err != nil {
			tb.Fatal(err)
		}
		if sample != nil {
			sample()
		}
	}
	if err := sc.Close(ctx); err != nil {
		tb.Fatal(err)
	}
	return rows, jsonBytes
}

// BenchmarkScanRows measures the scanner alone on a 1M-row x 12-column
// file: rows/s, MB/s of Parquet input (SetBytes) and MB/s of JSON output.
// It then runs one scan in a separate process, which reports its peak RSS
// (VmHWM) and the peak heap in use sampled after every batch.
//
//	go test -run '^$' -bench BenchmarkScanRows -benchtime 3x ./plugin/parquet/
func BenchmarkScanRows(b *testing.B) {
	path, size := writeBenchFile(b, b.TempDir())
	b.SetBytes(size)
	b.ResetTimer()
	var rows, out int64
	for i := 0; i < b.N; i++ {
		r, o := scanFile(b, path, 1000, nil)
		rows += r
		out += o
	}
	b.StopTimer()
	if rows != int64(b.N)*benchRows {
		b.Fatalf("scanned %d rows, want %d", rows, int64(b.N)*benchRows)
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(rows)/secs, "rows/s")
	b.ReportMetric(float64(out)/secs/1e6, "json-MB/s")
	b.ReportMetric(float64(size)/(1<<20), "file-MB")
	if rss, heap, err := childPeakMemory(path); err != nil {
		b.Logf("peak memory not measured: %v", err)
	} else {
		b.ReportMetric(rss, "child-peak-RSS-MB")
		b.ReportMetric(heap, "child-peak-heap-MB")
	}
}

// BenchmarkStreamRows measures a whole Benthos stream: file input,
// parquet_rows scanner, a consumer that drops the rows.
//
//	go test -run '^$' -bench BenchmarkStreamRows -benchtime 3x ./plugin/parquet/
func BenchmarkStreamRows(b *testing.B) {
	path, size := writeBenchFile(b, b.TempDir())
	b.SetBytes(size)
	b.ResetTimer()
	var rows int64
	for i := 0; i < b.N; i++ {
		sb := service.NewStreamBuilder()
		sb.SetLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err := sb.AddInputYAML(fileInput("{ batch_count: 1000 }", path)); err != nil {
			b.Fatal(err)
		}
		if err := sb.AddBatchConsumerFunc(func(_ context.Context, mb service.MessageBatch) error {
			rows += int64(len(mb))
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		strm, err := sb.Build()
		if err != nil {
			b.Fatal(err)
		}
		if err := strm.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if rows != int64(b.N)*benchRows {
		b.Fatalf("streamed %d rows, want %d", rows, int64(b.N)*benchRows)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

const rssChildEnv = "PARQUET_ROWS_RSS_CHILD_FILE"

// childPeakMemory runs TestRSSChild in a new process over path and returns
// its VmHWM and its peak sampled heap in use, in MiB.
func childPeakMemory(path string) (rss, heap float64, err error) {
	cmd := exec.Command(os.Args[0], "-test.run", "^TestRSSChild$", "-test.v")
	cmd.Env = append(os.Environ(), rssChildEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("%v: %s", err, out)
	}
	field := func(name string) (float64, error) {
		for _, line := range strings.Split(string(out), "\n") {
			if _, v, ok := strings.Cut(line, name+"="); ok {
				kb, err := strconv.ParseFloat(strings.Fields(v)[0], 64)
				return kb / 1024, err
			}
		}
		return 0, fmt.Errorf("no %s in child output: %s", name, out)
	}
	if rss, err = field("peak-rss-kB"); err != nil {
		return 0, 0, err
	}
	heap, err = field("peak-heap-kB")
	return rss, heap, err
}

// TestRSSChild is the child process of BenchmarkScanRows: it scans the file
// named by the environment and logs the process's peak RSS and the peak
// heap in use, sampled after every batch. Without the variable it does
// nothing.
func TestRSSChild(t *testing.T) {
	path := os.Getenv(rssChildEnv)
	if path == "" {
		t.Skip("only run as the benchmark's child process")
	}
	before, err := vmHWM()
	if err != nil {
		t.Skip(err)
	}
	var peakHeap uint64
	var ms runtime.MemStats
	rows, _ := scanFile(t, path, 1000, func() {
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapInuse)
	})
	after, err := vmHWM()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rows=%d start-rss-kB=%d peak-rss-kB=%d peak-heap-kB=%d", rows, before, after, peakHeap/1024)
}

// vmHWM reads the peak resident set size of this process, in kB.
func vmHWM() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// BenchmarkXitongsysReadByNumber is the comparison point for the design:
// the library's own row reader (ReadByNumber into dynamically built
// structs, no JSON) on the same file.
//
//	go test -run '^$' -bench BenchmarkXitongsysReadByNumber -benchtime 1x ./plugin/parquet/
func BenchmarkXitongsysReadByNumber(b *testing.B) {
	path, size := writeBenchFile(b, b.TempDir())
	b.SetBytes(size)
	b.ResetTimer()
	var rows int64
	for i := 0; i < b.N; i++ {
		fr, err := local.NewLocalFileReader(path)
		if err != nil {
			b.Fatal(err)
		}
		pr, err := reader.NewParquetReader(fr, nil, int64(runtime.GOMAXPROCS(0)))
		if err != nil {
			b.Fatal(err)
		}
		for left := int(pr.GetNumRows()); left > 0; {
			got, err := pr.ReadByNumber(min(left, 1000))
			if err != nil {
				b.Fatal(err)
			}
			if len(got) == 0 {
				b.Fatalf("no rows with %d left", left)
			}
			rows += int64(len(got))
			left -= len(got)
		}
		pr.ReadStop()
		if err := fr.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
