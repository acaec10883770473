package server

import (
	"cmp"
	"html"
	"html/template"
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere/internal/notify"
)

// chatPage shows what the demo's channel received (Options.ChatInbox).
func (s *Server) chatPage(c *gin.Context) {
	p := chatPage{Title: "Chat channel (demo)", Messages: s.opts.ChatInbox.Messages()}
	s.render(c, http.StatusOK, "chat.html", &p)
}

type chatPage struct {
	chrome
	Title    string
	Messages []notify.InboxMessage
}

var (
	// A Slack link or mention: <https://x|label>, <@U123>, <!here>.
	mrkdwnToken = regexp.MustCompile(`<([^<>]*)>`)
	mrkdwnBold  = regexp.MustCompile(`\*([^*\n]+)\*`)
)

// mrkdwn renders Slack's mrkdwn as a chat client would, for the demo's
// page: links, mentions, bold. Everything else is text: the message's own
// entities (&amp; &lt; &gt;) are decoded and escaped again, so a message
// can never inject markup.
func mrkdwn(s string) template.HTML {
	var b strings.Builder
	text := func(t string) {
		b.WriteString(html.EscapeString(html.UnescapeString(t)))
	}
	last := 0
	for _, m := range mrkdwnToken.FindAllStringSubmatchIndex(s, -1) {
		text(s[last:m[0]])
		last = m[1]
		target, label, _ := strings.Cut(html.UnescapeString(s[m[2]:m[3]]), "|")
		switch {
		case strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://"):
			// %2A: no bold may start inside the attribute.
			b.WriteString(`<a href="` + html.EscapeString(strings.ReplaceAll(target, "*", "%2A")) + `">` + html.EscapeString(cmp.Or(label, target)) + `</a>`)
		case strings.HasPrefix(target, "@"), strings.HasPrefix(target, "!"):
			b.WriteString(`<span class="mention">` + html.EscapeString("@"+strings.TrimLeft(target, "@!")) + `</span>`)
		default:
			b.WriteString(html.EscapeString(html.UnescapeString(s[m[0]:m[1]])))
		}
	}
	text(s[last:])
	// Bold last, so that it may span a link: *<https://x|GO HERE>*.
	return template.HTML(mrkdwnBold.ReplaceAllString(b.String(), "<b>$1</b>"))
}
