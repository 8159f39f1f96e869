package main

import (
	"encoding/json"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// The tests cover the pure parts: parsing oauthload's RESULT line, judging targets,
// formatting the table and JSON, reading /proc and log lines, and flags. Nothing here starts a
// process or depends on timing.

const sampleOutput = `scenario     cc (POST http://127.0.0.1:4444/oauth2/token)
workers      16, measured 20.06s
requests     4329 ok, 0 failed
throughput   215.8 ok/s
RESULT scenario=cc rps=215.8 p50_ms=56.797 p99_ms=276.659 errors=0 c=16 requests=4329 p90_ms=162.371 max_ms=471.365 secs=20.06 client_cpu=0.08 server_cpu=1.84 server_us_per_req=8533
`

func TestParseResult(t *testing.T) {
	r, err := ParseResult(sampleOutput)
	if err != nil {
		t.Fatal(err)
	}
	if r.Fields["scenario"] != "cc" || r.RPS() != 215.8 || r.P99() != 276.659 || r.Errors() != 0 ||
		r.CPUPerRequest() != 8533 || r.Skipped() != "" || r.Fields["requests"] != "4329" {
		t.Errorf("got %+v", r.Fields)
	}
	if !math.IsNaN(r.Float("nope")) {
		t.Error("a missing field should be NaN")
	}
}

func TestParseResultLastLineWins(t *testing.T) {
	out := "RESULT scenario=cc rps=1 p99_ms=1 errors=0\r\nnoise\nRESULT scenario=cc rps=2 p99_ms=3 errors=4\n"
	r, err := ParseResult(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.RPS() != 2 || r.Errors() != 4 {
		t.Errorf("got %+v", r.Fields)
	}
}

func TestParseResultSkipped(t *testing.T) {
	out := "scenario     authcode skipped: login page\nRESULT scenario=authcode rps=0 p50_ms=0 p99_ms=0 errors=0 c=64 requests=0 skipped=interactive\n"
	r, err := ParseResult(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Skipped() != "interactive" || r.RPS() != 0 {
		t.Errorf("got %+v", r.Fields)
	}
	if !math.IsNaN(r.CPUPerRequest()) {
		t.Error("no server_us_per_req should be NaN")
	}
}

func TestParseResultErrors(t *testing.T) {
	for name, out := range map[string]string{
		"empty":           "",
		"no RESULT":       "throughput 215.8 ok/s\n",
		"not at start":    " RESULT scenario=cc rps=1 p99_ms=1 errors=0\n",
		"no scenario":     "RESULT rps=1 p99_ms=1 errors=0\n",
		"no rps":          "RESULT scenario=cc p99_ms=1 errors=0\n",
		"no errors":       "RESULT scenario=cc rps=1 p99_ms=1\n",
		"bad number":      "RESULT scenario=cc rps=fast p99_ms=1 errors=0\n",
		"field without =": "RESULT scenario=cc rps=1 p99_ms=1 errors=0 junk\n",
		"empty key":       "RESULT scenario=cc rps=1 p99_ms=1 errors=0 =3\n",
	} {
		if _, err := ParseResult(out); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestTarget(t *testing.T) {
	atLeast := Target{Op: AtLeast, Value: 0.7, Unit: "%"}
	atMost := Target{Op: AtMost, Value: 2, Unit: "x"}
	mb := Target{Op: AtMost, Value: 60, Unit: "MB"}
	for _, c := range []struct {
		t    Target
		v    float64
		want bool
	}{
		{atLeast, 0.7, true}, {atLeast, 0.69, false}, {atLeast, 1.3, true}, {atLeast, math.NaN(), false},
		{atMost, 2, true}, {atMost, 2.01, false}, {atMost, 0.5, true}, {atMost, math.NaN(), false},
		{mb, 59.9, true}, {mb, 60.1, false},
	} {
		if got := c.t.Met(c.v); got != c.want {
			t.Errorf("%s Met(%v) = %v", c.t, c.v, got)
		}
	}
	for tg, want := range map[Target]string{atLeast: "≥ 70 %", atMost: "≤ 2×", mb: "≤ 60 MB",
		{Op: AtLeast, Value: 0.12, Unit: "%"}: "≥ 12 %", {Op: AtMost, Value: 1.1, Unit: "x"}: "≤ 1.1×"} {
		if got := tg.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

func TestJudge(t *testing.T) {
	row := func(gh, floor float64, tg Target) Row {
		r := NewRow("s", "", "/s")
		r.Gatehouse, r.Floor, r.Target = gh, floor, &tg
		return r
	}
	pct := func(v float64) Target { return Target{Op: AtLeast, Value: v, Unit: "%"} }

	r := row(700, 1000, pct(0.7))
	r.Judge(false)
	if r.Status != StatusMet || r.Ratio != 0.7 {
		t.Errorf("at the target: %s %v", r.Status, r.Ratio)
	}
	r = row(699, 1000, pct(0.7))
	r.Judge(false)
	if r.Status != StatusNotMet {
		t.Errorf("below: %s", r.Status)
	}
	r = row(100, 1000, pct(0.7))
	r.Judge(true)
	if r.Status != StatusReport || r.Ratio != 0.1 {
		t.Errorf("report only: %s %v", r.Status, r.Ratio)
	}
	// No floor: the target applies to the figure.
	r = row(61, 0, Target{Op: AtMost, Value: 60, Unit: "MB"})
	r.Judge(false)
	if r.Status != StatusNotMet || !math.IsNaN(r.Ratio) {
		t.Errorf("figure: %s %v", r.Status, r.Ratio)
	}
	// A ratio set by the scenario (database growth) is what the target judges.
	r = row(9.4, 0, Target{Op: AtMost, Value: 1.1, Unit: "x"})
	r.Ratio = 1.0
	r.Judge(false)
	if r.Status != StatusMet {
		t.Errorf("own ratio: %s", r.Status)
	}
	// Failed and skipped rows keep their status.
	r = row(0, 1000, pct(0.7))
	r.Status = StatusFailed
	r.Judge(false)
	if r.Status != StatusFailed {
		t.Errorf("failed: %s", r.Status)
	}
	// No target: report.
	r = NewRow("s", "", "/s")
	r.Gatehouse = 3
	r.Judge(false)
	if r.Status != StatusReport {
		t.Errorf("no target: %s", r.Status)
	}
}

func sampleRows() []Row {
	cc := NewRow("cc-jwt", "client credentials, JWT access token (ES256)", "/s")
	cc.Gatehouse, cc.Floor, cc.FloorConfig = 4070.4, 6182.8, "-auth sha256 -sign es256"
	cc.GatehouseCPU, cc.FloorCPU = 188, 135
	cc.Target = &Target{Op: AtLeast, Value: 0.7, Unit: "%"}
	cc.Judge(false)

	p99 := NewRow("p99", "p99 latency of cc-jwt", "ms")
	p99.Gatehouse, p99.Floor = 60.877, 43.074
	p99.Target = &Target{Op: AtMost, Value: 2, Unit: "x"}
	p99.Judge(false)

	rss := NewRow("rss", "", "MB")
	rss.Gatehouse = 31.64
	rss.Target = &Target{Op: AtMost, Value: 60, Unit: "MB"}
	rss.Judge(false)

	fail := NewRow("authcode", "", "/s")
	fail.Status, fail.Note = StatusFailed, "oauthload: exit status 1"
	fail.Target = &Target{Op: AtLeast, Value: 0.12, Unit: "%"}

	db := NewRow("dbsize", "", "MB")
	db.Gatehouse, db.Ratio, db.GatehouseText = 9.4, 1.0, "9.4 → 9.4 MB"
	db.Target = &Target{Op: AtMost, Value: 1.1, Unit: "x"}
	db.Judge(false)
	return []Row{cc, p99, rss, fail, db}
}

func TestWriteTable(t *testing.T) {
	var sb strings.Builder
	if err := WriteTable(&sb, sampleRows()); err != nil {
		t.Fatal(err)
	}
	want := `scenario  gatehouse     bare handler  ratio  target   result   CPU µs/req gh | floor  gh per core
--------  ------------  ------------  -----  -------  -------  ---------------------  -----------
cc-jwt    4,070/s       6,183/s       66 %   ≥ 70 %   NOT MET  188 | 135              5,319/s
p99       61 ms         43 ms         1.41×  ≤ 2×     met      —                      —
rss       31.6 MB       —             —      ≤ 60 MB  met      —                      —
authcode  —             —             —      ≥ 12 %   failed   —                      —
dbsize    9.4 → 9.4 MB  —             1.00×  ≤ 1.1×   met      —                      —

  cc-jwt:            client credentials, JWT access token (ES256); vs floorserver -auth sha256 -sign es256
  p99:               p99 latency of cc-jwt
  authcode:          oauthload: exit status 1
`
	if got := sb.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriteMarkdown(t *testing.T) {
	var sb strings.Builder
	if err := WriteMarkdown(&sb, sampleRows()[:2]); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(sb.String(), "\n")
	want := []string{
		"| scenario | gatehouse | bare handler | ratio | target | result | CPU µs/req gh \\| floor | gh per core |",
		"|---|---|---|---|---|---|---|---|",
		"| cc-jwt | 4,070/s | 6,183/s | 66 % | ≥ 70 % | NOT MET | 188 \\| 135 | 5,319/s |",
		"| p99 | 61 ms | 43 ms | 1.41× | ≤ 2× | met | — | — |",
	}
	if !slices.Equal(lines[:4], want) {
		t.Errorf("got:\n%s", sb.String())
	}
}

func TestRowJSON(t *testing.T) {
	rows := sampleRows()
	data, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	cc, rss := got[0], got[2]
	if cc["scenario"] != "cc-jwt" || cc["status"] != StatusNotMet || cc["gatehouse_cpu_us_per_req"] != 188.0 {
		t.Errorf("cc-jwt: %v", cc)
	}
	if r, ok := cc["ratio"].(float64); !ok || math.Abs(r-4070.4/6182.8) > 1e-9 {
		t.Errorf("ratio: %v", cc["ratio"])
	}
	// NaN figures are null, not an encoding error.
	if v, ok := rss["ratio"]; !ok || v != nil {
		t.Errorf("rss ratio: %v", rss["ratio"])
	}
	if v, ok := rss["gatehouse_per_core_per_sec"]; !ok || v != nil {
		t.Errorf("rss per core: %v", v)
	}
	tg, _ := cc["target"].(map[string]any)
	if tg["op"] != ">=" || tg["value"] != 0.7 {
		t.Errorf("target: %v", tg)
	}
}

func TestFormatFigure(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{0, "/s", "0/s"}, {999.5, "/s", "1,000/s"}, {1234567, "/s", "1,234,567/s"},
		{3.14159, "ms", "3.14 ms"}, {276.659, "ms", "277 ms"}, {31.64, "MB", "31.6 MB"},
		{math.NaN(), "/s", "—"}, {8533, "µs", "8,533"},
	} {
		if got := formatFigure(c.v, c.unit); got != c.want {
			t.Errorf("formatFigure(%v, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
	if got := groupThousands(-1234); got != "-1,234" {
		t.Errorf("groupThousands(-1234) = %q", got)
	}
}

func TestParseProcStatus(t *testing.T) {
	status := "Name:\tgatehouse\nVmPeak:\t 1234 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   32768 kB\nThreads:\t9\n"
	m, err := parseProcStatus(strings.NewReader(status), "VmHWM", "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	if m["VmHWM"] != 40960 || m["VmRSS"] != 32768 {
		t.Errorf("got %v", m)
	}
	if _, err := parseProcStatus(strings.NewReader(status), "VmSwap"); err == nil {
		t.Error("a missing key should be an error")
	}
	if _, err := parseProcStatus(strings.NewReader("VmRSS:\tlots kB\n"), "VmRSS"); err == nil {
		t.Error("a malformed value should be an error")
	}
}

func TestJanitorDeleted(t *testing.T) {
	log := `{"time":"2026-12-07T00:08:18Z","level":"INFO","msg":"gatehouse is serving"}
{"time":"2026-12-07T00:08:18Z","level":"INFO","msg":"http request","path":"/janitor pass"}
{"time":"2026-12-07T00:08:18Z","level":"INFO","msg":"janitor pass","deleted":1250,"rotated":null}
{"time":"2026-12-07T00:09:18Z","level":"DEBUG","msg":"janitor pass","deleted":0,"rotated":null}
`
	n, ok := janitorDeleted([]byte(log))
	if !ok || n != 1250 {
		t.Errorf("got %d %v", n, ok)
	}
	if _, ok := janitorDeleted([]byte(`{"msg":"gatehouse is serving"}` + "\n")); ok {
		t.Error("found a pass in a log without one")
	}
}

func TestMedian(t *testing.T) {
	if got := median([]float64{30, 10, 20}); got != 20 {
		t.Errorf("odd: %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("even: %v", got)
	}
	if !math.IsNaN(median(nil)) {
		t.Error("empty: want NaN")
	}
}

func TestRedactArgs(t *testing.T) {
	args := []string{"-client-id", "c", "-client-secret", "s3cret", "-H", "Cookie: gatehouse_session=x", "-introspect-client-secret", "t"}
	got := strings.Join(redactArgs(args), " ")
	for _, leak := range []string{"s3cret", "gatehouse_session", " t"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q leaks %q", got, leak)
		}
	}
	if args[3] != "s3cret" {
		t.Error("redactArgs changed its argument")
	}
}

func TestParseFlags(t *testing.T) {
	repo := []string{"-repo", t.TempDir()}
	o, err := parseFlags(repo, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.concurrency != 64 || o.duration != 15*time.Second || o.tokens != 20000 || !slices.Equal(o.scenarios, scenarioNames()) {
		t.Errorf("defaults: %+v", o)
	}
	if !strings.HasSuffix(o.oauthload, "/shared/tools/oauthload") || !strings.HasSuffix(o.floorserver, "/shared/tools/floorserver") {
		t.Errorf("tool paths: %s %s", o.oauthload, o.floorserver)
	}

	o, err = parseFlags(append(repo, "-quick", "-scenarios", "cc-jwt, p99", "-warmup", "0s"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != 3*time.Second || o.warmup != 0 || o.tokens != 5000 || !slices.Equal(o.scenarios, []string{"cc-jwt", "p99"}) {
		t.Errorf("quick: %+v", o)
	}

	o, err = parseFlags(append(repo, "-db", "postgres"), io.Discard)
	if err != nil || o.dsn != defaultPostgresDSN {
		t.Errorf("postgres: %v %q", err, o.dsn)
	}

	for _, bad := range [][]string{
		{"-scenarios", "cc-jwt,nope"}, {"-scenarios", ","}, {"-db", "mysql"}, {"-dsn", "postgres://x"},
		{"-alg", "HS256"}, {"-c", "0"}, {"-d", "2m"}, {"-d", "10ms"}, {"-warmup", "1m"}, {"-tokens", "1"},
		{"-startup-runs", "0"}, {"-format", "csv"}, {"-pprof-env", "GATEHOUSE_DEBUG_PPROF"}, {"extra"},
	} {
		if _, err := parseFlags(append(slices.Clone(repo), bad...), io.Discard); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestScenarioTable(t *testing.T) {
	// Every scenario the run order names exists and has an oauthload scenario; every paired
	// scenario compares with a floor configuration.
	for _, name := range runOrder {
		s := scenarioByName(name)
		if s.load == "" || (s.floor != "none" && s.floor != "alg") || !s.ratioRow {
			t.Errorf("%s: %+v", name, s)
		}
	}
	seen := map[string]bool{}
	for _, s := range scenarios {
		if seen[s.name] {
			t.Errorf("duplicate scenario %s", s.name)
		}
		seen[s.name] = true
		if s.target.Value <= 0 {
			t.Errorf("%s has no target", s.name)
		}
	}
	for alg, sign := range floorSign {
		if sign != strings.ToLower(alg) {
			t.Errorf("floorSign[%s] = %s", alg, sign)
		}
	}
}

func TestGrownTables(t *testing.T) {
	before := map[string]int64{"tokens": 1000, "audit_events": 10, "clients": 5}
	after := map[string]int64{"tokens": 900, "audit_events": 5010, "clients": 5, "sessions": 2}
	if got, want := grownTables(before, after), "audit_events 10 → 5010, sessions 0 → 2"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := grownTables(after, after); got != "" {
		t.Errorf("no growth: %q", got)
	}
}

func TestParseFlagsEnv(t *testing.T) {
	repo := []string{"-repo", t.TempDir()}
	o, err := parseFlags(append(repo, "-env", "GATEHOUSE_AUDIT_RETENTION=1h", "-env", "GATEHOUSE_LOG_LEVEL=warn"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.env, []string{"GATEHOUSE_AUDIT_RETENTION=1h", "GATEHOUSE_LOG_LEVEL=warn"}) {
		t.Errorf("env: %v", o.env)
	}
	for _, bad := range []string{"PATH=/tmp", "GATEHOUSE_X", "=1"} {
		if _, err := parseFlags(append(slices.Clone(repo), "-env", bad), io.Discard); err == nil {
			t.Errorf("-env %q: no error", bad)
		}
	}
}

func TestTroubled(t *testing.T) {
	ok := NewRow("cc-jwt", "", "/s")
	ok.Status = StatusMet
	missed := ok
	missed.Status = StatusNotMet
	if troubled([]Row{ok, missed}) {
		t.Error("a missed target is not trouble")
	}
	errs := ok
	errs.Note = "gatehouse: 3 failed requests (x.txt)"
	failed := ok
	failed.Status = StatusFailed
	skipped := ok
	skipped.Status = StatusSkipped
	for _, r := range []Row{errs, failed, skipped} {
		if !troubled([]Row{ok, r}) {
			t.Errorf("%+v is trouble", r)
		}
	}
}

func TestMeanResult(t *testing.T) {
	a, err := ParseResult("RESULT scenario=cc rps=100 p50_ms=1 p99_ms=10 errors=1 c=64 requests=1500 server_us_per_req=50 only_a=x\n")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseResult("RESULT scenario=cc rps=300 p50_ms=3 p99_ms=30 errors=2 c=64 requests=4500 server_us_per_req=70\n")
	if err != nil {
		t.Fatal(err)
	}
	m := meanResult(a, b)
	if m.RPS() != 200 || m.P99() != 20 || m.CPUPerRequest() != 60 || m.Errors() != 3 ||
		m.Fields["requests"] != "6000" || m.Fields["c"] != "64" || m.Fields["scenario"] != "cc" || m.Fields["only_a"] != "x" {
		t.Errorf("got %v", m.Fields)
	}
}
