package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/testwait"
	"github.com/hlgate/hlgate/sandbox"
)

const loc = sandbox.DemoLocationID

// stampede makes every manager ask for subject's token from perCaller
// goroutines at the same moment and returns the tokens and errors.
func stampede(r *rig, subject string, perManager int, ctx func() context.Context) ([]Token, []error) {
	n := len(r.mgrs) * perManager
	toks := make([]Token, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, m := range r.mgrs {
		for j := 0; j < perManager; j++ {
			wg.Add(1)
			go func(idx int, m *Manager) {
				defer wg.Done()
				<-start
				toks[idx], errs[idx] = m.Token(ctx(), subject)
			}(i*perManager+j, m)
		}
	}
	close(start)
	wg.Wait()
	return toks, errs
}

func bg() context.Context { return context.Background() }

// TestRefreshExactlyOnceAcrossReplicas is the core claim: 8 replicas × 16
// goroutines ask for an expired token at once, round after round; the token
// endpoint sees exactly one refresh grant and no invalid_grant per round,
// and every caller gets the new token.
func TestRefreshExactlyOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	r := newRig(t, 8, rigOptions{})
	r.install(loc)
	prev, err := r.mgrs[0].Token(bg(), loc)
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 25
	for round := 0; round < rounds; round++ {
		before := r.stats()
		r.clk.Advance(25 * time.Hour) // every cached and stored token is now expired
		toks, errs := stampede(r, loc, 32, bg)
		after := r.stats()
		if g := after.RefreshGrants - before.RefreshGrants; g != 1 {
			t.Fatalf("round %d: %d refresh grants, want exactly 1", round, g)
		}
		if g := after.InvalidGrants - before.InvalidGrants; g != 0 {
			t.Fatalf("round %d: %d invalid_grant answers, want 0", round, g)
		}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d caller %d: %v", round, i, err)
			}
			if toks[i].AccessToken != toks[0].AccessToken {
				t.Fatalf("round %d: callers got different tokens", round)
			}
		}
		if toks[0].AccessToken == prev.AccessToken {
			t.Fatalf("round %d: callers got the expired token", round)
		}
		prev = toks[0]
	}
	if code := r.callUpstream(prev); code != http.StatusOK {
		t.Fatalf("upstream call with the last refreshed token: HTTP %d", code)
	}
	if got := sum(r.counters, func(c *Counters) int64 { return c.Refreshed.Load() }); got != rounds {
		t.Fatalf("managers report %d refreshes, want %d", got, rounds)
	}
	if prev.App != AppID(sandbox.DefaultClientID) || prev.Subject != loc || prev.UserType != UserTypeLocation {
		t.Fatalf("token metadata = %v", prev)
	}
}

// TestSlowTokenEndpoint: upstream answers the refresh slower than a waiter's
// patience but well within the lock TTL. Waiters give up with
// ErrRefreshPending (never by refreshing themselves); nothing is spent twice.
func TestSlowTokenEndpoint(t *testing.T) {
	t.Parallel()
	r := newRig(t, 8, rigOptions{config: func(c *Config) {
		c.WaitPatience = 200 * time.Millisecond
		c.LockTTL = 8 * time.Second
		c.TokenCallTimeout = 3 * time.Second
	}})
	r.install(loc)
	for round := 0; round < 3; round++ {
		r.sb.SetTokenLatency(700 * time.Millisecond)
		before := r.stats()
		r.clk.Advance(25 * time.Hour)
		toks, errs := stampede(r, loc, 8, bg)
		r.sb.SetTokenLatency(0)
		var ok, pending int
		var newTok string
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
				if newTok == "" {
					newTok = toks[i].AccessToken
				} else if toks[i].AccessToken != newTok {
					t.Fatalf("round %d: callers got different tokens", round)
				}
			case errors.Is(err, ErrRefreshPending):
				pending++
			default:
				t.Fatalf("round %d caller %d: %v", round, i, err)
			}
		}
		if pending == 0 || ok == 0 {
			t.Fatalf("round %d: %d ok and %d pending; the scenario needs both (patience < latency)", round, ok, pending)
		}
		// Callers that gave up get the new token on their next try.
		toks, errs = stampede(r, loc, 2, bg)
		for i, err := range errs {
			if err != nil || toks[i].AccessToken != newTok {
				t.Fatalf("round %d: retry %d got %v (same token: %t)", round, i, err, toks[i].AccessToken == newTok)
			}
		}
		after := r.stats()
		if g := after.RefreshGrants - before.RefreshGrants; g != 1 {
			t.Fatalf("round %d: %d refresh grants, want 1", round, g)
		}
		if g := after.InvalidGrants - before.InvalidGrants; g != 0 {
			t.Fatalf("round %d: %d invalid_grant, want 0", round, g)
		}
	}
}

// TestTokenEndpointTimeout: the token call times out (the sandbox, like a
// server that sees the client go, does not rotate then). Callers get an
// error, the lock is released, and the next attempt refreshes once.
func TestTokenEndpointTimeout(t *testing.T) {
	t.Parallel()
	r := newRig(t, 4, rigOptions{config: func(c *Config) {
		c.TokenCallTimeout = 150 * time.Millisecond
		c.LockTTL = 5 * time.Second
	}})
	r.install(loc)
	r.sb.SetTokenLatency(2 * time.Second)
	r.clk.Advance(25 * time.Hour)
	_, errs := stampede(r, loc, 4, bg)
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			if errors.Is(err, ErrReauthRequired) {
				t.Fatalf("a timeout was taken for a dead refresh token: %v", err)
			}
		}
	}
	if failed == 0 {
		t.Fatal("no caller saw the timeout")
	}
	r.sb.SetTokenLatency(0)
	toks, errs := stampede(r, loc, 4, bg)
	for i, err := range errs {
		if err != nil || toks[i].AccessToken != toks[0].AccessToken {
			t.Fatalf("after the timeout, caller %d: %v", i, err)
		}
	}
	if s := r.stats(); s.RefreshGrants != 1 || s.InvalidGrants != 0 {
		t.Fatalf("%d refresh grants and %d invalid_grant, want 1 and 0", s.RefreshGrants, s.InvalidGrants)
	}
}

// TestCallersCancelledBetweenAnswerAndWrite: every caller's context is
// cancelled after upstream answered the refresh and before the write. The
// refresh runs on the manager's context, so the new pair is still stored.
func TestCallersCancelledBetweenAnswerAndWrite(t *testing.T) {
	t.Parallel()
	r := newRig(t, 8, rigOptions{})
	r.install(loc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, o := range r.oauths {
		o.afterRefresh = func(Grant) { cancel() }
	}
	before := r.stats()
	r.clk.Advance(25 * time.Hour)
	_, errs := stampede(r, loc, 8, func() context.Context { return ctx })
	var cancelled int
	for _, err := range errs {
		if errors.Is(err, context.Canceled) {
			cancelled++
		} else if err != nil {
			t.Fatalf("caller: %v", err)
		}
	}
	if cancelled == 0 {
		t.Fatal("no caller saw its context cancelled; the scenario did not happen")
	}
	for _, o := range r.oauths {
		o.afterRefresh = nil
	}
	// A fresh replica (empty cache) reads the stored pair: no second grant.
	fresh := r.addManager(nil)
	tok, err := fresh.Token(bg(), loc)
	if err != nil {
		t.Fatal(err)
	}
	toks, errs := stampede(r, loc, 4, bg)
	for i, err := range errs {
		if err != nil || toks[i].AccessToken != tok.AccessToken {
			t.Fatalf("caller %d after the cancelled round: %v", i, err)
		}
	}
	after := r.stats()
	if g := after.RefreshGrants - before.RefreshGrants; g != 1 {
		t.Fatalf("%d refresh grants, want 1", g)
	}
	if g := after.InvalidGrants - before.InvalidGrants; g != 0 {
		t.Fatalf("%d invalid_grant, want 0", g)
	}
	if code := r.callUpstream(tok); code != http.StatusOK {
		t.Fatalf("upstream call: HTTP %d", code)
	}
}

// TestHolderShutsDownBetweenAnswerAndWrite: the replica holding the lock is
// closed after upstream answered. Close waits for the refresh and the pair
// is written before the process would exit.
func TestHolderShutsDownBetweenAnswerAndWrite(t *testing.T) {
	t.Parallel()
	r := newRig(t, 2, rigOptions{})
	r.install(loc)
	holder := r.mgrs[0]
	closed := make(chan error, 1)
	r.oauths[0].afterRefresh = func(Grant) {
		go func() { closed <- holder.Close() }()
		time.Sleep(50 * time.Millisecond) // let Close cancel the manager's context first
	}
	before := r.stats()
	r.clk.Advance(25 * time.Hour)
	tok, err := holder.Token(bg(), loc)
	if err != nil {
		t.Fatalf("holder: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := holder.Token(bg(), loc); err != nil {
		t.Fatalf("cached token after Close: %v", err) // hot path still serves
	}
	got, err := r.mgrs[1].Token(bg(), loc)
	if err != nil || got.AccessToken != tok.AccessToken {
		t.Fatalf("other replica: %v (same token: %t)", err, got.AccessToken == tok.AccessToken)
	}
	after := r.stats()
	if g := after.RefreshGrants - before.RefreshGrants; g != 1 || after.InvalidGrants != before.InvalidGrants {
		t.Fatalf("%d refresh grants and %d invalid_grant, want 1 and 0", g, after.InvalidGrants-before.InvalidGrants)
	}
}

// TestRedisDownDuringWrite: Redis dies between upstream's answer and the
// write. The new pair is served from memory, the gap is counted, and the
// write lands when Redis is back (AOF keeps the rest of the data).
func TestRedisDownDuringWrite(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, rigOptions{aof: true})
	r.install(loc)
	r.oauths[0].afterRefresh = func(Grant) { r.redis.Kill() }
	before := r.stats()
	r.clk.Advance(25 * time.Hour)
	tok, err := r.mgrs[0].Token(bg(), loc)
	if err != nil {
		t.Fatalf("holder: %v", err)
	}
	r.oauths[0].afterRefresh = nil
	c := r.counters[0]
	if c.PersistFailures.Load() == 0 || c.UnpersistedNow.Load() != 1 {
		t.Fatalf("persist failures %d, unpersisted %d; want the gap reported", c.PersistFailures.Load(), c.UnpersistedNow.Load())
	}
	// Redis is down: the holder keeps serving the new token from memory.
	for i := 0; i < 3; i++ {
		got, err := r.mgrs[0].Token(bg(), loc)
		if err != nil || got.AccessToken != tok.AccessToken {
			t.Fatalf("while Redis is down: %v", err)
		}
	}
	if code := r.callUpstream(tok); code != http.StatusOK {
		t.Fatalf("upstream call with the unpersisted token: HTTP %d", code)
	}
	r.redis.Restart()
	testwait.For(t, "the refreshed pair to be written after Redis came back", testwait.DefaultTimeout,
		func() bool { return c.UnpersistedNow.Load() == 0 })
	for i, m := range r.mgrs[1:] {
		got, err := m.Token(bg(), loc)
		if err != nil || got.AccessToken != tok.AccessToken {
			t.Fatalf("replica %d after Redis is back: %v (same token: %t)", i+1, err, got.AccessToken == tok.AccessToken)
		}
	}
	after := r.stats()
	if g := after.RefreshGrants - before.RefreshGrants; g != 1 || after.InvalidGrants != before.InvalidGrants {
		t.Fatalf("%d refresh grants and %d invalid_grant, want 1 and 0", g, after.InvalidGrants-before.InvalidGrants)
	}
	// And the next refresh chains from the stored pair.
	r.clk.Advance(25 * time.Hour)
	if _, err := r.mgrs[2].Token(bg(), loc); err != nil {
		t.Fatalf("next refresh: %v", err)
	}
	if r.stats().InvalidGrants != before.InvalidGrants {
		t.Fatal("the next refresh used a spent refresh token")
	}
}

// TestLostPairIsReportedAsNeedsReauth: Redis is down from upstream's answer
// until after the holder has shut down, so the only valid refresh token is
// lost. That cannot be avoided, but it must not be silent: the holder logs
// and counts it, and the next replica to refresh marks the subject
// needs_reauth and returns ErrReauthRequired.
func TestLostPairIsReportedAsNeedsReauth(t *testing.T) {
	t.Parallel()
	r := newRig(t, 2, rigOptions{aof: true, config: func(c *Config) {
		c.LockTTL = 1500 * time.Millisecond
		c.TokenCallTimeout = 500 * time.Millisecond
		c.StoreTimeout = 200 * time.Millisecond
		c.CloseTimeout = 300 * time.Millisecond
		c.WaitPatience = 3 * time.Second
	}})
	r.install(loc)
	r.oauths[0].afterRefresh = func(Grant) { r.redis.Kill() }
	before := r.stats()
	r.clk.Advance(25 * time.Hour)
	if _, err := r.mgrs[0].Token(bg(), loc); err != nil {
		t.Fatalf("holder: %v", err)
	}
	if err := r.mgrs[0].Close(); err == nil {
		t.Fatal("Close returned nil although a refreshed pair could not be stored")
	}
	if r.counters[0].ShutdownLost.Load() != 1 {
		t.Fatalf("lost pairs counted: %d, want 1", r.counters[0].ShutdownLost.Load())
	}
	r.redis.Restart()
	_, err := r.mgrs[1].Token(bg(), loc)
	if !errors.Is(err, ErrReauthRequired) {
		t.Fatalf("next replica: %v, want ErrReauthRequired", err)
	}
	st, err := r.mgrs[1].Status(bg(), loc)
	if err != nil || !st.NeedsReauth {
		t.Fatalf("status = %+v, %v; want needs_reauth", st, err)
	}
	// needs_reauth stops retries: no further invalid_grant.
	for i := 0; i < 3; i++ {
		if _, err := r.mgrs[1].Token(bg(), loc); !errors.Is(err, ErrReauthRequired) {
			t.Fatalf("retry %d: %v", i, err)
		}
	}
	after := r.stats()
	if g := after.InvalidGrants - before.InvalidGrants; g != 1 {
		t.Fatalf("%d invalid_grant, want exactly the 1 that detected the loss", g)
	}
	// A new install clears it. The other replica answers from its cached
	// mark until the install's announcement reaches it, or for at most
	// PollInterval.
	r.install(loc)
	testwait.For(t, "the other replica to see the reinstall", testwait.DefaultTimeout, func() bool {
		_, err := r.mgrs[1].Token(bg(), loc)
		if err != nil && !errors.Is(err, ErrReauthRequired) {
			t.Fatalf("after reinstall: %v", err)
		}
		return err == nil
	})
}

// TestForceRefreshOnlyIfStillStored: a 401 seen by every replica at once
// spends the refresh token once; a 401 on a token that was already replaced
// refreshes nothing.
func TestForceRefreshOnlyIfStillStored(t *testing.T) {
	t.Parallel()
	r := newRig(t, 8, rigOptions{sandbox: sandbox.Config{RevokeAccessOnRefresh: true}})
	r.install(loc)
	old, err := r.mgrs[0].Token(bg(), loc)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range r.mgrs {
		if _, err := m.Token(bg(), loc); err != nil { // warm every cache
			t.Fatal(err)
		}
	}
	before := r.stats()
	toks := make([]Token, len(r.mgrs)*8)
	errs := make([]error, len(toks))
	var wg sync.WaitGroup
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], errs[i] = r.mgrs[i%len(r.mgrs)].ForceRefresh(bg(), loc, old.AccessToken)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil || toks[i].AccessToken != toks[0].AccessToken || toks[i].AccessToken == old.AccessToken {
			t.Fatalf("force refresh %d: %v", i, err)
		}
	}
	if g := r.stats().RefreshGrants - before.RefreshGrants; g != 1 {
		t.Fatalf("%d refresh grants for one rejected token, want 1", g)
	}
	// The old token is revoked upstream; the new one works.
	if code := r.callUpstream(old); code != http.StatusUnauthorized {
		t.Fatalf("old token: HTTP %d, want 401 (sandbox revokes on refresh)", code)
	}
	if code := r.callUpstream(toks[0]); code != http.StatusOK {
		t.Fatalf("new token: HTTP %d", code)
	}
	// A late 401 report for the old token changes nothing.
	for _, m := range r.mgrs {
		got, err := m.ForceRefresh(bg(), loc, old.AccessToken)
		if err != nil || got.AccessToken != toks[0].AccessToken {
			t.Fatalf("late force refresh: %v", err)
		}
	}
	if g := r.stats().RefreshGrants - before.RefreshGrants; g != 1 {
		t.Fatalf("late 401 reports caused %d grants in all, want 1", g)
	}
}

// TestBackgroundRefresh: tokens inside the refresh-ahead window are renewed
// by the background refreshers of all replicas together exactly once, and
// callers never wait for it (their cached token is still valid).
func TestBackgroundRefresh(t *testing.T) {
	t.Parallel()
	r := newRig(t, 8, rigOptions{config: func(c *Config) {
		c.RefreshAhead = 2 * time.Hour
		c.ScanInterval = 20 * time.Millisecond
	}})
	r.install(loc)
	old, _ := r.mgrs[0].Token(bg(), loc)
	for _, m := range r.mgrs {
		if _, err := m.Token(bg(), loc); err != nil {
			t.Fatal(err)
		}
	}
	before := r.stats()
	r.clk.Advance(23 * time.Hour) // 86399 s tokens: inside 2 h of expiry, still valid
	for _, m := range r.mgrs {
		m.Start()
	}
	deadline := time.Now().Add(10 * time.Second)
	var fresh string
	for {
		done := 0
		for _, m := range r.mgrs {
			tok, err := m.Token(bg(), loc)
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken != old.AccessToken {
				if fresh == "" {
					fresh = tok.AccessToken
				} else if tok.AccessToken != fresh {
					t.Fatal("replicas hold different new tokens")
				}
				done++
			}
		}
		if done == len(r.mgrs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d replicas picked up the background refresh", done, len(r.mgrs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // several more scans: they must not refresh again
	after := r.stats()
	if g := after.RefreshGrants - before.RefreshGrants; g != 1 || after.InvalidGrants != before.InvalidGrants {
		t.Fatalf("%d refresh grants and %d invalid_grant, want 1 and 0", g, after.InvalidGrants-before.InvalidGrants)
	}
}

func TestSentinelsAndPIT(t *testing.T) {
	t.Parallel()
	r := newRig(t, 2, rigOptions{})
	m := r.mgrs[0]
	if _, err := m.Token(bg(), "NoSuchLocation000001"); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("uninstalled location: %v, want ErrNotInstalled", err)
	}
	if _, err := m.Token(bg(), "bad{subject}"); err == nil {
		t.Fatal("a subject with braces (a Redis hash tag) was accepted")
	}
	pit, err := r.sb.AddPIT(sandbox.OtherLocationID, "opportunities.readonly")
	if err != nil {
		t.Fatal(err)
	}
	seen.add(pit)
	if _, err := m.ImportPIT(bg(), PIT{Subject: sandbox.OtherLocationID, Token: pit, UserType: UserTypeLocation}); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(400 * 24 * time.Hour) // PITs do not expire
	tok, err := r.mgrs[1].Token(bg(), sandbox.OtherLocationID)
	if err != nil || tok.AccessToken != pit || tok.App != "pit" || !tok.Expiry.IsZero() {
		t.Fatalf("PIT token = %v, %v", tok, err)
	}
	if code := r.callUpstream(tok); code != http.StatusOK {
		t.Fatalf("upstream call with the PIT: HTTP %d", code)
	}
	if _, err := m.ForceRefresh(bg(), sandbox.OtherLocationID, pit); !errors.Is(err, ErrNotRefreshable) {
		t.Fatalf("force refresh of a PIT: %v, want ErrNotRefreshable", err)
	}
	if err := m.Delete(bg(), sandbox.OtherLocationID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Token(bg(), sandbox.OtherLocationID); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("after delete: %v", err)
	}
	if r.stats().RefreshGrants != 0 {
		t.Fatal("a PIT was refreshed")
	}
}

// TestInvalidGrantOnImportedPair: a stored refresh token that upstream no
// longer accepts becomes needs_reauth after exactly one invalid_grant.
func TestInvalidGrantOnImportedPair(t *testing.T) {
	t.Parallel()
	r := newRig(t, 4, rigOptions{})
	if _, err := r.mgrs[0].ImportPair(bg(), Pair{Subject: loc, RefreshToken: "spent-refresh-token-000", UserType: UserTypeLocation, LocationID: loc}); err != nil {
		t.Fatal(err)
	}
	_, errs := stampede(r, loc, 8, bg)
	for i, err := range errs {
		if !errors.Is(err, ErrReauthRequired) {
			t.Fatalf("caller %d: %v, want ErrReauthRequired", i, err)
		}
	}
	if n := r.stats().InvalidGrants; n != 1 {
		t.Fatalf("%d invalid_grant answers, want 1", n)
	}
	for _, err := range errs {
		if strings.Contains(err.Error(), "spent-refresh-token-000") {
			t.Fatalf("error shows the refresh token: %v", err)
		}
	}
}

// TestWaitersWokenByAnnouncement: with polling slower than the wait
// patience, waiting replicas can only succeed if the holder's write wakes
// them (the commit script's PUBLISH).
func TestWaitersWokenByAnnouncement(t *testing.T) {
	t.Parallel()
	r := newRig(t, 8, rigOptions{config: func(c *Config) {
		c.PollInterval = time.Minute
		c.WaitPatience = 30 * time.Second
	}})
	r.install(loc)
	r.sb.SetTokenLatency(100 * time.Millisecond) // waiters are surely waiting when the write lands
	for round := 0; round < 3; round++ {
		r.clk.Advance(25 * time.Hour)
		start := time.Now()
		toks, errs := stampede(r, loc, 4, bg)
		// Without the announcement a waiter sleeps until its patience runs
		// out (30 s) before it reads again; with it, it reads at once.
		if took := time.Since(start); took > 15*time.Second {
			t.Fatalf("round %d: waiters took %s; they were not woken by the write", round, took)
		}
		for i, err := range errs {
			if err != nil || toks[i].AccessToken != toks[0].AccessToken {
				t.Fatalf("round %d caller %d: %v", round, i, err)
			}
		}
	}
	if n := sum(r.counters, func(c *Counters) int64 { return c.WaitTimeouts.Load() }); n != 0 {
		t.Fatalf("%d waits ran out of patience", n)
	}
	if s := r.stats(); s.RefreshGrants != 3 || s.InvalidGrants != 0 {
		t.Fatalf("%d refresh grants and %d invalid_grant, want 3 and 0", s.RefreshGrants, s.InvalidGrants)
	}
}

// TestMintLocationToken: an agency install mints a location token that is
// stored as the location's own record and refreshed like any other.
func TestMintLocationToken(t *testing.T) {
	t.Parallel()
	r := newRig(t, 2, rigOptions{})
	code, err := r.sb.MintCode(sandbox.CodeRequest{UserType: sandbox.UserCompany})
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.mgrs[0].ExchangeCode(bg(), code, "", ExchangeOptions{})
	if err != nil || st.Subject != sandbox.DemoCompanyID || st.UserType != UserTypeCompany {
		t.Fatalf("agency install: %+v, %v", st, err)
	}
	st, err = r.mgrs[0].MintLocationToken(bg(), sandbox.DemoCompanyID, loc)
	if err != nil || st.Kind != KindLocationToken || st.Subject != loc {
		t.Fatalf("mint: %+v, %v", st, err)
	}
	tok, err := r.mgrs[1].Token(bg(), loc)
	if err != nil || tok.UserType != UserTypeLocation {
		t.Fatalf("location token: %v, %v", tok, err)
	}
	if code := r.callUpstream(tok); code != http.StatusOK {
		t.Fatalf("upstream call with the minted token: HTTP %d", code)
	}
	r.clk.Advance(25 * time.Hour)
	tok2, err := r.mgrs[1].Token(bg(), loc)
	if err != nil || tok2.AccessToken == tok.AccessToken {
		t.Fatalf("renewing the minted token: %v", err)
	}
	if code := r.callUpstream(tok2); code != http.StatusOK {
		t.Fatalf("upstream call with the renewed token: HTTP %d", code)
	}
	if s := r.stats(); s.InvalidGrants != 0 || s.RefreshGrants+s.LocationTokens != 2 {
		t.Fatalf("stats: %+v", s)
	}
}

// TestRedisDownServesCachedTokens: with Redis gone, tokens in memory keep
// serving until they expire; then callers get an error, never a dead token.
func TestRedisDownServesCachedTokens(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, rigOptions{config: func(c *Config) { c.StoreTimeout = 200 * time.Millisecond }})
	r.install(loc)
	m := r.mgrs[0]
	tok, err := m.Token(bg(), loc)
	if err != nil {
		t.Fatal(err)
	}
	r.redis.Kill()
	for i := 0; i < 3; i++ {
		got, err := m.Token(bg(), loc)
		if err != nil || got.AccessToken != tok.AccessToken {
			t.Fatalf("with Redis down: %v", err)
		}
	}
	r.clk.Advance(25 * time.Hour)
	if got, err := m.Token(bg(), loc); err == nil {
		t.Fatalf("expired token served with Redis down: %v", got)
	}
	if r.stats().RefreshGrants != 0 {
		t.Fatal("refreshed without the lock")
	}
}

// TestMemoryStoreExactlyOnce runs the stampede over the memory store, the
// single-replica mode: several managers in one process share it.
func TestMemoryStoreExactlyOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0, rigOptions{})
	store := NewMemoryStore()
	for i := 0; i < 4; i++ {
		hl, err := NewHighLevelOAuth(r.api.URL, sandbox.DefaultClientID, sandbox.DefaultClientSecret, r.api.Client())
		if err != nil {
			t.Fatal(err)
		}
		o := &recordingOAuth{OAuth: hl}
		c := &Counters{}
		m, err := NewManager(store, o, r.config(c, nil))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		r.mgrs, r.counters, r.oauths = append(r.mgrs, m), append(r.counters, c), append(r.oauths, o)
	}
	r.install(loc)
	for round := 0; round < 5; round++ {
		before := r.stats()
		r.clk.Advance(25 * time.Hour)
		toks, errs := stampede(r, loc, 16, bg)
		for i, err := range errs {
			if err != nil || toks[i].AccessToken != toks[0].AccessToken {
				t.Fatalf("round %d caller %d: %v", round, i, err)
			}
		}
		if g := r.stats().RefreshGrants - before.RefreshGrants; g != 1 {
			t.Fatalf("round %d: %d grants, want 1", round, g)
		}
	}
	if n := r.stats().InvalidGrants; n != 0 {
		t.Fatalf("%d invalid_grant", n)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	err := Config{LockTTL: 5 * time.Second, TokenCallTimeout: 5 * time.Second}.Validate()
	if err == nil {
		t.Fatal("a lock TTL equal to the token call timeout was accepted")
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}

// TestReplicasFollowARefresh: when one replica refreshes, the others learn
// the new token from the store's announcement, before HighLevel refuses the
// old one with a 401 (which would cost a call and a quota slot).
func TestReplicasFollowARefresh(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, rigOptions{})
	r.install(loc)
	old, err := r.mgrs[0].Token(bg(), loc)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range r.mgrs { // every replica holds the token in memory
		if _, err := m.Token(bg(), loc); err != nil {
			t.Fatal(err)
		}
	}
	fresh, err := r.mgrs[0].ForceRefresh(bg(), loc, old.AccessToken)
	if err != nil || fresh.AccessToken == old.AccessToken {
		t.Fatalf("refresh: %v", err)
	}
	for i, m := range r.mgrs[1:] {
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := m.Token(bg(), loc)
			if err != nil {
				t.Fatalf("replica %d: %v", i+1, err)
			}
			if got.AccessToken == fresh.AccessToken {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d still serves the old token 5s after another replica refreshed", i+1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestExchangeCodeExpectedSubject: a code for another location than the
// one the caller named is redeemed upstream but stores nothing, so a caller
// allowed on one location cannot replace another location's token.
func TestExchangeCodeExpectedSubject(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, rigOptions{})
	m := r.mgrs[0]
	r.install(sandbox.OtherLocationID)
	before, err := m.Status(bg(), sandbox.OtherLocationID)
	if err != nil {
		t.Fatal(err)
	}
	code, err := r.sb.MintCode(sandbox.CodeRequest{LocationID: sandbox.OtherLocationID})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.ExchangeCode(bg(), code, "", ExchangeOptions{Subject: loc})
	if !errors.Is(err, ErrSubjectMismatch) {
		t.Fatalf("code for %s exchanged as %s: %v, want ErrSubjectMismatch", sandbox.OtherLocationID, loc, err)
	}
	after, err := m.Status(bg(), sandbox.OtherLocationID)
	if err != nil || after.Version != before.Version {
		t.Fatalf("the other location's record changed: version %d → %d (%v)", before.Version, after.Version, err)
	}
	if _, err := m.Status(bg(), loc); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("expected subject: %v, want nothing stored", err)
	}
	// The right expectation stores it.
	code, _ = r.sb.MintCode(sandbox.CodeRequest{LocationID: sandbox.OtherLocationID})
	if st, err := m.ExchangeCode(bg(), code, "", ExchangeOptions{Subject: sandbox.OtherLocationID}); err != nil || st.Version != before.Version+1 {
		t.Fatalf("matching subject: %+v, %v", st, err)
	}
	// A spent code is told apart from other failures.
	if _, err := m.ExchangeCode(bg(), code, "", ExchangeOptions{}); !errors.Is(err, ErrInvalidGrant) || errors.Is(err, ErrSubjectMismatch) {
		t.Fatalf("spent code: %v, want ErrInvalidGrant", err)
	}
	long := strings.Repeat("c", MaxCodeLen+1)
	g := r.stats().InvalidGrants
	if _, err := m.ExchangeCode(bg(), long, "", ExchangeOptions{}); err == nil || !strings.Contains(err.Error(), "code") {
		t.Fatalf("over-long code: %v", err)
	}
	if r.stats().InvalidGrants != g {
		t.Fatal("an over-long code reached the token endpoint")
	}
}

// TestRejectedPITStopsBeingSent: HighLevel refuses a PIT (401). The first
// call's forced refresh marks the record needs_reauth in the store; every
// later call, on this replica and on another, fails at once with
// ErrReauthRequired instead of sending the dead token again. Importing a
// new PIT clears the mark.
func TestRejectedPITStopsBeingSent(t *testing.T) {
	t.Parallel()
	r := newRig(t, 2, rigOptions{})
	a, b := r.mgrs[0], r.mgrs[1]
	subject := sandbox.OtherLocationID
	dead := "pit-revoked-0123456789abcdef"
	seen.add(dead)
	if _, err := a.ImportPIT(bg(), PIT{Subject: subject, Token: dead, UserType: UserTypeLocation}); err != nil {
		t.Fatal(err)
	}
	// What the upstream chain does per call: token, send, and on a 401 one
	// forced refresh.
	var sends int
	call := func(m *Manager) error {
		tok, err := m.Token(bg(), subject)
		if err != nil {
			return err
		}
		sends++
		if code := r.callUpstream(tok); code != http.StatusUnauthorized {
			t.Fatalf("the sandbox answered HTTP %d to an unknown PIT, want 401", code)
		}
		_, err = m.ForceRefresh(bg(), subject, tok.AccessToken)
		return err
	}
	for i := 0; i < 50; i++ {
		err := call(a)
		if !errors.Is(err, ErrReauthRequired) || (i == 0 && !errors.Is(err, ErrNotRefreshable)) {
			t.Fatalf("call %d: %v, want ErrReauthRequired (and, from the refusal, ErrNotRefreshable)", i, err)
		}
	}
	if sends != 1 {
		t.Fatalf("the rejected PIT was sent %d times over 50 calls, want 1", sends)
	}
	for i := 0; i < 10; i++ {
		if err := call(b); !errors.Is(err, ErrReauthRequired) {
			t.Fatalf("other replica, call %d: %v", i, err)
		}
	}
	if sends != 1 {
		t.Fatalf("the other replica sent the rejected PIT %d times, want 0", sends-1)
	}
	if st, err := b.Status(bg(), subject); err != nil || !st.NeedsReauth {
		t.Fatalf("status = %+v, %v; want needs_reauth stored", st, err)
	}
	good, err := r.sb.AddPIT(subject, "opportunities.readonly")
	if err != nil {
		t.Fatal(err)
	}
	seen.add(good)
	if _, err := a.ImportPIT(bg(), PIT{Subject: subject, Token: good, UserType: UserTypeLocation}); err != nil {
		t.Fatal(err)
	}
	for i, m := range r.mgrs {
		testwait.For(t, fmt.Sprintf("replica %d to send the new PIT", i), testwait.DefaultTimeout, func() bool {
			tok, err := m.Token(bg(), subject)
			return err == nil && tok.AccessToken == good
		})
	}
}
