package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/server"
)

// alertFlags are serve's flags for the alert hooks.
type alertFlags struct {
	serviceLabels, envLabels []string
	window                   time.Duration
}

func (f *alertFlags) register(fl *pflag.FlagSet) {
	d := server.DefaultAlertMapping
	fl.StringSliceVar(&f.serviceLabels, "alert-service-labels", d.ServiceLabels,
		"alert labels naming gohere's service, the first present wins (for /hooks/alertmanager and /hooks/grafana)")
	fl.StringSliceVar(&f.envLabels, "alert-env-labels", d.EnvLabels, "alert labels naming the env, the first present wins")
	fl.DurationVar(&f.window, "alert-window", d.Window,
		"an alert correlates with the deploys of its service and env running at its start or finished this long before it")
}

func (f *alertFlags) mapping() (server.AlertMapping, error) {
	if f.window <= 0 || f.window > 7*24*time.Hour {
		return server.AlertMapping{}, gohere.Errorf(gohere.Invalid, "--alert-window %s: want more than 0 and at most 168h", f.window)
	}
	return server.AlertMapping{ServiceLabels: f.serviceLabels, EnvLabels: f.envLabels, Window: f.window}, nil
}
