// Package plugin registers every concurflow Benthos component. Import it for
// its side effects into any Benthos or Redpanda Connect build:
//
//	import _ "github.com/concurflow/concurflow/plugin"
package plugin
