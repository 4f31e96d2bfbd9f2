package concur

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"text/template"

	"github.com/xeipuuv/gojsonschema"
)

// acctEnumProp is an "enum" of strings that acctStripEnums took out of a
// root property's schema, for acctCheckEnums to check instead of the
// validator. The validator checks an enum by JSON-encoding the value three
// times over (encode, decode, encode again) on every record, about 3 µs;
// a map look-up gives the same answer, as every string check sees is valid
// UTF-8 (acctDecode makes it so), for which that encoding is one to one.
type acctEnumProp struct {
	name    string
	types   []string            // the property's "type" list; nil: untyped
	allowed map[string]struct{} // the enum's strings
	item    string              // the reason item the validator's error gives
}

// acctStripEnums returns schema b without the "enum" of each root property
// whose enum is all strings, and those enums. It leaves b as it is when the
// validator would not apply the root's properties to a record exactly as
// written (a root "$ref", a root "type" without "object"), or when any
// "$ref" in b could point at the root or its properties (anything but
// "#/definitions/…" or "#/$defs/…"), as such a reference would then see the
// schema without its enums. A property keeps its enum when its schema has a
// "$ref" (the validator ignores the enum then) or when anything in it would
// make the validator refuse to compile it (it is then left to do so).
func acctStripEnums(b []byte) ([]byte, []acctEnumProp, error) {
	var root map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&root); err != nil {
		return nil, nil, fmt.Errorf("decoding schema: %w", err)
	}
	props, ok := root["properties"].(map[string]any)
	if !ok || root["$ref"] != nil || !acctLocalRefsOnly(root) {
		return b, nil, nil
	}
	if rootTypes, ok := acctSchemaTypes(root); !ok || !acctTypeAdmits(rootTypes, map[string]any{}) {
		return b, nil, nil
	}
	var enums []acctEnumProp
	for name, p := range props {
		ps, ok := p.(map[string]any)
		if !ok || ps["$ref"] != nil {
			continue
		}
		e, ok, err := acctEnumOf(name, ps)
		if err != nil {
			return nil, nil, fmt.Errorf("property %q: %w", name, err)
		}
		if !ok {
			continue
		}
		delete(ps, "enum")
		enums = append(enums, e)
	}
	if len(enums) == 0 {
		return b, nil, nil
	}
	slices.SortFunc(enums, func(a, b acctEnumProp) int { return strings.Compare(a.name, b.name) })
	out, err := json.Marshal(root)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding schema: %w", err)
	}
	return out, enums, nil
}

// acctEnumOf returns property name's enum, of its schema ps, as
// acctCheckEnums checks it, and false when ps has no enum of strings, or one
// the validator would refuse.
func acctEnumOf(name string, ps map[string]any) (acctEnumProp, bool, error) {
	vals, ok := ps["enum"].([]any)
	if !ok || len(vals) == 0 {
		return acctEnumProp{}, false, nil
	}
	types, ok := acctSchemaTypes(ps)
	if !ok {
		return acctEnumProp{}, false, nil
	}
	e := acctEnumProp{name: name, types: types, allowed: make(map[string]struct{}, len(vals))}
	encoded := make([]string, 0, len(vals))
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			return acctEnumProp{}, false, nil
		}
		if _, dup := e.allowed[str]; dup {
			return acctEnumProp{}, false, nil // the validator refuses duplicates
		}
		e.allowed[str] = struct{}{}
		enc, err := acctEncodeLikeValidator(str)
		if err != nil {
			return acctEnumProp{}, false, err
		}
		encoded = append(encoded, enc)
	}
	desc, err := acctEnumDescription(name, strings.Join(encoded, ", "))
	if err != nil {
		return acctEnumProp{}, false, err
	}
	e.item = acctReasonItem(name, desc, "", false)
	return e, true, nil
}

// acctEncodeLikeValidator JSON-encodes v as the validator encodes enum
// values: encoded, decoded and encoded again.
func acctEncodeLikeValidator(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encoding enum value: %w", err)
	}
	var again any
	if err := json.Unmarshal(b, &again); err != nil {
		return "", fmt.Errorf("decoding enum value: %w", err)
	}
	if b, err = json.Marshal(again); err != nil {
		return "", fmt.Errorf("encoding enum value: %w", err)
	}
	return string(b), nil
}

// acctEnumDescription is the description of the validator's enum error for
// root property name with the encoded values allowed: its locale's Enum
// text, executed as the validator executes it, with the details it gives.
func acctEnumDescription(name, allowed string) (string, error) {
	tpl := template.New("enum")
	if gojsonschema.ErrorTemplateFuncs != nil {
		tpl.Funcs(gojsonschema.ErrorTemplateFuncs)
	}
	tpl, err := tpl.Parse(gojsonschema.Locale.Enum())
	if err != nil {
		return "", fmt.Errorf("parsing the enum error text: %w", err)
	}
	var buf bytes.Buffer
	err = tpl.Execute(&buf, gojsonschema.ErrorDetails{
		"allowed": allowed,
		"field":   name,
		"context": "(root)." + name,
	})
	if err != nil {
		return "", fmt.Errorf("formatting the enum error text: %w", err)
	}
	return buf.String(), nil
}

// acctSchemaTypes returns schema s's "type" as a list (nil when absent),
// and false when it is neither a type name nor a list of them.
func acctSchemaTypes(s map[string]any) ([]string, bool) {
	switch t := s["type"].(type) {
	case nil:
		_, present := s["type"]
		return nil, !present
	case string:
		return []string{t}, true
	case []any:
		types := make([]string, 0, len(t))
		for _, x := range t {
			name, ok := x.(string)
			if !ok {
				return nil, false
			}
			types = append(types, name)
		}
		return types, true
	}
	return nil, false
}

// acctLocalRefsOnly reports whether every "$ref" in schema node points into
// "#/definitions/" or "#/$defs/".
func acctLocalRefsOnly(node any) bool {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if k == "$ref" {
				ref, ok := v.(string)
				if !ok || !strings.HasPrefix(ref, "#/definitions/") && !strings.HasPrefix(ref, "#/$defs/") {
					return false
				}
				continue
			}
			if !acctLocalRefsOnly(v) {
				return false
			}
		}
	case []any:
		for _, v := range n {
			if !acctLocalRefsOnly(v) {
				return false
			}
		}
	}
	return true
}

// acctTypeAdmits reports whether the validator, for a schema of the given
// "type" list, goes on to check enum on value v of a decoded record, as
// validateRecursive does: untyped, or v's JSON type listed (an integral
// number also as "integer").
func acctTypeAdmits(types []string, v any) bool {
	var t string
	switch x := v.(type) {
	case nil:
		t = "null"
	case json.Number:
		if len(types) == 0 || slices.Contains(types, "number") {
			return true
		}
		r, ok := new(big.Rat).SetString(string(x))
		return ok && r.IsInt() && slices.Contains(types, "integer")
	case string:
		t = "string"
	case bool:
		t = "boolean"
	case []any:
		t = "array"
	case map[string]any:
		t = "object"
	default:
		return false // the validator checks nothing on other Go types
	}
	return len(types) == 0 || slices.Contains(types, t)
}

// acctCheckEnums checks the enums acctStripEnums took out of a schema on
// doc, a record decoded by acctDecode, and returns the reason item of each
// root property that fails its enum, as acctSchemaReasons would have
// formatted the validator's error.
func acctCheckEnums(enums []acctEnumProp, doc any) []string {
	m, ok := doc.(map[string]any)
	if !ok || len(enums) == 0 {
		return nil
	}
	var items []string
	for i := range enums {
		e := &enums[i]
		v, present := m[e.name]
		if !present || !acctTypeAdmits(e.types, v) {
			continue
		}
		if str, ok := v.(string); ok {
			if _, in := e.allowed[str]; in {
				continue
			}
		}
		items = append(items, e.item)
	}
	return items
}
