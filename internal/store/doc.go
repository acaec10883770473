// Package store keeps gohere's state in SQLite (the default: a file path)
// or PostgreSQL (a postgres:// URL) through database/sql: deploys, their
// changes and the durable outbox of Grafana annotation writes.
//
// Both engines run the same query text ($n placeholders); what differs
// lives in one dialect value. The schema is goose migrations embedded from
// migrations/sqlite and migrations/postgres, applied by Open: a new migration
// is a file with the same number in both directories (a test checks they stay
// in step). Every call that writes more than one row is one transaction, so an
// error leaves nothing half-written; every call is an OpenTelemetry span.
//
// It may import the domain packages (gohere, judge types); it must not import
// gin, net/http handlers or any other internal package.
package store
