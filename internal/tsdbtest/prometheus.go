package tsdbtest

import (
	"bufio"
	"cmp"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var prometheus = kind{
	name: "prometheus",
	bin:  "prometheus",
	args: func(s *Server) []string {
		return []string{
			"--config.file=" + filepath.Join(s.dir, "prometheus.yml"),
			"--storage.tsdb.path=" + filepath.Join(s.dir, "data"),
			"--web.listen-address=127.0.0.1:" + strconv.Itoa(s.port),
			// Backfilled data may be old; keep all of it.
			"--storage.tsdb.retention.time=100y",
			"--log.level=warn",
		}
	},
	ready: "/-/ready",
	setup: func(tb testing.TB, s *Server) error {
		// No scrape jobs: the store holds exactly the backfilled data.
		return os.WriteFile(filepath.Join(s.dir, "prometheus.yml"), []byte("global: {}\n"), 0o644)
	},
}

// StartPrometheus starts a Prometheus whose TSDB holds data, stopped in
// tb.Cleanup. The data is backfilled before the start (promtool tsdb
// create-blocks-from openmetrics), so it is queryable once this returns; it
// may lie anywhere in time, including the last minutes and the future (blocks
// may overlap: Prometheus 2.39+ merges overlapping blocks).
func StartPrometheus(tb testing.TB, data []Sample) *Server {
	tb.Helper()
	if err := validate(data); err != nil {
		tb.Fatalf("tsdbtest: prometheus: %v", err)
	}
	k := prometheus
	promtool := lookup(tb, "promtool")
	k.setup = func(tb testing.TB, s *Server) error {
		if err := prometheus.setup(tb, s); err != nil {
			return err
		}
		s.promtool = promtool
		return backfill(s, data)
	}
	return start(tb, k)
}

// backfill writes data as TSDB blocks into the data dir of a stopped server.
func backfill(s *Server, data []Sample) error {
	if len(data) == 0 {
		return nil
	}
	in := filepath.Join(s.dir, "backfill.om")
	if err := writeOpenMetrics(in, data); err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	defer os.Remove(in)
	cmd := exec.Command(s.promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", in, filepath.Join(s.dir, "data"))
	cmd.Dir = s.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("backfill: promtool: %w\n%s", err, out)
	}
	return nil
}

// writeOpenMetrics writes data as OpenMetrics text: the series of a metric
// together (a metric family), and each series once with its samples in time
// order, because the backfiller appends them in file order and rejects
// out-of-order samples. Several Samples with one label set are merged.
func writeOpenMetrics(path string, data []Sample) (err error) {
	type point struct {
		t int64
		v float64
	}
	type merged struct {
		name, labels string
		points       []point
	}
	byKey := map[string]*merged{}
	for _, d := range data {
		k := seriesKey(d.Labels)
		m := byKey[k]
		if m == nil {
			m = &merged{name: d.Labels["__name__"], labels: openMetricsLabels(d.Labels)}
			byKey[k] = m
		}
		for i, t := range d.Timestamps {
			m.points = append(m.points, point{t, d.Values[i]})
		}
	}
	series := slices.SortedFunc(maps.Values(byKey), func(a, b *merged) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.labels, b.labels))
	})

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriter(f)
	for _, s := range series {
		slices.SortStableFunc(s.points, func(a, b point) int { return cmp.Compare(a.t, b.t) })
		for i, p := range s.points {
			if i+1 < len(s.points) && s.points[i+1].t == p.t {
				continue // a duplicate timestamp: the later sample wins, as in a store
			}
			fmt.Fprintf(w, "%s %s %d.%03d\n", s.labels, formatValue(p.v), p.t/1000, p.t%1000)
		}
	}
	w.WriteString("# EOF\n")
	return w.Flush()
}

// openMetricsLabels renders name{k="v",...} with OpenMetrics escaping.
func openMetricsLabels(labels map[string]string) string {
	var b strings.Builder
	b.WriteString(labels["__name__"])
	first := true
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if k == "__name__" {
			continue
		}
		if first {
			b.WriteByte('{')
			first = false
		} else {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteString(`="`)
		b.WriteString(escaper.Replace(labels[k]))
		b.WriteByte('"')
	}
	if !first {
		b.WriteByte('}')
	}
	return b.String()
}

var escaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
