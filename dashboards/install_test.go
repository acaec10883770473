package dashboards_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	gapi "github.com/grafana/grafana-api-golang-client"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/dashboards"
)

// fakeClient is a function-field fake for failure paths only; installs that
// succeed are tested against the Grafana double in cmd/gohere.
type fakeClient struct {
	folders        func() ([]gapi.Folder, error)
	newFolder      func(title string) (gapi.Folder, error)
	dashboardByUID func(uid string) (*gapi.Dashboard, error)
	newDashboard   func(d gapi.Dashboard) (*gapi.DashboardSaveResponse, error)
}

func (f fakeClient) Folders() ([]gapi.Folder, error) { return f.folders() }
func (f fakeClient) NewFolder(title string, _ ...string) (gapi.Folder, error) {
	return f.newFolder(title)
}
func (f fakeClient) DashboardByUID(uid string) (*gapi.Dashboard, error) { return f.dashboardByUID(uid) }
func (f fakeClient) NewDashboard(d gapi.Dashboard) (*gapi.DashboardSaveResponse, error) {
	return f.newDashboard(d)
}

func TestInstallFailures(t *testing.T) {
	existing := []gapi.Folder{{UID: "f1", Title: "gohere"}}
	status := func(code int) error { return fmt.Errorf("status: %d, body: {\"message\":\"x\"}", code) }
	tests := []struct {
		name     string
		folder   string
		c        fakeClient
		wantKind gohere.Kind
		calls    int // Folders calls expected
	}{
		{name: "empty folder", folder: " ", wantKind: gohere.Invalid},
		{name: "token refused", folder: "gohere", calls: 1,
			c:        fakeClient{folders: func() ([]gapi.Folder, error) { return nil, status(401) }},
			wantKind: gohere.Unauthorized},
		{name: "no permission to create the folder", folder: "gohere", calls: 1,
			c: fakeClient{
				folders:   func() ([]gapi.Folder, error) { return nil, nil },
				newFolder: func(string) (gapi.Folder, error) { return gapi.Folder{}, status(403) },
			},
			wantKind: gohere.Forbidden},
		{name: "grafana keeps failing: retried, then unavailable", folder: "gohere", calls: 3,
			c:        fakeClient{folders: func() ([]gapi.Folder, error) { return nil, status(503) }},
			wantKind: gohere.Unavailable},
		{name: "a title taken by another dashboard is a conflict", folder: "gohere", calls: 1,
			c: fakeClient{
				folders:        func() ([]gapi.Folder, error) { return existing, nil },
				dashboardByUID: func(string) (*gapi.Dashboard, error) { return nil, gapi.ErrNotFound{} },
				newDashboard:   func(gapi.Dashboard) (*gapi.DashboardSaveResponse, error) { return nil, status(412) },
			},
			wantKind: gohere.Conflict},
		{name: "bad request is not retried", folder: "gohere", calls: 1,
			c: fakeClient{
				folders:        func() ([]gapi.Folder, error) { return existing, nil },
				dashboardByUID: func(string) (*gapi.Dashboard, error) { return nil, status(400) },
			},
			wantKind: gohere.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			if f := tt.c.folders; f != nil {
				tt.c.folders = func() ([]gapi.Folder, error) { calls++; return f() }
			}
			_, err := dashboards.Install(t.Context(), tt.c, tt.folder, false, dashboards.Options{})
			if err == nil {
				t.Fatal("Install = nil error")
			}
			if got := gohere.KindOf(err); got != tt.wantKind {
				t.Errorf("kind %v (%v), want %v", got, err, tt.wantKind)
			}
			if calls != tt.calls {
				t.Errorf("Folders called %d times, want %d", calls, tt.calls)
			}
		})
	}
}

func TestInstallRetriesTransient(t *testing.T) {
	n := 0
	c := fakeClient{
		folders: func() ([]gapi.Folder, error) {
			if n++; n == 1 {
				return nil, errors.New("status: 502, body: bad gateway")
			}
			return []gapi.Folder{{UID: "f1", Title: "gohere"}}, nil
		},
		dashboardByUID: func(string) (*gapi.Dashboard, error) { return nil, gapi.ErrNotFound{} },
		newDashboard:   func(gapi.Dashboard) (*gapi.DashboardSaveResponse, error) { return &gapi.DashboardSaveResponse{}, nil },
	}
	res, err := dashboards.Install(t.Context(), c, "gohere", false, dashboards.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || res.FolderUID != "f1" || res.FolderCreated || len(res.Dashboards) != 2 {
		t.Errorf("%d Folders calls, result %+v; want 2 calls, folder f1 found, 2 dashboards", n, res)
	}
}

func TestInstallCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := fakeClient{folders: func() ([]gapi.Folder, error) { cancel(); return nil, errors.New("status: 503, body: down") }}
	if _, err := dashboards.Install(ctx, c, "gohere", false, dashboards.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context canceled", err)
	}
}
