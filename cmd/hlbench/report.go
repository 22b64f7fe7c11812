package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets of the facade (issue 14), reported against and never asserted,
// all against the bare proxy measured beside it in the same run. Throughput
// at each of throughputConcs callers reaches at least this share of the
// proxy's ...
var throughputTarget = map[string]float64{
	modeGRPC: 1.0,
	modeREST: 0.8,
}

// ... and, at one caller, the p50 hlgate adds over a direct call is at most
// this multiple of what the proxy adds.
var addedP50Target = map[string]float64{
	modeGRPC: 1.0,
	modeREST: 1.5,
}

// throughputConcs are the concurrencies the throughput target is judged at.
var throughputConcs = []int{32, 64}

// results is every cell of a run, in the order measured.
type results []cell

func (r results) find(mode, store, op string, conc int) (cell, bool) {
	for _, c := range r {
		if c.Mode == mode && c.Store == store && c.Op == op && c.Conc == conc {
			return c, true
		}
	}
	return cell{}, false
}

// comparison is a cell set against the direct cell and the proxy cell
// measured beside it; proxy is nil for the proxy's own row.
type comparison struct {
	c, direct cell
	proxy     *cell
}

func (x comparison) addedP50() time.Duration { return x.c.P50 - x.direct.P50 }
func (x comparison) addedP99() time.Duration { return x.c.P99 - x.direct.P99 }

func (x comparison) directThroughput() float64 {
	if x.direct.Throughput() == 0 {
		return 0
	}
	return x.c.Throughput() / x.direct.Throughput()
}

// proxyThroughput is the cell's throughput as a share of the proxy's.
func (x comparison) proxyThroughput() float64 {
	if x.proxy == nil || x.proxy.Throughput() == 0 {
		return 0
	}
	return x.c.Throughput() / x.proxy.Throughput()
}

// proxyAddedP50 is what the cell adds at p50 over direct as a multiple of
// what the proxy adds; 0 when the proxy added nothing measurable.
func (x comparison) proxyAddedP50() float64 {
	if x.proxy == nil {
		return 0
	}
	return ratio(x.addedP50(), x.proxy.P50-x.direct.P50)
}

// proxyAddedP50Text is proxyAddedP50 for a table: "-" when the proxy
// added nothing measurable (its p50 at or below direct's), where no ratio
// means anything.
func (x comparison) proxyAddedP50Text() string {
	if x.proxy == nil || x.proxy.P50 <= x.direct.P50 {
		return "-"
	}
	return fmt.Sprintf("%.2f", x.proxyAddedP50())
}

// misses lists the targets this comparison misses; empty means all met.
func (x comparison) misses() []string {
	if x.proxy == nil {
		return nil
	}
	var out []string
	mode := x.c.Mode
	if t, ok := addedP50Target[mode]; ok && x.c.Conc == 1 {
		proxyAdded := x.proxy.P50 - x.direct.P50
		if float64(x.addedP50()) > t*float64(max(proxyAdded, 0)) {
			out = append(out, fmt.Sprintf("+p50 %s > %.1f × proxy's %s", us(x.addedP50()), t, us(proxyAdded)))
		}
	}
	if t, ok := throughputTarget[mode]; ok && slices.Contains(throughputConcs, x.c.Conc) && x.proxyThroughput() < t {
		out = append(out, fmt.Sprintf("throughput ×%.2f < ×%.2f of proxy", x.proxyThroughput(), t))
	}
	return out
}

// judged says whether any target applies to the cell.
func (x comparison) judged() bool {
	_, ok := throughputTarget[x.c.Mode]
	return ok && x.proxy != nil && (x.c.Conc == 1 || slices.Contains(throughputConcs, x.c.Conc))
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// us formats a duration in whole microseconds.
func us(d time.Duration) string { return fmt.Sprintf("%d µs", d.Microseconds()) }

// row is one printed line: a cell and, but for direct, its comparison.
type row struct {
	c   cell
	cmp *comparison
}

// rows groups the results as they are printed: by store, operation and
// concurrency, the direct cell first.
func (r results) rows(stores, ops []string, concs []int) [][]row {
	var groups [][]row
	for _, store := range stores {
		for _, op := range ops {
			var g []row
			for _, conc := range concs {
				d, ok := r.find(modeDirect, store, op, conc)
				if !ok {
					continue
				}
				g = append(g, row{c: d})
				var proxy *cell
				if p, ok := r.find(modeProxy, store, op, conc); ok {
					proxy = &p
				}
				for _, m := range modes[1:] {
					f, ok := r.find(m, store, op, conc)
					if !ok {
						continue
					}
					x := &comparison{c: f, direct: d, proxy: proxy}
					if m == modeProxy {
						x.proxy = nil
					}
					g = append(g, row{c: f, cmp: x})
				}
			}
			if len(g) > 0 {
				groups = append(groups, g)
			}
		}
	}
	return groups
}

var columns = []string{"conc", "mode", "p50 µs", "p99 µs", "calls/s", "CPU µs/call", "Redis CPU µs/call", "+p50 µs", "+p99 µs", "calls/s ×direct", "calls/s ×proxy", "CPU/call ×proxy's", "+p50 ×proxy's", "targets"}

func (rw row) fields() []string {
	c := rw.c
	f := []string{
		fmt.Sprint(c.Conc), c.Mode,
		fmt.Sprint(c.P50.Microseconds()), fmt.Sprint(c.P99.Microseconds()),
		fmt.Sprintf("%.0f", c.Throughput()), cpuText(c), redisCPUText(c),
	}
	if rw.cmp == nil {
		return append(f, "", "", "", "", "", "", "")
	}
	x := rw.cmp
	f = append(f,
		fmt.Sprintf("%+d", x.addedP50().Microseconds()), fmt.Sprintf("%+d", x.addedP99().Microseconds()),
		fmt.Sprintf("%.2f", x.directThroughput()))
	if x.proxy == nil {
		return append(f, "", "", "", "")
	}
	verdict := ""
	if x.judged() {
		verdict = "met"
		if m := x.misses(); len(m) > 0 {
			verdict = "MISSED: " + strings.Join(m, "; ")
		}
	}
	return append(f, fmt.Sprintf("%.2f", x.proxyThroughput()), x.proxyCPUText(), x.proxyAddedP50Text(), verdict)
}

// cpuText is a cell's CPU per call for a table, "-" when it was not read.
func cpuText(c cell) string {
	if c.CPU <= 0 {
		return "-"
	}
	return fmt.Sprint(c.CPUPerCall().Microseconds())
}

// redisCPUText is redis-server's CPU per call for a table, "-" with
// memory stores.
func redisCPUText(c cell) string {
	if c.Store != "redis" || c.CPU <= 0 {
		return "-"
	}
	return fmt.Sprint(c.RedisCPUPerCall().Microseconds())
}

// proxyCPUText is the cell's CPU per call as a multiple of the proxy's,
// "-" when either was not read.
func (x comparison) proxyCPUText() string {
	if x.proxy == nil || x.c.CPU <= 0 || x.proxy.CPU <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", ratio(x.c.CPUPerCall(), x.proxy.CPUPerCall()))
}

// summaryConcs are the concurrencies of the summary's throughput ratios.
var summaryConcs = []int{1, 32, 64}

// summary is the table of ratios against the bare proxy, one line per store,
// operation and facade mode: throughput at summaryConcs callers, the p50
// added over direct at one caller beside the proxy's, and with Redis
// stores throughput against the quota proxy at throughputConcs. A cell
// that was not measured reads "-".
func (r results) summary(stores, ops []string) (header []string, lines [][]string) {
	header = []string{"store", "operation", "mode"}
	for _, n := range summaryConcs {
		header = append(header, fmt.Sprintf("calls/s ×proxy at %d", n))
	}
	header = append(header, "+p50 µs at 1", "proxy's +p50 µs at 1", "+p50 ×proxy's")
	for _, n := range throughputConcs {
		header = append(header, fmt.Sprintf("calls/s ×quota-proxy at %d", n))
	}
	for _, store := range stores {
		for _, op := range ops {
			for _, mode := range []string{modeQuotaProxy, modeGRPCProxy, modeGRPC, modeREST} {
				l := []string{store, opShort(op), mode}
				measured := false
				for _, n := range summaryConcs {
					x, ok := r.compare(mode, store, op, n)
					if !ok {
						l = append(l, "-")
						continue
					}
					measured = true
					l = append(l, fmt.Sprintf("%.2f", x.proxyThroughput()))
				}
				if x, ok := r.compare(mode, store, op, 1); ok {
					measured = true
					l = append(l, fmt.Sprintf("%+d", x.addedP50().Microseconds()),
						fmt.Sprintf("%+d", (x.proxy.P50-x.direct.P50).Microseconds()), x.proxyAddedP50Text())
				} else {
					l = append(l, "-", "-", "-")
				}
				for _, n := range throughputConcs {
					l = append(l, r.quotaProxyShare(mode, store, op, n))
				}
				if measured {
					lines = append(lines, l)
				}
			}
		}
	}
	return header, lines
}

// quotaProxyShare is a facade cell's throughput as a share of the quota
// proxy's beside it, "-" where there is none (memory stores) or for the
// quota proxy itself.
func (r results) quotaProxyShare(mode, store, op string, conc int) string {
	c, ok1 := r.find(mode, store, op, conc)
	q, ok2 := r.find(modeQuotaProxy, store, op, conc)
	if !ok1 || !ok2 || mode == modeQuotaProxy || q.Throughput() == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", c.Throughput()/q.Throughput())
}

// compare sets a facade cell against the direct and proxy cells beside it.
func (r results) compare(mode, store, op string, conc int) (comparison, bool) {
	c, ok1 := r.find(mode, store, op, conc)
	d, ok2 := r.find(modeDirect, store, op, conc)
	p, ok3 := r.find(modeProxy, store, op, conc)
	if !ok1 || !ok2 || !ok3 {
		return comparison{}, false
	}
	return comparison{c: c, direct: d, proxy: &p}, true
}

// printText writes the table for a terminal.
func (r results) printText(w io.Writer, stores, ops []string, concs []int) {
	for _, g := range r.rows(stores, ops, concs) {
		fmt.Fprintf(w, "\nstore=%s op=%s\n", g[0].c.Store, opName(g[0].c.Op))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, strings.Join(columns, "\t")+"\t")
		for _, rw := range g {
			fmt.Fprintln(tw, strings.Join(rw.fields(), "\t")+"\t")
		}
		tw.Flush()
	}
	if h, lines := r.summary(stores, ops); len(lines) > 0 {
		fmt.Fprintln(w, "\nagainst the bare proxy")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, strings.Join(h, "\t")+"\t")
		for _, l := range lines {
			fmt.Fprintln(tw, strings.Join(l, "\t")+"\t")
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	r.printMisses(w, stores, ops, concs, "")
}

// printMisses lists every missed target, or says none was.
func (r results) printMisses(w io.Writer, stores, ops []string, concs []int, bullet string) {
	n := 0
	for _, g := range r.rows(stores, ops, concs) {
		for _, rw := range g {
			if rw.cmp == nil {
				continue
			}
			if m := rw.cmp.misses(); len(m) > 0 {
				n++
				fmt.Fprintf(w, "%sMISSED %s %s store=%s conc=%d: %s\n", bullet, rw.c.Mode, opName(rw.c.Op), rw.c.Store, rw.c.Conc, strings.Join(m, "; "))
			}
		}
	}
	if n == 0 {
		fmt.Fprintf(w, "%severy target met (against the bare proxy: throughput at %v callers gRPC ≥ ×%.1f, REST ≥ ×%.1f; +p50 at 1 caller gRPC ≤ ×%.1f, REST ≤ ×%.1f of the proxy's)\n",
			bullet, throughputConcs, throughputTarget[modeGRPC], throughputTarget[modeREST], addedP50Target[modeGRPC], addedP50Target[modeREST])
	}
}

func opName(op string) string {
	switch op {
	case opGet:
		return "GetContact (GET /contacts/{id})"
	case opSearch:
		return fmt.Sprintf("SearchContacts, page of %d (POST /contacts/search)", searchPage)
	}
	return op
}

// runInfo is what the document says about the run besides the numbers.
type runInfo struct {
	Command          string
	Started          time.Time
	Took             time.Duration
	LoadBefore       string
	LoadAfter        string
	Load             loadConfig
	PlotFile         string // relative to the document; empty: no plot
	RedisVersion     string
	ProfileCell      string
	Source           string // the commit measured, and uncommitted changes
	ProfileFile      string
	GOMAXPROCS, NCPU int
}

// markdown is the generated part of the document's section.
func (r results) markdown(info runInfo, stores, ops []string, concs []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %s UTC, %s in all. Command, from the repository root:\n\n```sh\n%s\n```\n\n",
		info.Started.UTC().Format("2006-01-02 15:04"), info.Took.Round(time.Second), info.Command)
	fmt.Fprintf(&b, "Machine: %d CPUs (GOMAXPROCS %d), %s, %s, Linux %s, %s, %s. ",
		info.NCPU, info.GOMAXPROCS, cpuModel(), memTotal(), kernel(), runtime.Version(), info.RedisVersion)
	fmt.Fprintf(&b, "Load average (1, 5, 15 min) before: %s; after: %s.\n\n", info.LoadBefore, info.LoadAfter)
	fmt.Fprintf(&b, "Source: %s.\n\n", info.Source)
	fmt.Fprintf(&b, "Each cell: %s warm-up (dropped), then at least %s and at least %d calls (at most %s).\n",
		info.Load.Warmup, info.Load.MinTime, info.Load.MinCalls, info.Load.MaxTime)
	if info.ProfileFile != "" {
		fmt.Fprintf(&b, "CPU profile of cell %s written to `%s`.\n", info.ProfileCell, info.ProfileFile)
	}
	b.WriteString("\n")
	if h, lines := r.summary(stores, ops); len(lines) > 0 {
		b.WriteString("#### Against the bare proxy\n\n")
		b.WriteString("Throughput as a share of the bare proxy's in the same run, and the p50 each adds over a direct call at one caller beside what the proxy adds.\n\n")
		b.WriteString("| " + strings.Join(h, " | ") + " |\n")
		b.WriteString(strings.Repeat("| --- ", len(h)) + "|\n")
		for _, l := range lines {
			b.WriteString("| " + strings.Join(l, " | ") + " |\n")
		}
		b.WriteString("\n")
	}
	for _, g := range r.rows(stores, ops, concs) {
		fmt.Fprintf(&b, "#### %s, %s stores\n\n", opName(g[0].c.Op), g[0].c.Store)
		b.WriteString("| " + strings.Join(columns, " | ") + " |\n")
		b.WriteString(strings.Repeat("| --- ", len(columns)) + "|\n")
		for _, rw := range g {
			f := rw.fields()
			if rw.cmp == nil {
				f[1] = "**" + f[1] + "**"
			}
			b.WriteString("| " + strings.Join(f, " | ") + " |\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("Targets:\n\n")
	r.printMisses(&b, stores, ops, concs, "- ")
	if info.PlotFile != "" {
		fmt.Fprintf(&b, "\n![p50 and p99 latency against concurrency](%s)\n", info.PlotFile)
	}
	return b.String()
}

// The document section this command owns, and the markers around the part
// it regenerates; text outside the markers (the analysis) is kept.
const (
	sectionHeading = "## Facade vs direct"
	beginMarker    = "<!-- hlbench:begin: generated by `make bench` (cmd/hlbench); edit outside these markers -->"
	endMarker      = "<!-- hlbench:end -->"
)

// splice puts generated between the markers of the section, adding the
// section (at the end) or the markers (right under the heading) when they
// are missing, and leaves every other byte of doc as it was.
func splice(doc, generated string) (string, error) {
	block := beginMarker + "\n\n" + strings.TrimSpace(generated) + "\n\n" + endMarker
	b := strings.Index(doc, beginMarker)
	e := strings.Index(doc, endMarker)
	switch {
	case b >= 0 && e > b:
		return doc[:b] + block + doc[e+len(endMarker):], nil
	case b >= 0 || e >= 0:
		return "", fmt.Errorf("the document has only one of the hlbench markers, or they are out of order; fix them by hand")
	}
	if h := indexLine(doc, sectionHeading); h >= 0 {
		end := h + len(sectionHeading)
		return doc[:end] + "\n\n" + block + doc[end:], nil
	}
	if doc != "" && !strings.HasSuffix(doc, "\n") {
		doc += "\n"
	}
	return doc + "\n" + sectionHeading + "\n\n" + block + "\n", nil
}

// indexLine finds line as a whole line of doc.
func indexLine(doc, line string) int {
	for i := 0; ; {
		j := strings.Index(doc[i:], line)
		if j < 0 {
			return -1
		}
		j += i
		end := j + len(line)
		if (j == 0 || doc[j-1] == '\n') && (end == len(doc) || doc[end] == '\n') {
			return j
		}
		i = end
	}
}

// writeDoc rewrites the generated part of the document at path.
func writeDoc(path, generated string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	doc, err := splice(string(old), generated)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "CPU model unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "CPU model unknown"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "memory unknown"
	}
	var kb int64
	for _, l := range strings.Split(string(b), "\n") {
		if _, err := fmt.Sscanf(l, "MemTotal: %d kB", &kb); err == nil {
			return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
		}
	}
	return "memory unknown"
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

func redisVersion() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return "redis-server version unknown"
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return "redis-server " + v
		}
	}
	return strings.TrimSpace(string(out))
}

// sourceState names the commit the binary was built from and the Go files
// (tests aside) that differed from it, since `go run` builds the working
// tree as it is.
func sourceState() string {
	head, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "not a git work tree"
	}
	out := "commit " + strings.TrimSpace(string(head))
	st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no", "--", "*.go", "go.mod", "go.sum").Output()
	if err != nil {
		return out
	}
	var dirty []string
	for _, l := range strings.Split(strings.TrimSpace(string(st)), "\n") {
		f := strings.TrimSpace(l)
		if len(f) < 3 {
			continue
		}
		// Test files are not part of the binary.
		if name := strings.TrimSpace(f[2:]); !strings.HasSuffix(name, "_test.go") {
			dirty = append(dirty, "`"+name+"`")
		}
	}
	if len(dirty) == 0 {
		return out + ", no uncommitted Go changes"
	}
	return out + " plus uncommitted changes to " + strings.Join(dirty, ", ")
}
