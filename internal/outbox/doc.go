// Package outbox delivers deploys to Grafana as region annotations, durably.
//
// The store writes a deploy and its outbox entry in one transaction; the
// Worker here claims due deploys under a lease (all of a deploy's entries
// at once, so that one replica at a time writes its annotation), renders the
// deploy's current state into one annotation and creates or updates it, then
// records the annotation id and removes the entries. Failures are retried
// with exponential backoff and jitter. Delivery is idempotent: before creating, the worker
// looks the annotation up by its deploy-id tag, so a create whose response
// was lost is never doubled.
//
// It is service plumbing: it may import the domain packages and the store's
// types, never gin or the HTTP server.
package outbox
