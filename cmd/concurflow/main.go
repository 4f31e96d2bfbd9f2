// Command concurflow is Benthos with every concurflow component registered,
// plus verbs for working with SAP Concur's Accounting Integration v4 API and
// its sandbox emulator.
package main

import (
	"context"

	"github.com/redpanda-data/benthos/v4/public/service"

	// Benthos core components (file, stdin/stdout, http_client, bloblang, …).
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	// Every concurflow component.
	_ "github.com/concurflow/concurflow/plugin"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

func main() {
	service.RunCLI(context.Background(),
		service.CLIOptSetBinaryName("concurflow"),
		service.CLIOptSetProductName("concurflow"),
		service.CLIOptSetVersion(Version, ""),
		service.CLIOptSetDocumentationURL("https://github.com/concurflow/concurflow/tree/main/docs"),
		service.CLIOptAddCommand(sandboxCommand()),
	)
}
