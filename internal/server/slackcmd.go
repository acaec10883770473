package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/notify"
	"github.com/gohere/gohere/internal/train"
)

// slackMaxSkew is how old (or how far ahead) a signed request's timestamp
// may be: Slack's advice, so that a captured request cannot be replayed
// later.
const slackMaxSkew = 5 * time.Minute

// verifySlack checks Slack's request signing: X-Slack-Signature is "v0="
// and the hex HMAC-SHA256, keyed with the signing secret, of
// "v0:<X-Slack-Request-Timestamp>:<raw body>".
func verifySlack(secret, timestamp, signature string, body []byte, now time.Time) error {
	unauthorized := func(msg string) error { return gohere.Errorf(gohere.Unauthorized, "slack request: %s", msg) }
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return unauthorized("missing or malformed X-Slack-Request-Timestamp")
	}
	if skew := now.Sub(time.Unix(sec, 0)); skew > slackMaxSkew || skew < -slackMaxSkew {
		return unauthorized("timestamp is more than 5 minutes off: refused as a possible replay")
	}
	got, ok := strings.CutPrefix(signature, "v0=")
	if !ok {
		return unauthorized("missing or malformed X-Slack-Signature")
	}
	sig, err := hex.DecodeString(got)
	if err != nil {
		return unauthorized("missing or malformed X-Slack-Signature")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(body)
	if !hmac.Equal(sig, mac.Sum(nil)) { // constant time
		return unauthorized("bad signature")
	}
	return nil
}

// SlashCommand is the text of a /gohere slash command, parsed:
//
//	join TRAIN | in [TRAIN] | verified [TRAIN] | leave [TRAIN]
//	remove MEMBER [TRAIN] | stop [TRAIN:] REASON | start [TRAIN] | status [TRAIN] | help
//
// A train left out is the one the caller is aboard. A stop's "TRAIN:"
// prefix names a train only if someone is aboard it (see runSlash):
// "stop NOTE: db is down" is a reason.
type SlashCommand struct {
	Action string
	Train  string
	Arg    string // remove: the member; stop: the reason
}

// ParseSlashCommand reads the text of a slash command. It never panics;
// bad text is an Invalid error whose message is the usage.
func ParseSlashCommand(text string) (SlashCommand, error) {
	usage := gohere.Errorf(gohere.Invalid, "usage: /gohere join TRAIN | in | verified | leave | remove MEMBER | stop [TRAIN:] REASON | start [TRAIN] | status [TRAIN]")
	action, rest, _ := strings.Cut(strings.TrimSpace(text), " ")
	rest = strings.TrimSpace(rest)
	words := strings.Fields(rest)
	cmd := SlashCommand{Action: strings.ToLower(action)}
	switch cmd.Action {
	case "", "help":
		return SlashCommand{Action: "help"}, nil
	case TrainJoin:
		if len(words) != 1 {
			return SlashCommand{}, usage
		}
		cmd.Train = words[0]
	case TrainIn, TrainVerified, TrainLeave, TrainStart, "status":
		if len(words) > 1 {
			return SlashCommand{}, usage
		}
		if len(words) == 1 {
			cmd.Train = words[0]
		}
	case TrainRemove:
		if len(words) < 1 || len(words) > 2 {
			return SlashCommand{}, usage
		}
		cmd.Arg = words[0]
		if len(words) == 2 {
			cmd.Train = words[1]
		}
	case TrainStop:
		if len(words) > 0 && len(words[0]) > 1 && strings.HasSuffix(words[0], ":") {
			cmd.Train, rest = strings.TrimSuffix(words[0], ":"), strings.TrimSpace(strings.TrimPrefix(rest, words[0]))
		}
		if rest == "" {
			return SlashCommand{}, gohere.Errorf(gohere.Invalid, "usage: /gohere stop [TRAIN:] REASON — a reason is required")
		}
		cmd.Arg = rest
	default:
		return SlashCommand{}, usage
	}
	if cmd.Train != "" {
		if err := train.ValidateName(cmd.Train); err != nil {
			return SlashCommand{}, err
		}
	}
	return cmd, nil
}

// slashReply is what Slack shows the caller only.
type slashReply struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

// slashCommand serves POST /hooks/slack/command. A request not signed with
// the signing secret is a 401; anything else is answered 200 with an
// ephemeral reply, errors included, since Slack shows a failed request as
// a bare "dispatch failed". The change itself goes to the channel as the
// train's message.
func (s *Server) slashCommand(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBytes))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		s.apiError(c, gohere.Errorf(gohere.TooLarge, "slash command: body is larger than %d bytes", maxFormBytes))
		return
	}
	if err != nil {
		s.apiError(c, gohere.Errorf(gohere.Invalid, "slash command: read body: %w", err))
		return
	}
	if err := verifySlack(s.opts.SlackSigningSecret, c.GetHeader("X-Slack-Request-Timestamp"), c.GetHeader("X-Slack-Signature"), body, time.Now()); err != nil {
		s.log.InfoContext(c.Request.Context(), "slash command refused", "err", err)
		s.apiError(c, err)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		s.apiError(c, gohere.Errorf(gohere.Invalid, "slash command: malformed form body"))
		return
	}
	c.JSON(http.StatusOK, slashReply{ResponseType: "ephemeral", Text: s.runSlash(c, form)})
}

// runSlash runs a verified slash command and says how it went.
func (s *Server) runSlash(c *gin.Context, form url.Values) string {
	ctx := c.Request.Context()
	// The caller is who the chat handles name for their member id, so that
	// the same person is the same member from chat, CLI and page; else
	// their Slack name.
	name := s.opts.ChatHandles.Name(form.Get("user_id"))
	if name == "" {
		name = form.Get("user_name")
	}
	if err := gohere.ValidateName("slack user", name); err != nil {
		return notify.Escape(err.Error())
	}
	who := train.Actor{Name: name, Human: true}
	cmd, err := ParseSlashCommand(form.Get("text"))
	if err != nil {
		return notify.Escape(err.Error())
	}
	if cmd.Action == "help" {
		return notify.Escape("/gohere join TRAIN, then in when your code is pushed and verified once it is checked on staging; leave, remove MEMBER (leaders), stop [TRAIN:] REASON, start [TRAIN] (humans), status [TRAIN].")
	}
	if cmd.Action == TrainStop && cmd.Train != "" {
		// "stop NOTE: db is down": a word with a colon names the train only
		// when that train has people aboard; else it is part of the reason,
		// and the train is the caller's.
		t, err := s.opts.Trains.Train(ctx, cmd.Train)
		if err != nil {
			return notify.Escape(s.publicMessage(c, err, statusOf(err)))
		}
		if len(t.People()) == 0 {
			cmd.Train, cmd.Arg = "", cmd.Train+": "+cmd.Arg
		}
	}
	if cmd.Train == "" && cmd.Action != "status" {
		if cmd.Train, err = s.trainOf(c, name); err != nil {
			return notify.Escape(err.Error())
		}
	}
	if cmd.Action == "status" {
		ts, err := s.trainsNamed(c, cmd.Train)
		if err != nil {
			return notify.Escape(s.publicMessage(c, err, statusOf(err)))
		}
		return notify.TrainStatus(ts, s.opts.ChatHandles, time.Now())
	}
	_, ev, err := s.actOnTrain(ctx, cmd.Train, cmd.Action, who, cmd.Arg, nil)
	if err != nil {
		return notify.Escape(s.publicMessage(c, err, statusOf(err)))
	}
	return notify.TrainSlack(ev, s.opts.ChatHandles).Text
}

// trainOf is the train name is aboard: the one a command means when it
// names none.
func (s *Server) trainOf(c *gin.Context, name string) (string, error) {
	ts, err := s.opts.Trains.ListTrains(c.Request.Context())
	if err != nil {
		return "", err
	}
	for _, t := range ts {
		if _, _, ok := t.Find(name); ok {
			return t.Name, nil
		}
	}
	return "", gohere.Errorf(gohere.Invalid, "%s is in no train: name the train", name)
}

// trainsNamed is the named train, or every train for "".
func (s *Server) trainsNamed(c *gin.Context, name string) ([]train.Train, error) {
	if name == "" {
		return s.opts.Trains.ListTrains(c.Request.Context())
	}
	t, err := s.opts.Trains.Train(c.Request.Context(), name)
	return []train.Train{t}, err
}
