// Package schematest validates JSON documents with the concurflow schemas
// through Benthos core's json_schema processor, exactly as a pipeline would.
// It exists for tests (of schemas, testdata and the components that
// pre-validate records) and is not meant for production code paths.
package schematest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	// Registers the core json_schema processor.
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/concurflow/concurflow/schemas"
)

const procField = "processor"

// Validator is a json_schema processor loaded with one embedded schema.
// It is safe for sequential use; Close releases it.
type Validator struct {
	name string
	proc *service.OwnedProcessor
}

// New builds a Validator for the named schema (one of the schemas name
// constants), passing the schema text inline as the json_schema `schema`
// field, as a component embedding the schemas would.
func New(name string) (*Validator, error) {
	text, err := schemas.Schema(name)
	if err != nil {
		return nil, err
	}
	return newValidator(name, map[string]any{"schema": string(text)})
}

// NewT is New for tests: it fails tb on error and closes the Validator
// when the test ends.
func NewT(tb testing.TB, name string) *Validator {
	tb.Helper()
	v, err := New(name)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := v.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return v
}

func newValidator(name string, conf map[string]any) (*Validator, error) {
	// JSON is valid YAML, so the schema text needs no YAML escaping.
	yamlConf, err := json.Marshal(map[string]any{procField: map[string]any{"json_schema": conf}})
	if err != nil {
		return nil, fmt.Errorf("encoding json_schema config for %s: %w", name, err)
	}
	spec := service.NewConfigSpec().Field(service.NewProcessorField(procField))
	parsed, err := spec.ParseYAML(string(yamlConf), nil)
	if err != nil {
		return nil, fmt.Errorf("parsing json_schema config for %s: %w", name, err)
	}
	proc, err := parsed.FieldProcessor(procField)
	if err != nil {
		return nil, fmt.Errorf("building json_schema processor for %s: %w", name, err)
	}
	return &Validator{name: name, proc: proc}, nil
}

// Validate runs docs through the processor as one batch and returns, per
// document and in order, nil if it is valid or the processor's error.
func (v *Validator) Validate(ctx context.Context, docs ...[]byte) ([]error, error) {
	batch := make(service.MessageBatch, len(docs))
	for i, d := range docs {
		batch[i] = service.NewMessage(d)
	}
	out, err := v.proc.ProcessBatch(ctx, batch)
	if err != nil {
		return nil, fmt.Errorf("validating with %s: %w", v.name, err)
	}
	var msgs service.MessageBatch
	for _, b := range out {
		msgs = append(msgs, b...)
	}
	if len(msgs) != len(docs) {
		return nil, fmt.Errorf("validating with %s: %d documents in, %d out", v.name, len(docs), len(msgs))
	}
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		errs[i] = m.GetError()
	}
	return errs, nil
}

// Close releases the processor.
func (v *Validator) Close(ctx context.Context) error {
	return v.proc.Close(ctx)
}
