package grafanatest

import (
	"cmp"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Endpoint handlers run with s.mu held (see handle).

// validUID is Grafana's rule for folder and dashboard uids.
var validUID = regexp.MustCompile(`^[a-zA-Z0-9\-_]{1,40}$`)

func slug(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

func folderURL(f *Folder) string { return "/dashboards/f/" + f.UID + "/" + slug(f.Title) }

func folderDTO(f *Folder) map[string]any {
	return map[string]any{
		"id": f.ID, "uid": f.UID, "title": f.Title, "url": folderURL(f), "version": 1,
		"hasAcl": false, "canSave": true, "canEdit": true, "canAdmin": true, "canDelete": true,
	}
}

func (s *Server) folder(uid string) *Folder {
	i := slices.IndexFunc(s.folders, func(f *Folder) bool { return f.UID == uid })
	if i < 0 {
		return nil
	}
	return s.folders[i]
}

func (s *Server) listFolders(w http.ResponseWriter, r *http.Request) {
	sorted := slices.Clone(s.folders)
	slices.SortFunc(sorted, func(a, b *Folder) int { return cmp.Compare(strings.ToLower(a.Title), strings.ToLower(b.Title)) })
	out := []map[string]any{}
	for _, f := range page(sorted, r, 1000) {
		out = append(out, map[string]any{"id": f.ID, "uid": f.UID, "title": f.Title})
	}
	writeJSON(w, http.StatusOK, out)
}

// page applies Grafana's limit/page query parameters.
func page[T any](items []T, r *http.Request, defaultLimit int) []T {
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || limit <= 0 {
		limit = defaultLimit
	}
	p, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || p < 1 {
		p = 1
	}
	start := min((p-1)*limit, len(items))
	return items[start:min(start+limit, len(items))]
}

// createFolder refuses, like Grafana, an empty title (400), a malformed uid
// (400), a uid already taken (409) and a title already used at the root (409).
func (s *Server) createFolder(w http.ResponseWriter, r *http.Request) {
	var cmd struct {
		UID   string `json:"uid"`
		Title string `json:"title"`
	}
	if !decode(w, r, &cmd) {
		return
	}
	cmd.Title = strings.TrimSpace(cmd.Title)
	switch {
	case cmd.Title == "":
		writeJSON(w, http.StatusBadRequest, message("folder title cannot be empty"))
		return
	case cmd.UID != "" && !validUID.MatchString(cmd.UID):
		writeJSON(w, http.StatusBadRequest, message("uid contains illegal characters"))
		return
	case cmd.UID != "" && (s.folder(cmd.UID) != nil || s.dashboards[cmd.UID] != nil):
		writeJSON(w, http.StatusConflict, message("a folder with the same uid already exists"))
		return
	case slices.ContainsFunc(s.folders, func(f *Folder) bool { return strings.EqualFold(f.Title, cmd.Title) }):
		writeJSON(w, http.StatusConflict, message("a folder with the same name already exists in the current location"))
		return
	}
	s.nextFolder++
	f := &Folder{ID: s.nextFolder, UID: cmp.Or(cmd.UID, fmt.Sprintf("folder%04d", s.nextFolder)), Title: cmd.Title}
	s.folders = append(s.folders, f)
	writeJSON(w, http.StatusOK, folderDTO(f))
}

func (s *Server) getFolder(w http.ResponseWriter, r *http.Request) {
	f := s.folder(r.PathValue("uid"))
	if f == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "folder not found", "status": "not-found"})
		return
	}
	writeJSON(w, http.StatusOK, folderDTO(f))
}

func dashboardURL(d *Dashboard) string { return "/d/" + d.UID + "/" + slug(d.Title) }

// saveDashboard implements POST /api/dashboards/db: a new dashboard gets
// version 1, an update version+1. Without overwrite, an update must carry
// the stored version (else 412 version-mismatch) and a new dashboard must
// not take the title of another in the same folder (412 name-exists); with
// overwrite, such a namesake is replaced in place, as Grafana does.
func (s *Server) saveDashboard(w http.ResponseWriter, r *http.Request) {
	var cmd struct {
		Dashboard map[string]any `json:"dashboard"`
		FolderID  int64          `json:"folderId"`
		FolderUID string         `json:"folderUid"`
		Overwrite bool           `json:"overwrite"`
	}
	if !decode(w, r, &cmd) {
		return
	}
	model := deepCopy(cmd.Dashboard)
	if model == nil {
		model = map[string]any{}
	}
	title, _ := model["title"].(string)
	title = strings.TrimSpace(title)
	if title == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Dashboard title cannot be empty", "status": "empty-name"})
		return
	}
	folderUID := cmd.FolderUID
	if folderUID == "" && cmd.FolderID != 0 {
		if i := slices.IndexFunc(s.folders, func(f *Folder) bool { return f.ID == cmd.FolderID }); i >= 0 {
			folderUID = s.folders[i].UID
		} else {
			folderUID = "\x00missing"
		}
	}
	if folderUID != "" && s.folder(folderUID) == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "folder not found", "status": "not-found"})
		return
	}
	uid, _ := model["uid"].(string)
	if uid != "" && !validUID.MatchString(uid) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "uid contains illegal characters", "status": "bad-uid"})
		return
	}
	id, _ := model["id"].(float64)
	version, _ := model["version"].(float64)

	existing := s.dashboards[uid]
	if existing == nil && id != 0 {
		for _, d := range s.dashboards {
			if d.ID == int64(id) {
				existing = d
			}
		}
		if existing == nil {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": "Dashboard not found", "status": "not-found"})
			return
		}
	}
	for _, d := range s.dashboards {
		if d == existing || d.FolderUID != folderUID || !strings.EqualFold(d.Title, title) {
			continue
		}
		if !cmd.Overwrite || existing != nil {
			writeJSON(w, http.StatusPreconditionFailed, map[string]any{
				"message": "A dashboard with the same name in the folder already exists", "status": "name-exists"})
			return
		}
		existing = d // overwrite: the namesake is replaced in place
	}
	if existing != nil && !cmd.Overwrite && int(version) != existing.Version {
		writeJSON(w, http.StatusPreconditionFailed, map[string]any{
			"message": "The dashboard has been changed by someone else", "status": "version-mismatch"})
		return
	}

	d := existing
	if d == nil {
		s.nextDash++
		d = &Dashboard{ID: s.nextDash, UID: cmp.Or(uid, fmt.Sprintf("dash%04d", s.nextDash))}
		s.dashboards[d.UID] = d
	}
	d.Version++
	d.Title, d.FolderUID = title, folderUID
	model["id"], model["uid"], model["version"], model["title"] = d.ID, d.UID, d.Version, title
	d.JSON = deepCopy(model)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": d.ID, "uid": d.UID, "url": dashboardURL(d), "status": "success",
		"version": d.Version, "slug": slug(d.Title), "folderUid": d.FolderUID,
	})
}

func (s *Server) getDashboard(w http.ResponseWriter, r *http.Request) {
	d := s.dashboards[r.PathValue("uid")]
	if d == nil {
		writeJSON(w, http.StatusNotFound, message("Dashboard not found"))
		return
	}
	meta := map[string]any{
		"type": "db", "canSave": true, "canEdit": true, "canAdmin": true, "canStar": true, "canDelete": true,
		"slug": slug(d.Title), "url": dashboardURL(d), "version": d.Version, "isFolder": false,
		"folderId": 0, "folderUid": d.FolderUID, "folderTitle": "General", "folderUrl": "",
		"provisioned": false, "hasAcl": false, "isStarred": false,
	}
	if f := s.folder(d.FolderUID); f != nil {
		meta["folderId"], meta["folderTitle"], meta["folderUrl"] = f.ID, f.Title, folderURL(f)
	}
	writeJSON(w, http.StatusOK, map[string]any{"dashboard": d.JSON, "meta": meta})
}

// search implements GET /api/search over folders and dashboards: query is a
// case-insensitive title substring, type picks dash-db or dash-folder, tag
// (all must match), folderUIDs ("" or "general" is the root) and
// dashboardUIDs filter; results are sorted by title.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := strings.ToLower(q.Get("query"))
	typ := q.Get("type")
	keep := func(uid, title string) bool {
		return strings.Contains(strings.ToLower(title), query) &&
			(!q.Has("dashboardUIDs") || slices.Contains(q["dashboardUIDs"], uid))
	}
	type hit struct {
		title, uid string
		v          map[string]any
	}
	var hits []hit
	if typ == "" || typ == "dash-folder" {
		for _, f := range s.folders {
			if keep(f.UID, f.Title) && !q.Has("folderUIDs") && !q.Has("tag") {
				hits = append(hits, hit{f.Title, f.UID, map[string]any{
					"id": f.ID, "uid": f.UID, "title": f.Title, "uri": "db/" + slug(f.Title), "url": folderURL(f),
					"slug": "", "type": "dash-folder", "tags": []string{}, "isStarred": false,
				}})
			}
		}
	}
	if typ == "" || typ == "dash-db" {
		for _, d := range s.dashboards {
			if !keep(d.UID, d.Title) {
				continue
			}
			if q.Has("folderUIDs") && !slices.ContainsFunc(q["folderUIDs"], func(u string) bool {
				return u == d.FolderUID || (u == "general" && d.FolderUID == "")
			}) {
				continue
			}
			tags := dashboardTags(d.JSON)
			if !matchTags(tags, q["tag"], false) {
				continue
			}
			h := map[string]any{
				"id": d.ID, "uid": d.UID, "title": d.Title, "uri": "db/" + slug(d.Title), "url": dashboardURL(d),
				"slug": "", "type": "dash-db", "tags": tags, "isStarred": false,
			}
			if f := s.folder(d.FolderUID); f != nil {
				h["folderId"], h["folderUid"], h["folderTitle"], h["folderUrl"] = f.ID, f.UID, f.Title, folderURL(f)
			}
			hits = append(hits, hit{d.Title, d.UID, h})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.title), strings.ToLower(b.title)), cmp.Compare(a.uid, b.uid))
	})
	if q.Get("sort") == "alpha-desc" {
		slices.Reverse(hits)
	}
	out := []map[string]any{}
	for _, h := range page(hits, r, 1000) {
		out = append(out, h.v)
	}
	writeJSON(w, http.StatusOK, out)
}

func dashboardTags(model map[string]any) []string {
	tags := []string{}
	raw, _ := model["tags"].([]any)
	for _, t := range raw {
		if s, ok := t.(string); ok {
			tags = append(tags, s)
		}
	}
	return tags
}
