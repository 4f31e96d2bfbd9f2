package concur

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// jsonValidCases are records whose validity the packer must judge exactly
// as json.Valid does.
var jsonValidCases = []string{
	`{}`, ` { } `, `{"id":"1"}`, `{"id":"1",}`, `{"id":"1"`, `{"id" "1"}`, `{"id":}`, `{,"id":"1"}`,
	`{"id":"1"} x`, `{"id":"1"}}`, `{"id":"1"}{}`, `{id:"1"}`, `{'id':"1"}`,
	`{"id":"a\"b"}`, `{"id":"a\\"}`, `{"id":"\u00e9\uD83D\uDE00"}`, `{"id":"\u00g0"}`, `{"id":"\u00"}`,
	`{"id":"\x"}`, `{"id":"a` + "\t" + `b"}`, `{"id":"a` + "\x7f\xff\xfe" + `b"}`, `{"id":"1","n":"` + "\x00" + `"}`,
	`{"n":0}`, `{"n":-0}`, `{"n":01}`, `{"n":-}`, `{"n":1.}`, `{"n":.5}`, `{"n":1.5e}`, `{"n":1.5e+}`,
	`{"n":1.5E-07}`, `{"n":+1}`, `{"n":1e5}`, `{"n":0x10}`, `{"n":-12.25e+3}`, `{"n":Infinity}`, `{"n":NaN}`,
	`{"b":true}`, `{"b":tru}`, `{"b":truex}`, `{"b":false}`, `{"b":nul}`, `{"b":null}`, `{"b":None}`,
	`{"a":[]}`, `{"a":[1,2,]}`, `{"a":[,1]}`, `{"a":[1 2]}`, `{"a":[[[]]]}`, `{"a":[{"b":[{}]}]}`, `{"a":[}`,
	`{"a":{"b":}}`, `{"a":{"b":1,"c":[true,false,null,"x",-1.5]}}`, `{"a":{"b" : 1 , "c" : [ ] } }`,
	`{"a\u0041":"1"}`, `{"i\u0064":"7"}`, "{\r\n\t\"id\" :\n\"1\"\r\n}", `{"id":"1"}` + "\n",
	`{"id":"1"` + "\v" + `}`, `{"id":"1"` + "\u00a0" + `}`, `{"id":"1","id":"2"}`,
}

func TestScanValidatesLikeJSONValid(t *testing.T) {
	p := NewPacker(PackOptions{})
	cases := append([]string{
		strings.Repeat(`{"a":`, maxNesting-1) + `1` + strings.Repeat(`}`, maxNesting-1),
		strings.Repeat(`{"a":`, maxNesting) + `1` + strings.Repeat(`}`, maxNesting),
		`{"a":` + strings.Repeat(`[`, maxNesting-1) + strings.Repeat(`]`, maxNesting-1) + `}`,
		`{"a":` + strings.Repeat(`[`, maxNesting) + strings.Repeat(`]`, maxNesting) + `}`,
	}, jsonValidCases...)
	for _, c := range cases {
		checkScanLikeJSONValid(t, p, []byte(c))
	}
}

func FuzzScanValidatesLikeJSONValid(f *testing.F) {
	for _, c := range jsonValidCases {
		f.Add([]byte(c))
	}
	p := NewPacker(PackOptions{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkScanLikeJSONValid(t, p, raw)
	})
}

// checkScanLikeJSONValid fails when scan and json.Valid disagree on raw
// (with surrounding white space trimmed, as the packer does), or
// when scan accepts a record without a non-empty string id.
func checkScanLikeJSONValid(t *testing.T, p *Packer, raw []byte) {
	t.Helper()
	key, _, err := p.scan(raw)
	if err != nil && !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("%q: unexpected error %v", raw, err)
	}
	// The packer trims surrounding (Unicode) white space before it checks.
	valid := json.Valid(bytes.TrimSpace(raw))
	notJSON := err != nil && strings.Contains(err.Error(), "not valid JSON")
	if valid && notJSON {
		t.Fatalf("%q: valid JSON rejected: %v", raw, err)
	}
	if !valid {
		if err == nil {
			t.Fatalf("%q: invalid JSON accepted", raw)
		}
		return
	}
	var obj map[string]any
	isObject := json.Unmarshal(bytes.TrimSpace(raw), &obj) == nil && obj != nil
	if !isObject {
		if err == nil {
			t.Fatalf("%q: a JSON value that is no object was accepted", raw)
		}
		return
	}
	id, _ := obj["id"].(string)
	if (err == nil) != (id != "") {
		t.Fatalf("%q: id %q, scan error %v", raw, id, err)
	}
	if err == nil && key == nil {
		t.Fatalf("%q: no key value returned", raw)
	}
}
