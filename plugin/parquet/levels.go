package parquet

import (
	"encoding/binary"
	"fmt"
)

// decodeHybrid decodes exactly n values of the RLE/bit-packing hybrid
// encoding (used for repetition and definition levels, dictionary indices
// and RLE booleans) from data, appending them to out. It is written here
// rather than taken from the decoding library so that a corrupt run length
// can never make it allocate more than n values.
func decodeHybrid(out []uint32, data []byte, bitWidth int, n int) ([]uint32, error) {
	if bitWidth < 0 || bitWidth > 32 {
		return out, fmt.Errorf("bit width %d out of range", bitWidth)
	}
	want := len(out) + n
	mask := uint64(1)<<uint(bitWidth) - 1
	byteWidth := (bitWidth + 7) / 8
	for len(out) < want {
		if len(data) == 0 {
			return out, fmt.Errorf("hybrid-encoded run ends after %d of %d values", n-(want-len(out)), n)
		}
		header, k := binary.Uvarint(data)
		if k <= 0 {
			return out, fmt.Errorf("bad run header")
		}
		data = data[k:]
		left := uint64(want - len(out))
		if header&1 == 0 {
			count := header >> 1
			if len(data) < byteWidth {
				return out, fmt.Errorf("RLE run value truncated")
			}
			var v uint32
			for i := 0; i < byteWidth; i++ {
				v |= uint32(data[i]) << (8 * uint(i))
			}
			data = data[byteWidth:]
			if count > left {
				count = left
			}
			for i := uint64(0); i < count; i++ {
				out = append(out, v)
			}
			continue
		}
		groups := header >> 1
		if bitWidth > 0 && groups > uint64(len(data)) {
			return out, fmt.Errorf("bit-packed run of %d groups exceeds the %d bytes left", groups, len(data))
		}
		nbytes := int(groups) * bitWidth
		if nbytes > len(data) {
			// Writers may end the last run early; use what is there.
			nbytes = len(data)
		}
		buf := data[:nbytes]
		data = data[nbytes:]
		count := groups * 8
		if bitWidth == 0 {
			if count > left {
				count = left
			}
			for i := uint64(0); i < count; i++ {
				out = append(out, 0)
			}
			continue
		}
		if avail := uint64(nbytes * 8 / bitWidth); count > avail {
			count = avail
		}
		if count > left {
			count = left
		}
		var acc uint64
		var nbits, p int
		for i := uint64(0); i < count; i++ {
			for nbits < bitWidth {
				acc |= uint64(buf[p]) << uint(nbits)
				p++
				nbits += 8
			}
			out = append(out, uint32(acc&mask))
			acc >>= uint(bitWidth)
			nbits -= bitWidth
		}
	}
	return out, nil
}

// lengthPrefixed splits a 4-byte little-endian length prefix and the bytes it
// announces off the front of data.
func lengthPrefixed(data []byte) (body, rest []byte, err error) {
	if len(data) < 4 {
		return nil, nil, fmt.Errorf("length prefix truncated")
	}
	n := binary.LittleEndian.Uint32(data)
	if uint64(n) > uint64(len(data)-4) {
		return nil, nil, fmt.Errorf("length prefix %d exceeds the %d bytes left", n, len(data)-4)
	}
	return data[4 : 4+n], data[4+n:], nil
}

// bitWidthOf is the number of bits needed for levels up to max.
func bitWidthOf(max uint8) int {
	w := 0
	for v := max; v > 0; v >>= 1 {
		w++
	}
	return w
}
