package store

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gohere/gohere"
)

// DORA is the four keys of a window, from what gohere records. A key
// without data (no deploy finished, no commit time, no restore) is nil:
// unknown, not zero.
type DORA struct {
	Service string    `json:"service,omitempty"` // "" for all
	Env     string    `json:"env,omitempty"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	// Deployments started in the window, and per day.
	Deployments   int     `json:"deployments"`
	DeploysPerDay float64 `json:"deploys_per_day"`
	// LeadTimeSeconds is the median of commit → deploy start, over the
	// deploys that carry a commit time (LeadTimeSamples).
	LeadTimeSeconds *float64 `json:"lead_time_seconds"`
	LeadTimeSamples int      `json:"lead_time_samples"`
	// LeadTimeApproximate: over more than 10,000 samples the median is
	// read from daily histograms, within 1.1 %.
	LeadTimeApproximate bool `json:"lead_time_approximate,omitempty"`
	// ChangeFailureRate is FailedChanges / FinishedChanges: deploys that
	// finished in the window halted, rolled back or failed, or that a
	// critical alert correlates with (rank 1).
	ChangeFailureRate *float64 `json:"change_failure_rate"`
	FailedChanges     int      `json:"failed_changes"`
	FinishedChanges   int      `json:"finished_changes"`
	// TimeToRestoreSeconds is the median of start → resolution of the
	// correlated alerts that started and resolved in the window (Restores).
	TimeToRestoreSeconds *float64 `json:"time_to_restore_seconds"`
	Restores             int      `json:"restores"`
}

// DORA computes the four keys of the deploys of service in env ("" for
// any) between since and until.
func (db *DB) DORA(ctx context.Context, service, env string, since, until time.Time) (_ DORA, err error) {
	if err := checkFilter("service", service, "env", env); err != nil {
		return DORA{}, err
	}
	if !until.After(since) {
		return DORA{}, gohere.Errorf(gohere.Invalid, "DORA window: until %s is not after since %s", until.Format(time.RFC3339), since.Format(time.RFC3339))
	}
	ctx, span := db.start(ctx, "DORA", attribute.String("gohere.service", service), attribute.String("gohere.env", env))
	defer func() { end(span, err) }()
	k := DORA{Service: service, Env: env, Since: since, Until: until}
	// scope is the service/env condition on table alias d, from $3 on.
	scope, args := "", []any{toDB(since), toDB(until)}
	for _, f := range []struct{ col, v string }{{"service", service}, {"env", env}} {
		if f.v != "" {
			args = append(args, f.v)
			scope += " AND d." + f.col + " = $" + strconv.Itoa(len(args))
		}
	}
	q := db.read
	w := splitDays(toDB(since), toDB(until))
	// sum adds up counts from the rollups' whole days (rollup: $1 and $2 are
	// the first and end day) and from the deploys of the partial days (raw:
	// $1 and $2 are the part's bounds).
	sum := func(what, rollup, raw string, dest ...*int) error {
		for i, part := range append([][2]int64{{w.first, w.end}}, w.edges...) {
			query := raw
			if i == 0 {
				query = rollup
			}
			got := make([]any, len(dest))
			vals := make([]int64, len(dest))
			for j := range vals {
				got[j] = &vals[j]
			}
			if err := q.QueryRowContext(ctx, query, append([]any{part[0], part[1]}, args[2:]...)...).Scan(got...); err != nil {
				return dbError(err, "DORA: "+what)
			}
			for j, v := range vals {
				*dest[j] += int(v)
			}
		}
		return nil
	}
	if err := sum("deployments", `SELECT COALESCE(SUM(d.started), 0) FROM dora_daily d WHERE d.day >= $1 AND d.day < $2`+scope,
		`SELECT COUNT(*) FROM deploys d WHERE d.started_at >= $1 AND d.started_at < $2`+scope, &k.Deployments); err != nil {
		return DORA{}, err
	}
	k.DeploysPerDay = float64(k.Deployments) / (float64(until.Sub(since)) / float64(24*time.Hour))

	if err := db.leadTime(ctx, &k, w, scope, args); err != nil {
		return DORA{}, err
	}

	failed := strings.Join([]string{`'` + string(gohere.StatusHalted) + `'`, `'` + string(gohere.StatusRolledBack) + `'`,
		`'` + string(gohere.StatusFailed) + `'`}, ", ")
	if err := sum("change failures", `SELECT COALESCE(SUM(d.finished), 0), COALESCE(SUM(d.failed), 0)
		FROM dora_daily d WHERE d.day >= $1 AND d.day < $2`+scope,
		`SELECT COUNT(*), COALESCE(SUM(CASE WHEN d.status IN (`+failed+`) THEN 1 ELSE 0 END), 0)
		FROM deploys d WHERE d.finished_at >= $1 AND d.finished_at < $2`+scope, &k.FinishedChanges, &k.FailedChanges); err != nil {
		return DORA{}, err
	}
	// Plus the deploys that ended well but a critical alert blames: found
	// from the alerts, which are few, not by probing every deploy.
	var alerted int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(DISTINCT d.id) FROM alerts a
		JOIN alert_correlations c ON c.alert_id = a.id AND c.rank = 1 JOIN deploys d ON d.id = c.deploy_id
		WHERE a.critical AND a.starts_at >= $1 AND d.finished_at >= $1 AND d.finished_at < $2 AND d.status NOT IN (`+failed+`)`+scope,
		args...).Scan(&alerted); err != nil {
		return DORA{}, dbError(err, "DORA: alerted changes")
	}
	k.FailedChanges += alerted
	if k.FinishedChanges > 0 {
		r := float64(k.FailedChanges) / float64(k.FinishedChanges)
		k.ChangeFailureRate = &r
	}

	restores, err := durations(ctx, q, `SELECT a.ends_at - a.starts_at FROM alerts a
		JOIN alert_correlations c ON c.alert_id = a.id AND c.rank = 1 JOIN deploys d ON d.id = c.deploy_id
		WHERE a.starts_at >= $1 AND a.starts_at < $2 AND a.ends_at IS NOT NULL`+scope, args...)
	if err != nil {
		return DORA{}, err
	}
	k.TimeToRestoreSeconds, k.Restores = median(restores), len(restores)
	return k, nil
}

// exactLeadSamples is the most lead times DORA reads one by one for an
// exact median; beyond, it takes the median of the daily histograms (within
// 1.1 %), which costs the same for a thousand deploys a day as for ten.
var exactLeadSamples = 10_000

// leadTime sets the lead-time keys of k: the median of commit → start of
// the deploys started in w that carry a commit time.
func (db *DB) leadTime(ctx context.Context, k *DORA, w window, scope string, args []any) error {
	q := db.read
	rawSQL := `SELECT d.started_at - d.commit_time FROM deploys d
		WHERE d.started_at >= $1 AND d.started_at < $2 AND d.commit_time IS NOT NULL` + scope
	onDays := append([]any{w.first, w.end}, args[2:]...)
	var fromDays int64
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(d.n), 0) FROM dora_lead d WHERE d.day >= $1 AND d.day < $2`+scope,
		onDays...).Scan(&fromDays); err != nil {
		return dbError(err, "DORA: lead time samples")
	}
	var edges []float64
	for _, part := range w.edges {
		leads, err := durations(ctx, q, rawSQL, append([]any{part[0], part[1]}, args[2:]...)...)
		if err != nil {
			return err
		}
		edges = append(edges, leads...)
	}
	k.LeadTimeSamples = int(fromDays) + len(edges)
	if k.LeadTimeSamples <= exactLeadSamples {
		leads := edges
		if fromDays > 0 {
			var err error
			if leads, err = durations(ctx, q, rawSQL, args...); err != nil {
				return err
			}
		}
		k.LeadTimeSeconds, k.LeadTimeSamples = median(leads), len(leads)
		return nil
	}
	rows, err := q.QueryContext(ctx, `SELECT d.bucket, SUM(d.n) FROM dora_lead d WHERE d.day >= $1 AND d.day < $2`+scope+`
		GROUP BY d.bucket`, onDays...)
	if err != nil {
		return dbError(err, "DORA: lead time histogram")
	}
	counts, err := collect(rows, "DORA: lead time histogram", func(s scanner) ([2]int64, error) {
		var c [2]int64
		return c, s.Scan(&c[0], &c[1])
	})
	if err != nil {
		return err
	}
	for _, l := range edges {
		counts = append(counts, [2]int64{int64(leadBucket(l)), 1})
	}
	m := histogramMedian(counts)
	k.LeadTimeSeconds, k.LeadTimeApproximate = &m, true
	return nil
}

// leadBucketsPerDoubling is the resolution of the lead-time histograms
// (dora_lead; its migration computes the same buckets).
const leadBucketsPerDoubling = 32

// leadBucket is the histogram bucket of a lead time in seconds.
func leadBucket(seconds float64) int {
	return int(math.Floor(leadBucketsPerDoubling * math.Log2(max(seconds, 1))))
}

// histogramMedian is the middle of the bucket that holds the median of the
// (bucket, count) pairs, buckets in any order and repeated.
func histogramMedian(counts [][2]int64) float64 {
	slices.SortFunc(counts, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	var total int64
	for _, c := range counts {
		total += c[1]
	}
	seen := int64(0)
	for _, c := range counts {
		if seen += c[1]; 2*seen > total {
			return math.Exp2((float64(c[0]) + 0.5) / leadBucketsPerDoubling)
		}
	}
	return math.NaN() // unreachable with total > 0
}

// window is a DORA window cut into the whole UTC days the rollups answer
// ([first, end) in day numbers, empty when first == end) and the partial
// days at its ends, in microseconds, that only the deploys can answer.
type window struct {
	first, end int64
	edges      [][2]int64
}

// dayMicros is a day in the database's time unit; a day number is a time
// divided by it, as in the rollups' migration.
const dayMicros = int64(24 * time.Hour / time.Microsecond)

func splitDays(since, until int64) window {
	first, end := (since+dayMicros-1)/dayMicros, until/dayMicros
	if first >= end {
		return window{edges: [][2]int64{{since, until}}}
	}
	w := window{first: first, end: end}
	if s := first * dayMicros; since < s {
		w.edges = append(w.edges, [2]int64{since, s})
	}
	if e := end * dayMicros; e < until {
		w.edges = append(w.edges, [2]int64{e, until})
	}
	return w
}

// durations reads one column of microsecond differences as seconds.
func durations(ctx context.Context, q querier, query string, args ...any) ([]float64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbError(err, "DORA: read")
	}
	return collect(rows, "DORA: read", func(s scanner) (float64, error) {
		var us int64
		err := s.Scan(&us)
		return float64(us) / 1e6, err
	})
}

// median is the middle value of xs (the mean of the two middle ones), nil
// for none.
func median(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	slices.Sort(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + m) / 2
	}
	return &m
}
