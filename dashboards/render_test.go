package dashboards_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/dashboards"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func render(t *testing.T, opts dashboards.Options) map[string][]byte {
	t.Helper()
	files, err := dashboards.Render(opts)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return m
}

// TestGolden pins the JSON (review changes with -update) and its determinism.
func TestGolden(t *testing.T) {
	files := render(t, dashboards.Options{})
	if got, want := slices.Sorted(mapsKeys(files)), []string{"gohere-compare", "gohere-deploys"}; !slices.Equal(got, want) {
		t.Fatalf("uids %v, want %v", got, want)
	}
	again := render(t, dashboards.Options{})
	for uid, b := range files {
		if !bytes.Equal(b, again[uid]) {
			t.Errorf("%s: two renders differ", uid)
		}
		path := filepath.Join("testdata", uid+".json")
		if *update {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if diff := cmp.Diff(string(want), string(b)); diff != "" {
			t.Errorf("%s differs from %s (-want +got; go test -update if intended):\n%s", uid, path, diff)
		}
	}
}

func mapsKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// varRef matches Grafana's variable syntaxes: $name, ${name}, ${name:fmt}, [[name]].
var varRef = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)(?::[^\]]*)?\]\]`)

func TestStructure(t *testing.T) {
	for _, opts := range []dashboards.Options{{}, {VersionLabel: "app_version", ServiceLabel: "job", EnvLabel: "namespace"}} {
		for uid, b := range render(t, opts) {
			t.Run(fmt.Sprintf("%s/%s", uid, opts.VersionLabel), func(t *testing.T) {
				checkDashboard(t, uid, decode(t, b), string(b))
			})
		}
	}
}

func checkDashboard(t *testing.T, uid string, d map[string]any, raw string) {
	if d["uid"] != uid {
		t.Errorf("uid %v, want %s", d["uid"], uid)
	}
	if _, ok := d["id"]; ok {
		t.Error("has an id: Grafana assigns those, and provisioning wants none")
	}
	if v, _ := d["schemaVersion"].(float64); v < 36 || v > 41 {
		t.Errorf("schemaVersion %v, want one Grafana 11 and 12 load without migration trouble (36..41)", d["schemaVersion"])
	}
	if title, _ := d["title"].(string); title == "" {
		t.Error("no title")
	}

	defined := map[string]bool{}
	for _, v := range list(d, "templating") {
		name, _ := v["name"].(string)
		if defined[name] {
			t.Errorf("variable %s defined twice", name)
		}
		defined[name] = true
		if v["type"] == "datasource" && v["query"] != "prometheus" {
			t.Errorf("datasource variable %s selects %v, want prometheus", name, v["query"])
		}
	}
	if !defined["datasource"] {
		t.Error("no datasource variable")
	}
	for _, m := range varRef.FindAllStringSubmatch(raw, -1) {
		name := m[1] + m[2] + m[3]
		if !defined[name] && !strings.HasPrefix(name, "__") {
			t.Errorf("uses $%s, which is not defined", name)
		}
	}

	ids := map[float64]bool{}
	var cells [][2]int // occupied (x, y) cells of the 24-column grid
	var walk func(panels []any)
	walk = func(panels []any) {
		for _, p := range panels {
			p := p.(map[string]any)
			title, typ := p["title"], p["type"]
			id, _ := p["id"].(float64)
			if id == 0 || ids[id] {
				t.Errorf("panel %q: id %v missing or not unique", title, p["id"])
			}
			ids[id] = true
			if !slices.Contains([]any{"row", "timeseries", "stat"}, typ) {
				t.Errorf("panel %q: type %v, want row, timeseries or stat", title, typ)
			}
			ds, _ := p["datasource"].(map[string]any)
			if ds["type"] != "prometheus" || ds["uid"] != "${datasource}" {
				t.Errorf("panel %q: datasource %v, want the prometheus ${datasource}", title, p["datasource"])
			}
			g, _ := p["gridPos"].(map[string]any)
			x, y, w, h := int(num(g["x"])), int(num(g["y"])), int(num(g["w"])), int(num(g["h"]))
			if w <= 0 || h <= 0 || x < 0 || x+w > 24 {
				t.Errorf("panel %q: gridPos %v outside the grid", title, g)
			}
			for i := range w {
				for j := range h {
					c := [2]int{x + i, y + j}
					if slices.Contains(cells, c) {
						t.Errorf("panel %q overlaps another at %v", title, c)
					}
					cells = append(cells, c)
				}
			}
			if typ == "row" {
				sub, _ := p["panels"].([]any)
				walk(sub)
				continue
			}
			targets, _ := p["targets"].([]any)
			if len(targets) == 0 {
				t.Errorf("panel %q has no query", title)
			}
			refs := map[any]bool{}
			for _, tg := range targets {
				tg := tg.(map[string]any)
				if refs[tg["refId"]] || tg["refId"] == "" {
					t.Errorf("panel %q: refId %v missing or repeated", title, tg["refId"])
				}
				refs[tg["refId"]] = true
				if expr, _ := tg["expr"].(string); strings.TrimSpace(expr) == "" {
					t.Errorf("panel %q: empty expr", title)
				}
				if tds, _ := tg["datasource"].(map[string]any); tds["uid"] != "${datasource}" {
					t.Errorf("panel %q: query datasource %v", title, tg["datasource"])
				}
			}
		}
	}
	panels, _ := d["panels"].([]any)
	if len(panels) == 0 {
		t.Fatal("no panels")
	}
	walk(panels)
}

func list(d map[string]any, key string) []map[string]any {
	outer, _ := d[key].(map[string]any)
	items, _ := outer["list"].([]any)
	var out []map[string]any
	for _, it := range items {
		out = append(out, it.(map[string]any))
	}
	return out
}

func num(v any) float64 { f, _ := v.(float64); return f }

// TestCompareDashboard checks what the GO HERE link relies on.
func TestCompareDashboard(t *testing.T) {
	d := decode(t, render(t, dashboards.Options{})["gohere-compare"])
	types := map[string]any{}
	for _, v := range list(d, "templating") {
		types[v["name"].(string)] = v["type"]
	}
	want := map[string]any{"datasource": "datasource", "service": "textbox", "env": "textbox", "baseline": "textbox", "canary": "textbox"}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	var tagSets [][]string
	for _, a := range list(d, "annotations") {
		tg, _ := a["target"].(map[string]any)
		if tg == nil {
			continue
		}
		var tags []string
		for _, x := range tg["tags"].([]any) {
			tags = append(tags, x.(string))
		}
		if tg["type"] != "tags" || tg["matchAny"] != false || a["enable"] != true {
			t.Errorf("annotation %v: want an enabled tags query matching all tags", a["name"])
		}
		tagSets = append(tagSets, tags)
	}
	wantTags := [][]string{{"deploy", "service:$service", "env:$env"}, {"alert", "service:$service"}}
	if diff := cmp.Diff(wantTags, tagSets); diff != "" {
		t.Errorf("annotation tags (-want +got):\n%s", diff)
	}

	// Per signal: baseline, canary and overlay, in that order, on one line.
	var titles []string
	var sides []int
	for _, p := range d["panels"].([]any) {
		p := p.(map[string]any)
		if p["type"] == "row" {
			titles = append(titles, "row "+p["title"].(string))
			continue
		}
		titles = append(titles, p["title"].(string))
		sides = append(sides, len(p["targets"].([]any)))
	}
	wantTitles := []string{"row RED: rate, errors, duration"}
	for _, s := range []string{"Request rate", "Error ratio (5xx)", "Latency p50", "Latency p99", "row Saturation", "CPU (cores)", "Memory (resident)"} {
		if strings.HasPrefix(s, "row ") {
			wantTitles = append(wantTitles, s)
			continue
		}
		wantTitles = append(wantTitles, s+" · baseline $baseline", s+" · canary $canary", s+" · overlay")
	}
	if diff := cmp.Diff(wantTitles, titles); diff != "" {
		t.Errorf("panels (-want +got):\n%s", diff)
	}
	for i := 0; i+2 < len(sides); i += 3 {
		if sides[i] != 1 || sides[i+1] != 1 || sides[i+2] != 2 {
			t.Errorf("signal %d: queries per panel %v, want 1, 1 and 2 (overlay)", i/3, sides[i:i+3])
		}
	}
}

func TestLabelOptions(t *testing.T) {
	b := string(render(t, dashboards.Options{VersionLabel: "app_version", ServiceLabel: "job", EnvLabel: "namespace"})["gohere-compare"])
	for _, want := range []string{`job=\"$service\",namespace=\"$env\",app_version=\"$baseline\"`, `app_version=\"$canary\"`} {
		if !strings.Contains(b, want) {
			t.Errorf("compare dashboard lacks %s", want)
		}
	}
	if strings.Contains(b, `version=\"$canary\"`) && !strings.Contains(b, `app_version=\"$canary\"`) {
		t.Error("default version label left in")
	}
	for _, bad := range []dashboards.Options{{VersionLabel: "app-version"}, {ServiceLabel: "1x"}, {EnvLabel: `e"`}} {
		if _, err := dashboards.Render(bad); gohere.KindOf(err) != gohere.Invalid {
			t.Errorf("Render(%+v) = %v, want an Invalid error", bad, err)
		}
	}
}

func TestExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "provisioning", "dashboards")
	opts := dashboards.Options{VersionLabel: "release"}
	if err := dashboards.Export(dir, opts); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"gohere-compare.json", "gohere-deploys.json"}, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	files := render(t, opts)
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Errorf("%s is not valid JSON", n)
		}
		if !bytes.Equal(b, files[strings.TrimSuffix(n, ".json")]) {
			t.Errorf("%s differs from Render", n)
		}
	}
	// A file where the directory should be is a clear error, not a panic.
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := dashboards.Export(blocked, opts); err == nil {
		t.Error("Export into a file: nil error")
	}
}

// TestPromQLParses hands every query, with Grafana's variables replaced as
// Grafana would, to promtool, Prometheus's own parser.
func TestPromQLParses(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: run scripts/install-test-deps.sh")
	}
	grafana := strings.NewReplacer("$__rate_interval", "1m", "$__range", "1h", "$__interval", "30s",
		"$service", "checkout", "$env", "prod", "$baseline", "v1", "$canary", "v2", "${datasource}", "x")
	var exprs []string
	for _, opts := range []dashboards.Options{{}, {VersionLabel: "app_version", ServiceLabel: "job", EnvLabel: "namespace"}} {
		for _, b := range render(t, opts) {
			var walk func([]any)
			walk = func(panels []any) {
				for _, p := range panels {
					p := p.(map[string]any)
					sub, _ := p["panels"].([]any)
					walk(sub)
					tgs, _ := p["targets"].([]any)
					for _, tg := range tgs {
						exprs = append(exprs, grafana.Replace(tg.(map[string]any)["expr"].(string)))
					}
				}
			}
			walk(decode(t, b)["panels"].([]any))
		}
	}
	sort.Strings(exprs)
	exprs = slices.Compact(exprs)
	var rules strings.Builder
	rules.WriteString("groups:\n- name: dashboards\n  rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(e) // a JSON string is a YAML string
		fmt.Fprintf(&rules, "  - record: q%d\n    expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s\nrules:\n%s", err, out, rules.String())
	}
	if len(exprs) < 10 {
		t.Errorf("only %d queries checked", len(exprs))
	}
}
