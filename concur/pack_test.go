package concur

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

func inputs(raws ...string) []PackInput {
	in := make([]PackInput, len(raws))
	for i, r := range raws {
		in[i] = PackInput{Raw: []byte(r)}
	}
	return in
}

func TestPackSmall(t *testing.T) {
	p := NewPacker(PackOptions{AllowDelete: true})
	in := inputs(
		`{"id":"001","name":"Accounts Payable","type":"ACCOUNTS_PAYABLE"}`,
		`  {"id":"002","name":"x"}`+"\n",
		`{"id":"003","isDeleted":true,"name":"gone"}`,
	)
	in = append(in, PackInput{Raw: []byte(`{"id":"004","name":"meta delete"}`), Delete: true})
	bodies, errs := p.Pack(in, false)
	if len(errs) != 0 {
		t.Fatalf("errs: %v", errs)
	}
	if len(bodies) != 1 {
		t.Fatalf("got %d bodies", len(bodies))
	}
	want := `{"data":[{"id":"001","name":"Accounts Payable","type":"ACCOUNTS_PAYABLE"},{"id":"002","name":"x"},{"id":"003","isDeleted":true},{"id":"004","isDeleted":true}]}`
	if got := string(bodies[0].Bytes); got != want {
		t.Fatalf("body\n got %s\nwant %s", got, want)
	}
	if fmt.Sprint(bodies[0].Indexes) != "[0 1 2 3]" || bodies[0].DeleteAll {
		t.Fatalf("indexes %v deleteAll %v", bodies[0].Indexes, bodies[0].DeleteAll)
	}

	bodies, _ = p.Pack(in[:1], true)
	want = `{"deleteAll":true,"data":[{"id":"001","name":"Accounts Payable","type":"ACCOUNTS_PAYABLE"}]}`
	if got := string(bodies[0].Bytes); got != want || !bodies[0].DeleteAll {
		t.Fatalf("deleteAll body %s", got)
	}
}

func TestPackInvalidRecordsFailAlone(t *testing.T) {
	p := NewPacker(PackOptions{AllowDelete: true})
	big := `{"id":"big","name":"` + strings.Repeat("x", MaxRecordBytes) + `"}`
	in := inputs(
		`{"id":"ok1"}`,
		`not json`,
		`[{"id":"array"}]`,
		`{"name":"no id"}`,
		`{"id":""}`,
		`{"id":42}`,
		`{"ID":"wrong case"}`,
		big,
		`{"id":"trailing"} x`,
		`{"id":"ok2"}`,
	)
	bodies, errs := p.Pack(in, false)
	var failed []int
	for _, e := range errs {
		if !errors.Is(e, ErrInvalidRecord) {
			t.Errorf("record %d: error %v does not match ErrInvalidRecord", e.Index, e)
		}
		failed = append(failed, e.Index)
	}
	if fmt.Sprint(failed) != "[1 2 3 4 5 6 7 8]" {
		t.Fatalf("failed %v (%v)", failed, errs)
	}
	if len(bodies) != 1 || string(bodies[0].Bytes) != `{"data":[{"id":"ok1"},{"id":"ok2"}]}` {
		t.Fatalf("bodies %d", len(bodies))
	}
	if fmt.Sprint(bodies[0].Indexes) != "[0 9]" {
		t.Fatalf("indexes %v", bodies[0].Indexes)
	}
}

func TestPackTaxData(t *testing.T) {
	p := PackerFor("taxData")
	in := inputs(
		`{"countryCode":"FR","stateEntries":[{"stateCode":"FR-IDF","reclaimEntries":[]}]}`,
		`{"id":"x"}`,
		`{"countryCode":"US","isDeleted":true,"stateEntries":[]}`,
	)
	bodies, errs := p.Pack(in, false)
	if len(errs) != 2 || errs[0].Index != 1 || errs[1].Index != 2 {
		t.Fatalf("errs %v", errs)
	}
	if len(bodies) != 1 || fmt.Sprint(bodies[0].Indexes) != "[0]" {
		t.Fatalf("bodies %v", bodies)
	}
	var decoded struct{ Data []map[string]any }
	if err := json.Unmarshal(bodies[0].Bytes, &decoded); err != nil || decoded.Data[0]["countryCode"] != "FR" {
		t.Fatalf("decoded %v %v", decoded, err)
	}
}

func TestKeyEscapes(t *testing.T) {
	p := NewPacker(PackOptions{})
	for raw, want := range map[string]string{
		`{"\u0069d":"a\"b","x":{"id":"inner"}}`: `a"b`,
		`{"x":[1,{"id":"n"}],"id":"top"}`:       "top",
		`{"id":"first","id":"last"}`:            "last",
		` { "a" : "}" , "id" : "sp" } `:         "sp",
	} {
		got, _, err := p.Key([]byte(raw))
		if err != nil || got != want {
			t.Errorf("Key(%s) = %q, %v; want %q", raw, got, err, want)
		}
	}
	id := "a\"\\\u00e9<\x01"
	var back struct {
		ID        string `json:"id"`
		IsDeleted bool   `json:"isDeleted"`
	}
	if err := json.Unmarshal(DeleteForm(id), &back); err != nil || back.ID != id || !back.IsDeleted {
		t.Fatalf("DeleteForm round trip: %+v %v", back, err)
	}
}

// checkPacked asserts the packing invariants: every body within max and
// valid JSON of the right shape, every valid record in exactly one body, in
// input order, its bytes unchanged.
func checkPacked(t testing.TB, p *Packer, in []PackInput, deleteAll bool, bodies []Body, errs []*RecordError) {
	t.Helper()
	failed := map[int]bool{}
	for _, e := range errs {
		failed[e.Index] = true
	}
	next := 0
	for b, body := range bodies {
		if len(body.Bytes) > p.maxBody {
			t.Fatalf("body %d is %d bytes, max %d", b, len(body.Bytes), p.maxBody)
		}
		if body.DeleteAll != (deleteAll && b == 0) {
			t.Fatalf("body %d deleteAll=%v", b, body.DeleteAll)
		}
		var decoded struct {
			DeleteAll bool              `json:"deleteAll"`
			Data      []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body.Bytes, &decoded); err != nil {
			t.Fatalf("body %d is not JSON: %v", b, err)
		}
		if decoded.DeleteAll != body.DeleteAll || len(decoded.Data) != len(body.Indexes) || len(body.Indexes) == 0 {
			t.Fatalf("body %d: %d records for %d indexes", b, len(decoded.Data), len(body.Indexes))
		}
		for j, idx := range body.Indexes {
			for next < idx {
				if !failed[next] {
					t.Fatalf("valid record %d is in no body", next)
				}
				next++
			}
			if idx != next || failed[idx] {
				t.Fatalf("body %d carries record %d, expected %d", b, idx, next)
			}
			next++
			if !bytes.Equal(decoded.Data[j], bytes.TrimSpace(in[idx].Raw)) && !in[idx].Delete {
				if _, del, _ := p.Key(in[idx].Raw); !del {
					t.Fatalf("record %d bytes changed", idx)
				}
			}
		}
	}
	for ; next < len(in); next++ {
		if !failed[next] {
			t.Fatalf("valid record %d is in no body", next)
		}
	}
}

func randomRecords(r *rand.Rand, n, maxRecord int) []PackInput {
	in := make([]PackInput, n)
	for i := range in {
		var size int
		switch r.Intn(4) {
		case 0: // just under or over the record limit
			size = maxRecord - 20 + r.Intn(40)
		case 1:
			size = r.Intn(maxRecord)
		default:
			size = r.Intn(maxRecord / 8)
		}
		prefix := fmt.Sprintf(`{"id":"r%d","pad":"`, i)
		pad := max(0, size-len(prefix)-2)
		raw := prefix + strings.Repeat("p", pad) + `"}`
		switch r.Intn(50) {
		case 0:
			raw = `{"pad":"no id"}`
		case 1:
			raw = `{"id":"broken"`
		}
		in[i] = PackInput{Raw: []byte(raw), Delete: r.Intn(20) == 0}
	}
	return in
}

// TestPackProperty packs 10,000 random records with sizes around the record
// limit, with limits scaled down 1000× so the test stays fast, and checks the
// invariants. TestPackRealLimits does the same at the documented limits.
func TestPackProperty(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	p := NewPacker(PackOptions{MaxBodyBytes: 4000, MaxRecordBytes: 200, AllowDelete: true})
	for round := 0; round < 4; round++ {
		in := randomRecords(r, 10_000, 200)
		deleteAll := round%2 == 0
		bodies, errs := p.Pack(in, deleteAll)
		checkPacked(t, p, in, deleteAll, bodies, errs)
	}
}

func TestPackRealLimits(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	p := NewPacker(PackOptions{AllowDelete: true})
	in := randomRecords(r, 100, MaxRecordBytes)
	bodies, errs := p.Pack(in, true)
	checkPacked(t, p, in, true, bodies, errs)
	for _, b := range bodies[:len(bodies)-1] {
		if len(b.Bytes) < MaxBodyBytes-MaxRecordBytes {
			t.Fatalf("greedy packing left a body at %d bytes", len(b.Bytes))
		}
	}
}

func FuzzPack(f *testing.F) {
	f.Add([]byte("{\"id\":\"1\"}\n{\"id\":\"2\",\"isDeleted\":true}\n[1]\n"), uint16(64), uint16(16), true)
	f.Fuzz(func(t *testing.T, data []byte, maxBody, maxRecord uint16, deleteAll bool) {
		p := NewPacker(PackOptions{MaxBodyBytes: int(maxBody), MaxRecordBytes: int(maxRecord), AllowDelete: true})
		var in []PackInput
		for i, line := range bytes.Split(data, []byte("\n")) {
			in = append(in, PackInput{Raw: line, Delete: i%7 == 3})
		}
		bodies, errs := p.Pack(in, deleteAll)
		checkPacked(t, p, in, deleteAll, bodies, errs)
		for _, e := range errs {
			if !errors.Is(e, ErrInvalidRecord) {
				t.Fatalf("unexpected error %v", e)
			}
		}
	})
}

func BenchmarkPack(b *testing.B) {
	p := NewPacker(PackOptions{AllowDelete: true})
	const n = 20_000
	in := make([]PackInput, n)
	size := 0
	for i := range in {
		in[i].Raw = fmt.Appendf(nil, `{"id":"A%06d","name":"Account number %d","number":"%06d","type":"EXPENSE"}`, i, i, i)
		size += len(in[i].Raw)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		bodies, errs := p.Pack(in, false)
		if len(errs) != 0 || len(bodies) == 0 {
			b.Fatal("pack failed")
		}
	}
	b.ReportMetric(float64(testing.AllocsPerRun(1, func() { p.Pack(in, false) }))/n, "allocs/record")
}
