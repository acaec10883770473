package dashboards

// The subset of Grafana's dashboard JSON model gohere writes
// (schemaVersion 39: Grafana 10.4 and later, including 11 and 12).

const schemaVersion = 39

type dashboard struct {
	UID           string         `json:"uid"`
	Title         string         `json:"title"`
	Description   string         `json:"description"`
	Tags          []string       `json:"tags"`
	Timezone      string         `json:"timezone"`
	SchemaVersion int            `json:"schemaVersion"`
	Editable      bool           `json:"editable"`
	GraphTooltip  int            `json:"graphTooltip"` // 1: shared crosshair across panels
	Time          timeRange      `json:"time"`
	Refresh       string         `json:"refresh"`
	Templating    list[variable] `json:"templating"`
	Annotations   list[annot]    `json:"annotations"`
	Panels        []panel        `json:"panels"`
}

type list[T any] struct {
	List []T `json:"list"`
}

type timeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// prometheus is the ref every query panel uses: the dashboard's datasource
// variable, so the dashboards work with any Prometheus-compatible store.
var prometheus = dsRef{Type: "prometheus", UID: "${datasource}"}

// grafanaDS is Grafana's built-in annotation store.
var grafanaDS = dsRef{Type: "grafana", UID: "-- Grafana --"}

type variable struct {
	Name        string   `json:"name"`
	Label       string   `json:"label"`
	Description string   `json:"description,omitempty"`
	Type        string   `json:"type"` // datasource, textbox, query
	Datasource  *dsRef   `json:"datasource,omitempty"`
	Query       string   `json:"query"`
	Definition  string   `json:"definition,omitempty"`
	Current     current  `json:"current"`
	Options     []option `json:"options"`
	Hide        int      `json:"hide"`
	Refresh     int      `json:"refresh,omitempty"` // 1 on load, 2 on time range change
	Regex       string   `json:"regex,omitempty"`
	IncludeAll  bool     `json:"includeAll,omitempty"`
	Multi       bool     `json:"multi,omitempty"`
	AllValue    string   `json:"allValue,omitempty"`
	Sort        int      `json:"sort,omitempty"`
}

type current struct {
	Text  string `json:"text"`
	Value string `json:"value"`
}

type option struct {
	Selected bool   `json:"selected"`
	Text     string `json:"text"`
	Value    string `json:"value"`
}

type annot struct {
	BuiltIn    int          `json:"builtIn,omitempty"`
	Datasource dsRef        `json:"datasource"`
	Enable     bool         `json:"enable"`
	Hide       bool         `json:"hide"`
	IconColor  string       `json:"iconColor"`
	Name       string       `json:"name"`
	Type       string       `json:"type,omitempty"`
	Target     *annotTarget `json:"target,omitempty"`
}

// annotTarget selects organisation-wide annotations by tags; with MatchAny
// false an annotation must carry every tag.
type annotTarget struct {
	Type     string   `json:"type"` // tags
	Tags     []string `json:"tags"`
	MatchAny bool     `json:"matchAny"`
	Limit    int      `json:"limit"`
}

type gridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

type panel struct {
	ID          int          `json:"id"`
	Type        string       `json:"type"` // row, timeseries, stat
	Title       string       `json:"title"`
	Description string       `json:"description,omitempty"`
	Datasource  dsRef        `json:"datasource"`
	GridPos     gridPos      `json:"gridPos"`
	Collapsed   *bool        `json:"collapsed,omitempty"`
	Panels      *[]panel     `json:"panels,omitempty"` // rows only: always [] (not collapsed)
	Targets     []target     `json:"targets,omitempty"`
	FieldConfig *fieldConfig `json:"fieldConfig,omitempty"`
	Options     any          `json:"options,omitempty"`
}

type target struct {
	RefID        string `json:"refId"`
	Datasource   dsRef  `json:"datasource"`
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat"`
	Range        bool   `json:"range"`
	Instant      bool   `json:"instant"`
	EditorMode   string `json:"editorMode"`
}

type fieldConfig struct {
	Defaults  fieldDefaults `json:"defaults"`
	Overrides []override    `json:"overrides"`
}

type fieldDefaults struct {
	Unit  string `json:"unit"`
	Min   *int   `json:"min,omitempty"`
	Color *color `json:"color,omitempty"`
}

type color struct {
	Mode       string `json:"mode"` // fixed, palette-classic
	FixedColor string `json:"fixedColor,omitempty"`
}

type override struct {
	Matcher    matcher    `json:"matcher"`
	Properties []property `json:"properties"`
}

type matcher struct {
	ID      string `json:"id"`
	Options string `json:"options"`
}

type property struct {
	ID    string `json:"id"`
	Value any    `json:"value"`
}

type timeseriesOptions struct {
	Legend  legend  `json:"legend"`
	Tooltip tooltip `json:"tooltip"`
}

type legend struct {
	DisplayMode string   `json:"displayMode"`
	Placement   string   `json:"placement"`
	ShowLegend  bool     `json:"showLegend"`
	Calcs       []string `json:"calcs"`
}

type tooltip struct {
	Mode string `json:"mode"`
	Sort string `json:"sort"`
}

type statOptions struct {
	ReduceOptions reduceOptions `json:"reduceOptions"`
	ColorMode     string        `json:"colorMode"`
	GraphMode     string        `json:"graphMode"`
	JustifyMode   string        `json:"justifyMode"`
	Orientation   string        `json:"orientation"`
	TextMode      string        `json:"textMode"`
}

type reduceOptions struct {
	Calcs  []string `json:"calcs"`
	Fields string   `json:"fields"`
	Values bool     `json:"values"`
}

// layout hands out panel ids and grid positions top to bottom, left to right
// on Grafana's 24-column grid.
type layout struct {
	panels []panel
	nextID int
	x, y   int
	rowH   int
}

func (l *layout) row(title string) {
	l.newline()
	no, empty := false, []panel{}
	l.add(panel{Type: "row", Title: title, Datasource: prometheus, Collapsed: &no, Panels: &empty}, 24, 1)
}

// add places p w columns wide and h rows high, wrapping to a new line.
func (l *layout) add(p panel, w, h int) {
	if l.x+w > 24 {
		l.newline()
	}
	l.nextID++
	p.ID = l.nextID
	p.GridPos = gridPos{H: h, W: w, X: l.x, Y: l.y}
	l.panels = append(l.panels, p)
	l.x += w
	l.rowH = max(l.rowH, h)
}

func (l *layout) newline() {
	if l.x > 0 {
		l.y += l.rowH
	}
	l.x, l.rowH = 0, 0
}

func timeseries(title, description, unit string, targets []target, colors map[string]string) panel {
	fc := &fieldConfig{Defaults: fieldDefaults{Unit: unit, Color: &color{Mode: "palette-classic"}}, Overrides: []override{}}
	for _, t := range targets {
		if c, ok := colors[t.RefID]; ok {
			fc.Overrides = append(fc.Overrides, override{
				Matcher:    matcher{ID: "byFrameRefID", Options: t.RefID},
				Properties: []property{{ID: "color", Value: color{Mode: "fixed", FixedColor: c}}},
			})
		}
	}
	return panel{
		Type: "timeseries", Title: title, Description: description, Datasource: prometheus,
		Targets: targets, FieldConfig: fc,
		Options: timeseriesOptions{
			Legend:  legend{DisplayMode: "list", Placement: "bottom", ShowLegend: true, Calcs: []string{}},
			Tooltip: tooltip{Mode: "multi", Sort: "none"},
		},
	}
}

func stat(title, description, unit string, targets []target) panel {
	return panel{
		Type: "stat", Title: title, Description: description, Datasource: prometheus,
		Targets:     targets,
		FieldConfig: &fieldConfig{Defaults: fieldDefaults{Unit: unit, Color: &color{Mode: "palette-classic"}}, Overrides: []override{}},
		Options: statOptions{
			ReduceOptions: reduceOptions{Calcs: []string{"lastNotNull"}, Values: false},
			ColorMode:     "value", GraphMode: "area", JustifyMode: "auto", Orientation: "auto", TextMode: "auto",
		},
	}
}

func query(ref, expr, legendFormat string) target {
	return target{RefID: ref, Datasource: prometheus, Expr: expr, LegendFormat: legendFormat, Range: true, EditorMode: "code"}
}

func instant(ref, expr, legendFormat string) target {
	t := query(ref, expr, legendFormat)
	t.Range, t.Instant = false, true
	return t
}

func tagAnnotation(name, iconColor string, tags ...string) annot {
	return annot{
		Datasource: grafanaDS, Enable: true, IconColor: iconColor, Name: name,
		Target: &annotTarget{Type: "tags", Tags: tags, Limit: 500},
	}
}

// builtInAnnotation is the one every Grafana dashboard has (annotations made
// on the dashboard itself, and alert state changes).
var builtInAnnotation = annot{
	BuiltIn: 1, Datasource: grafanaDS, Enable: true, Hide: true,
	IconColor: "rgba(0, 211, 255, 1)", Name: "Annotations & Alerts", Type: "dashboard",
}

func textbox(name, label, description string) variable {
	return variable{Name: name, Label: label, Description: description, Type: "textbox", Options: []option{}}
}

var datasourceVar = variable{
	Name: "datasource", Label: "Data source", Type: "datasource", Query: "prometheus",
	Description: "Any Prometheus-compatible store: Prometheus, VictoriaMetrics, Mimir, Thanos",
	Options:     []option{}, Refresh: 1,
}
