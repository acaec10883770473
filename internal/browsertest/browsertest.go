// Package browsertest drives Debian's headless Chromium from tests through
// chromedp, with the flags this sandboxed, offline machine needs.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser: $GOHERE_CHROMIUM, then Debian's paths.
func chromium() (string, bool) {
	for _, p := range []string{os.Getenv("GOHERE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path, true
		}
	}
	return "", false
}

// New starts a headless Chromium for the test and returns a context for
// chromedp actions, bounded by timeout; the browser stops in tb.Cleanup.
// A missing browser fails the test: it is installed by
// scripts/install-test-deps.sh.
func New(tb testing.TB, timeout time.Duration) context.Context {
	tb.Helper()
	path, ok := chromium()
	if !ok {
		tb.Fatal("chromium not found: run scripts/install-test-deps.sh")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // tests may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(filepath.Join(tb.TempDir(), "chromium")),
		// The machine is offline: without these Chromium keeps trying
		// Google's hosts and its connections are refused.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1024),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(tb.Context()), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	tb.Cleanup(func() {
		cancelTimeout()
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		tb.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// Artifact returns where a test saves a file for humans to look at (a
// screenshot): $GOHERE_TEST_ARTIFACTS if set, else the test's temp dir.
func Artifact(tb testing.TB, name string) string {
	tb.Helper()
	dir := os.Getenv("GOHERE_TEST_ARTIFACTS")
	if dir == "" {
		dir = tb.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return filepath.Join(dir, name)
}
