// Package plugin registers every concurflow Benthos component. Import it for
// its side effects into any Benthos or Redpanda Connect build:
//
//	import _ "github.com/concurflow/concurflow/plugin"
//
// Components: the concur_accounting and concur_list_items outputs, the
// concur_events input and the concur_request_errors / concur_mappings
// processors (plugin/concur), the kafka_go input and output
// (plugin/kafkago), the parquet_rows scanner (plugin/parquet), the
// concur_lines scanner (plugin/ndjson) and the concur_prometheus metrics
// exporter (plugin/promtext). Every name is distinct from Redpanda Connect's, so
// importing this package never replaces another component.
package plugin

import (
	_ "github.com/concurflow/concurflow/plugin/concur"
	_ "github.com/concurflow/concurflow/plugin/kafkago"
	_ "github.com/concurflow/concurflow/plugin/ndjson"
	_ "github.com/concurflow/concurflow/plugin/parquet"
	_ "github.com/concurflow/concurflow/plugin/promtext"
)
