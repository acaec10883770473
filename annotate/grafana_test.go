package annotate_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
	"github.com/gohere/gohere/internal/grafanatest"
	"github.com/gohere/gohere/internal/spantest"
)

func writer(t *testing.T, g *grafanatest.Server, timeout time.Duration) *annotate.Grafana {
	t.Helper()
	w, err := annotate.NewGrafana(g.URL(), g.Token(), timeout)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func wantKind(t *testing.T, err error, kind gohere.Kind, mention string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want kind %v", kind)
	}
	if got := gohere.KindOf(err); got != kind {
		t.Errorf("kind %v (%v), want %v", got, err, kind)
	}
	if !strings.Contains(err.Error(), mention) {
		t.Errorf("error %q does not name %q", err, mention)
	}
}

func TestCreateFindUpdate(t *testing.T) {
	g := grafanatest.New(t, grafanatest.Options{})
	w := writer(t, g, time.Second)
	ctx := t.Context()
	d := deploy()
	a := annotate.ForDeploy(d, links, start.Add(time.Minute))

	if _, found, err := w.FindByTag(ctx, annotate.DeployIDTag(d.ID)); err != nil || found {
		t.Fatalf("FindByTag before create = %v, %v; want not found", found, err)
	}
	id, err := w.Create(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	got, found, err := w.FindByTag(ctx, annotate.DeployIDTag(d.ID))
	if err != nil || !found || got != id {
		t.Fatalf("FindByTag = %d, %v, %v; want %d", got, found, err, id)
	}
	if _, found, _ := w.FindByTag(ctx, annotate.DeployIDTag("d-other")); found {
		t.Error("FindByTag found another deploy's annotation")
	}

	d.Status, d.FinishedAt = gohere.StatusSucceeded, start.Add(5*time.Minute)
	fin := annotate.ForDeploy(d, links, start.Add(time.Hour))
	if err := w.Update(ctx, id, fin); err != nil {
		t.Fatal(err)
	}
	want := []grafanatest.Annotation{{
		ID: id, Time: start.UnixMilli(), TimeEnd: start.Add(5 * time.Minute).UnixMilli(),
		Tags: fin.Tags, Text: fin.Text, // organisation-wide: no dashboard
	}}
	if diff := cmp.Diff(want, g.Annotations()); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
}

// TestLostResponseIsFoundByTag is the outbox's recovery path: the create
// took effect but its response never came, so the retry looks it up.
func TestLostResponseIsFoundByTag(t *testing.T) {
	g := grafanatest.New(t, grafanatest.Options{})
	w := writer(t, g, time.Second)
	a := annotate.ForDeploy(deploy(), links, start)
	g.LoseNextResponses(1)
	_, err := w.Create(t.Context(), a)
	wantKind(t, err, gohere.Unavailable, "create annotation for deploy d-1")
	id, found, err := w.FindByTag(t.Context(), annotate.DeployIDTag("d-1"))
	if err != nil || !found {
		t.Fatalf("FindByTag after a lost response = %v, %v; want found", found, err)
	}
	if got := g.Annotations(); len(got) != 1 || got[0].ID != id {
		t.Errorf("annotations %+v, want exactly the one found (%d)", got, id)
	}
}

func TestErrorKinds(t *testing.T) {
	a := annotate.ForDeploy(deploy(), links, start)
	t.Run("wrong token: unauthorized, token not shown", func(t *testing.T) {
		g := grafanatest.New(t, grafanatest.Options{})
		w, err := annotate.NewGrafana(g.URL(), "glsa_wrong-secret", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Create(t.Context(), a)
		wantKind(t, err, gohere.Unauthorized, "grafana: create annotation for deploy d-1")
		if strings.Contains(err.Error(), "glsa_wrong-secret") {
			t.Errorf("error shows the token: %v", err)
		}
	})
	t.Run("update of a deleted annotation: not found", func(t *testing.T) {
		g := grafanatest.New(t, grafanatest.Options{})
		w := writer(t, g, time.Second)
		id, err := w.Create(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodDelete, g.URL()+"/api/annotations/"+itoa(id), nil)
		req.Header.Set("Authorization", "Bearer "+g.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("delete: %v %v", resp, err)
		}
		resp.Body.Close()
		wantKind(t, w.Update(t.Context(), id, a), gohere.NotFound, "update annotation for deploy d-1 (id "+itoa(id)+")")
	})
	for _, tc := range []struct {
		status int
		kind   gohere.Kind
	}{
		{400, gohere.Invalid}, {401, gohere.Unauthorized}, {403, gohere.Forbidden}, {404, gohere.NotFound},
		{409, gohere.Conflict}, {429, gohere.Unavailable}, {500, gohere.Unavailable}, {503, gohere.Unavailable},
	} {
		t.Run("status "+itoa(int64(tc.status)), func(t *testing.T) {
			g := grafanatest.New(t, grafanatest.Options{})
			w := writer(t, g, time.Second)
			g.FailNext(1, tc.status)
			_, err := w.Create(t.Context(), a)
			wantKind(t, err, tc.kind, "create annotation for deploy d-1")
			if g.Requests() != 1 {
				t.Errorf("%d requests, want 1: the client must not retry", g.Requests())
			}
		})
	}
	t.Run("connection refused: unavailable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		w, err := annotate.NewGrafana("http://"+addr, "glsa_x", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = w.FindByTag(t.Context(), "deploy-id:d-1")
		wantKind(t, err, gohere.Unavailable, `find annotation tagged "deploy-id:d-1"`)
	})
	t.Run("empty text refused by Grafana: invalid", func(t *testing.T) {
		g := grafanatest.New(t, grafanatest.Options{})
		_, err := writer(t, g, time.Second).Create(t.Context(), annotate.Annotation{Time: start, TimeEnd: start, Tags: []string{"deploy"}})
		wantKind(t, err, gohere.Invalid, "create annotation")
	})
}

func TestHangingGrafana(t *testing.T) {
	a := annotate.ForDeploy(deploy(), links, start)
	t.Run("cancel aborts the call", func(t *testing.T) {
		g := grafanatest.New(t, grafanatest.Options{})
		g.Hang(time.Hour)
		w := writer(t, g, time.Hour)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(20*time.Millisecond, cancel)
		_, err := w.Create(ctx, a)
		wantKind(t, err, gohere.Unavailable, "create annotation")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v does not wrap context.Canceled", err)
		}
		g.Hang(0)
		if n := len(g.Annotations()); n != 0 {
			t.Errorf("%d annotations from an aborted call", n)
		}
	})
	t.Run("per-call timeout", func(t *testing.T) {
		g := grafanatest.New(t, grafanatest.Options{})
		g.Hang(time.Hour)
		w := writer(t, g, 30*time.Millisecond)
		err := w.Update(t.Context(), 1, a)
		wantKind(t, err, gohere.Unavailable, "update annotation")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
		}
	})
}

// TestSpansAreParented shows the client's requests, built without a ctx,
// still become children of the caller's span.
func TestSpansAreParented(t *testing.T) {
	rec := spantest.Record(t)
	g := grafanatest.New(t, grafanatest.Options{})
	w := writer(t, g, time.Second)
	ctx, parent := otel.Tracer("test").Start(t.Context(), "deliver")
	if _, err := w.Create(ctx, annotate.ForDeploy(deploy(), links, start)); err != nil {
		t.Fatal(err)
	}
	parent.End()
	var names []string
	for _, s := range rec.Ended() {
		if s.Name() == "deliver" {
			continue
		}
		names = append(names, s.Name())
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %q has parent %v, want the caller's span", s.Name(), s.Parent().SpanID())
		}
	}
	if diff := cmp.Diff([]string{"grafana POST /api/annotations"}, names); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
}

func TestNewGrafanaValidates(t *testing.T) {
	for _, tc := range []struct{ name, url, token, want string }{
		{"not a URL", "http://[::1", "t", "not a URL"},
		{"no scheme", "grafana.example", "t", "http or https"},
		{"ftp", "ftp://grafana.example", "t", "http or https"},
		{"no host", "http://", "t", "no host"},
		{"credentials", "https://admin:hunter2@grafana.example", "t", "credentials"},
		{"query", "https://grafana.example/?orgId=1", "t", "no query"},
		{"no token", "https://grafana.example", "", "token is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := annotate.NewGrafana(tc.url, tc.token, time.Second)
			wantKind(t, err, gohere.Invalid, tc.want)
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
	if _, err := annotate.NewGrafana("https://grafana.example/sub/", "t", 0); err != nil {
		t.Errorf("sub-path URL: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestHugeErrorBodiesAreCapped: a proxy's 2 MiB error page in front of
// Grafana becomes an error of at most a few KiB, of the right kind.
func TestHugeErrorBodiesAreCapped(t *testing.T) {
	huge := strings.Repeat("<p>upstream trouble</p>", 2<<20/23)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, huge, http.StatusInternalServerError)
	}))
	t.Cleanup(ts.Close)
	g, err := annotate.NewGrafana(ts.URL, "token", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.Create(t.Context(), annotate.Annotation{Time: time.Now(), TimeEnd: time.Now(), Tags: []string{"deploy"}})
	if gohere.KindOf(err) != gohere.Unavailable || len(err.Error()) > 3000 || !strings.Contains(err.Error(), "more bytes)") {
		t.Errorf("error of %d bytes, kind %v; want Unavailable, at most ~2 KiB saying how much it cut", len(err.Error()), gohere.KindOf(err))
	}
}
