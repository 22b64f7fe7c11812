package tokenstore

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/testwait"
	"github.com/hlgate/hlgate/sandbox"
)

var errPartition = errors.New("simulated network partition")

// partitionedStore cuts one replica off its store while cut is set. With
// loseReplies set, commits land but the replica sees an error, as when the
// connection drops after Redis ran the script.
type partitionedStore struct {
	Store
	cut         atomic.Bool
	loseReplies atomic.Int32
}

func (s *partitionedStore) Get(ctx context.Context, subject string) (Record, error) {
	if s.cut.Load() {
		return Record{}, errPartition
	}
	return s.Store.Get(ctx, subject)
}

func (s *partitionedStore) Commit(ctx context.Context, rec Record, owner string, strict bool) error {
	if s.cut.Load() {
		return errPartition
	}
	if err := s.Store.Commit(ctx, rec, owner, strict); err != nil {
		return err
	}
	if s.loseReplies.Add(-1) >= 0 {
		return errPartition
	}
	return nil
}

func (s *partitionedStore) Lock(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	if s.cut.Load() {
		return false, errPartition
	}
	return s.Store.Lock(ctx, subject, owner, ttl)
}

func (s *partitionedStore) Unlock(ctx context.Context, subject, owner string) error {
	if s.cut.Load() {
		return errPartition
	}
	return s.Store.Unlock(ctx, subject, owner)
}

// partitionRig is a rig whose managers each reach Redis through a
// partitionedStore.
func partitionRig(t *testing.T, n int, tweak func(*Config)) (*rig, []*partitionedStore) {
	r := newRig(t, 0, rigOptions{})
	var stores []*partitionedStore
	for i := 0; i < n; i++ {
		rs, err := NewRedisStore(r.redis.Client(), r.keys, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rs.Close() })
		ps := &partitionedStore{Store: rs}
		hl, err := NewHighLevelOAuth(r.api.URL, sandbox.DefaultClientID, sandbox.DefaultClientSecret, r.api.Client())
		if err != nil {
			t.Fatal(err)
		}
		o := &recordingOAuth{OAuth: hl}
		c := &Counters{}
		m, err := NewManager(ps, o, r.config(c, tweak))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		r.mgrs, r.counters, r.oauths = append(r.mgrs, m), append(r.counters, c), append(r.oauths, o)
		stores = append(stores, ps)
	}
	return r, stores
}

// TestPartitionedHolderRescuesItsPair: the holder is cut off from Redis
// after upstream answered; its lock expires; another replica tries the spent
// refresh token, gets invalid_grant and marks the subject needs_reauth. When
// the holder reconnects, its pair — the only valid one — replaces the mark,
// and every replica serves it. One refresh grant, one (detected)
// invalid_grant, nothing lost.
func TestPartitionedHolderRescuesItsPair(t *testing.T) {
	t.Parallel()
	r, stores := partitionRig(t, 2, func(c *Config) {
		c.LockTTL = 800 * time.Millisecond
		c.TokenCallTimeout = 250 * time.Millisecond
		c.StoreTimeout = 200 * time.Millisecond
		c.WaitPatience = 3 * time.Second
	})
	r.install(loc)
	a, b := r.mgrs[0], r.mgrs[1]
	r.oauths[0].afterRefresh = func(Grant) { stores[0].cut.Store(true) }
	before := r.stats()
	r.clk.Advance(25 * time.Hour)
	tokA, err := a.Token(bg(), loc)
	if err != nil {
		t.Fatalf("holder: %v", err)
	}
	r.oauths[0].afterRefresh = nil
	if r.counters[0].UnpersistedNow.Load() != 1 {
		t.Fatal("the holder does not report its unpersisted pair")
	}
	time.Sleep(time.Second) // the holder's lock expires in Redis
	if _, err := b.Token(bg(), loc); !errors.Is(err, ErrReauthRequired) {
		t.Fatalf("other replica during the partition: %v, want ErrReauthRequired", err)
	}
	if got, err := a.Token(bg(), loc); err != nil || got.AccessToken != tokA.AccessToken {
		t.Fatalf("holder during the partition: %v", err)
	}
	stores[0].cut.Store(false)
	testwait.For(t, "the holder to store its pair after the partition healed", testwait.DefaultTimeout,
		func() bool { return r.counters[0].UnpersistedNow.Load() == 0 })
	tokB, err := b.Token(bg(), loc)
	if err != nil || tokB.AccessToken != tokA.AccessToken {
		t.Fatalf("other replica after the partition: %v (same token: %t)", err, tokB.AccessToken == tokA.AccessToken)
	}
	st, _ := b.Status(bg(), loc)
	if st.NeedsReauth {
		t.Fatal("needs_reauth mark survived the rescue")
	}
	after := r.stats()
	if g := after.RefreshGrants - before.RefreshGrants; g != 1 {
		t.Fatalf("%d refresh grants, want 1", g)
	}
	if g := after.InvalidGrants - before.InvalidGrants; g != 1 {
		t.Fatalf("%d invalid_grant, want the 1 that the other replica saw", g)
	}
	if code := r.callUpstream(tokB); code != http.StatusOK {
		t.Fatalf("upstream call: HTTP %d", code)
	}
	// The chain continues from the rescued pair.
	r.clk.Advance(25 * time.Hour)
	if _, err := b.Token(bg(), loc); err != nil {
		t.Fatalf("next refresh: %v", err)
	}
	if g := r.stats().InvalidGrants - before.InvalidGrants; g != 1 {
		t.Fatal("the next refresh used a spent refresh token")
	}
}

// TestCommitReplyLost: Redis ran the write but the reply was lost; the retry
// recognises its own pair instead of writing it twice or dropping it.
func TestCommitReplyLost(t *testing.T) {
	t.Parallel()
	r, stores := partitionRig(t, 2, nil)
	r.install(loc)
	stores[0].loseReplies.Store(1)
	before := r.stats()
	r.clk.Advance(25 * time.Hour)
	tok, err := r.mgrs[0].Token(bg(), loc)
	if err != nil {
		t.Fatal(err)
	}
	if !testwait.Until(testwait.DefaultTimeout, func() bool {
		return r.counters[0].UnpersistedNow.Load() == 0 && r.counters[0].PersistFailures.Load() > 0
	}) {
		t.Fatalf("unpersisted %d, failures %d", r.counters[0].UnpersistedNow.Load(), r.counters[0].PersistFailures.Load())
	}
	st, err := r.mgrs[1].Status(bg(), loc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.mgrs[1].Token(bg(), loc)
	if err != nil || got.AccessToken != tok.AccessToken {
		t.Fatalf("other replica: %v", err)
	}
	if g := r.stats().RefreshGrants - before.RefreshGrants; g != 1 {
		t.Fatalf("%d refresh grants, want 1", g)
	}
	if r.counters[0].Superseded.Load() != 0 {
		t.Fatal("the manager dropped its own stored pair as superseded")
	}
	if st.Version != 2 {
		t.Fatalf("stored version %d, want 2 (install, one refresh): the pair was written twice", st.Version)
	}
}

// TestPendingPairNeverOverwritesAReinstall: replica A refreshes install 1
// but cannot store the pair; meanwhile replica B deletes the subject and
// installs it again (install 2, whose version is 1 again). When A reaches
// the store, its pair — version 2, exactly one above install 2 — must not
// replace install 2: the version alone cannot tell them apart, the install
// id does. Install 2's refresh token stays stored and keeps working.
func TestPendingPairNeverOverwritesAReinstall(t *testing.T) {
	t.Parallel()
	r, stores := partitionRig(t, 2, nil)
	a, b := r.mgrs[0], r.mgrs[1]
	r.install(loc) // install 1, through A
	r.oauths[0].afterRefresh = func(Grant) { stores[0].cut.Store(true) }
	r.clk.Advance(25 * time.Hour)
	if _, err := a.Token(bg(), loc); err != nil {
		t.Fatalf("A refreshes install 1: %v", err)
	}
	r.oauths[0].afterRefresh = nil
	if r.counters[0].UnpersistedNow.Load() != 1 {
		t.Fatal("A holds no unpersisted pair; the test needs one")
	}

	if err := b.Delete(bg(), loc); err != nil {
		t.Fatal(err)
	}
	code, err := r.sb.MintCode(sandbox.CodeRequest{LocationID: loc})
	if err != nil {
		t.Fatal(err)
	}
	st2, err := b.ExchangeCode(bg(), code, "", ExchangeOptions{})
	if err != nil {
		t.Fatalf("install 2: %v", err)
	}
	raw, err := NewRedisStore(r.redis.Client(), r.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	install2, err := raw.Get(bg(), loc)
	if err != nil || install2.Version != 1 || st2.Version != 1 {
		t.Fatalf("install 2 stored as %v, %v; want version 1", install2, err)
	}

	stores[0].cut.Store(false) // A's retry reaches the store
	testwait.For(t, "A to settle its pending pair", testwait.DefaultTimeout,
		func() bool { return r.counters[0].UnpersistedNow.Load() == 0 })
	got, err := raw.Get(bg(), loc)
	if err != nil {
		t.Fatal(err)
	}
	if got.RefreshToken != install2.RefreshToken || got.InstallID != install2.InstallID || got.Version != install2.Version {
		t.Fatalf("stored record after A's retry = %v (install 2's refresh token kept: %t); want install 2 unchanged",
			got, got.RefreshToken == install2.RefreshToken)
	}
	if r.counters[0].Superseded.Load() != 1 {
		t.Fatalf("A counted %d superseded pairs, want 1", r.counters[0].Superseded.Load())
	}
	// Both replicas serve install 2, and its refresh token still refreshes.
	for i, m := range r.mgrs {
		tok, err := m.Token(bg(), loc)
		if err != nil || tok.AccessToken != install2.AccessToken {
			t.Fatalf("replica %d: %v (install 2's token: %t)", i, err, tok.AccessToken == install2.AccessToken)
		}
	}
	before := r.stats()
	r.clk.Advance(25 * time.Hour)
	if _, err := b.Token(bg(), loc); err != nil {
		t.Fatalf("refresh of install 2: %v", err)
	}
	if g := r.stats().InvalidGrants - before.InvalidGrants; g != 0 {
		t.Fatalf("install 2's refresh got %d invalid_grant: its refresh token was lost", g)
	}
}

// TestRecordWithoutInstallID: a record stored before install ids existed
// is read, served and refreshed as its own install; its refreshes keep it
// without an id (an empty id matches only itself), and a new install gets
// one.
func TestRecordWithoutInstallID(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, rigOptions{})
	m := r.mgrs[0]
	code, err := r.sb.MintCode(sandbox.CodeRequest{LocationID: loc})
	if err != nil {
		t.Fatal(err)
	}
	g, err := r.oauths[0].ExchangeCode(bg(), code, "", "")
	if err != nil {
		t.Fatal(err)
	}
	legacy := m.recordFromGrant(g, KindOAuth, loc)
	legacy.Version = 1
	raw, err := NewRedisStore(r.redis.Client(), r.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Commit(bg(), legacy, "", false); err != nil {
		t.Fatal(err)
	}
	if tok, err := m.Token(bg(), loc); err != nil || tok.AccessToken != g.AccessToken {
		t.Fatalf("legacy record: %v", err)
	}
	before := r.stats()
	r.clk.Advance(25 * time.Hour)
	if _, err := m.Token(bg(), loc); err != nil {
		t.Fatalf("refresh of a legacy record: %v", err)
	}
	got, err := raw.Get(bg(), loc)
	if err != nil || got.Version != 2 || got.InstallID != "" || r.stats().RefreshGrants-before.RefreshGrants != 1 {
		t.Fatalf("after refresh: %v, %v (install id %q)", got, err, got.InstallID)
	}
	st := r.install(loc)
	if got, _ := raw.Get(bg(), loc); got.InstallID == "" || st.Version != 3 {
		t.Fatalf("a new install over a legacy record has install id %q, version %d", got.InstallID, st.Version)
	}
}
