//go:build e2e

package e2e

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"
)

// TestRedisCluster runs three replicas on a real Redis Cluster of three
// masters (each with a replica): the locations' token records and quota
// keys spread over the masters by their hash tags, every multi-key script
// stays in one slot, a full quota window holds across the replicas, and a
// refresh storm makes exactly one refresh.
func TestRedisCluster(t *testing.T) {
	s, cluster := startClusterSystem(t, 3)
	s.install(s.replicas[0], demoLoc)
	s.install(s.replicas[1], otherLoc)
	ids := map[string][]string{
		demoLoc:  s.contactIDs(s.replicas[2], demoLoc, 200),
		otherLoc: s.contactIDs(s.replicas[2], otherLoc, 50),
	}

	t.Run("1_keys_spread_over_the_masters", func(t *testing.T) {
		ctx := context.Background()
		cc := cluster.Client()
		var mu sync.Mutex
		where := map[string]string{} // key -> master
		err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			keys, err := m.Keys(ctx, "hlgate:*").Result()
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, k := range keys {
				where[k] = m.Options().Addr
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		masters := map[string]bool{}
		var lines []string
		for _, loc := range []string{demoLoc, otherLoc} {
			for _, kind := range []string{"hlgate:token:{" + loc + "}", "hlgate:rl:{"} {
				found := false
				for k, m := range where {
					if strings.HasPrefix(k, kind) && strings.Contains(k, loc) {
						found = true
						masters[m] = true
						lines = append(lines, k+" on "+m)
						// The key's own slot is its tag's: the cluster
						// placed it where a script naming it runs.
						if owner, err := cluster.MasterOf(ctx, k); err != nil || owner != m {
							t.Errorf("%s is on %s but its slot belongs to %s (%v)", k, m, owner, err)
						}
					}
				}
				if !found {
					t.Errorf("no %s* key of %s in the cluster: %v", kind, loc, where)
				}
			}
		}
		sort.Strings(lines)
		t.Logf("hlgate's keys of the two locations:\n%s", strings.Join(lines, "\n"))
		if len(masters) < 2 {
			t.Errorf("the two locations' token and quota keys all live on one master (%v); they should spread by hash tag", masters)
		}
	})
	t.Run("2_quota_window_holds", func(t *testing.T) { s.quotaHold(t, demoLoc, ids[demoLoc], 12*time.Second) })
	t.Run("3_refresh_storm", func(t *testing.T) { s.refreshStorm(t, otherLoc, ids[otherLoc]) })

	final := s.stats()
	if final.Served429 != 0 || final.InvalidGrants != 0 {
		t.Errorf("whole run: %d 429s and %d invalid_grant answers at the sandbox, want none", final.Served429, final.InvalidGrants)
	}
}

// quotaHold loads one location from every replica for dur, longer than a
// window: the window fills, and never more than the quota arrives at the
// sandbox in any window, with no 429; callers only ever see back-pressure.
func (s *system) quotaHold(t *testing.T, loc string, ids []string, dur time.Duration) {
	begin := time.Now()
	before := s.stats()
	res := runLoad(context.Background(), loadSpec{
		callers: 60, replicas: allReplicas, dur: dur, deadline: 20 * time.Second,
		op: s.getLoad(loc, ids),
	})
	t.Logf("load %v: %s", res.end.Sub(res.start).Round(time.Millisecond), res.summary())
	ok, _ := onlyBackPressure(t, "quota hold", res.attempts)
	if d := deltas(before, s.stats()); d.served429 != 0 {
		t.Errorf("the sandbox served %d 429s, want 0", d.served429)
	}
	acc := s.checkWindow(t, loc, begin)
	in := between(acc, res.start, res.end)
	t.Logf("quota hold: %d OK calls, %d arrivals at the sandbox, most in any %v window %d (limit %d)", ok, len(in), quotaWindow, maxInWindow(in, quotaWindow), quotaLimit)
	if m := maxInWindow(in, quotaWindow); m < quotaLimit {
		t.Errorf("the busiest window held %d requests: the load never filled the quota of %d, so the test proved nothing", m, quotaLimit)
	}
	perReplica := map[int]int{}
	for _, a := range res.attempts {
		if a.code == codes.OK {
			perReplica[a.replica]++
		}
	}
	for i := range 3 {
		if perReplica[i] == 0 {
			t.Errorf("replica%d served no call", i+1)
		}
	}
}
