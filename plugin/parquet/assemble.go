package parquet

import (
	"errors"
	"fmt"
)

// errLevels reports repetition or definition levels that do not describe a
// consistent record structure.
var errLevels = errors.New("inconsistent repetition/definition levels")

// assembler rebuilds records from the decoded leaf columns of one row group
// (Dremel record assembly) and writes each directly as a JSON object. Every
// leaf column is consumed strictly in order through its cursors: an absent
// optional field, an empty list or a null element consumes exactly one level
// entry of each leaf below it, a present leaf value one entry and one value.
type assembler struct {
	cols []*column // by leaf index; nil for columns that are not read
	dm   decimalMode
}

// appendRow writes the next row of the row group as a JSON object holding
// the given top-level fields, in schema order.
func (a *assembler) appendRow(b []byte, fields []*node) ([]byte, error) {
	for _, f := range fields {
		for _, l := range f.leaves {
			c := a.cols[l]
			if c.pos >= c.n || c.rep(c.pos) != 0 {
				return b, fmt.Errorf("column %q: %w", c.leaf.name, errLevels)
			}
		}
	}
	return a.appendObject(b, fields)
}

// appendObject writes the fields of a group as a JSON object.
func (a *assembler) appendObject(b []byte, fields []*node) ([]byte, error) {
	b = append(b, '{')
	var err error
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.name)
		b = append(b, ':')
		if b, err = a.appendField(b, f); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// done checks that every column has been consumed completely.
func (a *assembler) done() error {
	for _, c := range a.cols {
		if c != nil && (c.pos != c.n || c.vpos != c.values.len()) {
			return fmt.Errorf("column %q has %d level entries and %d values left over: %w", c.leaf.name, c.n-c.pos, c.values.len()-c.vpos, errLevels)
		}
	}
	return nil
}

// appendField writes a field of a group: repeated fields as an array of
// their values.
func (a *assembler) appendField(b []byte, f *node) ([]byte, error) {
	if f.repeated {
		return a.appendRepeated(b, f, nil)
	}
	return a.appendNode(b, f)
}

// skip consumes the single level entry each leaf below n has when n is
// absent (null, or an empty list).
func (a *assembler) skip(n *node) {
	for _, l := range n.leaves {
		a.cols[l].pos++
	}
}

// absent reports whether n (optional or repeated) is undefined at the
// current position.
func (a *assembler) absent(n *node) bool {
	if len(n.leaves) == 0 {
		return false
	}
	c := a.cols[n.leaves[0]]
	return c.def(c.pos) < n.defLevel
}

// appendNode writes one non-repeated occurrence of n, or null.
func (a *assembler) appendNode(b []byte, n *node) ([]byte, error) {
	if n.optional && a.absent(n) {
		a.skip(n)
		return append(b, "null"...), nil
	}
	return a.appendBody(b, n)
}

// appendBody writes the value of a present node.
func (a *assembler) appendBody(b []byte, n *node) ([]byte, error) {
	switch n.kind {
	case kindLeaf:
		c := a.cols[n.leaf]
		d := c.def(c.pos)
		c.pos++
		if d != n.defLevel || c.vpos >= c.values.len() {
			return b, fmt.Errorf("column %q: %w", n.name, errLevels)
		}
		c.vpos++
		return appendValue(b, n.conv, n.scale, a.dm, c.values, c.vpos-1)
	case kindStruct:
		return a.appendObject(b, n.children)
	case kindList, kindMap:
		return a.appendRepeated(b, n.rep, n)
	}
	return b, fmt.Errorf("unknown node kind %d", n.kind)
}

// appendRepeated writes all occurrences of the repeated node r at the
// current position: as an array of r's values when owner is nil, as the
// elements of the LIST group owner, or as the entries of the MAP group
// owner.
func (a *assembler) appendRepeated(b []byte, r *node, owner *node) ([]byte, error) {
	open, closing := byte('['), byte(']')
	if owner != nil && owner.kind == kindMap {
		open, closing = '{', '}'
	}
	b = append(b, open)
	if a.absent(r) {
		a.skip(r)
		return append(b, closing), nil
	}
	c0 := a.cols[r.leaves[0]]
	var err error
	for first := true; ; first = false {
		if !first {
			b = append(b, ',')
		}
		switch {
		case owner == nil || owner.kind == kindList && owner.elem == r:
			b, err = a.appendBody(b, r)
		case owner.kind == kindList:
			b, err = a.appendNode(b, owner.elem)
		default:
			b, err = a.appendMapEntry(b, owner)
		}
		if err != nil {
			return b, err
		}
		if c0.pos >= c0.n {
			break
		}
		if rl := c0.rep(c0.pos); rl > r.repLevel {
			return b, fmt.Errorf("column %q: %w", c0.leaf.name, errLevels)
		} else if rl < r.repLevel {
			break
		}
	}
	return append(b, closing), nil
}

// appendMapEntry writes one key/value pair of a map. JSON keys are strings:
// a key that does not render as a JSON string (a number, a boolean) is
// written as the string of its JSON text.
func (a *assembler) appendMapEntry(b []byte, m *node) ([]byte, error) {
	start := len(b)
	b, err := a.appendNode(b, m.key)
	if err != nil {
		return b, err
	}
	if b[start] != '"' {
		key := string(b[start:])
		b = appendString(b[:start], key)
	}
	b = append(b, ':')
	if m.value == nil {
		return append(b, "null"...), nil
	}
	return a.appendNode(b, m.value)
}
