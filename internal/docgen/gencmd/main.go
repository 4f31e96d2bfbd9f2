// Command gencmd writes concurflow's component reference pages. Run it
// through `go generate ./docs`.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/internal/docgen"
	_ "github.com/concurflow/concurflow/plugin"
)

func main() {
	out := flag.String("out", "components", "directory to write the pages into")
	flag.Parse()
	pages, err := docgen.Render(service.GlobalEnvironment())
	if err == nil {
		err = docgen.Write(*out, docgen.Files(pages))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
	fmt.Printf("docgen: wrote %d component pages to %s\n", len(pages), *out)
}
