package concur

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/xeipuuv/gojsonschema"

	concurapi "github.com/concurflow/concurflow/concur"
	"github.com/concurflow/concurflow/schemas"
)

// acctFieldValidate is the concur_accounting field that turns schema
// pre-validation on or off.
const acctFieldValidate = "validate"

// acctMaxSchemaErrors caps the reasons listed in one record's error.
const acctMaxSchemaErrors = 10

// acctTaxFieldPrefix is the field prefix that wrapping a tax data entry
// e into a body {"data":[e]} for the tax_data.json schema, which describes
// the whole POST/PUT body, puts in front of every error.
const acctTaxFieldPrefix = "data.0"

// acctValidator checks records against the embedded JSON Schemas of package
// schemas before they are packed, with the engine of Benthos's json_schema
// processor, so the sink and a pipeline's json_schema step agree exactly.
// Each object's schema is compiled on first use and kept for the life of the
// output. A nil *acctValidator accepts everything (validate: false).
type acctValidator struct {
	rejected *service.MetricCounter // object
	byObject map[concurapi.Object]*acctSchema
}

// acctSchema is one object's schema, compiled once.
type acctSchema struct {
	name string // file name in schemas.FS
	wrap bool   // the record is a tax data entry: validate {"data":[record]}
	// liveIf is the boolean property the schema's root "if" tests for true
	// (isDeleted, or deleteAll of the tax data body), which is never true
	// in what check validates; see acctLiveSchema.
	liveIf string

	once sync.Once
	// whole is the schema after acctLiveSchema: every record's when split
	// is "", else only that of a record that is not a JSON object.
	whole acctCompiled
	// split is the discriminator acctSplitVariants split the schema on
	// ("" when it did not), byValue the variant for each of its values and
	// other the variant for records whose split names none of them.
	split   string
	byValue map[string]*acctCompiled
	other   acctCompiled
	err     error
}

// acctCompiled is one compiled variant of an object's schema.
type acctCompiled struct {
	schema *gojsonschema.Schema
	enums  []acctEnumProp // checked by check itself, taken out of schema
}

func newAcctValidator(m *service.Metrics) *acctValidator {
	return &acctValidator{
		rejected: m.NewCounter("concur_accounting_schema_rejected", "object"),
		byObject: map[concurapi.Object]*acctSchema{
			concurapi.ObjectAccounts: {name: schemas.Account, liveIf: "isDeleted"},
			concurapi.ObjectVendors:  {name: schemas.Vendor, liveIf: "isDeleted"},
			concurapi.ObjectLists:    {name: schemas.ListName, liveIf: "isDeleted"},
			concurapi.ObjectTaxData:  {name: schemas.TaxData, wrap: true, liveIf: "deleteAll"},
		},
	}
}

// compiled compiles the schema and its variants on first use and returns
// the error of doing so.
func (s *acctSchema) compiled() error {
	s.once.Do(func() { s.err = s.compile() })
	return s.err
}

func (s *acctSchema) compile() error {
	b, err := schemas.Schema(s.name)
	if err != nil {
		return err
	}
	return s.compileSchema(b)
}

// compileSchema compiles s from schema b, the file it names.
func (s *acctSchema) compileSchema(b []byte) error {
	b, err := acctLiveSchema(b, s.liveIf)
	if err != nil {
		return fmt.Errorf("preparing JSON schema %s: %w", s.name, err)
	}
	if err := s.compileVariant(&s.whole, b, ""); err != nil {
		return err
	}
	vs, err := acctSplitVariants(b)
	if err != nil {
		return fmt.Errorf("splitting JSON schema %s: %w", s.name, err)
	}
	if vs.prop == "" {
		return nil
	}
	if err := s.compileVariant(&s.other, vs.other, fmt.Sprintf(" (variant for no %s)", vs.prop)); err != nil {
		return err
	}
	s.byValue = make(map[string]*acctCompiled, len(vs.values))
	for _, value := range vs.values {
		c := &acctCompiled{}
		if err := s.compileVariant(c, vs.byValue[value], fmt.Sprintf(" (variant for %s %q)", vs.prop, value)); err != nil {
			return err
		}
		s.byValue[value] = c
	}
	s.split = vs.prop
	return nil
}

// compileVariant compiles schema b into c, with its enums taken out (see
// acctStripEnums) unless the records are wrapped; which names the variant
// in errors.
func (s *acctSchema) compileVariant(c *acctCompiled, b []byte, which string) error {
	var err error
	if !s.wrap {
		if b, c.enums, err = acctStripEnums(b); err != nil {
			return fmt.Errorf("taking the enums out of JSON schema %s%s: %w", s.name, which, err)
		}
	}
	if c.schema, err = gojsonschema.NewSchema(gojsonschema.NewBytesLoader(b)); err != nil {
		return fmt.Errorf("compiling JSON schema %s%s: %w", s.name, which, err)
	}
	return nil
}

// variant returns the compiled schema to validate doc, as check validates
// it, against: the variant its discriminator picks (see acctSplitVariants).
func (s *acctSchema) variant(doc any) *acctCompiled {
	if s.split == "" {
		return &s.whole
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return &s.whole
	}
	if value, ok := m[s.split].(string); ok {
		if c, ok := s.byValue[value]; ok {
			return c
		}
	}
	return &s.other
}

// acctLiveSchema returns schema b as check uses it: when its root is
// "if": {"properties": {prop: {"const": true}}, "required": [prop]} with an
// "else" and no "then", the if/else is replaced by the else's keywords
// merged into the root ("required" lists joined, the rest moved; the whole
// else goes into the root's allOf when a keyword clashes). check validates
// only records whose prop is not true (live records; the tax data wrapper
// has no deleteAll), for which that "if" always fails and the else always
// applies, so the result and its errors are the same, apart from the
// validator's "else" summary, which acctSchemaReasons drops anyway. What is
// saved is the failing "if" on every record, whose error message the
// validator formats through text/template. Any other root is returned as
// it is.
func acctLiveSchema(b []byte, prop string) ([]byte, error) {
	var root map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&root); err != nil {
		return nil, err
	}
	els, ok := root["else"].(map[string]any)
	if _, then := root["then"]; !ok || then || !acctIsTrueTest(root["if"], prop) {
		return b, nil
	}
	delete(root, "if")
	delete(root, "else")
	if acctMergeInto(root, els) {
		all, _ := root["allOf"].([]any)
		root["allOf"] = append(all, els)
	}
	return json.Marshal(root)
}

// acctIsTrueTest reports whether cond is exactly
// {"properties": {prop: {"const": true}}, "required": [prop]}.
func acctIsTrueTest(cond any, prop string) bool {
	c, ok := cond.(map[string]any)
	if !ok || len(c) != 2 {
		return false
	}
	props, ok := c["properties"].(map[string]any)
	if !ok || len(props) != 1 {
		return false
	}
	p, ok := props[prop].(map[string]any)
	if !ok || len(p) != 1 || p["const"] != true {
		return false
	}
	req, ok := c["required"].([]any)
	return ok && len(req) == 1 && req[0] == prop
}

// acctMergeInto merges the keywords of src into dst: keywords dst lacks are
// moved, "required" lists in both are joined. It changes nothing and
// returns true (a clash) when both have any other keyword.
func acctMergeInto(dst, src map[string]any) (clash bool) {
	for k, val := range src {
		d, ok := dst[k]
		if !ok {
			continue
		}
		_, dList := d.([]any)
		_, sList := val.([]any)
		if k != "required" || !dList || !sList {
			return true
		}
	}
	for k, val := range src {
		if _, ok := dst[k]; !ok {
			dst[k] = val
			continue
		}
		req := dst[k].([]any)
		for _, name := range val.([]any) {
			if !slices.Contains(req, name) {
				req = append(req, name)
			}
		}
		dst[k] = req
	}
	return false
}

// acctValidateChunk is how many records a validating goroutine takes at a
// time; groups smaller than two chunks are validated without goroutines.
const acctValidateChunk = 128

// checkGroup validates a group's records (inputs, at batch positions
// indexes) and returns each one's error from check, or nil for all when v
// is nil. Large groups are shared out in chunks among GOMAXPROCS goroutines,
// all finished before it returns: a batch of one group (a whole file read as
// one message) would otherwise be validated on one core.
func (v *acctValidator) checkGroup(obj concurapi.Object, indexes []int, inputs []concurapi.PackInput, packer *concurapi.Packer) []error {
	if v == nil {
		return nil
	}
	errs := make([]error, len(inputs))
	chunks := (len(inputs) + acctValidateChunk - 1) / acctValidateChunk
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers < 2 {
		for j, in := range inputs {
			errs[j] = v.check(obj, indexes[j], in, packer)
		}
		return errs
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c := int(next.Add(1)) - 1
				if c >= chunks {
					return
				}
				for j := c * acctValidateChunk; j < min((c+1)*acctValidateChunk, len(inputs)); j++ {
					errs[j] = v.check(obj, indexes[j], inputs[j], packer)
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

// check validates in, message index of its batch, as a record of obj. It
// returns nil for records it leaves to the packer: deletes (they need only
// their key) and records the packer rejects anyway (not a JSON object, no
// key), so that those keep the packer's error. Otherwise a failure is an
// error naming the record and every offending field, e.g.
//
//	record 3 (id "V9900004") rejected by schema vendor.json: currencyCode: does not match pattern '^[A-Z]{3}$'
func (v *acctValidator) check(obj concurapi.Object, index int, in concurapi.PackInput, packer *concurapi.Packer) error {
	if v == nil || in.Delete {
		return nil
	}
	key, deleted, err := packer.Key(in.Raw)
	if err != nil || deleted {
		return nil
	}
	s, ok := v.byObject[obj]
	if !ok {
		return nil
	}
	if err := s.compiled(); err != nil {
		return fmt.Errorf("validating record %d: %w", index, err)
	}
	doc := acctDecode(in.Raw)
	if s.wrap {
		doc = map[string]any{"data": []any{doc}}
	}
	c := s.variant(doc)
	res, err := c.schema.Validate(newAcctDocLoader(doc))
	if err != nil {
		return fmt.Errorf("validating record %d against schema %s: %w", index, s.name, err)
	}
	enumItems := acctCheckEnums(c.enums, doc)
	if res.Valid() && len(enumItems) == 0 {
		return nil
	}
	v.rejected.Incr(1, string(obj))
	keyField := concurapi.KeyFieldID
	if obj == concurapi.ObjectTaxData {
		keyField = concurapi.KeyFieldCountryCode
	}
	return fmt.Errorf("record %d (%s %q) rejected by schema %s: %s",
		index, keyField, key, s.name, acctSchemaReasons(res.Errors(), s.wrap, enumItems...))
}

// acctSchemaReasons formats a validator's errors as "field: reason" items
// ("reason" alone for the record itself, e.g. "name is required"), adds
// extra items (already formatted, see acctCheckEnums), sorts them (the
// validator's order depends on map iteration) and joins them by "; ".
// Messages keep their case, apart from the first letter of a reason that
// does not start with a property name, so that patterns and enum values
// read as the schema spells them (Benthos's json_schema lower-cases them).
// The summaries the validator adds for if/then/else and allOf are dropped
// when the errors they summarise are present.
func acctSchemaReasons(errs []gojsonschema.ResultError, unwrap bool, extra ...string) string {
	items := slices.Clone(extra)
	var summaries []string
	for _, e := range errs {
		prop, _ := e.Details()["property"].(string)
		item := acctReasonItem(e.Field(), e.Description(), prop, unwrap)
		switch e.Type() {
		case "condition_then", "condition_else", "number_all_of":
			summaries = append(summaries, item)
		default:
			items = append(items, item)
		}
	}
	if len(items) == 0 {
		items = summaries
	}
	slices.Sort(items)
	items = slices.Compact(items)
	if n := len(items); n > acctMaxSchemaErrors {
		items = append(items[:acctMaxSchemaErrors], fmt.Sprintf("and %d more", n-acctMaxSchemaErrors))
	}
	return strings.Join(items, "; ")
}

// acctReasonItem formats one validator error, of field (as
// ResultError.Field gives it), description desc and "property" detail prop,
// as an item of acctSchemaReasons.
func acctReasonItem(field, desc, prop string, unwrap bool) string {
	// Some reasons start with the field ("type must be one of…"):
	// it is named once, in front.
	desc = strings.TrimPrefix(desc, field+" ")
	if unwrap {
		field = strings.TrimPrefix(field, acctTaxFieldPrefix)
		field = strings.TrimPrefix(field, ".")
		if field == "" {
			field = "(root)"
		}
	}
	if prop == "" || !strings.HasPrefix(desc, prop) {
		desc = acctLowerFirst(desc)
	}
	if field == "(root)" {
		return desc
	}
	return field + ": " + desc
}

// acctLowerFirst lower-cases the first letter of s unless the second is
// upper case too (an acronym).
func acctLowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError || !unicode.IsUpper(r) {
		return s
	}
	if r2, _ := utf8.DecodeRuneInString(s[n:]); unicode.IsUpper(r2) {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}

// acctValidateFieldSpec is the spec of the validate field.
func acctValidateFieldSpec() *service.ConfigField {
	return service.NewBoolField(acctFieldValidate).
		Description("Check every record, before it is packed, against the JSON Schema of its object embedded in concurflow " +
			"(`account.json`, `vendor.json`, `list_name.json`; a tax data entry `e` is checked as the body `{\"data\":[e]}` against `tax_data.json`), " +
			"with the same validator as the `json_schema` processor. A record that fails is failed on its own before any request is made, " +
			"with an error naming the record and each offending field in the schema's own spelling " +
			"(`record 3 (id \"V9900004\") rejected by schema vendor.json: currencyCode: does not match pattern '^[A-Z]{3}$'`); the rest of the batch goes on. " +
			"Deletes are not checked (they need only their key), nor records the packer rejects anyway (not a JSON object, no key). " +
			"Validation decodes each record once more and walks it with the validator: about 3 to 10 µs of CPU per record (accounts cheapest, tax data entries dearest), " +
			"shared out over all cores for large batches: one core validates roughly 100k to 330k records/s, " +
			"far above one company's write quota (one 4 MB request per second, about 26k records of 150 bytes) but not above many companies' together. " +
			"Turn it off when the pipeline already runs `json_schema` with these schemas, or when the records are known good and CPU matters more than failing early; " +
			"Concur then rejects bad records only after accepting the request, which is seen only with `await: final`.").
		Default(true).
		Example(false)
}
