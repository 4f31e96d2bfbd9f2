package parquet

import (
	"strings"
	"testing"

	pq "github.com/xitongsys/parquet-go/parquet"
)

func group(name string, n int32, rep pq.FieldRepetitionType) *pq.SchemaElement {
	return &pq.SchemaElement{Name: name, NumChildren: &n, RepetitionType: &rep}
}

func leaf(name string, typ pq.Type, rep pq.FieldRepetitionType) *pq.SchemaElement {
	return &pq.SchemaElement{Name: name, Type: &typ, RepetitionType: &rep}
}

// TestParseSchemaRejectsMalformedFooters checks the errors a corrupt schema
// list gets instead of a crash or a wrong tree.
func TestParseSchemaRejectsMalformedFooters(t *testing.T) {
	req, opt := pq.FieldRepetitionType_REQUIRED, pq.FieldRepetitionType_OPTIONAL
	deep := []*pq.SchemaElement{group("root", 1, req)}
	for i := 0; i < maxDepth+5; i++ {
		deep = append(deep, group("g", 1, req))
	}
	deep = append(deep, leaf("x", pq.Type_INT32, req))
	tooManyLevels := []*pq.SchemaElement{group("root", 1, req)}
	for i := 0; i < maxLevel+1; i++ {
		tooManyLevels = append(tooManyLevels, group("g", 1, opt))
	}
	tooManyLevels = append(tooManyLevels, leaf("x", pq.Type_INT32, opt))
	cases := map[string]struct {
		elements []*pq.SchemaElement
		want     string
	}{
		"empty":             {nil, "schema is empty"},
		"children missing":  {[]*pq.SchemaElement{group("root", 2, req), leaf("a", pq.Type_INT32, req)}, "schema ends inside field"},
		"extra elements":    {[]*pq.SchemaElement{group("root", 1, req), leaf("a", pq.Type_INT32, req), leaf("b", pq.Type_INT32, req)}, "tree covers 2"},
		"leaf without type": {[]*pq.SchemaElement{group("root", 1, req), {Name: "a"}}, "no physical type"},
		"negative children": {[]*pq.SchemaElement{group("root", -1, req)}, "negative child count"},
		"too deep":          {deep, "nested deeper than 1000 groups"},
		"too many levels":   {tooManyLevels, "nested deeper than 255 levels"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseSchema(c.elements)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}
