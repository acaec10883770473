// Package judge is the canary judge: it loads and validates a canary config
// (YAML, JSON, or a Kayenta canary config), classifies every metric of a
// canary against its baseline, scores the groups and returns a Report with a
// verdict and the evidence behind it.
//
//	cfg, err := judge.LoadConfigFile("canary.yaml")
//	report := judge.Judge(cfg, baseline, canary) // judge.Data per side
//	report.WriteText(os.Stdout)
//
// Two modes: "gohere" (the default) gates a metric on its p-value adjusted
// across the analysis (R-exact Mann-Whitney U, or a two-proportion test for
// rate metrics given as counts), the effect size and a minimum relative
// shift; "kayenta" reproduces Kayenta's NetflixACAJudge-v1.0 labels and
// scores. Missing data is NoData or a failure, never a pass.
//
// The package is pure: no network, no database, no clock, no goroutines. It
// imports the domain package gohere and the statistics kernel judge/stats;
// it must not import database/sql, gin or anything under internal/.
package judge
