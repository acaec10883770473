package browsertest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestBrowserRendersALocalPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>t</title><h1 id="h">hello <b>gohere</b></h1>`))
	}))
	defer srv.Close()
	ctx := New(t, 30*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("h")))
	if err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if text != "hello gohere" {
		t.Errorf("text = %q, want %q", text, "hello gohere")
	}
	if len(png) < 100 || string(png[1:4]) != "PNG" {
		t.Errorf("screenshot is %d bytes, not a PNG", len(png))
	}
	if err := os.WriteFile(Artifact(t, "browsertest.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
