package main

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/client"
)

// TestDemoOnce runs `gohere demo --once` as a user would: it exits 0 and
// prints the timeline URL, the GO HERE link and every fixture scenario
// with the verdict it expects, reached by the real runner from the
// recordings.
func TestDemoOnce(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"demo", "--once"}, nil, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d, want 0; stderr:\n%s\nstdout:\n%s", code, errOut.String(), out.String())
	}
	t.Logf("stdout:\n%s", out.String())
	checkDemoOutput(t, out.String())
	for _, want := range []string{"healthy: approve by demo → gate exit 0 (want 0)", "latency-regression: halt by demo → gate exit 1 (want 1)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo --once did not print %q", want)
		}
	}
}

// TestDemoServes runs `gohere demo` until Ctrl-C: while it serves, every
// URL it printed answers 200; after Ctrl-C it exits 0.
func TestDemoServes(t *testing.T) {
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	var out, errOut syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"demo"}, nil, &out, &errOut) }()

	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), "until Ctrl-C") {
		select {
		case c := <-code:
			t.Fatalf("demo exited %d before serving; stderr:\n%s\nstdout:\n%s", c, errOut.String(), out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 'until Ctrl-C' after a minute; stdout:\n%s", out.String())
		}
	}
	printed := out.String()
	checkDemoOutput(t, printed)
	urls := regexp.MustCompile(`http://[^\s)]+`).FindAllString(printed, -1)
	if len(urls) < 2+len(fixtures.Names()) {
		t.Errorf("printed %d URLs, want the timeline, GO HERE and one report per scenario:\n%s", len(urls), printed)
	}
	awaiting := map[string]bool{}
	for _, m := range awaitingLine.FindAllStringSubmatch(printed, -1) {
		awaiting[m[1]] = true
	}
	if len(awaiting) != 2 {
		t.Errorf("%d canaries awaiting a decision printed, want 2:\n%s", len(awaiting), printed)
	}
	for _, u := range urls {
		body := getPage(t, u)
		if awaiting[u] {
			// Running: its compare page reaches to now, beyond the
			// recordings; its report offers the decision.
			if !strings.Contains(body, "awaits a decision") || !strings.Contains(body, "with a human token to approve or halt") {
				t.Errorf("%s: no decision offered to sign in for", u)
			}
			continue
		}
		if strings.HasSuffix(u, "/demo/chat") {
			// The channel heard of the canaries that wait for a person,
			// with the way to the report's buttons.
			for _, want := range []string{"Deploy started", "awaiting your decision", "failing</b> at interval", `class="chat-message"`} {
				if !strings.Contains(body, want) {
					t.Errorf("%s lacks %q", u, want)
				}
			}
			continue
		}
		// The GO HERE link and every scenario deploy's built-in compare
		// page draw the recorded series.
		if strings.Contains(u, "/compare?") {
			checkComparePage(t, u, body)
		}
		if link := compareLink.FindStringSubmatch(body); strings.Contains(u, "/deploys/") && link != nil {
			cu := serverURL(printed) + html.UnescapeString(link[1])
			checkComparePage(t, cu, getPage(t, cu))
		}
	}

	interrupt()
	select {
	case c := <-code:
		if c != exitOK {
			t.Errorf("exit %d after Ctrl-C, want 0; stderr:\n%s", c, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo still running 30s after Ctrl-C")
	}
}

var (
	awaitingLine = regexp.MustCompile(`(?m)^  \S+ \((?:Pass|Fail)\): (http://\S+)$`)
	compareLink  = regexp.MustCompile(`<p class="compare-link"><a href="([^"]+)"`)
	drawn        = regexp.MustCompile(`<path class="series (baseline|canary)" fill="none" d="M[^"]+"`)
)

// getPage returns the body of a page that must answer 200.
func getPage(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Errorf("GET %s: %v", u, err)
		return ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %d (%v), want 200", u, resp.StatusCode, err)
	}
	return string(b)
}

// checkComparePage wants a compare page that draws lines of both versions
// with the deploy marker, and whose every query was answered.
func checkComparePage(t *testing.T, u, body string) {
	t.Helper()
	sides := map[string]int{}
	for _, m := range drawn.FindAllStringSubmatch(body, -1) {
		sides[m[1]]++
	}
	if sides["baseline"] == 0 || sides["canary"] == 0 || !strings.Contains(body, `class="overlay"`) || !strings.Contains(body, `class="marker"`) {
		t.Errorf("%s draws %d baseline and %d canary lines (overlay and deploy marker included: %t, %t); want both versions drawn",
			u, sides["baseline"], sides["canary"], strings.Contains(body, `class="overlay"`), strings.Contains(body, `class="marker"`))
	}
	for _, bad := range []string{"query failed", "no recording", "internal error"} {
		if strings.Contains(body, bad) {
			t.Errorf("%s says %q: a query of the page was not answered from the recordings", u, bad)
		}
	}
}

// serverURL is the demo's server URL as printed on the timeline line.
func serverURL(out string) string {
	m := regexp.MustCompile(`(?m)^Deploy timeline: (http://\S+)/$`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

// checkDemoOutput wants the timeline URL, a GO HERE link and a row per
// scenario whose verdict is the expected one, with its report URL.
func checkDemoOutput(t *testing.T, out string) {
	t.Helper()
	base := regexp.MustCompile(`(?m)^Deploy timeline: (http://127\.0\.0\.1:\d+)/$`).FindStringSubmatch(out)
	if base == nil {
		t.Fatalf("no 'Deploy timeline: http://127.0.0.1:PORT/' line:\n%s", out)
	}
	// The latency regression's canary, finished: its window is fixed.
	if !regexp.MustCompile(`(?m)^GO HERE: +`+regexp.QuoteMeta(base[1])+`/compare\?service=checkout&env=prod&baseline=v1\.4\.2&canary=v1\.5\.0&from=\d+&to=\d+&start=\d+$`).MatchString(out) ||
		!strings.Contains(out, "(the latency-regression canary: checkout prod v1.5.0, baseline v1.4.2, rolled_back)") {
		t.Errorf("no GO HERE link of the latency regression's canary (checkout):\n%s", out)
	}
	for _, name := range fixtures.Names() {
		sc, err := fixtures.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` +(\S+) +(\S+) +(\S+) +(\S+)$`).FindStringSubmatch(out)
		switch {
		case row == nil:
			t.Errorf("no row for scenario %s:\n%s", name, out)
		case row[1] != string(sc.Expected) || row[2] != string(sc.Expected):
			t.Errorf("scenario %s: expected %s, verdict %s; want both %s", name, row[1], row[2], sc.Expected)
		case !strings.HasPrefix(row[4], base[1]+"/deploys/"):
			t.Errorf("scenario %s: report URL %s, want %s/deploys/ID", name, row[4], base[1])
		}
	}
	if want := fmt.Sprintf("All %d scenarios got their expected verdict.", len(fixtures.Names())); !strings.Contains(out, want) {
		t.Errorf("no summary line of all verdicts being the expected ones:\n%s", out)
	}
}

// TestDemoReportsWrongVerdicts: a verdict other than the expected one, or
// one reached with an interval that could not be judged, is named in the
// summary that makes --once exit 1.
func TestDemoReportsWrongVerdicts(t *testing.T) {
	sc := func(name string, want gohere.Verdict) placedScenario {
		return placedScenario{Scenario: fixtures.Scenario{Name: name, Expected: want}}
	}
	results := []demoResult{
		{scenario: sc("fine", gohere.VerdictFail), analysis: client.Analysis{State: "failed_early", Verdict: gohere.VerdictFail}},
		{scenario: sc("wrong", gohere.VerdictPass), analysis: client.Analysis{State: "awaiting_decision", Verdict: gohere.VerdictFail}},
		{scenario: sc("broken", gohere.VerdictNoData), analysis: client.Analysis{State: "error", Verdict: gohere.VerdictNoData,
			Intervals: []client.Interval{{Seq: 1, Verdict: gohere.VerdictNoData, Error: "replay: no recording of up"}}}},
	}
	var out bytes.Buffer
	got := printDemo(&out, "http://127.0.0.1:1", "/tmp/x", client.DeployView{}, results)
	for _, want := range []string{"2 of 3 scenarios", "wrong: Fail (awaiting_decision), want Pass", "broken: interval 1 not judged: replay: no recording of up"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "fine") || !strings.Contains(out.String(), got) {
		t.Errorf("summary %q names a right verdict or is not printed:\n%s", got, out.String())
	}
}

// syncBuffer is a bytes.Buffer written by the demo and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
