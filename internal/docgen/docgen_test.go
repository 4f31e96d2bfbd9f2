package docgen

import (
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func TestRenderDocumentsEveryFieldOfAProjectComponent(t *testing.T) {
	env := service.NewEmptyEnvironment()
	spec := service.NewConfigSpec().
		Summary("Reads test things.").
		Description("A longer description.").
		Field(service.NewStringField("address").Description("Where to listen.").Default("127.0.0.1:0").Example("0.0.0.0:8080")).
		Field(service.NewStringField("password").Description("A password.").Secret().Default("")).
		Field(service.NewInterpolatedStringField("company_id").Description("The company."))
	ctor := func(*service.ParsedConfig, *service.Resources) (service.Input, error) { return nil, nil }
	if err := env.RegisterInput("concur_test", spec, ctor); err != nil {
		t.Fatal(err)
	}
	if err := env.RegisterInput("not_ours", service.NewConfigSpec(), ctor); err != nil {
		t.Fatal(err)
	}
	pages, err := Render(env)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 1 || pages[0].Name != "concur_test" || pages[0].Kind != "input" {
		t.Fatalf("want one page for concur_test, got %+v", pages)
	}
	body := string(pages[0].Body)
	for _, want := range []string{
		"# `concur_test` (input)", "Reads test things.", "A longer description.",
		"### `address`", "Where to listen.", "Default: `\"127.0.0.1:0\"`", "0.0.0.0:8080",
		"### `password`", "contains sensitive information",
		"### `company_id`", "supports interpolation",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	index := string(Index(pages))
	if !strings.Contains(index, "[`concur_test`](inputs/concur_test.md)") {
		t.Errorf("index lacks the page link:\n%s", index)
	}
}
