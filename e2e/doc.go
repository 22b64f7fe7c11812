// Package e2e is hlgate's end-to-end suite: it proves the claims of the
// design with real processes rather than in-process parts. It builds the
// hlgate binary from the tree, starts redis-server (AOF on), `hlgate
// sandbox` and three `hlgate serve` replicas sharing that Redis, installs
// locations through the real OAuth pages, and then drives load while it
// kills, stops and restarts processes and injects upstream faults. Every
// assertion is made on what the sandbox recorded (arrivals, grants, stored
// records) and on every caller's outcome. TestRedisCluster runs three
// replicas on a real Redis Cluster (three masters with a replica each,
// redistest.StartCluster) instead: keys spread over the masters by hash
// tag, a full quota window and a refresh storm. TestClients generates the
// Go, TypeScript and Python clients of clients/ on the machine and runs
// their examples against a replica.
//
// The tests carry the build tag e2e, so `go test ./...` skips them; run them
// with `make test-e2e`, which also installs the Node client's packages that
// the cross-language scenario needs and, as root, the Debian packages of the
// Python client.
package e2e
