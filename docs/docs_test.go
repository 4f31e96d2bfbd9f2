package docs_test

import (
	"bytes"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/internal/docgen"
	_ "github.com/concurflow/concurflow/plugin"
)

// TestComponentDocsUpToDate fails when docs/components no longer matches the
// components' config specs.
func TestComponentDocsUpToDate(t *testing.T) {
	pages, err := docgen.Render(service.GlobalEnvironment())
	if err != nil {
		t.Fatal(err)
	}
	want := docgen.Files(pages)
	got, err := docgen.Existing("components")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range want {
		if !bytes.Equal(got[name], body) {
			t.Errorf("docs/components/%s is stale or missing: run `go generate ./docs`", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("docs/components/%s documents a component that no longer exists: run `go generate ./docs`", name)
		}
	}
}
