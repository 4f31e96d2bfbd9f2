package parquet

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/thrift/lib/go/thrift"
	pq "github.com/xitongsys/parquet-go/parquet"
)

const (
	magic          = "PAR1"
	encryptedMagic = "PARE"
)

// fileReader reads a Parquet file through io.ReaderAt, one row group at a
// time.
type fileReader struct {
	r      io.ReaderAt
	size   int64
	meta   *pq.FileMetaData
	schema *fileSchema
	fields []*node // the selected top-level fields
	needed []bool  // by leaf index: whether the column is read
}

// openFile checks the magic bytes, decodes the footer and the schema, and
// resolves the column selection.
func openFile(ctx context.Context, r io.ReaderAt, size int64, columns []string) (*fileReader, error) {
	if size < int64(2*len(magic)+4) {
		return nil, fmt.Errorf("file is %d bytes, too short to be Parquet (truncated?)", size)
	}
	var head [4]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return nil, fmt.Errorf("reading footer length: %w", err)
	}
	switch {
	case string(tail[4:]) == encryptedMagic:
		return nil, fmt.Errorf("file has an encrypted footer, which is not supported")
	case string(head[:]) != magic:
		return nil, fmt.Errorf("file does not start with the Parquet magic bytes")
	case string(tail[4:]) != magic:
		return nil, fmt.Errorf("file does not end with the Parquet magic bytes (truncated?)")
	}
	footerLen := int64(binary.LittleEndian.Uint32(tail[:4]))
	if footerLen > size-int64(2*len(magic)+4) {
		return nil, fmt.Errorf("footer length %d exceeds the %d-byte file (truncated?)", footerLen, size)
	}
	footer := make([]byte, footerLen)
	if _, err := r.ReadAt(footer, size-8-footerLen); err != nil {
		return nil, fmt.Errorf("reading footer: %w", err)
	}
	meta := pq.NewFileMetaData()
	if err := meta.Read(ctx, thrift.NewTCompactProtocol(&thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(footer)})); err != nil {
		return nil, fmt.Errorf("decoding footer: %w", err)
	}
	schema, err := parseSchema(meta.Schema)
	if err != nil {
		return nil, fmt.Errorf("reading schema: %w", err)
	}
	fields, err := schema.selectColumns(columns)
	if err != nil {
		return nil, err
	}
	f := &fileReader{r: r, size: size, meta: meta, schema: schema, fields: fields, needed: make([]bool, len(schema.leaves))}
	for _, fl := range fields {
		for _, l := range fl.leaves {
			f.needed[l] = true
		}
	}
	return f, nil
}

// numRowGroups is the number of row groups in the file.
func (f *fileReader) numRowGroups() int { return len(f.meta.RowGroups) }

// readRowGroup reads and decodes the selected columns of row group i. The
// column chunks are decoded in parallel by up to GOMAXPROCS goroutines, all
// joined before it returns; memory stays bounded by the row group.
func (f *fileReader) readRowGroup(ctx context.Context, i int) (*assembler, int64, error) {
	rg := f.meta.RowGroups[i]
	if rg.NumRows < 0 {
		return nil, 0, fmt.Errorf("row group %d claims %d rows", i, rg.NumRows)
	}
	type job struct {
		leaf int
		cc   *pq.ColumnChunk
	}
	var jobs []job
	seen := make([]bool, len(f.schema.leaves))
	for _, cc := range rg.Columns {
		if cc == nil || cc.MetaData == nil {
			return nil, 0, fmt.Errorf("row group %d has a column chunk without metadata", i)
		}
		leaf, ok := f.schema.byPath[pathKey(cc.MetaData.PathInSchema)]
		if !ok {
			return nil, 0, fmt.Errorf("row group %d has a column chunk for unknown column %q", i, strings.Join(cc.MetaData.PathInSchema, "."))
		}
		if f.needed[leaf] && !seen[leaf] {
			seen[leaf] = true
			jobs = append(jobs, job{leaf, cc})
		}
	}
	for l, need := range f.needed {
		if need && !seen[l] {
			return nil, 0, fmt.Errorf("row group %d has no column chunk for column %q", i, f.schema.leaves[l].name)
		}
	}

	cols := make([]*column, len(f.schema.leaves))
	errs := make([]error, len(jobs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := min(runtime.GOMAXPROCS(0), len(jobs)); w > 0; w-- {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j := int(next.Add(1) - 1)
				if j >= len(jobs) || ctx.Err() != nil {
					return
				}
				cols[jobs[j].leaf], errs[j] = f.readChunk(ctx, jobs[j].cc, jobs[j].leaf, rg.NumRows)
			}
		}()
	}
	wg.Wait()
	for j, err := range errs {
		if err != nil {
			return nil, 0, fmt.Errorf("row group %d column %q: %w", i, strings.Join(jobs[j].cc.MetaData.PathInSchema, "."), err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	return &assembler{cols: cols}, rg.NumRows, nil
}

// readChunk decodes one column chunk, turning a panic of the decoding
// library on corrupt data into an error.
func (f *fileReader) readChunk(ctx context.Context, cc *pq.ColumnChunk, leaf int, numRows int64) (c *column, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("corrupt data: %v", r)
		}
	}()
	return readColumnChunk(ctx, f.r, f.size, cc, f.schema.leaves[leaf], numRows)
}
