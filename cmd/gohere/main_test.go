package main

import (
	"os"
	"testing"
)

// TestMain lets end-to-end tests run this test binary as the gohere command
// itself (so a server can be started, killed with SIGKILL and restarted as a
// separate process): with GOHERE_TEST_RUN_MAIN=1 it is main.
func TestMain(m *testing.M) {
	if os.Getenv("GOHERE_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}
