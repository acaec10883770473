package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// maxInbox is how many messages an Inbox keeps; older ones go.
const maxInbox = 500

// Inbox is a chat channel in memory: it takes Slack-compatible webhook
// posts like Slack does (200 "ok") and keeps them, so that gohere demo can
// show on /demo/chat what a channel would have received.
type Inbox struct {
	mu   sync.Mutex
	msgs []InboxMessage
}

// InboxMessage is one received message.
type InboxMessage struct {
	At       time.Time
	Text     string   // the fallback text
	Sections []string // the mrkdwn or plain text of each block, in order
}

// ServeHTTP takes one webhook post.
func (in *Inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Text *struct {
				Text string `json:"text"`
			} `json:"text"`
			Elements []struct {
				Text string `json:"text"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method_not_allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&msg); err != nil || msg.Text == "" {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	m := InboxMessage{At: time.Now(), Text: msg.Text}
	for _, b := range msg.Blocks {
		if b.Text != nil {
			m.Sections = append(m.Sections, b.Text.Text)
		}
		for _, e := range b.Elements {
			if e.Text != "" {
				m.Sections = append(m.Sections, e.Text)
			}
		}
	}
	in.mu.Lock()
	in.msgs = append(in.msgs, m)
	if len(in.msgs) > maxInbox {
		in.msgs = in.msgs[len(in.msgs)-maxInbox:]
	}
	in.mu.Unlock()
	io.WriteString(w, "ok")
}

// Messages returns the received messages, newest first.
func (in *Inbox) Messages() []InboxMessage {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]InboxMessage, len(in.msgs))
	for i, m := range in.msgs {
		out[len(out)-1-i] = m
	}
	return out
}
