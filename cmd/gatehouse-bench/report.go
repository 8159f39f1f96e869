package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Result is the RESULT line of one oauthload run: key=value fields, in the order printed.
type Result struct {
	Fields map[string]string `json:"fields"`
}

// ParseResult finds the last line of out that starts with "RESULT " and splits its key=value
// fields. Values never contain spaces in oauthload's output.
func ParseResult(out string) (Result, error) {
	var line string
	for l := range strings.Lines(out) {
		l = strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(l, "RESULT ") {
			line = l
		}
	}
	if line == "" {
		return Result{}, errors.New("no RESULT line in the oauthload output")
	}
	r := Result{Fields: map[string]string{}}
	for _, f := range strings.Fields(strings.TrimPrefix(line, "RESULT ")) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return Result{}, fmt.Errorf("malformed RESULT field %q", f)
		}
		r.Fields[k] = v
	}
	if r.Fields["scenario"] == "" {
		return Result{}, errors.New("RESULT line without scenario=")
	}
	for _, k := range []string{"rps", "p99_ms", "errors"} {
		if _, ok := r.Fields[k]; !ok {
			return Result{}, fmt.Errorf("RESULT line without %s=", k)
		}
		if _, err := strconv.ParseFloat(r.Fields[k], 64); err != nil {
			return Result{}, fmt.Errorf("RESULT %s=%q: not a number", k, r.Fields[k])
		}
	}
	return r, nil
}

// Float returns a numeric field, or NaN when it is missing or not a number.
func (r Result) Float(key string) float64 {
	v, err := strconv.ParseFloat(r.Fields[key], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// RPS is the successful requests (or flows) per second.
func (r Result) RPS() float64 { return r.Float("rps") }

// P99 is the 99th percentile latency of successful requests, in milliseconds.
func (r Result) P99() float64 { return r.Float("p99_ms") }

// Errors is the number of failed requests.
func (r Result) Errors() int {
	n, _ := strconv.Atoi(r.Fields["errors"])
	return n
}

// Skipped is the reason oauthload skipped the scenario, or "".
func (r Result) Skipped() string { return r.Fields["skipped"] }

// CPUPerRequest is the server's CPU µs per successful request (-server-pid), or NaN.
func (r Result) CPUPerRequest() float64 { return r.Float("server_us_per_req") }

// meanResult averages the numeric fields two results share (rps, latencies, CPU), and sums
// errors and requests; other fields come from a.
func meanResult(a, b Result) Result {
	m := Result{Fields: map[string]string{}}
	for k, v := range a.Fields {
		m.Fields[k] = v
		w, ok := b.Fields[k]
		if !ok {
			continue
		}
		x, errA := strconv.ParseFloat(v, 64)
		y, errB := strconv.ParseFloat(w, 64)
		if errA != nil || errB != nil {
			continue
		}
		switch k {
		case "c", "scenario":
		case "errors", "requests":
			m.Fields[k] = strconv.FormatFloat(x+y, 'f', -1, 64)
		default:
			m.Fields[k] = strconv.FormatFloat((x+y)/2, 'f', 3, 64)
		}
	}
	return m
}

// Comparison says how a figure is held against its target.
type Comparison string

const (
	AtLeast Comparison = ">=" // the figure must be at least the target
	AtMost  Comparison = "<=" // the figure must be at most the target
)

// Target is a scenario's goal, applied to the ratio (when the row has a floor) or to the
// Gatehouse figure itself.
type Target struct {
	Op    Comparison `json:"op"`
	Value float64    `json:"value"`
	// Unit formats Value: "%" (a ratio shown as a percentage), "x" (a ratio shown as a
	// multiple), or the row's own unit ("MB", "ms").
	Unit string `json:"unit"`
}

// Met reports whether v meets the target.
func (t Target) Met(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if t.Op == AtMost {
		return v <= t.Value
	}
	return v >= t.Value
}

func (t Target) String() string {
	op := "≥"
	if t.Op == AtMost {
		op = "≤"
	}
	switch t.Unit {
	case "%":
		return op + " " + strconv.FormatFloat(t.Value*100, 'f', -1, 64) + " %"
	case "x":
		return op + " " + strconv.FormatFloat(t.Value, 'f', -1, 64) + "×"
	default:
		return op + " " + strconv.FormatFloat(t.Value, 'f', -1, 64) + " " + t.Unit
	}
}

// Status of a row.
const (
	StatusMet     = "met"
	StatusNotMet  = "NOT MET"
	StatusReport  = "report" // measured, no target (PostgreSQL)
	StatusSkipped = "skipped"
	StatusFailed  = "failed"
)

// Row is one line of the table.
type Row struct {
	Scenario string `json:"scenario"`
	// What is compared, e.g. "client credentials, JWT (ES256)".
	Description string `json:"description"`
	// Unit of Gatehouse and Floor: "/s", "ms", "MB".
	Unit      string  `json:"unit"`
	Gatehouse float64 `json:"gatehouse"`
	// Floor is the bare handler's figure (0 when the row has none); FloorConfig its flags.
	Floor       float64 `json:"floor,omitempty"`
	FloorConfig string  `json:"floor_config,omitempty"`
	// Ratio is Gatehouse/Floor (NaN, written as null, when the row has no floor).
	Ratio  float64 `json:"-"`
	Target *Target `json:"target,omitempty"`
	Status string  `json:"status"`
	// Note explains a failure, a skip, or errors seen during the run.
	Note string `json:"note,omitempty"`
	// CPU µs per successful request, of Gatehouse and of the floor (NaN: not measured).
	GatehouseCPU float64 `json:"-"`
	FloorCPU     float64 `json:"-"`
	// GatehouseText overrides the formatted Gatehouse figure (e.g. "5.1 → 5.2 MB").
	GatehouseText string `json:"gatehouse_text,omitempty"`
	// The oauthload RESULT fields behind the row.
	GatehouseResult *Result            `json:"gatehouse_result,omitempty"`
	FloorResult     *Result            `json:"floor_result,omitempty"`
	Extra           map[string]float64 `json:"extra,omitempty"`
}

// NewRow returns a row with no floor, ratio or CPU figures yet.
func NewRow(scenario, description, unit string) Row {
	return Row{Scenario: scenario, Description: description, Unit: unit,
		Ratio: math.NaN(), GatehouseCPU: math.NaN(), FloorCPU: math.NaN()}
}

// Judge sets the ratio (when there is a floor) and the status from the target. With
// reportOnly, a measured row has no verdict.
func (r *Row) Judge(reportOnly bool) {
	if r.Status == StatusFailed || r.Status == StatusSkipped {
		return
	}
	if r.Floor > 0 {
		r.Ratio = r.Gatehouse / r.Floor
	}
	// The target applies to the ratio when there is one (to the floor, or for the database
	// size to the earlier size), else to the figure itself.
	v := r.Gatehouse
	if !math.IsNaN(r.Ratio) {
		v = r.Ratio
	}
	switch {
	case reportOnly || r.Target == nil:
		r.Status = StatusReport
	case r.Target.Met(v):
		r.Status = StatusMet
	default:
		r.Status = StatusNotMet
	}
}

// MarshalJSON writes NaN figures as null.
func (r Row) MarshalJSON() ([]byte, error) {
	type plain Row
	num := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	return json.Marshal(struct {
		plain
		Ratio        *float64 `json:"ratio"`
		GatehouseCPU *float64 `json:"gatehouse_cpu_us_per_req"`
		FloorCPU     *float64 `json:"floor_cpu_us_per_req"`
		PerCore      *float64 `json:"gatehouse_per_core_per_sec"`
	}{plain(r), num(r.Ratio), num(r.GatehouseCPU), num(r.FloorCPU), num(r.PerCore())})
}

// PerCore is how many requests one core serves, from the CPU µs per request: the sizing
// figure ("N client-credentials grants per second per core"). NaN when not measured.
func (r Row) PerCore() float64 {
	if math.IsNaN(r.GatehouseCPU) || r.GatehouseCPU <= 0 {
		return math.NaN()
	}
	return 1e6 / r.GatehouseCPU
}

// formatFigure prints v in unit with a sensible precision.
func formatFigure(v float64, unit string) string {
	if math.IsNaN(v) {
		return "—"
	}
	switch unit {
	case "/s":
		return groupThousands(int64(math.Round(v))) + "/s"
	case "ms":
		if v < 10 {
			return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
		}
		return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
	case "MB":
		return strconv.FormatFloat(v, 'f', 1, 64) + " MB"
	case "µs":
		return groupThousands(int64(math.Round(v)))
	default:
		return strconv.FormatFloat(v, 'g', 4, 64) + " " + unit
	}
}

// groupThousands writes n with thin commas: 12345 -> "12,345".
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func formatRatio(r Row) string {
	if math.IsNaN(r.Ratio) {
		return "—"
	}
	if r.Target != nil && r.Target.Unit == "x" {
		return strconv.FormatFloat(r.Ratio, 'f', 2, 64) + "×"
	}
	return strconv.FormatFloat(r.Ratio*100, 'f', 0, 64) + " %"
}

// tableHeader names the columns of the table.
var tableHeader = []string{"scenario", "gatehouse", "bare handler", "ratio", "target", "result", "CPU µs/req gh | floor", "gh per core"}

// cells formats a row for the table.
func (r Row) cells() []string {
	gh := r.GatehouseText
	if gh == "" {
		gh = formatFigure(r.Gatehouse, r.Unit)
	}
	floor := "—"
	if r.Floor > 0 {
		floor = formatFigure(r.Floor, r.Unit)
	}
	target := "—"
	if r.Target != nil {
		target = r.Target.String()
	}
	status := r.Status
	switch r.Status {
	case StatusFailed, StatusSkipped:
		gh, floor = "—", "—"
	}
	cpu := "—"
	if !math.IsNaN(r.GatehouseCPU) || !math.IsNaN(r.FloorCPU) {
		cpu = formatFigure(r.GatehouseCPU, "µs") + " | " + formatFigure(r.FloorCPU, "µs")
	}
	perCore := "—"
	if pc := r.PerCore(); !math.IsNaN(pc) {
		perCore = formatFigure(pc, "/s")
	}
	return []string{r.Scenario, gh, floor, formatRatio(r), target, status, cpu, perCore}
}

// WriteTable prints rows as one aligned text table, then one line per note.
func WriteTable(w io.Writer, rows []Row) error {
	lines := [][]string{tableHeader}
	for _, r := range rows {
		lines = append(lines, r.cells())
	}
	widths := make([]int, len(tableHeader))
	for _, l := range lines {
		for i, c := range l {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	writeLine := func(l []string) {
		for i, c := range l {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if i < len(l)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
			}
		}
		b.WriteByte('\n')
	}
	writeLine(lines[0])
	rule := make([]string, len(widths))
	for i, n := range widths {
		rule[i] = strings.Repeat("-", n)
	}
	writeLine(rule)
	for _, l := range lines[1:] {
		writeLine(l)
	}
	writeNotes(&b, rows)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown prints rows as a Markdown table (for docs/performance.md), then the notes.
func WriteMarkdown(w io.Writer, rows []Row) error {
	var b strings.Builder
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + esc(c) + " |")
		}
		b.WriteByte('\n')
	}
	line(tableHeader)
	b.WriteString("|" + strings.Repeat("---|", len(tableHeader)) + "\n")
	for _, r := range rows {
		line(r.cells())
	}
	writeNotes(&b, rows)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeNotes(b *strings.Builder, rows []Row) {
	first := true
	for _, r := range rows {
		if r.Note == "" && r.FloorConfig == "" && r.Description == "" {
			continue
		}
		if first {
			b.WriteByte('\n')
			first = false
		}
		var parts []string
		if r.Description != "" {
			parts = append(parts, r.Description)
		}
		if r.FloorConfig != "" {
			parts = append(parts, "vs floorserver "+r.FloorConfig)
		}
		if r.Note != "" {
			parts = append(parts, r.Note)
		}
		fmt.Fprintf(b, "  %-18s %s\n", r.Scenario+":", strings.Join(parts, "; "))
	}
}
