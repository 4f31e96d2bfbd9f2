//go:build tools

// This file pins modules that concurflow's packages are being built on, so
// that `go mod tidy` keeps them while those packages land. It is never built.
package concurflow

import (
	_ "github.com/google/uuid"
	_ "github.com/parquet-go/parquet-go"
	_ "github.com/segmentio/kafka-go"
	_ "github.com/segmentio/kafka-go/sasl/plain"
	_ "github.com/segmentio/kafka-go/sasl/scram"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "github.com/twmb/franz-go/pkg/kgo"
	_ "github.com/xitongsys/parquet-go-source/local"
	_ "github.com/xitongsys/parquet-go/reader"
	_ "github.com/xitongsys/parquet-go/writer"
	_ "golang.org/x/oauth2"
)
