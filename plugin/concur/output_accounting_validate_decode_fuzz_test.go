package concur

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzAcctDecode checks the validator's decoder against encoding/json on
// every valid JSON document: the decoder skips syntax checks because the
// packer has already run json.Valid's rules over the record, so it must
// agree exactly on everything that passes them.
func FuzzAcctDecode(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"id":"1","name":"Cash","type":"BANK"}`, `[1,-2.5e3,"x",null,true,false]`,
		`{"esc":"a\"b\\c\/\u00e9\ud83d\ude00"}`, "{\"bad\":\"a\xffb\"}", `{"dup":1,"dup":2}`, ` 0 `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var want any
		if err := d.Decode(&want); err != nil {
			t.Fatalf("encoding/json refused a valid document %q: %v", b, err)
		}
		if got := acctDecode(b); !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got %#v\nwant %#v", b, got, want)
		}
	})
}
