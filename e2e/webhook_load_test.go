//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// TestWebhookLoad is the webhook load benchmark: HLGATE_WEBHOOK_LOAD_RATE
// (default 1,000) signed events per second for HLGATE_WEBHOOK_LOAD_SECONDS
// (default 10 s), posted alternately to two `hlgate serve` replicas sharing
// one Redis (AOF, fsync always, as the suite runs it), with two
// subscriptions each read by one stream on a different replica. It checks
// that every event is answered 200 and delivered once to each subscription,
// and reports the p50/p99/max time from starting the POST to the event's
// arrival on each stream. It runs only when HLGATE_WEBHOOK_LOAD=1 (`make
// bench-webhooks`), not in `make test-e2e`; with HLGATE_WEBHOOK_LOAD_DOC set
// it rewrites that Markdown file's "Webhook load" section.
func TestWebhookLoad(t *testing.T) {
	if os.Getenv("HLGATE_WEBHOOK_LOAD") != "1" {
		t.Skip("the webhook load benchmark runs with HLGATE_WEBHOOK_LOAD=1 (make bench-webhooks)")
	}
	rate := envInt(t, "HLGATE_WEBHOOK_LOAD_RATE", 1000)
	secs := envInt(t, "HLGATE_WEBHOOK_LOAD_SECONDS", 10)
	n := rate * secs
	s := startSystem(t, 2)

	subs := []string{"load-a", "load-b"}
	streams := make([]*loadStream, len(subs))
	for i, name := range subs {
		streams[i] = s.openLoadStream(t, s.replicas[i], name, n)
	}

	// Open loop: event i is due at start + i/rate, whatever the answers'
	// latency, from a pool of senders large enough never to fall behind.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	type sent struct {
		at     time.Time // the POST started
		took   time.Duration
		status int
	}
	posts := make([]sent, n)
	jobs := make(chan int, n)
	var wg sync.WaitGroup
	for range 128 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r := s.replicas[i%2]
				body, sig := signedWebhook(map[string]any{
					"type": "ContactCreate", "locationId": []string{demoLoc, otherLoc}[i/2%2], "id": fmt.Sprintf("c-%d", i),
					"webhookId": loadWebhookID(i), "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
				})
				req, _ := http.NewRequest(http.MethodPost, r.httpURL+"/webhooks/highlevel", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-GHL-Signature", sig)
				at := time.Now()
				resp, err := client.Do(req)
				p := sent{at: at, took: time.Since(at)}
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					p.status = resp.StatusCode
				}
				posts[i] = p
			}
		}()
	}
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
			time.Sleep(d)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	postWall := time.Since(start)

	for _, st := range streams {
		st.wait(t, 60*time.Second)
	}
	// Past the ack deadline nothing comes again: each was acknowledged.
	time.Sleep(loadAckDeadline + 2*time.Second)

	var postLat []time.Duration
	statuses := map[int]int{}
	for _, p := range posts {
		statuses[p.status]++
		postLat = append(postLat, p.took)
	}
	if statuses[http.StatusOK] != n {
		t.Errorf("answers to %d posts: %v, want all 200", n, statuses)
	}
	res := webhookLoadResult{
		Rate: rate, Seconds: secs, Events: n, PostWall: postWall, Statuses: statuses, Post: percentiles(postLat),
		Cores: runtime.NumCPU(), When: time.Now().UTC(),
	}
	for i, st := range streams {
		st.mu.Lock()
		var lat []time.Duration
		dups, missing := 0, 0
		for j := range n {
			switch c := st.count[j]; {
			case c == 0:
				missing++
			case c > 1:
				dups += c - 1
			}
			if st.count[j] > 0 {
				lat = append(lat, st.first[j].Sub(posts[j].at))
			}
		}
		st.mu.Unlock()
		if missing != 0 || dups != 0 {
			t.Errorf("subscription %s: %d of %d events missing, %d delivered again", subs[i], missing, n, dups)
		}
		res.Subs = append(res.Subs, subResult{Name: subs[i], Replica: i + 1, Delivered: n - missing, Duplicates: dups, Latency: percentiles(lat)})
	}
	t.Log("\n" + res.markdown())
	if doc := os.Getenv("HLGATE_WEBHOOK_LOAD_DOC"); doc != "" && !t.Failed() {
		if err := rewriteSection(doc, res.markdown()); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote the Webhook load section of %s", doc)
	}
}

const loadAckDeadline = 10 * time.Second

func loadWebhookID(i int) string { return fmt.Sprintf("load-%07d", i) }

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// loadStream is one subscription's stream: when each event first arrived
// and how often, acknowledged in batches as a consumer would.
type loadStream struct {
	mu    sync.Mutex
	first []time.Time
	count []int
	got   int
	err   error
	done  chan struct{}
}

func (s *system) openLoadStream(t *testing.T, r *replica, name string, n int) *loadStream {
	t.Helper()
	ctx, cancel := context.WithCancel(s.eventsCtx(context.Background()))
	t.Cleanup(cancel)
	client := hlgatev1.NewEventsServiceClient(r.conn)
	st, err := client.StreamEvents(ctx, &hlgatev1.StreamEventsRequest{Subscription: name, AckDeadline: durationpb.New(loadAckDeadline)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Header(); err != nil {
		t.Fatalf("open %s on replica%d: %v", name, r.idx+1, err)
	}
	ls := &loadStream{first: make([]time.Time, n), count: make([]int, n), done: make(chan struct{})}
	acks := make(chan string, 4096)
	go func() { // acks in batches of up to 256, at least every 20 ms
		var batch []string
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		flush := func() {
			if len(batch) == 0 {
				return
			}
			if _, err := client.AckEvents(ctx, &hlgatev1.AckEventsRequest{Subscription: name, EventIds: batch}); err != nil && ctx.Err() == nil {
				ls.mu.Lock()
				ls.err = fmt.Errorf("ack: %w", err)
				ls.mu.Unlock()
			}
			batch = nil
		}
		for {
			select {
			case id := <-acks:
				if batch = append(batch, id); len(batch) >= 256 {
					flush()
				}
			case <-tick.C:
				flush()
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		for {
			m, err := st.Recv()
			now := time.Now()
			if err != nil {
				ls.mu.Lock()
				if ctx.Err() == nil {
					ls.err = err
				}
				ls.mu.Unlock()
				return
			}
			ev := m.GetEvent()
			i, perr := strconv.Atoi(strings.TrimPrefix(ev.GetWebhookId(), "load-"))
			ls.mu.Lock()
			if perr == nil && i >= 0 && i < n {
				if ls.count[i] == 0 {
					ls.first[i] = now
					ls.got++
					if ls.got == n {
						close(ls.done)
					}
				}
				ls.count[i]++
			}
			ls.mu.Unlock()
			acks <- ev.GetId()
		}
	}()
	return ls
}

func (ls *loadStream) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-ls.done:
	case <-time.After(d):
		ls.mu.Lock()
		defer ls.mu.Unlock()
		t.Fatalf("after %v a stream has %d of %d events (err %v)", d, ls.got, len(ls.count), ls.err)
	}
}

type pct struct{ P50, P99, Max time.Duration }

func percentiles(ds []time.Duration) pct {
	if len(ds) == 0 {
		return pct{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return pct{P50: at(0.50), P99: at(0.99), Max: s[len(s)-1]}
}

type subResult struct {
	Name                  string
	Replica               int
	Delivered, Duplicates int
	Latency               pct
}

type webhookLoadResult struct {
	Rate, Seconds, Events int
	PostWall              time.Duration
	Statuses              map[int]int
	Post                  pct
	Subs                  []subResult
	Cores                 int
	When                  time.Time
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func (r webhookLoadResult) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %s UTC on %d cores: %d signed ContactCreate events at %d/s for %d s (posted in %.1f s), alternately to replica 1 and 2.\n\n",
		r.When.Format("2006-01-02 15:04"), r.Cores, r.Events, r.Rate, r.Seconds, r.PostWall.Seconds())
	var codes []string
	for c, k := range r.Statuses {
		codes = append(codes, fmt.Sprintf("%d × %d", k, c))
	}
	slices.Sort(codes)
	fmt.Fprintf(&b, "| | answered / delivered | p50 | p99 | max |\n| --- | --- | --- | --- | --- |\n")
	fmt.Fprintf(&b, "| POST /webhooks/highlevel (verify, store in Redis, 200) | %s | %s | %s | %s |\n", strings.Join(codes, ", "), ms(r.Post.P50), ms(r.Post.P99), ms(r.Post.Max))
	for _, s := range r.Subs {
		fmt.Fprintf(&b, "| POST start → arrival on subscription `%s` (stream on replica %d) | %d once, %d again | %s | %s | %s |\n",
			s.Name, s.Replica, s.Delivered, s.Duplicates, ms(s.Latency.P50), ms(s.Latency.P99), ms(s.Latency.Max))
	}
	return b.String()
}

const (
	loadBegin = "<!-- webhook-load:begin: generated by `make bench-webhooks` (e2e/webhook_load_test.go); edit outside these markers -->"
	loadEnd   = "<!-- webhook-load:end -->"
)

// rewriteSection replaces what lies between the section's markers, adding
// the section at the end of the file when it has none.
func rewriteSection(path, body string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, loadBegin), strings.Index(s, loadEnd)
	if i < 0 || j < i {
		s = strings.TrimRight(s, "\n") + "\n\n## Webhook load\n\n" + loadBegin + "\n" + loadEnd + "\n"
		i, j = strings.Index(s, loadBegin), strings.Index(s, loadEnd)
	}
	s = s[:i+len(loadBegin)] + "\n" + body + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
