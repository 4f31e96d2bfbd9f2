package parquet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pgo "github.com/parquet-go/parquet-go"
	xpq "github.com/xitongsys/parquet-go/parquet"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// seekableBytes is an in-memory file: ReaderAt, Seeker and Closer, so the
// scanner reads it in place.
type seekableBytes struct{ *bytes.Reader }

func (seekableBytes) Close() error { return nil }

// TestRandomCorruptionFailsCleanly flips random bytes of valid files from
// both writers and checks that the scanner never panics or hangs: each
// damaged file yields valid JSON rows and then either ends or fails with an
// error naming it.
func TestRandomCorruptionFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	xs := filepath.Join(dir, "xs.parquet")
	writeXS(t, xs, xpq.CompressionCodec_SNAPPY)
	xsPlain := filepath.Join(dir, "xs-plain.parquet")
	writeXS(t, xsPlain, xpq.CompressionCodec_UNCOMPRESSED)
	pg := filepath.Join(dir, "pg.parquet")
	writePG(t, pg, pgo.Compression(&pgo.Zstd))

	creator := newTestCreator(t, "batch_count: 2")
	rng := rand.New(rand.NewPCG(5, 7))
	var failed, total int
	for _, src := range []string{xs, xsPlain, pg} {
		orig, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for iter := 0; iter < 150; iter++ {
			total++
			b := bytes.Clone(orig)
			for k := rng.IntN(8) + 1; k > 0; k-- {
				b[4+rng.IntN(len(b)-12)] = byte(rng.Uint32())
			}
			details := service.NewScannerSourceDetails()
			details.SetName("damaged.parquet")
			sc, err := creator.Create(seekableBytes{bytes.NewReader(b)}, func(context.Context, error) error { return nil }, details)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			for {
				batch, ack, err := sc.NextBatch(ctx)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					if ctx.Err() != nil {
						t.Fatalf("%s iteration %d: hung", filepath.Base(src), iter)
					}
					if !strings.HasPrefix(err.Error(), "parquet_rows: reading damaged.parquet: ") {
						t.Errorf("error does not name the file: %v", err)
					}
					failed++
					break
				}
				for _, m := range batch {
					body, _ := m.AsBytes()
					if !json.Valid(body) {
						t.Fatalf("%s iteration %d: invalid JSON %q", filepath.Base(src), iter, body)
					}
				}
				_ = ack(ctx, nil)
			}
			cancel()
			if err := sc.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if failed == 0 {
		t.Error("no damaged file failed: the corruption did not reach the decoder")
	}
	t.Logf("%d of %d damaged files failed with an error", failed, total)
}
