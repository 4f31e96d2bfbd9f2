package concur

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// acctVariants is a schema split by acctSplitVariants on the string value
// of one root property, its discriminator.
type acctVariants struct {
	prop string // the discriminator; "" when the schema was not split
	// values lists the const values of the if/then blocks, in the order of
	// the blocks, once each; byValue[value] is the schema for records whose
	// prop is that string.
	values  []string
	byValue map[string][]byte
	// other is the schema for records whose prop is absent, not a string,
	// or a string none of the blocks names.
	other []byte
}

// acctBlock is one if/then entry of a root "allOf" that acctSplitVariants
// recognises: "if": {"properties": {prop: {"const": value}}, "required":
// [prop]} and "then": then, nothing else.
type acctBlock struct {
	prop, value string
}

// acctSplitVariants splits schema b (as acctLiveSchema returns it) on its
// discriminator, when its root has an "allOf" whose if/then entries all test
// one property for a string const (see acctBlock) and have no "else". For
// each const value, the variant is b without those entries, with the
// "then" of each entry naming the value merged into the root as
// acctMergeInto merges (or, when a keyword clashes or depends on the
// keywords beside it, appended to the root's "allOf" as it is); the other
// variant has none of the thens. Other "allOf" entries stay in every
// variant. On a JSON object, an entry's "if" holds exactly when the
// record's prop is a JSON string equal to its value: the validator
// compares const by JSON encoding, a string's never equals another type's,
// and two strings of valid UTF-8 (all that acctDecode hands it) encode
// alike only when equal. So a record validated against the variant its prop
// picks gets the errors it gets from b, apart from the summaries that the
// validator adds for a failing "then" (condition_then) and "allOf"
// (number_all_of): it adds either only together with the failing
// subschema's own errors, among which, by the same rule one level down,
// there is always one that is no summary, so acctSchemaReasons, which drops
// the summaries whenever anything else is listed, never shows them. What is
// saved is every failing "if": its const encodes the value three times and
// its error message goes through text/template, only to be thrown away.
//
// Schemas it does not recognise come back with prop "". So do schemas with
// a root "$ref" (the validator ignores the root's other keywords) or a
// "$ref" that could point into the root's "allOf" or the root itself
// (anything but "#/definitions/…" or "#/$defs/…"), which the split moves.
func acctSplitVariants(b []byte) (acctVariants, error) {
	root, err := acctDecodeSchema(b)
	if err != nil {
		return acctVariants{}, err
	}
	blocks, ok := acctDiscriminator(root)
	if !ok {
		return acctVariants{}, nil
	}
	var vs acctVariants
	vs.byValue = map[string][]byte{}
	for _, bl := range blocks {
		if bl == nil {
			continue
		}
		vs.prop = bl.prop
		if _, done := vs.byValue[bl.value]; done {
			continue
		}
		if vs.byValue[bl.value], err = acctVariant(b, blocks, bl.value, true); err != nil {
			return acctVariants{}, fmt.Errorf("variant for %s %q: %w", bl.prop, bl.value, err)
		}
		vs.values = append(vs.values, bl.value)
	}
	if vs.other, err = acctVariant(b, blocks, "", false); err != nil {
		return acctVariants{}, fmt.Errorf("variant for no %s: %w", vs.prop, err)
	}
	return vs, nil
}

// acctDecodeSchema decodes schema b as the validator does (numbers kept as
// written) into its root object.
func acctDecodeSchema(b []byte) (map[string]any, error) {
	var root map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&root); err != nil {
		return nil, fmt.Errorf("decoding schema: %w", err)
	}
	return root, nil
}

// acctDiscriminator returns, for each entry of root's "allOf", the block it
// is (nil for entries that have no "if", "then" or "else"), and false
// unless root is one acctSplitVariants splits: at least one block, every
// entry with "if", "then" or "else" a block, all of one property.
func acctDiscriminator(root map[string]any) ([]*acctBlock, bool) {
	all, ok := root["allOf"].([]any)
	if !ok || root["$ref"] != nil || !acctLocalRefsOnly(root) {
		return nil, false
	}
	blocks := make([]*acctBlock, len(all))
	prop := ""
	for i, e := range all {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		_, hasIf := m["if"]
		_, hasThen := m["then"]
		_, hasElse := m["else"]
		if !hasIf && !hasThen && !hasElse {
			continue
		}
		if _, ok := m["then"].(map[string]any); !ok || len(m) != 2 {
			return nil, false
		}
		p, value, ok := acctConstTest(m["if"])
		if !ok || prop != "" && p != prop {
			return nil, false
		}
		prop = p
		blocks[i] = &acctBlock{prop: p, value: value}
	}
	return blocks, prop != ""
}

// acctConstTest returns prop and value when cond is exactly
// {"properties": {prop: {"const": value}}, "required": [prop]} with value
// a string.
func acctConstTest(cond any) (prop, value string, ok bool) {
	c, isMap := cond.(map[string]any)
	if !isMap || len(c) != 2 {
		return "", "", false
	}
	props, isMap := c["properties"].(map[string]any)
	if !isMap || len(props) != 1 {
		return "", "", false
	}
	for name, p := range props {
		ps, isMap := p.(map[string]any)
		if !isMap || len(ps) != 1 {
			return "", "", false
		}
		if value, ok = ps["const"].(string); !ok {
			return "", "", false
		}
		prop = name
	}
	req, isList := c["required"].([]any)
	if !isList || len(req) != 1 || req[0] != prop {
		return "", "", false
	}
	return prop, value, true
}

// acctSiblingKeywords are the keywords whose meaning depends on the
// keywords beside them or on where they stand in the document, and "type",
// whose failure makes the validator skip every other keyword beside it: a
// "then" with any of them is never merged into the root, but kept whole in
// its "allOf".
var acctSiblingKeywords = []string{
	"type", "properties", "patternProperties", "additionalProperties",
	"items", "additionalItems",
	"if", "then", "else",
	"$ref", "$id", "id", "$schema", "definitions", "$defs",
}

// acctVariant returns schema b with the blocks (parallel to its root's
// "allOf", see acctDiscriminator) taken out and, when with, the "then" of
// each block naming value merged in.
func acctVariant(b []byte, blocks []*acctBlock, value string, with bool) ([]byte, error) {
	// Decoded afresh for each variant: merging moves the then's values
	// into the root, where a shared one would be changed for all.
	root, err := acctDecodeSchema(b)
	if err != nil {
		return nil, err
	}
	var keep []any
	var thens []map[string]any
	for i, e := range root["allOf"].([]any) {
		switch {
		case blocks[i] == nil:
			keep = append(keep, e)
		case with && blocks[i].value == value:
			thens = append(thens, e.(map[string]any)["then"].(map[string]any))
		}
	}
	if len(keep) == 0 {
		delete(root, "allOf")
	} else {
		root["allOf"] = keep
	}
	for _, then := range thens {
		if acctHasAny(then, acctSiblingKeywords) || acctMergeInto(root, then) {
			all, _ := root["allOf"].([]any)
			root["allOf"] = append(all, then)
		}
	}
	out, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("encoding schema: %w", err)
	}
	return out, nil
}

// acctHasAny reports whether schema s has any of the keywords.
func acctHasAny(s map[string]any, keywords []string) bool {
	for _, k := range keywords {
		if _, ok := s[k]; ok {
			return true
		}
	}
	return false
}
