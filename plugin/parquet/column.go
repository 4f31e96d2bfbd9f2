package parquet

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/golang/snappy"
	"github.com/xitongsys/parquet-go/compress"
	"github.com/xitongsys/parquet-go/layout"
	pq "github.com/xitongsys/parquet-go/parquet"
)

// column holds one leaf column of one row group, decoded: its levels and
// its non-null values, with cursors used while rows are assembled.
type column struct {
	leaf   *node
	n      int     // number of level entries
	dl, rl []uint8 // nil when the maximum level is 0
	values *store  // non-null values only, in order
	pos    int     // next level entry
	vpos   int     // next value
}

func (c *column) def(i int) uint8 {
	if c.dl == nil {
		return 0
	}
	return c.dl[i]
}

func (c *column) rep(i int) uint8 {
	if c.rl == nil {
		return 0
	}
	return c.rl[i]
}

// preallocLimit caps slice preallocation taken from file metadata.
const preallocLimit = 1 << 20

// readColumnChunk reads and decodes one column chunk. The chunk's bytes are
// read in one piece (bounded by the row group), then its pages are decoded
// one after the other.
func readColumnChunk(ctx context.Context, r io.ReaderAt, fileSize int64, cc *pq.ColumnChunk, leaf *node, numRows int64) (*column, error) {
	md := cc.MetaData
	if md == nil {
		return nil, fmt.Errorf("column chunk has no metadata")
	}
	if cc.FilePath != nil && *cc.FilePath != "" {
		return nil, fmt.Errorf("column chunk lives in another file (%q), which is not supported", *cc.FilePath)
	}
	if md.Type != leaf.el.GetType() {
		return nil, fmt.Errorf("column chunk type %s differs from schema type %s", md.Type, leaf.el.GetType())
	}
	start := md.DataPageOffset
	if d := md.DictionaryPageOffset; d != nil && *d > 0 && *d < start {
		start = *d
	}
	length := md.TotalCompressedSize
	if start < 4 || length < 0 || start > fileSize-8-length {
		return nil, fmt.Errorf("column chunk at offset %d length %d lies outside the %d-byte file", start, length, fileSize)
	}
	buf := make([]byte, length)
	if _, err := r.ReadAt(buf, start); err != nil {
		return nil, fmt.Errorf("reading column chunk at offset %d: %w", start, err)
	}

	if md.NumValues < 0 || leaf.repLevel == 0 && md.NumValues != numRows {
		return nil, fmt.Errorf("column chunk claims %d values for %d rows", md.NumValues, numRows)
	}
	// Preallocate from the metadata, but not so much that a corrupt count
	// can exhaust memory before the data disproves it.
	hint := int(min(md.NumValues, preallocLimit))
	c := &column{leaf: leaf, values: newStore(md.Type, int(leaf.el.GetTypeLength()), hint)}
	if leaf.defLevel > 0 {
		c.dl = make([]uint8, 0, hint)
	}
	if leaf.repLevel > 0 {
		c.rl = make([]uint8, 0, hint)
	}

	mem := &thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(buf)}
	proto := thrift.NewTCompactProtocol(mem)
	var dict *store
	var scratch []uint32
	for int64(c.n) < md.NumValues {
		if mem.Len() == 0 {
			return nil, fmt.Errorf("column chunk ends after %d of %d values", c.n, md.NumValues)
		}
		hdr := pq.NewPageHeader()
		if err := hdr.Read(ctx, proto); err != nil {
			return nil, fmt.Errorf("reading page header: %w", err)
		}
		size := int(hdr.CompressedPageSize)
		if size < 0 || size > mem.Len() {
			return nil, fmt.Errorf("page of %d bytes overruns its column chunk", size)
		}
		page := mem.Next(size)
		var err error
		switch hdr.Type {
		case pq.PageType_DICTIONARY_PAGE:
			dict, err = readDictPage(hdr, page, md, leaf)
		case pq.PageType_DATA_PAGE:
			scratch, err = c.readDataPageV1(hdr, page, md, dict, scratch)
		case pq.PageType_DATA_PAGE_V2:
			scratch, err = c.readDataPageV2(hdr, page, md, dict, scratch)
		default:
			// Index pages and unknown page types carry no row data.
		}
		if err != nil {
			return nil, fmt.Errorf("%s page: %w", hdr.Type, err)
		}
	}
	if int64(c.n) != md.NumValues {
		return nil, fmt.Errorf("column chunk holds %d values, its metadata says %d", c.n, md.NumValues)
	}
	rows := int64(c.n)
	if c.rl != nil {
		rows = 0
		for _, r := range c.rl {
			if r == 0 {
				rows++
			}
		}
	}
	if rows != numRows {
		return nil, fmt.Errorf("column chunk holds %d rows, its row group %d", rows, numRows)
	}
	return c, nil
}

// maxPageSize bounds the uncompressed size of one page, so that a corrupt
// header cannot ask for an absurd allocation.
const maxPageSize = 1 << 30

// uncompress decompresses a page body that the page header says is want
// bytes uncompressed, and checks that it is.
func uncompress(data []byte, codec pq.CompressionCodec, want int) ([]byte, error) {
	if want < 0 || want > maxPageSize {
		return nil, fmt.Errorf("page claims %d uncompressed bytes", want)
	}
	if codec == pq.CompressionCodec_UNCOMPRESSED {
		return data, nil
	}
	if codec == pq.CompressionCodec_SNAPPY {
		if n, err := snappy.DecodedLen(data); err != nil || n > want {
			return nil, fmt.Errorf("snappy block of %d bytes does not fit the page's %d bytes", n, want)
		}
	}
	out, err := compress.Uncompress(data, codec)
	if err != nil {
		return nil, fmt.Errorf("decompressing %s: %w", codec, err)
	}
	if len(out) != want {
		return nil, fmt.Errorf("decompressed %s page has %d bytes, its header says %d", codec, len(out), want)
	}
	return out, nil
}

func readDictPage(hdr *pq.PageHeader, page []byte, md *pq.ColumnMetaData, leaf *node) (*store, error) {
	dh := hdr.DictionaryPageHeader
	if dh == nil {
		return nil, fmt.Errorf("missing dictionary page header")
	}
	raw, err := uncompress(page, md.Codec, int(hdr.UncompressedPageSize))
	if err != nil {
		return nil, err
	}
	n := int(dh.NumValues)
	if n < 0 || n > len(raw)*8+1 {
		return nil, fmt.Errorf("dictionary claims %d values in %d bytes", n, len(raw))
	}
	dict := newStore(md.Type, int(leaf.el.GetTypeLength()), n)
	if err := dict.appendPlain(raw, n); err != nil {
		return nil, err
	}
	return dict, nil
}

func (c *column) readDataPageV1(hdr *pq.PageHeader, page []byte, md *pq.ColumnMetaData, dict *store, scratch []uint32) ([]uint32, error) {
	dh := hdr.DataPageHeader
	if dh == nil {
		return scratch, fmt.Errorf("missing data page header")
	}
	raw, err := uncompress(page, md.Codec, int(hdr.UncompressedPageSize))
	if err != nil {
		return scratch, err
	}
	n := int(dh.NumValues)
	var rlData, dlData []byte
	if c.leaf.repLevel > 0 {
		if dh.RepetitionLevelEncoding != pq.Encoding_RLE {
			return scratch, fmt.Errorf("repetition level encoding %s is not supported", dh.RepetitionLevelEncoding)
		}
		if rlData, raw, err = lengthPrefixed(raw); err != nil {
			return scratch, fmt.Errorf("repetition levels: %w", err)
		}
	}
	if c.leaf.defLevel > 0 {
		if dh.DefinitionLevelEncoding != pq.Encoding_RLE {
			return scratch, fmt.Errorf("definition level encoding %s is not supported", dh.DefinitionLevelEncoding)
		}
		if dlData, raw, err = lengthPrefixed(raw); err != nil {
			return scratch, fmt.Errorf("definition levels: %w", err)
		}
	}
	return c.appendPage(n, rlData, dlData, raw, dh.Encoding, md, dict, scratch)
}

func (c *column) readDataPageV2(hdr *pq.PageHeader, page []byte, md *pq.ColumnMetaData, dict *store, scratch []uint32) ([]uint32, error) {
	dh := hdr.DataPageHeaderV2
	if dh == nil {
		return scratch, fmt.Errorf("missing data page header")
	}
	rll, dll := int(dh.RepetitionLevelsByteLength), int(dh.DefinitionLevelsByteLength)
	if rll < 0 || dll < 0 || rll+dll > len(page) {
		return scratch, fmt.Errorf("level lengths %d+%d exceed the %d-byte page", rll, dll, len(page))
	}
	values := page[rll+dll:]
	if dh.IsCompressed {
		var err error
		if values, err = uncompress(values, md.Codec, int(hdr.UncompressedPageSize)-rll-dll); err != nil {
			return scratch, err
		}
	}
	return c.appendPage(int(dh.NumValues), page[:rll], page[rll:rll+dll], values, dh.Encoding, md, dict, scratch)
}

// appendPage decodes the levels and values of one data page and appends them
// to the column.
func (c *column) appendPage(n int, rlData, dlData, values []byte, enc pq.Encoding, md *pq.ColumnMetaData, dict *store, scratch []uint32) ([]uint32, error) {
	if n < 0 || int64(n) > md.NumValues-int64(c.n) {
		return scratch, fmt.Errorf("page claims %d values, the column chunk has %d left", n, md.NumValues-int64(c.n))
	}
	var err error
	if c.leaf.repLevel > 0 {
		if scratch, err = decodeHybrid(scratch[:0], rlData, bitWidthOf(c.leaf.repLevel), n); err != nil {
			return scratch, fmt.Errorf("repetition levels: %w", err)
		}
		for _, v := range scratch {
			if v > uint32(c.leaf.repLevel) {
				return scratch, fmt.Errorf("repetition level %d exceeds the maximum %d", v, c.leaf.repLevel)
			}
			c.rl = append(c.rl, uint8(v))
		}
	}
	nonNull := n
	if c.leaf.defLevel > 0 {
		if scratch, err = decodeHybrid(scratch[:0], dlData, bitWidthOf(c.leaf.defLevel), n); err != nil {
			return scratch, fmt.Errorf("definition levels: %w", err)
		}
		nonNull = 0
		for _, v := range scratch {
			if v > uint32(c.leaf.defLevel) {
				return scratch, fmt.Errorf("definition level %d exceeds the maximum %d", v, c.leaf.defLevel)
			}
			if v == uint32(c.leaf.defLevel) {
				nonNull++
			}
			c.dl = append(c.dl, uint8(v))
		}
	}
	c.n += n

	switch enc {
	case pq.Encoding_PLAIN:
		if err := c.values.appendPlain(values, nonNull); err != nil {
			return scratch, err
		}
	case pq.Encoding_PLAIN_DICTIONARY, pq.Encoding_RLE_DICTIONARY:
		if dict == nil {
			return scratch, fmt.Errorf("dictionary-encoded page without a dictionary page")
		}
		if nonNull == 0 {
			break
		}
		if len(values) == 0 {
			return scratch, fmt.Errorf("dictionary indices missing")
		}
		if scratch, err = decodeHybrid(scratch[:0], values[1:], int(values[0]), nonNull); err != nil {
			return scratch, fmt.Errorf("dictionary indices: %w", err)
		}
		size := dict.len()
		for _, idx := range scratch {
			if int(idx) >= size {
				return scratch, fmt.Errorf("dictionary index %d out of range (%d entries)", idx, size)
			}
			c.values.appendFrom(dict, int(idx))
		}
	case pq.Encoding_RLE:
		if md.Type != pq.Type_BOOLEAN {
			return scratch, fmt.Errorf("RLE encoding of %s values is not supported", md.Type)
		}
		body, _, err := lengthPrefixed(values)
		if err != nil {
			return scratch, fmt.Errorf("RLE booleans: %w", err)
		}
		if scratch, err = decodeHybrid(scratch[:0], body, 1, nonNull); err != nil {
			return scratch, fmt.Errorf("RLE booleans: %w", err)
		}
		for _, v := range scratch {
			c.values.b = append(c.values.b, v != 0)
		}
	case pq.Encoding_DELTA_LENGTH_BYTE_ARRAY, pq.Encoding_DELTA_BYTE_ARRAY:
		if md.Type != pq.Type_BYTE_ARRAY && md.Type != pq.Type_FIXED_LEN_BYTE_ARRAY {
			return scratch, fmt.Errorf("%s encoding of %s values is not supported", enc, md.Type)
		}
		if err := c.values.appendDeltaByteArray(values, nonNull, enc == pq.Encoding_DELTA_BYTE_ARRAY); err != nil {
			return scratch, fmt.Errorf("%s values: %w", enc, err)
		}
	case pq.Encoding_DELTA_BINARY_PACKED, pq.Encoding_BYTE_STREAM_SPLIT:
		vals, err := layout.ReadDataPageValues(bytes.NewReader(values), enc, md.Type, -1, uint64(nonNull), uint64(c.leaf.el.GetTypeLength()))
		if err != nil {
			return scratch, fmt.Errorf("%s values: %w", enc, err)
		}
		if len(vals) < nonNull {
			return scratch, fmt.Errorf("%s values: got %d of %d", enc, len(vals), nonNull)
		}
		if err := c.values.appendAny(vals[:nonNull]); err != nil {
			return scratch, fmt.Errorf("%s values: %w", enc, err)
		}
	default:
		return scratch, fmt.Errorf("value encoding %s is not supported", enc)
	}
	return scratch, nil
}
