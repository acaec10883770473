// Package app wires gohere together: options in, New, Run(ctx), Close. The
// serve and demo commands and the end-to-end tests all start the service
// through it, so what the tests run is what users run.
//
// It may import every package of gohere; nothing imports it but cmd/gohere.
package app
