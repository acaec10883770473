package tsdbtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var victoriaMetrics = kind{
	name: "victoria-metrics",
	bin:  "victoria-metrics",
	args: func(s *Server) []string {
		return []string{
			"-storageDataPath=" + s.dir + "/data",
			"-httpListenAddr=127.0.0.1:" + strconv.Itoa(s.port),
			"-retentionPeriod=100y",
			// Fresh imports must be visible at once: no response cache and
			// no hiding of the newest points.
			"-search.disableCache",
			"-search.latencyOffset=0s",
			"-loggerLevel=ERROR",
			"-memory.allowedPercent=20",
		}
	},
	ready: "/health",
}

// StartVictoriaMetrics starts an empty VictoriaMetrics, stopped in tb.Cleanup.
func StartVictoriaMetrics(tb testing.TB) *Server {
	tb.Helper()
	s := start(tb, victoriaMetrics)
	s.imported = map[string]struct{}{}
	return s
}

// Import writes data into the store; on return queries see all of it.
//
// VictoriaMetrics: /api/v1/import, then /internal/force_flush, then it waits
// until a count query sees every imported sample (the newest are not
// searchable for up to about a second after the flush otherwise).
// VictoriaMetrics drops NaN values on import and stores values with about 12
// significant digits relative to the series' other values.
//
// Prometheus: stop, backfill with promtool, start again (same URL).
func (s *Server) Import(tb testing.TB, data []Sample) {
	tb.Helper()
	if err := validate(data); err != nil {
		tb.Fatalf("tsdbtest: import: %v", err)
	}
	if s.kind.name == prometheus.name {
		s.Stop(tb)
		if err := backfill(s, data); err != nil {
			tb.Fatalf("tsdbtest: %v", err)
		}
		s.Start(tb)
		return
	}
	ctx := tb.Context()
	var body bytes.Buffer
	for _, d := range data {
		writeImportLine(&body, d)
	}
	if err := s.post(ctx, "/api/v1/import", &body); err != nil {
		tb.Fatalf("tsdbtest: import: %v", err)
	}
	if err := s.post(ctx, "/internal/force_flush", nil); err != nil {
		tb.Fatalf("tsdbtest: force flush: %v", err)
	}
	var minT, maxT int64 = math.MaxInt64, math.MinInt64
	for _, d := range data {
		key := seriesKey(d.Labels)
		for i, t := range d.Timestamps {
			if !math.IsNaN(d.Values[i]) {
				s.imported[key+"@"+strconv.FormatInt(t, 10)] = struct{}{}
			}
			minT, maxT = min(minT, t), max(maxT, t)
		}
	}
	if minT > maxT {
		return // nothing imported
	}
	if err := s.waitVisible(ctx, 10*time.Second); err != nil {
		tb.Fatalf("tsdbtest: import: %v", err)
	}
}

func validate(data []Sample) error {
	for i, d := range data {
		if d.Labels["__name__"] == "" {
			return fmt.Errorf("sample %d: no __name__ label", i)
		}
		if len(d.Timestamps) != len(d.Values) {
			return fmt.Errorf("sample %d (%s): %d timestamps but %d values", i, seriesKey(d.Labels), len(d.Timestamps), len(d.Values))
		}
		for _, t := range d.Timestamps {
			if t < 0 {
				return fmt.Errorf("sample %d (%s): negative timestamp %d", i, seriesKey(d.Labels), t)
			}
		}
	}
	return nil
}

// seriesKey is a canonical text form of a label set, {a="1",b="2"}.
func seriesKey(labels map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(labels[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// writeImportLine writes one series as a line of VictoriaMetrics' JSON import
// format. JSON has no NaN or infinities; the import parser accepts them bare.
func writeImportLine(w *bytes.Buffer, d Sample) {
	metric, _ := json.Marshal(d.Labels) // a map[string]string always marshals
	w.WriteString(`{"metric":`)
	w.Write(metric)
	w.WriteString(`,"values":[`)
	for i, v := range d.Values {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(formatValue(v))
	}
	w.WriteString(`],"timestamps":[`)
	for i, t := range d.Timestamps {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(strconv.FormatInt(t, 10))
	}
	w.WriteString("]}\n")
}

// formatValue writes a float the way both VictoriaMetrics' import and the
// OpenMetrics parser read it.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func (s *Server) post(ctx context.Context, path string, body io.Reader) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+path, body)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s: %s", path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// waitVisible polls until a count over all time sees every imported sample.
func (s *Server) waitVisible(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	want := len(s.imported)
	for {
		got, err := s.countSamples(ctx)
		if err == nil && got == want {
			return nil
		}
		if err == nil && got > want {
			return fmt.Errorf("%s holds %d samples, more than the %d imported", s.URL(), got, want)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %d of %d imported samples visible after %s (last error: %v)", s.URL(), got, want, limit, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// countSamples counts the stored samples of every series with the export API,
// which returns raw samples (a count query would depend on lookback rules).
func (s *Server) countSamples(ctx context.Context) (int, error) {
	q := url.Values{"match[]": {`{__name__!=""}`}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/api/v1/export",
		strings.NewReader(q.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("export: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	// Values may hold +Inf, which is not JSON: read only the timestamps,
	// the last field of each line.
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 64<<20)
	n := 0
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		i := bytes.LastIndex(line, []byte(`"timestamps":`))
		if len(line) == 0 || i < 0 {
			continue
		}
		var ts []int64
		if err := json.Unmarshal(bytes.TrimSuffix(line[i+len(`"timestamps":`):], []byte("}")), &ts); err != nil {
			return 0, fmt.Errorf("export: %w", err)
		}
		n += len(ts)
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	return n, nil
}
