// Package docs holds concurflow's written documentation. The component
// reference under components/ is generated from the config specs:
//
//	go generate ./docs
//
// and TestComponentDocsUpToDate fails when it is stale.
package docs

//go:generate go run github.com/concurflow/concurflow/internal/docgen/gencmd -out components
