// Package gohere is the domain vocabulary of gohere: deploys, their changes,
// stages and statuses, verdicts, decisions, alerts and the error kinds every
// adapter maps to HTTP statuses and CLI exit codes.
//
// It imports nothing of ours, and never database/sql, gin or internal/...:
// arch_test.go enforces that for every domain package.
package gohere
