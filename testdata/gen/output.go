package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/xitongsys/parquet-go/writer"
)

func formatPct(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// ndjson encodes records one JSON object per line, without HTML escaping
// (names such as "Research & Development" stay readable).
func ndjson[T any](records []T) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i, r := range records {
		if err := enc.Encode(r); err != nil {
			return nil, fmt.Errorf("encoding record %d: %w", i, err)
		}
	}
	return buf.Bytes(), nil
}

// csvTable encodes a header row and the rows, LF line endings.
func csvTable(columns []string, rows [][]string) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(columns); err != nil {
		return nil, err
	}
	if err := w.WriteAll(rows); err != nil {
		return nil, fmt.Errorf("writing CSV: %w", err)
	}
	return buf.Bytes(), nil
}

// parquetTable encodes rows as a snappy-compressed Parquet file whose
// columns are all optional UTF-8 strings; empty cells are written as null.
func parquetTable(columns []string, rows [][]string) ([]byte, error) {
	type field struct {
		Tag string `json:"Tag"`
	}
	schema := struct {
		Tag    string  `json:"Tag"`
		Fields []field `json:"Fields"`
	}{Tag: "name=parquet_go_root, repetitiontype=REQUIRED"}
	for _, c := range columns {
		schema.Fields = append(schema.Fields, field{Tag: "name=" + c + ", type=BYTE_ARRAY, convertedtype=UTF8, repetitiontype=OPTIONAL"})
	}
	schemaJSON, err := json.Marshal(schema)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	pw, err := writer.NewJSONWriterFromWriter(string(schemaJSON), &buf, 1)
	if err != nil {
		return nil, fmt.Errorf("creating Parquet writer: %w", err)
	}
	for i, row := range rows {
		obj := make(map[string]string, len(columns))
		for j, v := range row {
			if v != "" {
				obj[columns[j]] = v
			}
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		if err := pw.Write(string(b)); err != nil {
			return nil, fmt.Errorf("writing Parquet row %d: %w", i, err)
		}
	}
	if err := pw.WriteStop(); err != nil {
		return nil, fmt.Errorf("finishing Parquet file: %w", err)
	}
	return buf.Bytes(), nil
}

func rowsOf[T any](records []T, row func(T) []string) [][]string {
	out := make([][]string, len(records))
	for i, r := range records {
		out[i] = row(r)
	}
	return out
}

func recordsOf[T any](bad []invalid[T]) []T {
	out := make([]T, len(bad))
	for i, b := range bad {
		out[i] = b.Record
	}
	return out
}
