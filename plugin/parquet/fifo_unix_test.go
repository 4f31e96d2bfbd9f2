//go:build unix

package parquet

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	pgo "github.com/parquet-go/parquet-go"
)

// TestNonSeekableStreamIsSpooled reads a file through a FIFO: the file
// input hands the scanner an *os.File that cannot seek, as with stdin.
func TestNonSeekableStreamIsSpooled(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "pg.parquet")
	writePG(t, src, pgo.Compression(&pgo.Snappy))
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.parquet")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	spoolDir := filepath.Join(dir, "spool")
	if err := os.Mkdir(spoolDir, 0o700); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer w.Close()
		if _, err := w.Write(data); err != nil {
			t.Error(err)
		}
	}()
	rows, logs := runStream(t, fileInput(fmt.Sprintf("{ spool_dir: %q }", spoolDir), fifo))
	wg.Wait()
	assertRows(t, rows, pgWant, logs)
	left, err := os.ReadDir(spoolDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("spool files left behind: %v", left)
	}
}
