package store_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
	"github.com/gohere/gohere/internal/store"
)

func firing(fingerprint, service string, at time.Time) gohere.Alert {
	return gohere.Alert{Source: "alertmanager", Fingerprint: fingerprint, Name: "HighLatency", Status: gohere.AlertFiring,
		Service: service, Env: "prod", Severity: "critical", StartsAt: at,
		Labels: map[string]string{"alertname": "HighLatency", "service": service}}
}

func record(t *testing.T, db *store.DB, as ...gohere.Alert) []store.RecordedAlert {
	t.Helper()
	got, err := db.RecordAlerts(t.Context(), as, time.Hour, annotate.Correlate)
	if err != nil {
		t.Fatalf("RecordAlerts: %v", err)
	}
	return got
}

// TestAlertLifecycle: an alert correlates once with the canary that ran at
// its start, is told once however often it is resent, and its resolution
// updates the record and queues its annotation again.
func TestAlertLifecycle(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		db.EnableNotifications()
		canary := create(t, db, deploy("checkout", "prod", "v2", base))
		old := deploy("checkout", "prod", "v1", base.Add(-3*time.Hour))
		old.Status, old.FinishedAt = gohere.StatusSucceeded, base.Add(-150*time.Minute) // 2.5 h before: out of the window
		create(t, db, old)
		at := base.Add(7 * time.Minute)

		got := record(t, db, firing("fp1", "checkout", at), firing("fp2", "unknown-service", at))
		if !got[0].New || len(got[0].Correlations) != 1 || got[0].Correlations[0].DeployID != canary.ID {
			t.Fatalf("first alert: %+v; want new, correlated with the canary only", got[0])
		}
		if c := got[0].Correlations[0]; c.Rank != 1 || c.Version != "v2" || c.Stage != gohere.StageCanary || c.Reason == "" {
			t.Errorf("correlation %+v", c)
		}
		if !got[1].New || len(got[1].Correlations) != 0 || got[1].ID == 0 {
			t.Errorf("alert of an unknown service: %+v; want recorded, uncorrelated", got[1])
		}
		// Alertmanager resends a firing alert every repeat_interval.
		again := record(t, db, firing("fp1", "checkout", at))
		if again[0].New || again[0].ID != got[0].ID || len(again[0].Correlations) != 1 {
			t.Errorf("resend: %+v; want the same alert, not new", again[0])
		}
		if diff := keysOf(t, db, canary.ID); len(diff) != 2 || diff[1] != "alert/"+itoa(got[0].ID) {
			t.Errorf("canary's notifications %v; want started and one alert", diff)
		}

		claimed, err := db.ClaimAlertAnnotations(ctx, time.Now(), time.Minute, 10)
		if err != nil || len(claimed) != 1 || claimed[0].Alert.ID != got[0].ID {
			t.Fatalf("ClaimAlertAnnotations = %+v, %v; want the correlated alert only", claimed, err)
		}
		if err := db.CompleteAlertAnnotation(ctx, got[0].ID, 42, claimed[0].LeaseEnd); err != nil {
			t.Fatal(err)
		}
		if c, _ := db.ClaimAlertAnnotations(ctx, time.Now(), time.Minute, 10); len(c) != 0 {
			t.Fatalf("annotation still due after completing: %+v", c)
		}

		resolved := firing("fp1", "checkout", at)
		resolved.Status, resolved.EndsAt = gohere.AlertResolved, at.Add(20*time.Minute)
		r := record(t, db, resolved)
		if r[0].New || r[0].Status != gohere.AlertResolved || !r[0].EndsAt.Equal(at.Add(20*time.Minute)) {
			t.Errorf("resolved: %+v", r[0])
		}
		claimed, err = db.ClaimAlertAnnotations(ctx, time.Now(), time.Minute, 10)
		if err != nil || len(claimed) != 1 || claimed[0].AnnotationID != 42 || claimed[0].Alert.Status != gohere.AlertResolved {
			t.Fatalf("after the resolution claimed %+v, %v; want the alert's annotation 42 to update", claimed, err)
		}

		list, err := db.ListAlerts(ctx, store.AlertFilter{Service: "checkout", Correlated: true})
		if err != nil || len(list) != 1 {
			t.Errorf("ListAlerts = %d, %v; want 1", len(list), err)
		}
		all, err := db.ListAlerts(ctx, store.AlertFilter{})
		if err != nil || len(all) != 2 {
			t.Errorf("ListAlerts (all) = %d, %v; want 2", len(all), err)
		}
		da, err := db.DeployAlerts(ctx, canary.ID)
		if err != nil || len(da) != 1 || da[0].ID != got[0].ID {
			t.Errorf("DeployAlerts = %+v, %v", da, err)
		}
		_, err = db.DeployAlerts(ctx, "no-such-deploy")
		wantKind(t, "alerts of an unknown deploy", err, gohere.NotFound)
	})
}

// TestBadAlertBatchStoresNothing: one bad alert refuses the whole batch.
func TestBadAlertBatchStoresNothing(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		bad := firing("fp2", "checkout", time.Time{})
		_, err := db.RecordAlerts(t.Context(), []gohere.Alert{firing("fp1", "checkout", base), bad}, time.Hour, annotate.Correlate)
		wantKind(t, "batch with an alert without a start", err, gohere.Invalid)
		if all, err := db.ListAlerts(t.Context(), store.AlertFilter{}); err != nil || len(all) != 0 {
			t.Errorf("after a refused batch %d alerts stored (%v); want none", len(all), err)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
