package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a real Redis Cluster owned by a test: three masters, each
// with one replica, every node a redis-server process of its own on a free
// loopback port.
type Cluster struct {
	t     testing.TB
	Nodes []*Server
}

// StartCluster starts six cluster-mode redis-servers and joins them with
// `redis-cli --cluster create … --cluster-replicas 1`: three masters owning
// a third of the slots each, and a replica of each. It returns once every
// node reports the cluster ok with all 16384 slots assigned; the servers
// stop when the test ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli not found on PATH: it comes with redis-server (`apt-get install redis-server`)")
	}
	c := &Cluster{t: t}
	for range 6 {
		c.Nodes = append(c.Nodes, Start(t, Options{Cluster: true}))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// redis-cli returns once the nodes agree on the configuration; every
	// node must also see every slot served, and the replicas it assigned
	// (which the nodes learn by gossip, after it returns), before clients
	// are let in.
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range c.Nodes {
		admin := redis.NewClient(&redis.Options{Addr: n.Addr()})
		for {
			info, err := admin.ClusterInfo(ctx).Result()
			var nodes string
			if err == nil {
				nodes, err = admin.ClusterNodes(ctx).Result()
			}
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_slots_ok:16384") && settled(nodes) {
				break
			}
			if time.Now().After(deadline) {
				admin.Close()
				t.Fatalf("node %s: cluster not settled within 30s: %v\n%s\n%s", n.Addr(), err, info, nodes)
			}
			time.Sleep(50 * time.Millisecond)
		}
		admin.Close()
	}
	return c
}

// settled reports a CLUSTER NODES answer of three masters that serve slots
// and three replicas.
func settled(nodes string) bool {
	masters, replicas := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return false
		}
		switch flags := f[2]; {
		case strings.Contains(flags, "master") && len(f) > 8:
			masters++
		case strings.Contains(flags, "slave"):
			replicas++
		}
	}
	return masters == 3 && replicas == 3
}

// Addrs are the host:port addresses of every node.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

// URL is the nodes' addresses as hlgate's HLGATE_REDIS_URL takes a
// cluster: comma-separated redis:// URLs.
func (c *Cluster) URL() string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.URL()
	}
	return strings.Join(out, ",")
}

// Client returns a new cluster client, closed when the test ends. Each call
// returns a client with its own connection pools, standing in for a
// separate replica.
func (c *Cluster) Client() *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	c.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// MasterOf returns the address of the master serving key's slot.
func (c *Cluster) MasterOf(ctx context.Context, key string) (string, error) {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	slot, err := cc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return "", fmt.Errorf("CLUSTER KEYSLOT %s: %w", key, err)
	}
	shards, err := cc.ClusterShards(ctx).Result()
	if err != nil {
		return "", fmt.Errorf("CLUSTER SHARDS: %w", err)
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if r.Start > slot || slot > r.End {
				continue
			}
			for _, n := range sh.Nodes {
				if n.Role == "master" {
					return net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10)), nil
				}
			}
		}
	}
	return "", fmt.Errorf("no master serves slot %s of %s", strconv.FormatInt(slot, 10), key)
}
