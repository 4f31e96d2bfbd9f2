package pipelines

import (
	"fmt"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// NewStreamBuilder returns a Benthos stream builder holding the pipeline
// file name of FS, its `${VAR}` references resolved with lookup (variables
// lookup does not know take their defaults). Set a logger on the builder
// before Build if the default one does not suit. The components the
// pipeline names must be registered, e.g. by importing
// github.com/concurflow/concurflow/plugin and Benthos's io and pure
// component packages.
func NewStreamBuilder(name string, lookup func(string) (string, bool)) (*service.StreamBuilder, error) {
	conf, err := FS.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading pipeline %s: %w", name, err)
	}
	b := service.NewStreamBuilder()
	b.SetEnvVarLookupFunc(lookup)
	if err := b.SetYAML(string(conf)); err != nil {
		return nil, fmt.Errorf("parsing pipeline %s: %w", name, err)
	}
	return b, nil
}
