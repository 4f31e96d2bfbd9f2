package plugin_test

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/concurflow/concurflow/plugin"
)

// TestEveryComponentIsRegistered guards the one promise of this package: a
// blank import registers every concurflow component under its own name.
func TestEveryComponentIsRegistered(t *testing.T) {
	env := service.GlobalEnvironment()
	want := []struct {
		kind string
		name string
		get  func(string) (*service.ConfigView, bool)
	}{
		{"input", "concur_events", env.GetInputConfig},
		{"input", "kafka_go", env.GetInputConfig},
		{"output", "concur_accounting", env.GetOutputConfig},
		{"output", "concur_list_items", env.GetOutputConfig},
		{"output", "kafka_go", env.GetOutputConfig},
		{"processor", "concur_request_errors", env.GetProcessorConfig},
		{"processor", "concur_mappings", env.GetProcessorConfig},
		{"scanner", "parquet_rows", env.GetScannerConfig},
		{"scanner", "concur_lines", env.GetScannerConfig},
		{"metrics", "concur_prometheus", env.GetMetricsConfig},
	}
	for _, w := range want {
		view, ok := w.get(w.name)
		if !ok {
			t.Errorf("%s %q is not registered", w.kind, w.name)
			continue
		}
		if view.Summary() == "" || view.Description() == "" {
			t.Errorf("%s %q lacks a summary or description", w.kind, w.name)
		}
	}
}
