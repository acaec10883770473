package dashboards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"reflect"
	"slices"
	"strings"
	"time"

	gapi "github.com/grafana/grafana-api-golang-client"

	"github.com/gohere/gohere"
)

// FolderAPI and DashboardAPI are the calls an install makes; the mandated
// client, *gapi.Client, satisfies both.
type FolderAPI interface {
	Folders() ([]gapi.Folder, error)
	NewFolder(title string, uid ...string) (gapi.Folder, error)
}

type DashboardAPI interface {
	DashboardByUID(uid string) (*gapi.Dashboard, error)
	NewDashboard(d gapi.Dashboard) (*gapi.DashboardSaveResponse, error)
}

// Client is what Install needs of Grafana.
type Client interface {
	FolderAPI
	DashboardAPI
}

// Action is what an install did to one dashboard.
type Action string

const (
	Created   Action = "created"
	Updated   Action = "updated"   // it differed and --overwrite replaced it
	Unchanged Action = "unchanged" // already as this gohere would write it: nothing sent
	Kept      Action = "kept"      // it differs (edited in Grafana, or other options); left alone without overwrite
)

// Result says what Install did.
type Result struct {
	Folder        string // title
	FolderUID     string
	FolderCreated bool
	Dashboards    []Installed // in uid order
}

// Installed is one dashboard's outcome.
type Installed struct {
	UID    string
	Title  string
	Action Action
}

// retries of idempotent calls on transient failures (network, 429, 5xx).
var backoff = []time.Duration{100 * time.Millisecond, 400 * time.Millisecond}

// Install puts every dashboard into the folder titled folder, creating the
// folder if missing. It is idempotent: a dashboard already equal to ours is
// left alone (no new Grafana version), one that differs is replaced only
// when overwrite is set and reported as Kept otherwise. Dashboards are matched
// by their stable uid, so a second install never duplicates them.
//
// c has no context; ctx is checked between calls. Callers give c an HTTP
// client whose requests carry ctx so a call in flight is cancelled too.
func Install(ctx context.Context, c Client, folder string, overwrite bool, opts Options) (Result, error) {
	if strings.TrimSpace(folder) == "" || strings.ContainsFunc(folder, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Result{}, gohere.Errorf(gohere.Invalid, "folder %q: want a title on one line", folder)
	}
	files, err := Render(opts)
	if err != nil {
		return Result{}, err
	}
	res := Result{Folder: folder}
	f, created, err := ensureFolder(ctx, c, folder)
	if err != nil {
		return res, err
	}
	res.FolderUID, res.FolderCreated = f.UID, created
	for _, uid := range slices.Sorted(maps.Keys(files)) {
		var model map[string]any
		if err := json.Unmarshal(files[uid], &model); err != nil {
			return res, fmt.Errorf("dashboard %s: %w", uid, err)
		}
		action, err := installOne(ctx, c, f.UID, model, uid, overwrite)
		if err != nil {
			return res, err
		}
		title, _ := model["title"].(string)
		res.Dashboards = append(res.Dashboards, Installed{UID: uid, Title: title, Action: action})
	}
	return res, nil
}

func ensureFolder(ctx context.Context, c FolderAPI, title string) (f gapi.Folder, created bool, err error) {
	var folders []gapi.Folder
	err = retry(ctx, func() (err error) {
		folders, err = c.Folders()
		return err
	})
	if err != nil {
		return f, false, grafanaError(err, "list folders")
	}
	if i := slices.IndexFunc(folders, func(f gapi.Folder) bool { return f.Title == title }); i >= 0 {
		return folders[i], false, nil
	}
	if err := ctx.Err(); err != nil {
		return f, false, err
	}
	// Not retried: a lost response would make a retry fail as a duplicate;
	// running install again finds the folder by its title.
	f, err = c.NewFolder(title)
	if err != nil {
		return f, false, grafanaError(err, fmt.Sprintf("create folder %q", title))
	}
	return f, true, nil
}

func installOne(ctx context.Context, c DashboardAPI, folderUID string, model map[string]any, uid string, overwrite bool) (Action, error) {
	var existing *gapi.Dashboard
	err := retry(ctx, func() (err error) {
		existing, err = c.DashboardByUID(uid)
		return err
	})
	if _, missing := errors.AsType[gapi.ErrNotFound](err); missing {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		// Not overwrite: a dashboard of another uid with our title in the
		// folder is the user's, and Grafana's refusal is the right answer.
		if _, err := c.NewDashboard(gapi.Dashboard{Model: model, FolderUID: folderUID, Message: "gohere dashboards install"}); err != nil {
			return "", grafanaError(err, "create dashboard "+uid)
		}
		return Created, nil
	}
	if err != nil {
		return "", grafanaError(err, "get dashboard "+uid)
	}
	if existing.Meta.FolderUID == folderUID && sameModel(existing.Model, model) {
		return Unchanged, nil
	}
	if !overwrite {
		return Kept, nil
	}
	// Overwrite without a version: Grafana replaces whatever version it has,
	// so there is no version conflict, and the same uid means no duplicate.
	err = retry(ctx, func() error {
		_, err := c.NewDashboard(gapi.Dashboard{Model: model, FolderUID: folderUID, Overwrite: true, Message: "gohere dashboards install --overwrite"})
		return err
	})
	if err != nil {
		return "", grafanaError(err, "overwrite dashboard "+uid)
	}
	return Updated, nil
}

// sameModel reports whether stored has every field of ours with the same
// value; Grafana adds its own (id, version) and may add more.
func sameModel(stored, ours map[string]any) bool {
	for k, v := range ours {
		if !reflect.DeepEqual(stored[k], v) {
			return false
		}
	}
	return true
}

func retry(ctx context.Context, call func() error) error {
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := call()
		if err == nil || i == len(backoff) || !transient(err) {
			return err
		}
		t := time.NewTimer(backoff[i])
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// transient reports failures worth a retry. The client reports HTTP errors
// only as text ("status: 503, body: ..."), so the status is read from it.
func transient(err error) bool {
	if _, ok := errors.AsType[net.Error](err); ok {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	code := statusOf(err)
	return code == 429 || code >= 500
}

func statusOf(err error) int {
	var code int
	if _, scanErr := fmt.Sscanf(err.Error(), "status: %d,", &code); scanErr != nil {
		return 0
	}
	return code
}

// grafanaError gives the failure a kind for the CLI's exit code and message.
func grafanaError(err error, what string) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return gohere.Errorf(gohere.Unavailable, "grafana: %s: %w", what, err)
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return gohere.Errorf(gohere.Unavailable, "grafana: %s: %w", what, err)
	}
	switch code := statusOf(err); {
	case code == 401:
		return gohere.Errorf(gohere.Unauthorized, "grafana: %s: the token was refused (401): %w", what, err)
	case code == 403:
		return gohere.Errorf(gohere.Forbidden, "grafana: %s: the token lacks permission (403; it needs the Editor role or folders:create and dashboards:write): %w", what, err)
	case code == 409 || code == 412:
		return gohere.Errorf(gohere.Conflict, "grafana: %s: %w", what, err)
	case code == 429 || code >= 500:
		return gohere.Errorf(gohere.Unavailable, "grafana: %s: %w", what, err)
	case code >= 400:
		return gohere.Errorf(gohere.Invalid, "grafana: %s: %w", what, err)
	}
	return gohere.Errorf(gohere.Unavailable, "grafana: %s: %w", what, err)
}
