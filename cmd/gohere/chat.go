package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/app"
	"github.com/gohere/gohere/internal/notify"
)

// chatFlags are serve's push-channel flags.
type chatFlags struct {
	webhooks, generic []string
	routes, handles   string
	timeout           time.Duration
}

func (c *chatFlags) register(fl *pflag.FlagSet) {
	fl.StringSliceVar(&c.webhooks, "notify-webhook", envList("GOHERE_NOTIFY_WEBHOOKS"),
		"Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat) told every state change of every deploy no route matches (repeatable; env GOHERE_NOTIFY_WEBHOOKS, comma-separated, keeps the secret out of ps)")
	fl.StringSliceVar(&c.generic, "notify-generic", envList("GOHERE_NOTIFY_GENERIC"),
		`URL posted the same events as plain JSON {"id","event","deploy",...} (repeatable; env GOHERE_NOTIFY_GENERIC)`)
	fl.StringVar(&c.routes, "notify-routes", os.Getenv("GOHERE_NOTIFY_ROUTES"),
		"YAML file sending a service/env to its own webhooks (routes: [{service, env, webhooks, generic}]); unmatched deploys go to --notify-webhook/--notify-generic (env GOHERE_NOTIFY_ROUTES)")
	fl.StringVar(&c.handles, "chat-handles", os.Getenv("GOHERE_CHAT_HANDLES"),
		"YAML file mapping author names to chat handles (alice: U024BE7LH, or bob: \"@bob\"), so messages mention them (env GOHERE_CHAT_HANDLES)")
	fl.DurationVar(&c.timeout, "notify-timeout", 10*time.Second, "timeout of one webhook call")
}

func (c *chatFlags) options() (app.NotifyOptions, error) {
	o := app.NotifyOptions{Timeout: c.timeout}
	for _, group := range []struct {
		flag   string
		urls   []string
		format notify.Format
	}{{"--notify-webhook", c.webhooks, notify.FormatSlack}, {"--notify-generic", c.generic, notify.FormatGeneric}} {
		for i, raw := range group.urls {
			d, err := notify.ParseDestination(raw, group.format)
			if err != nil {
				return o, fmt.Errorf("%s #%d: %w", group.flag, i+1, err)
			}
			o.Webhooks = append(o.Webhooks, d)
		}
	}
	var err error
	if c.routes != "" {
		if o.Routes, err = readFile(c.routes, notify.ParseRoutes); err != nil {
			return o, err
		}
	}
	if c.handles != "" {
		if o.Handles, err = readFile(c.handles, notify.ParseHandles); err != nil {
			return o, err
		}
	}
	return o, nil
}

// envList splits a comma-separated environment variable; nil when unset.
func envList(name string) []string {
	var out []string
	for _, v := range strings.Split(os.Getenv(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// readFile parses the file at path, naming it in any error.
func readFile[T any](path string, parse func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, gohere.Errorf(gohere.Invalid, "%w", err)
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		return zero, gohere.Errorf(gohere.Invalid, "%s: %w", path, err)
	}
	return v, nil
}
