package grafanatest

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Endpoint handlers run with s.mu held (see handle).

func annotationDTO(a *Annotation) map[string]any {
	tags := a.Tags
	if tags == nil {
		tags = []string{}
	}
	return map[string]any{
		"id": a.ID, "alertId": 0, "dashboardId": a.DashboardID, "dashboardUID": a.DashboardUID,
		"panelId": 0, "userId": 1, "login": "sa-gohere", "newState": "", "prevState": "",
		"time": a.Time, "timeEnd": a.TimeEnd, "text": a.Text, "tags": tags,
		"data": map[string]any{},
	}
}

func (s *Server) createAnnotation(w http.ResponseWriter, r *http.Request) {
	var cmd struct {
		DashboardUID string   `json:"dashboardUID"`
		DashboardID  int64    `json:"dashboardId"`
		Time         int64    `json:"time"`
		TimeEnd      int64    `json:"timeEnd"`
		Tags         []string `json:"tags"`
		Text         string   `json:"text"`
	}
	if !decode(w, r, &cmd) {
		return
	}
	if cmd.Text == "" {
		writeJSON(w, http.StatusBadRequest, message("Failed to save annotation"))
		return
	}
	if cmd.DashboardUID != "" {
		d, ok := s.dashboards[cmd.DashboardUID]
		if !ok {
			writeJSON(w, http.StatusBadRequest, message("Invalid dashboard UID in annotation request"))
			return
		}
		cmd.DashboardID = d.ID
	}
	if cmd.Time == 0 {
		cmd.Time = time.Now().UnixMilli()
	}
	if cmd.TimeEnd == 0 { // a point annotation ends where it starts
		cmd.TimeEnd = cmd.Time
	}
	s.nextID++
	s.annotations[s.nextID] = &Annotation{
		ID: s.nextID, Time: cmd.Time, TimeEnd: cmd.TimeEnd, Tags: slices.Clone(cmd.Tags), Text: cmd.Text,
		DashboardUID: cmd.DashboardUID, DashboardID: cmd.DashboardID,
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Annotation added", "id": s.nextID})
}

// findAnnotations implements GET /api/annotations with Grafana's filters:
// every tag must match (any with matchAny=true), from/to select annotations
// overlapping [from, to], newest first, at most limit (default 100).
func (s *Server) findAnnotations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := int64(100)
	if v := q.Get("limit"); v != "" {
		limit, _ = strconv.ParseInt(v, 10, 64)
	}
	from, _ := strconv.ParseInt(q.Get("from"), 10, 64)
	to, _ := strconv.ParseInt(q.Get("to"), 10, 64)
	dashID, _ := strconv.ParseInt(q.Get("dashboardId"), 10, 64)
	tags, matchAny := q["tags"], q.Get("matchAny") == "true"
	var out []*Annotation
	for _, a := range s.annotations {
		switch {
		case q.Get("type") == "alert": // the double stores no alert annotations
			continue
		case q.Has("dashboardUID") && a.DashboardUID != q.Get("dashboardUID"):
			continue
		case dashID != 0 && a.DashboardID != dashID:
			continue
		case from > 0 && to > 0 && (a.Time > to || a.TimeEnd < from):
			continue
		case len(tags) > 0 && !matchTags(a.Tags, tags, matchAny):
			continue
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *Annotation) int {
		return cmp.Or(cmp.Compare(b.Time, a.Time), cmp.Compare(b.TimeEnd, a.TimeEnd), cmp.Compare(b.ID, a.ID))
	})
	if limit > 0 && int64(len(out)) > limit {
		out = out[:limit]
	}
	dtos := make([]map[string]any, len(out))
	for i, a := range out {
		dtos[i] = annotationDTO(a)
	}
	writeJSON(w, http.StatusOK, dtos)
}

func matchTags(have, want []string, any bool) bool {
	n := 0
	for _, t := range want {
		if slices.Contains(have, t) {
			n++
		}
	}
	if any {
		return n > 0
	}
	return n == len(want)
}

// annotation resolves the {id} of the path or writes Grafana's error.
func (s *Server) annotation(w http.ResponseWriter, r *http.Request) *Annotation {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, message("annotationId is invalid"))
		return nil
	}
	a, ok := s.annotations[id]
	if !ok {
		writeJSON(w, http.StatusNotFound, message("Annotation not found"))
		return nil
	}
	return a
}

func (s *Server) getAnnotation(w http.ResponseWriter, r *http.Request) {
	if a := s.annotation(w, r); a != nil {
		writeJSON(w, http.StatusOK, annotationDTO(a))
	}
}

// changeAnnotation serves PUT (put: time and text are replaced, timeEnd and
// tags when given) and PATCH (only the non-empty fields given change), as
// Grafana does.
func (s *Server) changeAnnotation(put bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a := s.annotation(w, r)
		if a == nil {
			return
		}
		var cmd struct {
			Time    int64     `json:"time"`
			TimeEnd int64     `json:"timeEnd"`
			Tags    *[]string `json:"tags"`
			Text    string    `json:"text"`
		}
		if !decode(w, r, &cmd) {
			return
		}
		if put || cmd.Time > 0 {
			a.Time = cmd.Time
		}
		if cmd.TimeEnd > 0 {
			a.TimeEnd = cmd.TimeEnd
		}
		if cmd.Tags != nil && (put || len(*cmd.Tags) > 0) {
			a.Tags = slices.Clone(*cmd.Tags)
		}
		if put || cmd.Text != "" {
			a.Text = cmd.Text
		}
		if put {
			writeJSON(w, http.StatusOK, message("Annotation updated"))
			return
		}
		writeJSON(w, http.StatusOK, message("Annotation patched"))
	}
}

func (s *Server) deleteAnnotation(w http.ResponseWriter, r *http.Request) {
	if a := s.annotation(w, r); a != nil {
		delete(s.annotations, a.ID)
		writeJSON(w, http.StatusOK, message("Annotation deleted"))
	}
}
