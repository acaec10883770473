package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxReplyShown bounds how much of a chat's error reply an error keeps.
const maxReplyShown = 200

// sendError is a failed delivery to one destination. Its text names the
// destination by Destination.Name only: webhook URLs carry their secret in
// the path, and errors reach logs and the database.
type sendError struct {
	dest      string
	permanent bool          // the chat refused the message for good (4xx)
	after     time.Duration // the chat's Retry-After, 0 when none
	msg       string
}

func (e *sendError) Error() string { return "notify " + e.dest + ": " + e.msg }

// post sends one message body to dest and classifies the outcome: nil
// (2xx), permanent (a 3xx, or a 4xx other than 408 and 429: a moved or
// deleted webhook, a revoked token, a payload the chat will never take) or
// transient.
func post(ctx context.Context, client *http.Client, dest Destination, body []byte) error {
	fail := func(permanent bool, format string, args ...any) error {
		return &sendError{dest: dest.Name(), permanent: permanent, msg: fmt.Sprintf(format, args...)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dest.URL, bytes.NewReader(body))
	if err != nil {
		return fail(true, "bad webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gohere")
	resp, err := client.Do(req)
	if err != nil {
		// A *url.Error quotes the whole URL: keep only its cause.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fail(false, "post: %v", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, maxReplyShown+1))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	e := &sendError{dest: dest.Name(), msg: fmt.Sprintf("HTTP %d: %s", resp.StatusCode, shown(reply))}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		e.after = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	default:
		// 4xx, and 3xx: webhooks do not redirect, so the URL is wrong.
		e.permanent = true
	}
	return e
}

// shown is a chat's reply made safe and short for a log line.
func shown(reply []byte) string {
	s := strings.ToValidUTF8(string(reply), "\uFFFD")
	if len(reply) > maxReplyShown {
		s = strings.ToValidUTF8(s[:maxReplyShown], "") + "…"
	}
	if s = strings.Join(strings.Fields(s), " "); s == "" {
		return "(no reply text)"
	}
	return strconv.Quote(s)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date; 0 when
// absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// permanentError reports whether err means the chat will never take this
// message at that destination.
func permanentError(err error) bool {
	se, ok := errors.AsType[*sendError](err)
	return ok && se.permanent
}
