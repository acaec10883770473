package server

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
)

// Pages are server-rendered HTML without scripts; the stylesheet is served
// by us because the CSP forbids inline styles and external assets.
var (
	//go:embed templates/*.html
	templateFS embed.FS
	//go:embed static/gohere.css
	stylesheet []byte
)

func parsePages() (*template.Template, error) {
	return template.New("pages").Option("missingkey=error").Funcs(template.FuncMap{
		"when": when,
		"took": took,
	}).ParseFS(templateFS, "templates/*.html")
}

// when formats a time for people: UTC, to the second; zero is empty.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// took is how long a deploy ran, or has been running.
func took(d gohere.Deploy) string {
	end := d.FinishedAt
	if end.IsZero() {
		end = time.Now()
	}
	return end.Sub(d.StartedAt).Round(time.Second).String()
}

type timelinePage struct {
	Title   string
	Filter  gohere.DeployFilter
	Running []DeployView
	Deploys []DeployView
}

type deployPage struct {
	Title string
	DeployView
}

type errorPage struct {
	Title   string
	Status  int
	Message string
}

// timelinePage lists deploys newest first and, above them, those still running.
func (s *Server) timelinePage(c *gin.Context) {
	f, err := parseFilter(c.Request.URL.RawQuery)
	if err != nil {
		s.pageError(c, err)
		return
	}
	ds, err := s.opts.Store.ListDeploys(c.Request.Context(), f)
	if err != nil {
		s.pageError(c, err)
		return
	}
	p := timelinePage{Title: "Deploys", Filter: f, Deploys: make([]DeployView, 0, len(ds))}
	for _, d := range ds {
		v := s.view(d)
		p.Deploys = append(p.Deploys, v)
		if d.Running() {
			p.Running = append(p.Running, v)
		}
	}
	s.render(c, http.StatusOK, "timeline.html", p)
}

func (s *Server) deployPage(c *gin.Context) {
	d, err := s.opts.Store.GetDeploy(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.pageError(c, err)
		return
	}
	s.render(c, http.StatusOK, "deploy.html", deployPage{
		Title:      d.Service + " " + d.Env + " " + d.Version,
		DeployView: s.view(d),
	})
}

func (s *Server) pageError(c *gin.Context, err error) {
	status := statusOf(err)
	s.render(c, status, "error.html", errorPage{
		Title: http.StatusText(status), Status: status, Message: s.publicMessage(c, err, status),
	})
	c.Abort()
}

// render executes a page into a buffer first, so that a template failure
// is a clean 500 instead of half a page.
func (s *Server) render(c *gin.Context, status int, name string, data any) {
	var b bytes.Buffer
	if err := s.pages.ExecuteTemplate(&b, name, data); err != nil {
		s.log.ErrorContext(c.Request.Context(), "render page", "page", name, "err", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("internal error\n"))
		return
	}
	c.Data(status, "text/html; charset=utf-8", b.Bytes())
}
