package tokenstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// startCluster starts a one-node Redis Cluster owning every slot. Cluster
// mode refuses scripts whose keys hash to different slots even on one node
// (CROSSSLOT), so this proves the record/lock hash tag and the
// UniversalClient path with a real ClusterClient. args are extra
// redis-server arguments.
func startCluster(t *testing.T, args ...string) *redis.ClusterClient {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{Args: append([]string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"}, args...)})
	ctx := context.Background()
	admin := srv.Client()
	if err := admin.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
		t.Fatalf("cluster addslots: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := admin.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster did not become ok: %v %s", err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr()}})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisClusterHashTags(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := context.Background()
	// The check this test relies on: a script over two slots is refused.
	err := redis.NewScript(`return redis.call('GET', KEYS[1]) or redis.call('GET', KEYS[2]) or 1`).
		Run(ctx, c, []string{"a", "b"}).Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("cross-slot script: %v; want CROSSSLOT, else this test proves nothing", err)
	}
	kr, _ := NewKeyring(testKey(t, 1))
	s, err := NewRedisStore(c, kr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	changed, stop := s.Watch("loc")
	defer stop()
	if err := s.Commit(ctx, newTestRecord("loc", 1), "", false); err != nil {
		t.Fatalf("commit on a cluster: %v", err)
	}
	ok, err := s.Lock(ctx, "loc", "me", time.Minute)
	if err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	if err := s.Commit(ctx, newTestRecord("loc", 2), "me", true); err != nil {
		t.Fatalf("fenced commit on a cluster: %v", err)
	}
	if err := s.Unlock(ctx, "loc", "me"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "loc")
	if err != nil || got.Version != 2 {
		t.Fatalf("get: %v %v", got, err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no change announcement arrived over the cluster's pub/sub")
	}
}
