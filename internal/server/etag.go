package server

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// tagged is a response body with its entity tag: a hash of the body, so
// that every replica tags the same answer alike.
type tagged struct {
	contentType string
	body        []byte
	etag        string
}

func newTagged(contentType string, body []byte) tagged {
	sum := sha256.Sum256(body)
	return tagged{contentType: contentType, body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// send answers 304 Not Modified to a request whose If-None-Match names the
// tag, else 200 with the body. Clients may keep it but ask again on every
// use (no-cache), which costs them a 304 while nothing changed.
func (t tagged) send(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("ETag", t.etag)
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-cache")
	}
	if matchesTag(c.GetHeader("If-None-Match"), t.etag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, t.contentType, t.body)
}

// matchesTag compares an If-None-Match list with etag, weakly (RFC 9110
// 13.1.2: W/"x" matches "x").
func matchesTag(ifNoneMatch, etag string) bool {
	for tag := range strings.SplitSeq(ifNoneMatch, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}

// A page that is the same for everyone not signed in (the timeline) is
// rendered at most once per pageTTL and filter, or again at once after this
// server recorded a change: under load, views cost no queries and no
// template runs. Changes another replica or the analysis runner makes show
// within pageTTL.
const (
	pageTTL     = time.Second
	pageEntries = 256
	pageBytes   = 16 << 20
)

// pageCache keeps rendered pages by key.
type pageCache struct {
	mu    sync.Mutex
	gen   uint64 // changes recorded so far
	pages *lru[string, tagged]
}

func newPageCache() *pageCache {
	return &pageCache{pages: newLRU[string, tagged](pageEntries, pageBytes)}
}

// get returns the page kept under key at now, and the generation to put a
// freshly rendered one with.
func (p *pageCache) get(key string, now time.Time) (_ tagged, gen uint64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.pages.get(key, now)
	return t, p.gen, ok
}

// put keeps a page rendered from what was read after get returned gen,
// unless a change was recorded since: that page may predate it.
func (p *pageCache) put(key string, t tagged, gen uint64, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen == p.gen {
		p.pages.put(key, t, len(key)+len(t.body)+len(t.etag), now.Add(pageTTL))
	}
}

// changed forgets every page: this server recorded a change.
func (p *pageCache) changed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	p.pages.clear()
}

// forgetPagesOnChange makes the recorded changes that pages show (deploys,
// decisions, analyses) forget the rendered pages.
func (s *Server) forgetPagesOnChange() {
	deploy, analysis := s.opts.OnDeployChanged, s.opts.OnAnalysisCreated
	s.opts.OnDeployChanged = func() { s.rendered.changed(); deploy() }
	s.opts.OnAnalysisCreated = func() { s.rendered.changed(); analysis() }
}
