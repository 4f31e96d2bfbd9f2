// Package promtext registers concur_prometheus, a Benthos metrics exporter
// that serves every metric of a stream in the Prometheus text exposition
// format on the stream's HTTP server (`/metrics` and `/stats`), for
// Prometheus to scrape. It has no dependencies beyond Benthos: the core
// Benthos build that the concurflow binary is based on has only the
// json_api, logger and none exporters.
package promtext

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Name is the exporter's name in a config's `metrics` section.
const Name = "concur_prometheus"

func exporterSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Summary("Serves the stream's metrics in the Prometheus text exposition format at `/metrics` (and `/stats`) of the stream's HTTP server, for Prometheus to scrape.").
		Description(`
Counters are exposed as Prometheus counters, gauges as gauges and timers
(Benthos times in nanoseconds, e.g. `+"`output_latency_ns`"+`) as summaries
without quantiles: `+"`<name>_sum`"+` (nanoseconds) and `+"`<name>_count`"+`, so that
`+"`rate(x_sum[5m]) / rate(x_count[5m])`"+` is the mean. Characters a Prometheus
metric or label name cannot hold become `+"`_`"+`. Every series a stream has
touched is kept for its lifetime.

The endpoint is served by the stream's `+"`http`"+` server: bind it to a loopback
address (`+"`http.address: 127.0.0.1:4195`"+`) unless the scraper runs elsewhere.
It is a concurflow component (name prefixed `+"`concur_`"+`) so that it never
replaces Redpanda Connect's own `+"`prometheus`"+` exporter in a build that has both.`).
		Field(service.NewObjectField("").Default(map[string]any{})).
		Example("Scrape a pipeline", "Metrics and the HTTP server of every pipeline in pipelines/.", `
metrics:
  concur_prometheus: {}
http:
  address: 127.0.0.1:4195
`)
}

func init() {
	service.MustRegisterMetricsExporter(Name, exporterSpec(),
		func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) {
			return NewExporter(), nil
		})
}

// Exporter holds every metric family a stream registered and renders them.
// It is safe for concurrent use.
type Exporter struct {
	mu       sync.Mutex
	families map[string]*family
}

// NewExporter returns an empty exporter.
func NewExporter() *Exporter {
	return &Exporter{families: map[string]*family{}}
}

type kind string

const (
	kindCounter kind = "counter"
	kindGauge   kind = "gauge"
	kindTimer   kind = "summary"
)

// family is one metric name with its label names and series.
type family struct {
	name   string
	kind   kind
	labels []string
	series map[string]*series // by rendered label set; under Exporter.mu

	// byValues finds the series of label values already seen without
	// rendering them again: Benthos asks for the series on every Incr,
	// Set and Timing of a labelled metric (once per message for some).
	// The key is the values joined by valueSep.
	mu       sync.RWMutex
	byValues map[string]*series
}

// valueSep separates label values in family.byValues' keys. Values holding
// it are not cached (["a\xffb"] and ["a", "b"] would share a key); they are
// rendered every time, which is always right.
const valueSep byte = 0xff

// series is one label set of a family: value for counters and gauges,
// sum and count for timers.
type series struct {
	labels string // rendered: {a="x",b="y"} or empty
	value  atomic.Int64
	count  atomic.Int64
}

func (s *series) Incr(n int64)   { s.value.Add(n) }
func (s *series) Set(v int64)    { s.value.Store(v) }
func (s *series) Timing(d int64) { s.value.Add(d); s.count.Add(1) }

// lookup returns the family name of kind k, creating it when needed. A
// name registered before with another kind or other labels keeps its first
// registration; the later one gets a family of its own, suffixed with its
// kind, so that no exposition line is ambiguous.
func (e *Exporter) lookup(name string, k kind, labels []string) *family {
	name = sanitize(name)
	labels = slices.Clone(labels)
	for i, l := range labels {
		labels[i] = sanitize(l)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	f, ok := e.families[name]
	if ok && (f.kind != k || !slices.Equal(f.labels, labels)) {
		name = name + "_" + string(k)
		f, ok = e.families[name]
	}
	if !ok {
		f = &family{name: name, kind: k, labels: labels, series: map[string]*series{}, byValues: map[string]*series{}}
		e.families[name] = f
	}
	return f
}

// with returns the series of f with values (one per label), creating it.
func (e *Exporter) with(f *family, values []string) *series {
	var buf [256]byte
	vkey := buf[:0]
	for i, v := range values {
		if i > 0 {
			vkey = append(vkey, valueSep)
		}
		vkey = append(vkey, v...)
	}
	f.mu.RLock()
	s, ok := f.byValues[string(vkey)] // no allocation for the lookup
	f.mu.RUnlock()
	if ok {
		return s
	}

	var b strings.Builder
	if len(f.labels) > 0 {
		b.WriteByte('{')
		for i, l := range f.labels {
			if i > 0 {
				b.WriteByte(',')
			}
			v := ""
			if i < len(values) {
				v = values[i]
			}
			b.WriteString(l)
			b.WriteString(`="`)
			b.WriteString(escapeLabel(v))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	key := b.String()
	e.mu.Lock()
	s, ok = f.series[key]
	if !ok {
		s = &series{labels: key}
		f.series[key] = s
	}
	e.mu.Unlock()
	// Values that differ only in the separator render differently, so
	// only values without it are cached.
	for _, v := range values {
		if strings.IndexByte(v, valueSep) >= 0 {
			return s
		}
	}
	f.mu.Lock()
	f.byValues[string(vkey)] = s
	f.mu.Unlock()
	return s
}

// NewCounterCtor implements service.MetricsExporter.
func (e *Exporter) NewCounterCtor(name string, labelKeys ...string) service.MetricsExporterCounterCtor {
	f := e.lookup(name, kindCounter, labelKeys)
	return func(values ...string) service.MetricsExporterCounter { return e.with(f, values) }
}

// NewTimerCtor implements service.MetricsExporter.
func (e *Exporter) NewTimerCtor(name string, labelKeys ...string) service.MetricsExporterTimerCtor {
	f := e.lookup(name, kindTimer, labelKeys)
	return func(values ...string) service.MetricsExporterTimer { return e.with(f, values) }
}

// NewGaugeCtor implements service.MetricsExporter.
func (e *Exporter) NewGaugeCtor(name string, labelKeys ...string) service.MetricsExporterGaugeCtor {
	f := e.lookup(name, kindGauge, labelKeys)
	return func(values ...string) service.MetricsExporterGauge { return e.with(f, values) }
}

// Close implements service.MetricsExporter.
func (e *Exporter) Close(context.Context) error { return nil }

// HandlerFunc serves the exposition; Benthos mounts it at /metrics and
// /stats of the stream's HTTP server.
func (e *Exporter) HandlerFunc() http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = e.Write(w)
	}
}

// Write renders every family, sorted by name and label set, in the text
// exposition format.
func (e *Exporter) Write(w io.Writer) error {
	e.mu.Lock()
	names := make([]string, 0, len(e.families))
	for n := range e.families {
		names = append(names, n)
	}
	slices.Sort(names)
	type snap struct {
		f      *family
		series []*series
	}
	snaps := make([]snap, 0, len(names))
	for _, n := range names {
		f := e.families[n]
		ss := make([]*series, 0, len(f.series))
		for _, s := range f.series {
			ss = append(ss, s)
		}
		slices.SortFunc(ss, func(a, b *series) int { return strings.Compare(a.labels, b.labels) })
		snaps = append(snaps, snap{f, ss})
	}
	e.mu.Unlock()

	var b strings.Builder
	for _, s := range snaps {
		if len(s.series) == 0 {
			continue
		}
		fmt.Fprintf(&b, "# TYPE %s %s\n", s.f.name, s.f.kind)
		for _, se := range s.series {
			if s.f.kind == kindTimer {
				fmt.Fprintf(&b, "%s_sum%s %d\n", s.f.name, se.labels, se.value.Load())
				fmt.Fprintf(&b, "%s_count%s %d\n", s.f.name, se.labels, se.count.Load())
				continue
			}
			fmt.Fprintf(&b, "%s%s %d\n", s.f.name, se.labels, se.value.Load())
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// sanitize maps a name onto [a-zA-Z_:][a-zA-Z0-9_:]*.
func sanitize(name string) string {
	var b strings.Builder
	for i, r := range name {
		ok := r == '_' || r == ':' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// labelEscaper escapes a label value as the text format requires. A
// strings.Replacer is immutable once built and safe for concurrent use;
// building one per call cost a sixth of kafka_to_concur's CPU.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// escapeLabel escapes a label value as the text format requires.
func escapeLabel(v string) string {
	return labelEscaper.Replace(v)
}
