package store

import (
	"context"
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
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM deploys d WHERE d.started_at >= $1 AND d.started_at < $2`+scope,
		args...).Scan(&k.Deployments); err != nil {
		return DORA{}, dbError(err, "DORA: deployments")
	}
	k.DeploysPerDay = float64(k.Deployments) / (float64(until.Sub(since)) / float64(24*time.Hour))

	leads, err := durations(ctx, q, `SELECT d.started_at - d.commit_time FROM deploys d
		WHERE d.started_at >= $1 AND d.started_at < $2 AND d.commit_time IS NOT NULL`+scope, args...)
	if err != nil {
		return DORA{}, err
	}
	k.LeadTimeSeconds, k.LeadTimeSamples = median(leads), len(leads)

	failed := strings.Join([]string{`'` + string(gohere.StatusHalted) + `'`, `'` + string(gohere.StatusRolledBack) + `'`,
		`'` + string(gohere.StatusFailed) + `'`}, ", ")
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN d.status IN (`+failed+`) THEN 1 ELSE 0 END), 0)
		FROM deploys d WHERE d.finished_at >= $1 AND d.finished_at < $2`+scope, args...).Scan(&k.FinishedChanges, &k.FailedChanges); err != nil {
		return DORA{}, dbError(err, "DORA: change failures")
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
