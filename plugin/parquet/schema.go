package parquet

import (
	"fmt"
	"strings"

	pq "github.com/xitongsys/parquet-go/parquet"
)

// nodeKind says how a schema node is rendered as JSON.
type nodeKind uint8

const (
	kindLeaf   nodeKind = iota // a primitive column
	kindStruct                 // a group: a JSON object
	kindList                   // a LIST-annotated group: a JSON array
	kindMap                    // a MAP or MAP_KEY_VALUE group: a JSON object
)

// maxLevel bounds definition and repetition levels, which are stored as
// bytes. It is the nesting depth of optional/repeated fields, far beyond any
// real schema.
const maxLevel = 255

// maxDepth bounds group nesting, so that a corrupt footer cannot make the
// recursive parsing and assembly exhaust the stack.
const maxDepth = 1000

// node is one field of a Parquet schema, prepared for record assembly.
type node struct {
	name     string
	kind     nodeKind
	optional bool // OPTIONAL repetition: may be null
	repeated bool // REPEATED repetition: rendered as an array by its parent
	defLevel uint8
	repLevel uint8
	children []*node
	leaves   []int // file-wide indices of the leaf columns under this node

	// kindLeaf
	leaf int
	el   *pq.SchemaElement
	conv leafKind
	// decimal scale for conv == lkDecimal
	scale int32

	// kindList: rep is the repeated child, elem the node that renders each
	// element (rep itself for 2-level lists, else rep's only child).
	// kindMap: rep is the repeated key_value group, key and value its
	// children (value may be nil for a key-only map).
	rep, elem, key, value *node
}

// fileSchema is a parsed Parquet schema.
type fileSchema struct {
	root   *node
	leaves []*node // leaf nodes in schema order, indexed by column
	byPath map[string]int
}

// pathKey joins a column path into a map key.
func pathKey(path []string) string { return strings.Join(path, "\x00") }

// parseSchema turns the flat, depth-first schema list of a file footer into
// a tree and computes each node's definition and repetition levels.
func parseSchema(elements []*pq.SchemaElement) (*fileSchema, error) {
	if len(elements) == 0 {
		return nil, fmt.Errorf("schema is empty")
	}
	s := &fileSchema{byPath: map[string]int{}}
	root := &node{name: elements[0].GetName(), kind: kindStruct}
	next, err := s.parseChildren(root, elements, 1, int(elements[0].GetNumChildren()), nil)
	if err != nil {
		return nil, err
	}
	if next != len(elements) {
		return nil, fmt.Errorf("schema has %d elements but its tree covers %d", len(elements), next)
	}
	s.root = root
	return s, nil
}

func (s *fileSchema) parseChildren(parent *node, elements []*pq.SchemaElement, idx, n int, path []string) (int, error) {
	if n < 0 {
		return 0, fmt.Errorf("field %q has a negative child count", parent.name)
	}
	if len(path) > maxDepth {
		return 0, fmt.Errorf("schema is nested deeper than %d groups", maxDepth)
	}
	for i := 0; i < n; i++ {
		if idx >= len(elements) {
			return 0, fmt.Errorf("schema ends inside field %q", parent.name)
		}
		el := elements[idx]
		idx++
		c := &node{name: el.GetName(), el: el, defLevel: parent.defLevel, repLevel: parent.repLevel}
		switch el.GetRepetitionType() {
		case pq.FieldRepetitionType_OPTIONAL:
			c.optional = true
			c.defLevel++
		case pq.FieldRepetitionType_REPEATED:
			c.repeated = true
			c.defLevel++
			c.repLevel++
		}
		if c.defLevel == 0 && parent.defLevel == maxLevel || c.repLevel == 0 && parent.repLevel == maxLevel {
			return 0, fmt.Errorf("field %q is nested deeper than %d levels", c.name, maxLevel)
		}
		cpath := append(append([]string(nil), path...), c.name)
		if el.NumChildren == nil || el.GetNumChildren() == 0 && el.Type != nil {
			if el.Type == nil {
				return 0, fmt.Errorf("leaf field %q has no physical type", c.name)
			}
			c.kind = kindLeaf
			c.leaf = len(s.leaves)
			c.conv, c.scale = leafKindOf(el)
			c.leaves = []int{c.leaf}
			s.leaves = append(s.leaves, c)
			s.byPath[pathKey(cpath)] = c.leaf
		} else {
			c.kind = kindStruct
			var err error
			if idx, err = s.parseChildren(c, elements, idx, int(el.GetNumChildren()), cpath); err != nil {
				return 0, err
			}
			classifyGroup(c)
		}
		parent.children = append(parent.children, c)
		parent.leaves = append(parent.leaves, c.leaves...)
	}
	return idx, nil
}

// classifyGroup marks LIST and MAP groups, following the backward
// compatibility rules of the Parquet logical types specification for lists
// and maps written by older tools (2-level lists, repeated groups named
// "array" or "<name>_tuple", MAP_KEY_VALUE). A group whose shape does not fit
// its annotation is rendered as a plain object rather than rejected.
func classifyGroup(g *node) {
	lt, ct := g.el.LogicalType, g.el.ConvertedType
	isList := lt != nil && lt.LIST != nil || ct != nil && *ct == pq.ConvertedType_LIST
	isMap := lt != nil && lt.MAP != nil || ct != nil && (*ct == pq.ConvertedType_MAP || *ct == pq.ConvertedType_MAP_KEY_VALUE)
	if len(g.children) != 1 || !g.children[0].repeated {
		return
	}
	rep := g.children[0]
	switch {
	case isList:
		g.kind, g.rep, g.elem = kindList, rep, rep
		if rep.kind != kindLeaf && len(rep.children) == 1 && rep.name != "array" && rep.name != g.name+"_tuple" {
			g.elem = rep.children[0]
		}
	case isMap:
		if rep.kind == kindLeaf || len(rep.children) < 1 || len(rep.children) > 2 {
			return
		}
		g.kind, g.rep, g.key = kindMap, rep, rep.children[0]
		if len(rep.children) == 2 {
			g.value = rep.children[1]
		}
	}
}

// selectColumns returns the root's children restricted to the named
// top-level fields, in schema order, or all of them when names is empty.
func (s *fileSchema) selectColumns(names []string) ([]*node, error) {
	if len(names) == 0 {
		return s.root.children, nil
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	var out []*node
	for _, c := range s.root.children {
		if want[c.name] {
			out = append(out, c)
			delete(want, c.name)
		}
	}
	if len(want) > 0 {
		var missing []string
		for _, n := range names {
			if want[n] {
				missing = append(missing, n)
			}
		}
		return nil, fmt.Errorf("columns %q are not top-level fields of the schema", missing)
	}
	return out, nil
}
