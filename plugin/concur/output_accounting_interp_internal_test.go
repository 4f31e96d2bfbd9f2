package concur

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// acctInterpFor builds the field for raw as the output does (the fast path
// from the raw text, the interpolation from Benthos's parser).
func acctInterpFor(t testing.TB, raw string) acctInterp {
	t.Helper()
	expr, err := service.NewInterpolatedString(raw)
	if err != nil {
		t.Fatalf("parsing %q: %v", raw, err)
	}
	return acctInterp{expr: expr, fast: parseAcctMetaTemplate(raw)}
}

// acctInterpMessages covers the metadata values the fast path meets: every
// message sets "k" (and "j" to a string) in another way, or leaves it unset.
func acctInterpMessages() (service.MessageBatch, []string) {
	type setter func(m *service.Message)
	mut := func(v any) setter { return func(m *service.Message) { m.MetaSetMut("k", v) } }
	cases := []struct {
		name string
		set  setter
	}{
		{"missing", func(*service.Message) {}},
		{"string", mut("v-1")},
		{"empty string", mut("")},
		{"MetaSet string", func(m *service.Message) { m.MetaSet("k", "set") }},
		{"string with quotes", mut(`a "b" \c`)},
		{"int", mut(7)},
		{"negative int", mut(-3)},
		{"int8", mut(int8(-8))},
		{"int16", mut(int16(16))},
		{"int32", mut(int32(32))},
		{"int64", mut(int64(1) << 40)},
		{"uint", mut(uint(9))},
		{"uint8", mut(uint8(8))},
		{"uint16", mut(uint16(16))},
		{"uint32", mut(uint32(32))},
		{"uint64", mut(uint64(1) << 63)},
		{"float64", mut(1.5)},
		{"float64 large", mut(1e21)},
		{"float32", mut(float32(0.1))},
		{"bool true", mut(true)},
		{"bool false", mut(false)},
		{"bytes", mut([]byte("raw"))},
		{"empty bytes", mut([]byte{})},
		{"nil", mut(nil)},
		{"json number", mut(json.Number("12.50"))},
		{"time", mut(time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC))},
		{"map", mut(map[string]any{"a": 1, "b": "<x>"})},
		{"slice", mut([]any{1, "two", nil})},
		{"string slice", mut([]string{"a"})},
		{"struct", mut(struct{ A int }{A: 1})},
	}
	batch := make(service.MessageBatch, len(cases))
	names := make([]string, len(cases))
	for i, c := range cases {
		m := service.NewMessage([]byte(`{"id":"x"}`))
		m.MetaSetMut("j", "jay")
		c.set(m)
		batch[i] = m
		names[i] = c.name
	}
	return batch, names
}

// TestAcctInterpFastMatchesBenthos: every recognised form resolves every
// message exactly as Benthos's interpolation does, error or not.
func TestAcctInterpFastMatchesBenthos(t *testing.T) {
	var forms []string
	for _, ref := range []string{`metadata("k")`, `meta("k")`, `@k`, `@"k"`} {
		for _, or := range []string{"", `.or("")`, `.or("dflt")`, `.or("a \"q\" \\ é\t")`} {
			forms = append(forms, "${! "+ref+or+" }", "${!"+ref+or+"}", "${!\t "+ref+or+"\t}")
		}
	}
	forms = append(forms,
		`${! metadata("j").or("") }/${! metadata("k").or("") }`,
		`${! @k }${! meta("j") }`,
		`${! meta("k") } - ${! @"j" } }{ ${! metadata("k").or("none") }`,
		`${! metadata("missing").or("") }`,
		`${! meta("missing") }`,
		// Chains: the first key that is not null wins.
		`${! metadata("missing").or(metadata("k")) }`,
		`${! metadata("k").or(metadata("j")) }`,
		`${! meta("k").or(@j).or("z") }`,
		`${! @missing.or(@"k").or("") }`,
		`${! metadata("missing").or(meta("missing2")).or(@k) }`,
		`${! metadata("missing").or(meta("missing2")) }`,
		`${! metadata("company_id").or(metadata("k")) }/${! metadata("j") }`,
	)
	batch, names := acctInterpMessages()
	fallbacks := 0
	for _, raw := range forms {
		f := acctInterpFor(t, raw)
		if f.fast == nil {
			t.Errorf("%q: not recognised", raw)
			continue
		}
		exec := batch.InterpolationExecutor(f.expr)
		resolve := f.resolver(batch)
		for i := range batch {
			want, wantErr := exec.TryString(i)
			got, gotErr := resolve(i)
			if got != want || (gotErr == nil) != (wantErr == nil) {
				t.Errorf("%q, %s: got %q, %v; Benthos gives %q, %v", raw, names[i], got, gotErr, want, wantErr)
			}
			if s, ok := f.fast.resolve(batch[i]); ok {
				if s != want {
					t.Errorf("%q, %s: fast path gives %q; Benthos gives %q", raw, names[i], s, want)
				}
			} else {
				fallbacks++
			}
		}
	}
	if fallbacks == 0 {
		t.Error("no message took the interpolation: the values left to it (float32, maps, …) were stringified by the fast path")
	}
}

// TestAcctInterpFastPathTaken: the value types the fast path claims are
// resolved without the interpolation, and the rest are not.
func TestAcctInterpFastPathTaken(t *testing.T) {
	slowOnly := map[string]bool{"float32": true, "map": true, "slice": true, "string slice": true, "struct": true}
	batch, names := acctInterpMessages()
	for _, raw := range []string{`${! metadata("k") }`, `${! @k.or("") }`} {
		tmpl := parseAcctMetaTemplate(raw)
		if tmpl == nil {
			t.Fatalf("%q: not recognised", raw)
		}
		for i, m := range batch {
			if _, ok := tmpl.resolve(m); ok == slowOnly[names[i]] {
				t.Errorf("%q, %s: fast path taken %v", raw, names[i], ok)
			}
		}
	}
	// meta() stringifies every type as Benthos does (through MetaGet).
	tmpl := parseAcctMetaTemplate(`${! meta("k") }`)
	for i, m := range batch {
		if _, ok := tmpl.resolve(m); !ok {
			t.Errorf("meta(), %s: fast path not taken", names[i])
		}
	}
}

// TestAcctInterpNotRecognised: anything but the simple forms keeps the
// interpolation.
func TestAcctInterpNotRecognised(t *testing.T) {
	for _, raw := range []string{
		`${! metadata("a") }-x`,
		`x-${! metadata("a") }`,
		`${! json("id") }`,
		`${! metadata("a").uppercase() }`,
		`${! metadata("a").or("x").uppercase() }`,
		`${! metadata("a").or(5) }`,
		`${! metadata("a").or("x").or(metadata("b")) }`,
		`${! metadata("a").or(metadata("b").uppercase()) }`,
		`${! metadata("a").or(metadata("b") ) }`,
		`${! metadata("a").or(json("b")) }`,
		`${! metadata("a").or(@) }`,
		`${! metadata("a") | "x" }`,
		`${! metadata() }`,
		`${! meta() }`,
		`${! metadata("") }`,
		`${! @ }`,
		`${! @.or("x") }`,
		`${! @a.b }`,
		`${! @a-b }`,
		`${! metadata("a" ) }`,
		`${! metadata( "a") }`,
		`${! metadata ("a") }`,
		`${! metadata("a") .or("") }`,
		`${! metadata("""a""") }`,
		`${! metadata(key: "a") }`,
		`${! root_meta("a") }`,
		`${!
metadata("a") }`,
		`${{! metadata("a") }}`,
		`${! metadata("a") }$${! metadata("b") }`,
		`${! metadata("a") }${{! x }}${! metadata("b") }`,
		`${! metadata("a") }/`,
		`${! metadata("a")`,
		`static`,
		``,
	} {
		if tmpl := parseAcctMetaTemplate(raw); tmpl != nil {
			t.Errorf("%q recognised as %+v", raw, *tmpl)
		}
	}
}

// TestAcctInterpFromConfig: parseAcctInterp reads the raw text of the
// fields (FieldString works on interpolated fields); the ordering defaults
// and the Kafka pipeline's fields take the fast path, others keep the
// interpolation, and both give the same values.
func TestAcctInterpFromConfig(t *testing.T) {
	conf, err := accountingOutputSpec().ParseYAML(`
company_id: ${! metadata("kafka_key") }
erp_id: ${! metadata("erp_id").or("") }
object: ${! json("object") }
auth:
  url: http://localhost
  token_store: /tmp/x
  client_id: a
  client_secret: b
  request_token: c
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := service.NewMessage([]byte(`{"object":"accounts"}`))
	m.MetaSetMut("kafka_key", "co")
	m.MetaSetMut("erp_id", "erp")
	m.MetaSetMut("kafka_topic", "t")
	m.MetaSetMut("kafka_partition", 3)
	m.MetaSetMut("kafka_offset", int64(42))
	batch := service.MessageBatch{m, service.NewMessage(nil)}
	for _, c := range []struct {
		field string
		fast  bool
		want  []string
	}{
		{acctFieldCompanyID, true, []string{"co", "null"}},
		{acctFieldERPID, true, []string{"erp", ""}},
		{acctFieldObject, false, []string{"accounts", ""}},
		{acctFieldOrderKey, true, []string{"t/3", "/"}},
		{acctFieldOrderOffset, true, []string{"42", ""}},
	} {
		f, err := parseAcctInterp(conf, c.field)
		if err != nil {
			t.Fatalf("%s: %v", c.field, err)
		}
		if (f.fast != nil) != c.fast {
			t.Errorf("%s: fast path %v, want %v", c.field, f.fast != nil, c.fast)
		}
		resolve := f.resolver(batch)
		exec := batch.InterpolationExecutor(f.expr)
		for i, want := range c.want {
			got, err := resolve(i)
			slow, slowErr := exec.TryString(i)
			if c.field == acctFieldObject && i == 1 {
				// json() of an empty body fails: an error either way.
				if err == nil || slowErr == nil {
					t.Errorf("%s, message %d: got %q, %v; Benthos %q, %v; want errors", c.field, i, got, err, slow, slowErr)
				}
				continue
			}
			if err != nil || got != want || slowErr != nil || slow != want {
				t.Errorf("%s, message %d: got %q, %v; Benthos %q, %v; want %q", c.field, i, got, err, slow, slowErr, want)
			}
		}
	}
}

// BenchmarkAcctResolveFields resolves the five fields of the Kafka
// pipeline (pipelines/kafka_to_concur.yaml, ordering fields by default)
// for a batch of 2,500 messages, through Benthos's interpolation and
// through the fast path.
func BenchmarkAcctResolveFields(b *testing.B) {
	raws := []string{
		`${! metadata("kafka_key") }`,
		`${! metadata("erp_id").or("") }`,
		`${! metadata("object").or("") }`,
		`${! metadata("kafka_topic").or("") }/${! metadata("kafka_partition").or("") }`,
		`${! metadata("kafka_offset").or("") }`,
	}
	fields := make([]acctInterp, len(raws))
	for j, raw := range raws {
		fields[j] = acctInterpFor(b, raw)
		if fields[j].fast == nil {
			b.Fatalf("%q: not recognised", raw)
		}
	}
	batch := make(service.MessageBatch, 2500)
	for i := range batch {
		m := service.NewMessage([]byte(`{"id":"` + strconv.Itoa(i) + `"}`))
		m.MetaSetMut("kafka_key", "09ac834c-46d6-49ff-9653-551d69072d56")
		m.MetaSetMut("erp_id", "2fcffbce-a381-4169-a954-c0395eefd6f6")
		m.MetaSetMut("object", "accounts")
		m.MetaSetMut("kafka_topic", "erp.changes")
		m.MetaSetMut("kafka_partition", i%12)
		m.MetaSetMut("kafka_offset", int64(1000000+i))
		batch[i] = m
	}
	run := func(b *testing.B, resolver func(acctInterp) func(int) (string, error)) {
		b.ReportAllocs()
		for b.Loop() {
			for _, f := range fields {
				resolve := resolver(f)
				for i := range batch {
					if _, err := resolve(i); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
	b.Run("interpolation", func(b *testing.B) {
		run(b, func(f acctInterp) func(int) (string, error) { return acctResolver(batch, f.expr) })
	})
	b.Run("fast", func(b *testing.B) {
		run(b, func(f acctInterp) func(int) (string, error) { return f.resolver(batch) })
	})
}
