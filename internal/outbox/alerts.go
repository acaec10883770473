package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
	"github.com/gohere/gohere/internal/retry"
	"github.com/gohere/gohere/internal/store"
)

// AlertQueue is the queue of correlated alerts whose annotation is due
// (*store.DB).
type AlertQueue interface {
	ClaimAlertAnnotations(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.AlertAnnotation, error)
	CompleteAlertAnnotation(ctx context.Context, alertID, annotationID int64, claimedUntil time.Time) error
	RetryAlertAnnotation(ctx context.Context, alertID int64, next time.Time, lastErr string) error
}

// deliverAlerts writes the due alert annotations, after the deploys' of
// the same round: down is what the deploys found of Grafana (nil: up), and
// no write starts after lastStart. It returns how many it claimed.
func (w *Worker) deliverAlerts(ctx context.Context, down error, lastStart time.Time) (int, error) {
	if w.opts.Alerts == nil {
		return 0, nil
	}
	due, err := w.opts.Alerts.ClaimAlertAnnotations(ctx, time.Now(), w.opts.Lease, w.opts.Batch)
	if err != nil {
		return 0, fmt.Errorf("outbox: claim alerts: %w", err)
	}
	var errs []error
	for _, aa := range due {
		if time.Now().After(lastStart) {
			break // left claimed: due again when the lease ends
		}
		err := down
		var id int64
		if err == nil {
			a := annotate.ForAlert(aa.Alert, w.opts.AlertReport)
			id, err = w.upsert(ctx, aa.AnnotationID, annotate.AlertIDTag(aa.Alert.ID), a)
		}
		if err == nil {
			w.opts.Recorder.AnnotationWrite("ok")
			errs = append(errs, w.opts.Alerts.CompleteAlertAnnotation(ctx, aa.Alert.ID, id, aa.LeaseEnd))
			continue
		}
		if down == nil {
			w.opts.Recorder.AnnotationWrite("error")
			switch gohere.KindOf(err) {
			case gohere.Unavailable, gohere.Unauthorized, gohere.Forbidden:
				down = err // the rest wait with backoff
			default:
				w.opts.Logger.Warn("outbox: alert annotation write failed, will retry", "alert_id", aa.Alert.ID, "err", err)
			}
		}
		next := time.Now().Add(retry.Delay(w.opts.MinBackoff, w.opts.MaxBackoff, aa.Attempts))
		if err := w.opts.Alerts.RetryAlertAnnotation(ctx, aa.Alert.ID, next, err.Error()); err != nil {
			errs = append(errs, fmt.Errorf("outbox: alert %d: schedule retry: %w", aa.Alert.ID, err))
		}
	}
	return len(due), errors.Join(errs...)
}
