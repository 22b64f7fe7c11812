package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
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
	// The proxy adds 100 µs at p50 over direct at one caller and serves
	// 1000 calls/s at 32 and 64.
	cellAt := func(mode string, conc int, p50 time.Duration, calls int) cell {
		return cell{Mode: mode, Conc: conc, P50: p50, Calls: calls, Elapsed: time.Second}
	}
	for _, tc := range []struct {
		name   string
		facade cell
		want   []string
	}{
		{"gRPC adds no more than the proxy", cellAt(modeGRPC, 1, 1100*time.Microsecond, 10), nil},
		{"gRPC adds more than the proxy", cellAt(modeGRPC, 1, 1101*time.Microsecond, 10), []string{"+p50 101 µs > 1.0 × proxy's 100 µs"}},
		{"REST may add half as much again", cellAt(modeREST, 1, 1150*time.Microsecond, 10), nil},
		{"REST adds more than that", cellAt(modeREST, 1, 1151*time.Microsecond, 10), []string{"+p50 151 µs > 1.5 × proxy's 100 µs"}},
		{"gRPC as fast as the proxy", cellAt(modeGRPC, 32, 5000*time.Microsecond, 1000), nil},
		{"gRPC slower than the proxy", cellAt(modeGRPC, 64, 5000*time.Microsecond, 990), []string{"throughput ×0.99 < ×1.00 of proxy"}},
		{"REST at 0.8 of the proxy", cellAt(modeREST, 64, 5000*time.Microsecond, 800), nil},
		{"REST below 0.8 of the proxy", cellAt(modeREST, 32, 5000*time.Microsecond, 790), []string{"throughput ×0.79 < ×0.80 of proxy"}},
		{"throughput is not judged at 8 callers", cellAt(modeREST, 8, 5000*time.Microsecond, 100), nil},
		{"latency is judged at 1 caller only", cellAt(modeGRPC, 64, 50000*time.Microsecond, 1000), nil},
	} {
		conc := tc.facade.Conc
		direct := cellAt(modeDirect, conc, 1000*time.Microsecond, 2000)
		proxy := cellAt(modeProxy, conc, 1100*time.Microsecond, 1000)
		got := comparison{c: tc.facade, direct: direct, proxy: &proxy}.misses()
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: misses (-want +got):\n%s", tc.name, diff)
		}
	}
	// CPU per call against the proxy's, and "-" when either was not read.
	proxy := cell{Mode: modeProxy, Conc: 32, Calls: 1000, Elapsed: time.Second, CPU: 100 * time.Millisecond}
	facade := cell{Mode: modeREST, Conc: 32, Calls: 800, Elapsed: time.Second, CPU: 120 * time.Millisecond}
	if got := (comparison{c: facade, proxy: &proxy}).proxyCPUText(); got != "1.50" {
		t.Errorf("150 µs per call against the proxy's 100: %s, want 1.50", got)
	}
	facade.CPU = 0
	if got := (comparison{c: facade, proxy: &proxy}).proxyCPUText(); got != "-" || cpuText(facade) != "-" {
		t.Errorf("no CPU read: %s and %s, want -", got, cpuText(facade))
	}
	// The proxy's own row is judged against nothing.
	if m := (comparison{c: cellAt(modeProxy, 64, time.Second, 1), direct: cellAt(modeDirect, 64, time.Millisecond, 1000)}).misses(); m != nil {
		t.Errorf("the proxy's row has misses %q", m)
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
	args := []string{"-warmup", "10ms", "-time", "50ms", "-calls", "20", "-concurrency", "1,32", "-doc", doc, "-plot", png}
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
	// 2 stores × 2 operations × 2 concurrencies × 5 modes cells, and the
	// quota proxy's with Redis stores; gRPC and REST rows carry a verdict
	// (latency is judged at 1 caller, throughput at 32 and 64).
	rows := 0
	cpuCol, redisCol := slices.Index(columns, "CPU µs/call"), slices.Index(columns, "Redis CPU µs/call")
	redisTable := false
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "#### ") {
			redisTable = strings.HasSuffix(l, "redis stores")
		}
		if strings.HasPrefix(l, "| 1 |") || strings.HasPrefix(l, "| 32 |") {
			rows++
			// Every cell's CPU per call was read: this process's, and
			// redis-server's with Redis stores.
			f := strings.Split(strings.Trim(l, "| "), " | ")
			if n, err := strconv.Atoi(f[cpuCol]); err != nil || n <= 0 {
				t.Errorf("row %q: CPU per call %q, want a number of µs", l, f[cpuCol])
			}
			if _, err := strconv.Atoi(f[redisCol]); redisTable && err != nil || !redisTable && f[redisCol] != "-" {
				t.Errorf("row %q (Redis stores: %v): Redis CPU per call %q", l, redisTable, f[redisCol])
			}
		}
	}
	if rows != 44 {
		t.Errorf("document has %d table rows, want 44:\n%s", rows, text)
	}
	if n := strings.Count(text, "| met |") + strings.Count(text, "| MISSED: "); n != 16 {
		t.Errorf("document has %d verdicts, want 16 (one per facade row at 1 and at 32 callers)", n)
	}
	// The summary against the proxy: a line per store, operation and
	// mode after the proxy (the quota proxy with Redis stores, the bare
	// gRPC proxy, gRPC, REST).
	if n := strings.Count(text, "| memory | ") + strings.Count(text, "| redis | "); n != 14 {
		t.Errorf("the summary against the proxy has %d lines, want 14:\n%s", n, text)
	}
	// hlgate's throughput against the quota proxy's at 32 callers (the
	// summary's last columns are at 32 and 64): a share with Redis stores,
	// none with memory stores (no quota proxy runs there).
	for _, l := range strings.Split(text, "\n") {
		f := strings.Split(strings.Trim(l, "| "), " | ")
		if len(f) < 3 || f[0] != "memory" && f[0] != "redis" || f[2] != modeGRPC && f[2] != modeREST {
			continue
		}
		v := f[len(f)-2]
		if _, err := strconv.ParseFloat(v, 64); f[0] == "redis" && err != nil || f[0] == "memory" && v != "-" {
			t.Errorf("summary line %q: share of the quota proxy's throughput at 32 callers %q", l, v)
		}
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

// TestProxyAnswersTheSameRecords checks the proxy mode's baseline: through
// the bare proxy, a contact by id and a search page are the very answers a
// direct call gets (byte for byte: the proxy converts nothing), and the
// proxy sets the token and Version itself (the caller sends only its key,
// which the sandbox would refuse) and refuses a location it has no token
// for. The bare gRPC proxy answers the same bytes and refuses the same.
func TestProxyAnswersTheSameRecords(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := newStack(ctx, "memory", "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	cl, err := newClients(st)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.close()
	if err := cl.loadContactIDs(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.verify(ctx); err != nil {
		t.Fatalf("verify: %v", err)
	}

	loc := sandbox.DemoLocationID
	for _, cid := range cl.ids[:3] {
		direct, err := cl.do(ctx, cl.direct, http.MethodGet, st.sandboxURL+"/contacts/"+cid, nil, cl.directHeaders, []byte(cid))
		if err != nil {
			t.Fatal(err)
		}
		proxied, err := cl.do(ctx, cl.proxy, http.MethodGet, st.proxyURL+"/v1/locations/"+loc+"/contacts/"+cid, nil, cl.restHeaders, []byte(cid))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(direct, proxied) {
			t.Errorf("contact %s: proxy answered\n%s\ndirect\n%s", cid, proxied, direct)
		}
		bare, err := cl.bareCall(ctx, bareProxyGet, wrapperspb.String(cid), []byte(cid))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(direct, bare) {
			t.Errorf("contact %s: bare gRPC proxy answered\n%s\ndirect\n%s", cid, bare, direct)
		}
	}
	search := []byte(`{"locationId":"` + loc + `","pageLimit":20,"page":1}`)
	direct, err := cl.do(ctx, cl.direct, http.MethodPost, st.sandboxURL+"/contacts/search", search, cl.directHeaders, []byte(`"contacts"`))
	if err != nil {
		t.Fatal(err)
	}
	proxied, err := cl.do(ctx, cl.proxy, http.MethodPost, st.proxyURL+"/v1/locations/"+loc+"/contacts:search", search, cl.restHeaders, []byte(`"contacts"`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(direct, proxied) {
		t.Errorf("search: proxy answered\n%s\ndirect\n%s", proxied, direct)
	}
	bare, err := cl.bareCall(ctx, bareProxySearch, wrapperspb.Bytes(search), []byte(`"contacts"`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(direct, bare) {
		t.Errorf("search: bare gRPC proxy answered\n%s\ndirect\n%s", bare, direct)
	}

	// The gRPC callers, which take hlgate's answer as bytes, pass on the
	// contact asked for and fail on an answer that lacks it.
	get := &hlgatev1.GetContactRequest{LocationId: loc, ContactId: cl.ids[0]}
	if err := cl.grpcCall(ctx, hlgatev1.ContactsService_GetContact_FullMethodName, get, []byte(cl.ids[0]), 1); err != nil {
		t.Fatalf("gRPC caller: %v", err)
	}
	if err := cl.grpcCall(ctx, hlgatev1.ContactsService_GetContact_FullMethodName, get, []byte(cl.ids[1]), 1); err == nil {
		t.Fatal("the gRPC caller took an answer without the contact it checks for")
	}

	// The caller's own key reaches the sandbox as a token it refuses.
	if _, err := cl.do(ctx, cl.direct, http.MethodGet, st.sandboxURL+"/contacts/"+cl.ids[0], nil, cl.restHeaders, nil); err == nil || !strings.Contains(err.Error(), "status 401") {
		t.Fatalf("the sandbox accepted the caller key as a token (%v); the test above would not prove the proxy sets it", err)
	}
	if _, err := cl.do(ctx, cl.proxy, http.MethodGet, st.proxyURL+"/v1/locations/elsewhere/contacts/"+cl.ids[0], nil, cl.restHeaders, nil); err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Fatalf("proxy for a location without a token: %v, want status 404", err)
	}
	elsewhere := metadata.AppendToOutgoingContext(ctx, "location", "elsewhere")
	if err := cl.bare.Invoke(elsewhere, bareProxyGet, wrapperspb.String(cl.ids[0]), &wrapperspb.BytesValue{}); status.Code(err) != codes.NotFound {
		t.Fatalf("bare gRPC proxy for a location without a token: %v, want NOT_FOUND", err)
	}
}
