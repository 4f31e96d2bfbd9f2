// Package pipelines holds ready-to-run concurflow pipeline configurations
// (the *.yaml files of this directory) and embeds them, so that programs
// such as `concurflow demo` run exactly the files users copy.
//
// Every file reads its settings from environment variables with defaults
// (`${CONCUR_URL:…}`), named like the `export` lines `concurflow sandbox`
// prints. See README.md for what each pipeline does.
package pipelines

import "embed"

// FS holds every pipeline configuration of this directory by file name,
// for example "file_drop_accounts.yaml".
//
//go:embed *.yaml
var FS embed.FS
