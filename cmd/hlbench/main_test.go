package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 4 is the 2nd", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(hundred...), 99, 99 * time.Millisecond},
		{"p50 of 100 is the 50th", ms(hundred...), 50, 50 * time.Millisecond},
		{"p99 of 10 is the last", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	} {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: percentile(p%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestComparisonTargets(t *testing.T) {
	t.Parallel()
	direct := cell{Mode: modeDirect, Conc: 64, P50: 1000 * time.Microsecond, P99: 3000 * time.Microsecond, Calls: 1000, Elapsed: time.Second}
	for _, tc := range []struct {
		name   string
		facade cell
		want   []string
	}{
		{"gRPC within both", cell{Mode: modeGRPC, Conc: 64, P50: 1250 * time.Microsecond, Calls: 500, Elapsed: time.Second}, nil},
		{"gRPC slow", cell{Mode: modeGRPC, Conc: 64, P50: 1251 * time.Microsecond, Calls: 480, Elapsed: time.Second},
			[]string{"+p50 251 µs > 250 µs", "throughput ×0.48 < ×0.50"}},
		{"REST has the wider latency target", cell{Mode: modeREST, Conc: 64, P50: 1400 * time.Microsecond, Calls: 900, Elapsed: time.Second}, nil},
		{"throughput is judged at 64 callers only", cell{Mode: modeREST, Conc: 8, P50: 1000 * time.Microsecond, Calls: 100, Elapsed: time.Second}, nil},
	} {
		d := direct
		d.Conc = tc.facade.Conc
		got := comparison{facade: tc.facade, direct: d}.misses()
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: misses (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestSplice(t *testing.T) {
	t.Parallel()
	limiter := "# Benchmarks\n\nIntro.\n\n## Limiter\n\nTheirs, kept as is.\n"
	added, err := splice(limiter, "TABLE 1")
	if err != nil {
		t.Fatal(err)
	}
	want := limiter + "\n" + sectionHeading + "\n\n" + beginMarker + "\n\nTABLE 1\n\n" + endMarker + "\n"
	if diff := cmp.Diff(want, added); diff != "" {
		t.Fatalf("section appended (-want +got):\n%s", diff)
	}

	// The analysis written after the markers, and any section after this
	// one, survive a new run.
	withAnalysis := added + "\nWhere the time goes: ...\n\n## Later\n\nMore.\n"
	again, err := splice(withAnalysis, "TABLE 2\n")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.Replace(withAnalysis, "TABLE 1", "TABLE 2", 1), again); diff != "" {
		t.Fatalf("block replaced (-want +got):\n%s", diff)
	}

	// A heading written by hand gets the block right under it.
	byHand := "## Limiter\n\nx\n\n" + sectionHeading + "\n\nNotes.\n"
	got, err := splice(byHand, "T")
	if err != nil {
		t.Fatal(err)
	}
	if want := "## Limiter\n\nx\n\n" + sectionHeading + "\n\n" + beginMarker + "\n\nT\n\n" + endMarker + "\n\nNotes.\n"; got != want {
		t.Fatalf("under the heading:\n%q\nwant\n%q", got, want)
	}
	// A heading that only starts like ours is not ours.
	if got, _ := splice(sectionHeading+" (old)\n", "T"); !strings.HasPrefix(got, sectionHeading+" (old)\n\n"+sectionHeading+"\n") {
		t.Fatalf("a longer heading was taken for ours:\n%s", got)
	}

	if _, err := splice("x\n"+endMarker+"\n"+beginMarker+"\n", "T"); err == nil {
		t.Fatal("markers out of order were accepted")
	}
	if _, err := splice("x\n"+beginMarker+"\n", "T"); err == nil {
		t.Fatal("a lone begin marker was accepted")
	}
}

func TestParseOptionsNamesTheBadFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-concurrency", "1,x"}, "-concurrency"},
		{[]string{"-concurrency", "0"}, "-concurrency"},
		{[]string{"-stores", "memcached"}, "-stores"},
		{[]string{"-ops", "delete"}, "-ops"},
		{[]string{"-time", "3s", "-max-time", "1s"}, "-max-time"},
		{[]string{"-cpuprofile", "x", "-profile-cell", "gRPC/memory"}, "-profile-cell"},
	} {
		_, err := parseOptions(tc.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseOptions(%q) = %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
}

// TestRunEndToEnd runs a tiny benchmark with both stores and checks that
// every cell was measured (each mode's answers were verified to agree before
// timing), that the document section and the PNG were written, and that a
// section someone else owns is left intact.
func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	doc := filepath.Join(dir, "BENCHMARKS.md")
	others := "# Benchmarks\n\n## Limiter\n\nNot ours.\n"
	if err := os.WriteFile(doc, []byte(others), 0o644); err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(dir, "bench-latency.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	args := []string{"-warmup", "10ms", "-time", "50ms", "-calls", "20", "-concurrency", "1,3", "-doc", doc, "-plot", png}
	if err := run(ctx, args, &out, &bytes.Buffer{}); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}

	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !strings.HasPrefix(text, others) {
		t.Fatalf("the other section changed:\n%s", text)
	}
	for _, store := range []string{"memory", "redis"} {
		for _, op := range []string{opGet, opSearch} {
			if !strings.Contains(text, "#### "+opName(op)+", "+store+" stores") {
				t.Errorf("document lacks the table of %s/%s", op, store)
			}
		}
	}
	// 2 stores × 2 operations × 2 concurrencies × 3 modes cells; facade
	// rows carry a verdict.
	rows := 0
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "| 1 |") || strings.HasPrefix(l, "| 3 |") {
			rows++
		}
	}
	if rows != 24 {
		t.Errorf("document has %d table rows, want 24:\n%s", rows, text)
	}
	if n := strings.Count(text, "| met |") + strings.Count(text, "| MISSED: "); n != 16 {
		t.Errorf("document has %d verdicts, want 16 (one per facade row)", n)
	}
	if !strings.Contains(text, "(bench-latency.png)") {
		t.Error("document does not show the plot")
	}
	img, err := os.ReadFile(png)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(img, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s is not a PNG", png)
	}
}
