//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// The upstream's documented quota, which every process runs with.
const (
	quotaLimit  = 100
	quotaWindow = 10 * time.Second
)

var (
	demoLoc  = sandbox.DemoLocationID
	otherLoc = sandbox.OtherLocationID
)

// TestEndToEnd starts one system (redis-server with AOF, `hlgate sandbox`,
// three `hlgate serve` replicas sharing the Redis) and runs the scenarios
// against it in order. Scenarios alternate between the two seeded locations,
// so one scenario's full window does not slow the next; every scenario
// compares the sandbox's counters before and after itself.
func TestEndToEnd(t *testing.T) {
	s := startSystem(t, 3)

	// Install both locations through the real OAuth pages, each through a
	// different replica: the others learn the tokens from Redis only.
	before := s.stats()
	s.install(s.replicas[0], demoLoc)
	s.install(s.replicas[1], otherLoc)
	if got := s.stats().CodeGrants - before.CodeGrants; got != 2 {
		t.Fatalf("installs: %d authorization_code grants at the sandbox, want 2", got)
	}
	ids := map[string][]string{
		demoLoc:  s.contactIDs(s.replicas[2], demoLoc, 200),
		otherLoc: s.contactIDs(s.replicas[2], otherLoc, 50),
	}

	t.Run("1_saturation", func(t *testing.T) { s.saturation(t, demoLoc, ids[demoLoc]) })
	t.Run("2_refresh_storm", func(t *testing.T) { s.refreshStorm(t, otherLoc, ids[otherLoc]) })
	t.Run("3_replica_sigkill", func(t *testing.T) { s.replicaKill(t, demoLoc, ids[demoLoc]) })
	t.Run("4_redis_outage", func(t *testing.T) { s.redisOutage(t, otherLoc, ids[otherLoc]) })
	t.Run("5_sandbox_faults", func(t *testing.T) { s.sandboxFaults(t, demoLoc, ids[demoLoc]) })
	t.Run("6_node_client", func(t *testing.T) { s.nodeClient(t, otherLoc) })
	t.Run("7_graceful_shutdown", func(t *testing.T) { s.gracefulShutdown(t, otherLoc, ids[otherLoc]) })

	// Across the whole run, whatever happened: no 429 from the sandbox, no
	// rejected refresh token, never more than the quota in any window.
	final := s.stats()
	t.Logf("whole run: sandbox stats %+v", final)
	if final.Served429 != 0 {
		t.Errorf("whole run: the sandbox served %d 429s, want 0", final.Served429)
	}
	if final.InvalidGrants != 0 {
		t.Errorf("whole run: %d invalid_grant answers, want 0", final.InvalidGrants)
	}
	for _, loc := range []string{demoLoc, otherLoc} {
		acc, rej := s.acceptedTimes(loc)
		if m := maxInWindow(acc, quotaWindow); m > quotaLimit || rej != 0 {
			t.Errorf("whole run, %s: %d accepted, most in any %v window %d (limit %d), %d rejected", loc, len(acc), quotaWindow, m, quotaLimit, rej)
		}
	}
}

// contactIDs reads up to n contact ids of a location through a replica.
func (s *system) contactIDs(r *replica, loc string, n int32) []string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(withKey(context.Background(), s.writeKey), 30*time.Second)
	defer cancel()
	resp, err := r.contacts.SearchContacts(ctx, &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: n})
	if err != nil {
		s.t.Fatalf("search contacts of %s through replica%d: %v", loc, r.idx+1, err)
	}
	var ids []string
	for _, c := range resp.GetContacts() {
		ids = append(ids, c.GetId())
	}
	if len(ids) == 0 {
		s.t.Fatalf("no contacts in %s", loc)
	}
	return ids
}

// getContact is the read most scenarios load the system with.
func (s *system) getContact(r *replica, loc string, ids []string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		id := ids[rand.IntN(len(ids))]
		resp, err := r.contacts.GetContact(withKey(ctx, s.writeKey), &hlgatev1.GetContactRequest{LocationId: loc, ContactId: id})
		if err != nil {
			return err
		}
		if resp.GetContact().GetId() != id {
			return fmt.Errorf("GetContact(%s) returned contact %q", id, resp.GetContact().GetId())
		}
		return nil
	}
}

func (s *system) getLoad(loc string, ids []string) func(ctx context.Context, caller, replica, n int) error {
	return func(ctx context.Context, _, replica, _ int) error {
		return s.getContact(s.replicas[replica], loc, ids)(ctx)
	}
}

// mixedReads are reads of several products, hand-written and generated
// RPCs alike: each spends the same location's token and quota, so the
// window and the single refresh must hold across all of them. Each checks
// that its answer is the location's.
var mixedReads = []struct {
	name string
	call func(ctx context.Context, conn *grpc.ClientConn, loc string) error
}{
	{"LocationsService.GetLocation", func(ctx context.Context, conn *grpc.ClientConn, loc string) error {
		resp, err := hlgatev1.NewLocationsServiceClient(conn).GetLocation(ctx, &hlgatev1.GetLocationRequest{LocationId: loc})
		if err == nil && resp.GetLocation().GetId() != loc {
			err = fmt.Errorf("GetLocation(%s) answered location %q", loc, resp.GetLocation().GetId())
		}
		return err
	}},
	{"ConversationsService.SearchConversation", func(ctx context.Context, conn *grpc.ClientConn, loc string) error {
		resp, err := hlgatev1.NewConversationsServiceClient(conn).SearchConversation(ctx, &hlgatev1.SearchConversationRequest{LocationId: loc})
		for _, c := range resp.GetConversations() {
			if err == nil && c.GetLocationId() != loc {
				err = fmt.Errorf("SearchConversation(%s) answered a conversation of %q", loc, c.GetLocationId())
			}
		}
		return err
	}},
	{"InvoicesService.ListInvoices", func(ctx context.Context, conn *grpc.ClientConn, loc string) error {
		_, err := hlgatev1.NewInvoicesServiceClient(conn).ListInvoices(ctx, &hlgatev1.ListInvoicesRequest{LocationId: loc, PageSize: 5})
		return err
	}},
	{"LocationsService.GetCustomFields", func(ctx context.Context, conn *grpc.ClientConn, loc string) error {
		_, err := hlgatev1.NewLocationsServiceClient(conn).GetCustomFields(ctx, &hlgatev1.GetCustomFieldsRequest{LocationId: loc})
		return err
	}},
	{"LocationsService.GetLocationTags", func(ctx context.Context, conn *grpc.ClientConn, loc string) error {
		_, err := hlgatev1.NewLocationsServiceClient(conn).GetLocationTags(ctx, &hlgatev1.GetLocationTagsRequest{LocationId: loc})
		return err
	}},
	{"WorkflowsService.GetWorkflow", func(ctx context.Context, conn *grpc.ClientConn, loc string) error {
		_, err := hlgatev1.NewWorkflowsServiceClient(conn).GetWorkflow(ctx, &hlgatev1.GetWorkflowRequest{LocationId: loc})
		return err
	}},
	{"UsersService.GetUserByLocation", func(ctx context.Context, conn *grpc.ClientConn, loc string) error {
		_, err := hlgatev1.NewUsersServiceClient(conn).GetUserByLocation(ctx, &hlgatev1.GetUserByLocationRequest{LocationId: loc})
		return err
	}},
}

// mixedRead makes GetContact or one of the mixedReads, chosen at random,
// and counts the successes by RPC in done.
func (s *system) mixedRead(r *replica, loc string, ids []string, done *rpcCounts) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		i := rand.IntN(len(mixedReads) + 1)
		if i == len(mixedReads) {
			err := s.getContact(r, loc, ids)(ctx)
			done.add("ContactsService.GetContact", err)
			return err
		}
		m := mixedReads[i]
		err := m.call(withKey(ctx, s.writeKey), r.conn, loc)
		done.add(m.name, err)
		return err
	}
}

// rpcCounts counts successful calls by RPC.
type rpcCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *rpcCounts) add(name string, err error) {
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name]++
}

// everyRPCServed fails the test unless each of the mixed reads succeeded
// at least once, and logs the counts.
func (c *rpcCounts) everyRPCServed(t *testing.T, what string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Logf("%s: successful calls by RPC: %v", what, c.n)
	if c.n["ContactsService.GetContact"] == 0 {
		t.Errorf("%s: no GetContact succeeded", what)
	}
	for _, m := range mixedReads {
		if c.n[m.name] == 0 {
			t.Errorf("%s: no %s succeeded", what, m.name)
		}
	}
}

// allReplicas spreads callers over the three replicas.
var allReplicas = []int{0, 1, 2}

// onlyBackPressure fails the test for every attempt that is neither OK nor
// a quota refusal with RetryInfo.
func onlyBackPressure(t *testing.T, what string, as []attempt) (ok, refused int) {
	t.Helper()
	var bad []attempt
	for _, a := range as {
		switch {
		case a.code == codes.OK:
			ok++
		case backPressured(a):
			refused++
		default:
			bad = append(bad, a)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: %d calls failed (want only OK or RESOURCE_EXHAUSTED with RetryInfo):%s", what, len(bad), firstFew(bad, 10))
	}
	return ok, refused
}

// checkWindow asserts the exact quota on the arrivals the sandbox recorded
// for a location since a scenario began (every window that ends after
// since), and that it rejected none of them. The whole run is checked once
// more at the end.
func (s *system) checkWindow(t *testing.T, loc string, since time.Time) (acc []time.Time) {
	t.Helper()
	all := s.arrivals(loc)
	var rejected []time.Time
	for _, a := range all {
		if !a.At.After(since.Add(-quotaWindow)) || (!a.Accepted && a.At.Before(since)) {
			continue
		}
		if a.Accepted {
			acc = append(acc, a.At)
		} else {
			rejected = append(rejected, a.At)
		}
	}
	if m := maxInWindow(acc, quotaWindow); m > quotaLimit {
		t.Errorf("%s: %d requests arrived at the sandbox within one %v window, limit %d", loc, m, quotaWindow, quotaLimit)
	}
	if len(rejected) != 0 {
		t.Errorf("%s: the sandbox's quota rejected %d requests, at %v", loc, len(rejected), rejected)
		// Show what the sandbox saw in the window before the first one.
		first := rejected[0]
		var lines []string
		for _, a := range all {
			if a.At.After(first.Add(-quotaWindow-time.Second)) && !a.At.After(first.Add(time.Second)) {
				lines = append(lines, fmt.Sprintf("%s accepted=%v", a.At.Format("15:04:05.000000"), a.Accepted))
			}
		}
		t.Logf("%s: arrivals from %v before the first rejection to 1 s after it (%d):\n  %s", loc, quotaWindow+time.Second, len(lines), strings.Join(compress(lines), "\n  "))
	}
	return acc
}

// compress folds runs of arrivals in the same 100 ms into one line.
func compress(lines []string) []string {
	var out []string
	for i := 0; i < len(lines); {
		j := i
		for j+1 < len(lines) && lines[j+1][:10] == lines[i][:10] && strings.HasSuffix(lines[j+1], "true") == strings.HasSuffix(lines[i], "true") {
			j++
		}
		if j == i {
			out = append(out, lines[i])
		} else {
			out = append(out, fmt.Sprintf("%s … %s (%d)", lines[i], lines[j], j-i+1))
		}
		i = j + 1
	}
	return out
}

// grantDeltas reports the changes of the sandbox's OAuth counters.
type grantDeltas struct{ code, refresh, invalid, served429 int64 }

func deltas(before, after sandbox.Stats) grantDeltas {
	return grantDeltas{
		code: after.CodeGrants - before.CodeGrants, refresh: after.RefreshGrants - before.RefreshGrants,
		invalid: after.InvalidGrants - before.InvalidGrants, served429: after.Served429 - before.Served429,
	}
}

// tokensUntouched asserts that no install, refresh or rejected grant
// happened: the stored tokens carried on.
func tokensUntouched(t *testing.T, d grantDeltas) {
	t.Helper()
	if d.code != 0 || d.refresh != 0 || d.invalid != 0 {
		t.Errorf("tokens: %d code grants, %d refresh grants, %d invalid_grant at the sandbox; want 0, 0, 0 (the stored pair must carry on)", d.code, d.refresh, d.invalid)
	}
	if d.served429 != 0 {
		t.Errorf("the sandbox served %d 429s, want 0", d.served429)
	}
}

// saturationLoad is how long the saturation callers keep issuing calls.
const saturationLoad = 27 * time.Second

// 1. Saturation: 60 callers over three replicas for more than 25 s, real
// window and limits, each making reads of several products (mixedRead).
func (s *system) saturation(t *testing.T, loc string, ids []string) {
	var served rpcCounts
	begin := time.Now()
	before := s.stats()
	res := runLoad(context.Background(), loadSpec{
		callers: 60, replicas: allReplicas, dur: saturationLoad, deadline: 20 * time.Second,
		op: func(ctx context.Context, _, replica, _ int) error {
			return s.mixedRead(s.replicas[replica], loc, ids, &served)(ctx)
		},
	})
	served.everyRPCServed(t, "saturation")
	after := s.stats()
	t.Logf("load %v: %s", res.end.Sub(res.start).Round(time.Millisecond), res.summary())
	ok, refused := onlyBackPressure(t, "saturation", res.attempts)
	d := deltas(before, after)
	if d.served429 != 0 {
		t.Errorf("the sandbox served %d 429s during saturation, want 0", d.served429)
	}
	acc := s.checkWindow(t, loc, begin)
	in := between(acc, res.start, res.end)
	if len(in) < 2 {
		t.Fatalf("only %d requests reached the sandbox", len(in))
	}
	// Utilisation: how full the window was, on average over time, from
	// the first full window of the load until the callers stopped issuing
	// calls: the mean over t of (arrivals in (t-W, t]) / L. A client that
	// keeps the window full scores 100%; hlgate's guard band (W+500 ms per
	// L slots) costs about 5% by design.
	from, to := in[0].Add(quotaWindow), res.start.Add(saturationLoad)
	util := occupancy(in, quotaWindow, from, to) / quotaLimit
	perReplica := map[int]int{}
	for _, a := range res.attempts {
		if a.code == codes.OK {
			perReplica[a.replica]++
		}
	}
	t.Logf("saturation: %d OK calls (per replica %v), %d quota refusals resent; %d arrivals at the sandbox over %v, most in any %v window %d; mean window occupancy over %v..%v after the first arrival %.1f%% of %d; sandbox 429s %d",
		ok, perReplica, refused, len(in), in[len(in)-1].Sub(in[0]).Round(time.Millisecond), quotaWindow, maxInWindow(in, quotaWindow),
		from.Sub(in[0]).Round(time.Millisecond), to.Sub(in[0]).Round(time.Millisecond), 100*util, quotaLimit, d.served429)
	if res.end.Sub(res.start) < 25*time.Second {
		t.Errorf("load ran %v, want at least 25 s", res.end.Sub(res.start))
	}
	if ok != len(in) {
		t.Errorf("%d OK calls but %d arrivals at the sandbox: every call is one request", ok, len(in))
	}
	if util < 0.9 {
		t.Errorf("utilisation %.1f%%, want at least 90%% of the most the window allows", 100*util)
	}
	for i := range 3 {
		if perReplica[i] == 0 {
			t.Errorf("replica%d served no call", i+1)
		}
	}
}

// 2. Refresh storm: the access token expires at the sandbox; 300
// concurrent reads of several products (mixedRead) over the three replicas.
func (s *system) refreshStorm(t *testing.T, loc string, ids []string) {
	begin := time.Now()
	// A slow token endpoint widens the window in which replicas could race.
	s.setTokenLatency(300 * time.Millisecond)
	defer s.setTokenLatency(0)
	before := s.stats()
	unauthorizedBefore := s.upstreamCount("401")
	if n := s.expire(loc); n == 0 {
		t.Fatalf("expire %s: no live access token at the sandbox", loc)
	}
	const calls = 300
	var (
		served rpcCounts
		wg     sync.WaitGroup
		mu     sync.Mutex
		all    []attempt
		last   = map[int]attempt{}
	)
	gate := make(chan struct{})
	start := time.Now()
	for c := range calls {
		r := c % 3
		wg.Go(func() {
			<-gate
			// 300 calls need three windows, and the first window's sends
			// (made with the expired token) one more: slots up to +31.5 s,
			// well inside the deadline. A refusal is resent all the same, so
			// the outcome of every call is known, and counted.
			as := callOnce(context.Background(), c, r, 45*time.Second, 10, backPressured, s.mixedRead(s.replicas[r], loc, ids, &served))
			mu.Lock()
			all = append(all, as...)
			last[c] = as[len(as)-1]
			mu.Unlock()
		})
	}
	close(gate)
	wg.Wait()
	took := time.Since(start)
	served.everyRPCServed(t, "refresh storm")
	d := deltas(before, s.stats())
	unauthorized := s.upstreamCount("401") - unauthorizedBefore
	var failed []attempt
	for _, a := range last {
		if a.code != codes.OK {
			failed = append(failed, a)
		}
	}
	refused := 0
	for _, a := range all {
		if backPressured(a) {
			refused++
		}
	}
	t.Logf("refresh storm: %d calls in %v, %d attempts (%d refused RESOURCE_EXHAUSTED and resent), %d failed in the end; replicas got %.0f upstream 401s; sandbox: %d refresh grants, %d invalid_grant, %d 429s",
		calls, took.Round(time.Millisecond), len(all), refused, len(failed), unauthorized, d.refresh, d.invalid, d.served429)
	if len(last) != calls || len(failed) != 0 {
		t.Errorf("%d of %d calls did not succeed:%s", len(failed), calls, firstFew(failed, 10))
	}
	// Every call succeeds as it is made: the slots it needs lie well inside
	// its deadline, so a refusal means slots were spent on something else.
	if refused != 0 {
		t.Errorf("%d of %d calls were refused RESOURCE_EXHAUSTED and had to be resent by the caller", refused, calls)
	}
	// Only the sends already on their way when the token was found expired
	// may carry it: at most the first window's burst. A call that queued
	// for its slot must send the token that is current when it goes, not
	// the one it read before it queued.
	if unauthorized > quotaLimit {
		t.Errorf("%.0f upstream 401s: more than the first window's %d sends used the expired token", unauthorized, quotaLimit)
	}
	if d.refresh != 1 {
		t.Errorf("%d refresh grants at the sandbox, want exactly 1", d.refresh)
	}
	if d.invalid != 0 {
		t.Errorf("%d invalid_grant answers, want 0", d.invalid)
	}
	if d.served429 != 0 || d.code != 0 {
		t.Errorf("%d 429s and %d code grants at the sandbox, want 0 and 0", d.served429, d.code)
	}
	s.checkWindow(t, loc, begin)
}

// 3. A replica is killed with SIGKILL mid-load and started again.
func (s *system) replicaKill(t *testing.T, loc string, ids []string) {
	begin := time.Now()
	before := s.stats()
	victim := s.replicas[2]
	var (
		killedAt, readyAt time.Time
		done              = make(chan *loadResult)
	)
	go func() {
		done <- runLoad(context.Background(), loadSpec{
			callers: 30, replicas: allReplicas, dur: 20 * time.Second, deadline: 20 * time.Second,
			op: s.getLoad(loc, ids),
		})
	}()
	time.Sleep(5 * time.Second)
	victim.signal(syscall.SIGKILL)
	if code, err := victim.wait(10 * time.Second); err != nil || code != -1 {
		t.Errorf("replica%d after SIGKILL: exit %d, %v", victim.idx+1, code, err)
	}
	killedAt = time.Now()
	time.Sleep(4 * time.Second)
	s.restart(victim)
	readyAt = time.Now()
	res := <-done
	d := deltas(before, s.stats())
	t.Logf("replica kill: killed at +%v, ready again at +%v, load %v: %s; sandbox: %d refresh, %d code grants, %d invalid_grant, %d 429s",
		killedAt.Sub(res.start).Round(time.Millisecond), readyAt.Sub(res.start).Round(time.Millisecond),
		res.end.Sub(res.start).Round(time.Millisecond), res.summary(), d.refresh, d.code, d.invalid, d.served429)

	// Callers of the other replicas: unaffected.
	onlyBackPressure(t, "callers of replicas 1 and 2", res.filter(func(a attempt) bool { return a.replica != victim.idx }))
	// Callers of the victim: refused connections while it was down (the
	// calls it held when it died end as UNAVAILABLE too), then service again
	// from the restarted process, which has only Redis to learn the token
	// from.
	var late []attempt
	okAfter := 0
	for _, a := range res.filter(func(a attempt) bool { return a.replica == victim.idx }) {
		switch {
		case a.code == codes.OK || backPressured(a):
			if a.code == codes.OK && a.start.After(readyAt) {
				okAfter++
			}
		case a.code == codes.Unavailable && a.end.After(killedAt.Add(-time.Second)) && a.start.Before(readyAt.Add(2*time.Second)):
		default:
			late = append(late, a)
		}
	}
	if len(late) > 0 {
		t.Errorf("victim's callers: %d failures outside its downtime or not UNAVAILABLE:%s", len(late), firstFew(late, 10))
	}
	if okAfter == 0 {
		t.Errorf("the restarted replica served no call")
	}
	t.Logf("restarted replica served %d calls", okAfter)
	tokensUntouched(t, d)
	s.checkWindow(t, loc, begin)
}

// 4. Redis is stopped mid-load and started again.
func (s *system) redisOutage(t *testing.T, loc string, ids []string) {
	begin := time.Now()
	before := s.stats()
	done := make(chan *loadResult)
	go func() {
		done <- runLoad(context.Background(), loadSpec{
			callers: 30, replicas: allReplicas, dur: 24 * time.Second, deadline: 15 * time.Second,
			op: s.getLoad(loc, ids),
		})
	}()
	time.Sleep(6 * time.Second)
	s.redis.Stop()
	stoppedAt := time.Now()
	// While Redis is down, the replicas say they are not ready.
	time.Sleep(2 * time.Second)
	for _, r := range s.replicas {
		resp, err := s.http.Get(r.httpURL + "/readyz")
		if err != nil {
			t.Errorf("replica%d /readyz during the outage: %v", r.idx+1, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("replica%d /readyz answered 200 while Redis was down", r.idx+1)
		}
	}
	time.Sleep(4 * time.Second)
	s.redis.Restart()
	restartedAt := time.Now()
	res := <-done
	d := deltas(before, s.stats())
	t.Logf("redis outage: stopped at +%v, restarted at +%v, load %v: %s",
		stoppedAt.Sub(res.start).Round(time.Millisecond), restartedAt.Sub(res.start).Round(time.Millisecond),
		res.end.Sub(res.start).Round(time.Millisecond), res.summary())
	t.Logf("attempts by second of their start:%s", res.timeline())

	var (
		bad, outage []attempt
		reasons     = map[string]int{}
	)
	for _, a := range res.attempts {
		if a.code == codes.OK || backPressured(a) {
			continue
		}
		if a.code == codes.Unavailable && a.hasRetry && a.domain == "hlgate" {
			outage = append(outage, a)
			reasons[a.reason]++
			continue
		}
		bad = append(bad, a)
	}
	t.Logf("errors while Redis was down: %d UNAVAILABLE with RetryInfo, by reason %v", len(outage), reasons)
	if len(bad) > 0 {
		t.Errorf("%d errors that are not UNAVAILABLE with RetryInfo (domain hlgate):%s", len(bad), firstFew(bad, 10))
	}
	if len(outage) == 0 {
		t.Errorf("no caller saw the outage: with Redis down the quota cannot be shared, so calls must fail closed")
	}
	// Every outage error belongs to the outage: it started after Redis
	// stopped and before it was back (plus the time a pool needs to redial).
	for _, a := range outage {
		if a.end.Before(stoppedAt) || a.start.After(restartedAt.Add(3*time.Second)) {
			t.Errorf("outage error outside the outage: %v", a)
		}
	}
	// Full recovery: every call that ends later than 3 s after the restart
	// succeeds, on every replica.
	recovered := res.filter(func(a attempt) bool { return a.end.After(restartedAt.Add(3 * time.Second)) })
	okPer := map[int]int{}
	for _, a := range recovered {
		if a.code == codes.OK {
			okPer[a.replica]++
		}
	}
	onlyBackPressure(t, "after recovery", recovered)
	for i := range 3 {
		if okPer[i] == 0 {
			t.Errorf("replica%d served no call after Redis came back", i+1)
		}
	}
	t.Logf("after recovery: OK calls per replica %v", okPer)
	tokensUntouched(t, d)
	s.checkWindow(t, loc, begin)
}

// 5. Sandbox faults: 10% 5xx and latency spikes.
func (s *system) sandboxFaults(t *testing.T, loc string, ids []string) {
	begin := time.Now()
	before := s.stats()
	var fivexxBefore float64
	for _, r := range s.replicas {
		fivexxBefore += s.upstreamStatusCount(r, "5")
	}
	s.setFaults(sandbox.Faults{ErrorRate: 0.1, SpikeRate: 0.1, SpikeLatency: time.Second})
	defer s.setFaults(sandbox.Faults{})

	// Names no seeded contact has; the sandbox's search is lower-case.
	prefix := "e2ew" + strings.ToLower(randomHex(t, 4))
	type write struct {
		name    string
		id      string
		outcome attempt
	}
	var (
		mu       sync.Mutex
		writes   []write
		reads    = map[int]int{} // caller resends a read needed → count
		readFail []attempt
		wg       sync.WaitGroup
	)
	start := time.Now()
	const dur = 15 * time.Second
	// Writers: unique names, no email or phone, so the sandbox's duplicate
	// rule cannot hide a resent create; only a quota refusal (nothing sent)
	// is resent.
	for c := range 8 {
		r := s.replicas[c%3]
		wg.Go(func() {
			for n := 0; n < 500 && time.Since(start) < dur; n++ {
				name := fmt.Sprintf("c%dn%d", c, n)
				var id string
				as := callOnce(context.Background(), c, r.idx, 20*time.Second, 10, backPressured, func(ctx context.Context) error {
					resp, err := r.contacts.CreateContact(withKey(ctx, s.writeKey), &hlgatev1.CreateContactRequest{
						LocationId: loc, Contact: &hlgatev1.Contact{FirstName: prefix, LastName: name},
					})
					if err == nil {
						id = resp.GetContact().GetId()
					}
					return err
				})
				mu.Lock()
				writes = append(writes, write{name: prefix + " " + name, id: id, outcome: as[len(as)-1]})
				mu.Unlock()
			}
		})
	}
	// Readers: a read must succeed; hlgate retries 5xx itself, and a caller
	// may resend a read after UNAVAILABLE with RetryInfo (at most twice).
	for c := range 8 {
		r := s.replicas[c%3]
		wg.Go(func() {
			for n := 0; n < 500 && time.Since(start) < dur; n++ {
				resends := 0
				var op func(ctx context.Context) error
				if n%2 == 0 {
					op = s.getContact(r, loc, ids)
				} else {
					op = func(ctx context.Context) error {
						_, err := r.contacts.SearchContacts(withKey(ctx, s.writeKey), &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: 5, Query: "example.com"})
						return err
					}
				}
				as := callOnce(context.Background(), 100+c, r.idx, 20*time.Second, 12, func(a attempt) bool {
					if backPressured(a) {
						return true
					}
					if a.code == codes.Unavailable && a.hasRetry && resends < 2 {
						resends++
						return true
					}
					return false
				}, op)
				mu.Lock()
				if a := as[len(as)-1]; a.code != codes.OK {
					readFail = append(readFail, a)
				} else {
					reads[resends]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s.setFaults(sandbox.Faults{})
	var fivexxAfter float64
	for _, r := range s.replicas {
		fivexxAfter += s.upstreamStatusCount(r, "5")
	}
	d := deltas(before, s.stats())

	// Count the writes at the sandbox itself.
	found := map[string][]string{}
	for _, c := range s.sandboxContacts(s.pit(loc, "contacts.readonly"), loc, prefix) {
		name := fmt.Sprintf("%v %v", c["firstName"], c["lastName"])
		found[name] = append(found[name], fmt.Sprint(c["id"]))
	}
	okWrites, failedWrites, failedLanded := 0, 0, 0
	failCodes := map[string]int{}
	for _, w := range writes {
		got := found[w.name]
		switch {
		case w.outcome.code == codes.OK:
			okWrites++
			if len(got) != 1 || got[0] != w.id {
				t.Errorf("write %q succeeded with id %s, the sandbox holds %v", w.name, w.id, got)
			}
		default:
			failedWrites++
			failCodes[fmt.Sprintf("%v/%s", w.outcome.code, w.outcome.reason)]++
			if len(got) > 1 {
				t.Errorf("failed write %q: the sandbox holds %d copies %v", w.name, len(got), got)
			}
			if len(got) == 1 {
				failedLanded++
			}
		}
	}
	dupes := 0
	for name, got := range found {
		if len(got) > 1 {
			dupes++
			t.Errorf("contact %q was created %d times: %v", name, len(got), got)
		}
	}
	if len(found) != okWrites+failedLanded {
		t.Errorf("the sandbox holds %d of the suite's contacts, want %d (successful writes) + %d (failed writes that landed)", len(found), okWrites, failedLanded)
	}
	t.Logf("faults: %.0f upstream 5xx seen by the replicas; writes: %d OK, %d failed (%v), %d of the failed landed, %d duplicated at the sandbox; reads: %v OK by caller resends needed, %d failed; sandbox 429s %d",
		fivexxAfter-fivexxBefore, okWrites, failedWrites, failCodes, failedLanded, dupes, reads, len(readFail), d.served429)
	if len(readFail) > 0 {
		t.Errorf("%d reads failed despite retries:%s", len(readFail), firstFew(readFail, 10))
	}
	if fivexxAfter-fivexxBefore == 0 {
		t.Errorf("the replicas saw no upstream 5xx: the faults did not take effect")
	}
	if okWrites == 0 || reads[0] == 0 {
		t.Errorf("no successful write (%d) or read (%v) under faults", okWrites, reads)
	}
	tokensUntouched(t, d)
	s.checkWindow(t, loc, begin)
}

// 6. Another language: a Node client that has nothing but proto/.
func (s *system) nodeClient(t *testing.T, loc string) {
	dir := filepath.Join(s.root, "e2e", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@grpc", "grpc-js")); err != nil {
		t.Fatalf("e2e/node/node_modules is missing: run `make test-e2e` (it runs npm ci there): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := s.replicas[1]
	cmd := exec.CommandContext(ctx, "node", "client.js", r.grpcAddr, loc)
	cmd.Dir = dir
	cmd.Env = cleanEnv("HLGATE_E2E_KEY=" + s.readKey)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client.js: %v\nstdout: %s\nstderr: %s", err, out, stderr.String())
	}
	var got struct {
		Searched        int    `json:"searched"`
		TotalSize       int    `json:"total_size"`
		ContactID       string `json:"contact_id"`
		ContactLocation string `json:"contact_location"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node client output %q: %v", out, err)
	}
	t.Logf("node client: %s", strings.TrimSpace(string(out)))
	if got.Searched == 0 || got.ContactID == "" || got.ContactLocation != loc {
		t.Errorf("node client: %+v, want contacts of %s", got, loc)
	}
}

// 7. Graceful shutdown: SIGTERM while calls are in flight.
func (s *system) gracefulShutdown(t *testing.T, loc string, ids []string) {
	begin := time.Now()
	// Every upstream call takes 2 s, so calls are surely in flight when the
	// signal arrives.
	s.setFaults(sandbox.Faults{Latency: 2 * time.Second})
	defer s.setFaults(sandbox.Faults{})
	victim := s.replicas[2]
	bg := make(chan *loadResult)
	go func() {
		bg <- runLoad(context.Background(), loadSpec{
			callers: 10, replicas: []int{0, 1}, dur: 8 * time.Second, deadline: 20 * time.Second,
			op: s.getLoad(loc, ids),
		})
	}()
	const inflight = 30
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results []attempt
	)
	for c := range inflight {
		wg.Go(func() {
			a := attempt{caller: c, replica: victim.idx, start: time.Now()}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := s.getContact(victim, loc, ids)(ctx)
			cancel()
			classify(&a, err)
			mu.Lock()
			results = append(results, a)
			mu.Unlock()
		})
	}
	time.Sleep(700 * time.Millisecond)
	victim.signal(syscall.SIGTERM)
	termAt := time.Now()
	code, err := victim.wait(30 * time.Second)
	exitAfter := time.Since(termAt)
	wg.Wait()
	bgRes := <-bg
	var failed, early []attempt
	for _, a := range results {
		if a.code != codes.OK {
			failed = append(failed, a)
		} else if a.end.Before(termAt) {
			early = append(early, a)
		}
	}
	t.Logf("graceful shutdown: exit %d (%v) %v after SIGTERM; %d in-flight calls: %d OK, %d failed; background on replicas 1-2: %s",
		code, err, exitAfter.Round(time.Millisecond), inflight, len(results)-len(failed), len(failed), bgRes.summary())
	if err != nil || code != 0 {
		t.Errorf("replica%d after SIGTERM: exit %d, %v; want exit 0", victim.idx+1, code, err)
	}
	if len(failed) > 0 {
		t.Errorf("%d in-flight calls failed during graceful shutdown:%s", len(failed), firstFew(failed, 10))
	}
	if len(early) > 0 {
		t.Errorf("%d calls ended before SIGTERM, so they were not in flight; the scenario proves less than it claims", len(early))
	}
	onlyBackPressure(t, "background callers of replicas 1 and 2", bgRes.attempts)
	s.checkWindow(t, loc, begin)
}
