package sandbox

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzRender checks the raw scanner against encoding/json: for any valid
// JSON object, the rendered record is valid JSON holding exactly the known
// fields, each equal to what encoding/json reads (last duplicate wins).
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","name":"Bank","type":"BANK"}`,
		`{ "id" : "q\"1" , "name":"a\\\\","x":{"y":["]}",{"z":"\\""}]},"type":null}`,
		`{"id":"2","type":"ACCOUNTING","address":{"city":"Paris","zip":1},"email":"e@x"}`,
		`{"id":"3","address":null,"id":"4"}`,
		`{}`,
		`{"id":1.5e3,"name":true,"number":[1,2]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want map[string]any
		if !json.Valid(raw) || json.Unmarshal(raw, &want) != nil || want == nil {
			return // the scanner only ever sees valid JSON objects
		}
		for _, fs := range []*fieldSet{accountFields, vendorFields} {
			out, err := fs.render(nil, raw)
			if err != nil {
				t.Fatalf("render(%s): %v", raw, err)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("render(%s) = %s: not JSON: %v", raw, out, err)
			}
			if len(got) != len(fs.names) {
				t.Fatalf("render(%s) = %s: %d members", raw, out, len(got))
			}
			for _, n := range fs.names {
				w, ok := want[n]
				sub := fs.sub[n]
				if wm, isObj := w.(map[string]any); ok && sub != nil && isObj {
					gm, _ := got[n].(map[string]any)
					for _, sn := range sub.names {
						if !reflect.DeepEqual(gm[sn], wm[sn]) {
							t.Fatalf("render(%s) = %s: %s.%s", raw, out, n, sn)
						}
					}
					continue
				}
				if !reflect.DeepEqual(got[n], w) {
					t.Fatalf("render(%s) = %s: %s = %v, want %v", raw, out, n, got[n], w)
				}
			}
		}
	})
}

// FuzzElements checks that splitting a valid array yields exactly the
// elements encoding/json sees.
func FuzzElements(f *testing.F) {
	for _, s := range []string{`[]`, ` [ 1 , "a\"]" , {"b":[2,3]} , null ] `, `[[],[[]],{}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want []json.RawMessage
		if !json.Valid(raw) || json.Unmarshal(raw, &want) != nil {
			return
		}
		got, ok := elements(raw)
		if !ok || len(got) != len(want) {
			t.Fatalf("elements(%s) = %d elements, want %d", raw, len(got), len(want))
		}
		for i := range got {
			var a, b any
			if json.Unmarshal(got[i], &a) != nil || json.Unmarshal(want[i], &b) != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("elements(%s)[%d] = %s, want %s", raw, i, got[i], want[i])
			}
		}
	})
}
