// Package redistest starts a real redis-server for tests.
//
// Every server runs in its own temporary directory on a free loopback port
// chosen at start, never a fixed port and never a server that was already
// running. A server can be stopped (gracefully or with SIGKILL) and started
// again on the same port, so tests can exercise Redis outages and restarts,
// with AOF persistence when asked for.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hlgate/hlgate/internal/redislog"
)

// Options configure a server.
type Options struct {
	// AOF turns on the append-only file with fsync always, as the README
	// recommends for token safety.
	AOF bool
	// Args are extra redis-server arguments, such as "--maxmemory", "10mb".
	Args []string
	// Cluster starts the server with cluster mode on, on a port whose
	// cluster bus port (the port plus 10000) is free too; StartCluster
	// joins such servers into a cluster.
	Cluster bool
}

// Server is one redis-server process owned by a test.
type Server struct {
	t    testing.TB
	opts Options
	dir  string
	port int

	mu     sync.Mutex
	proc   *os.Process
	exited chan error // receives the process's exit; nil when not running
}

// Start starts a redis-server and stops it when the test ends. It fails the
// test with a clear message when redis-server is not installed: `make test`
// installs it, and the tests are not meaningful without it.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found on PATH: run `make test` (it installs redis-server) or `apt-get install redis-server`")
	}
	s := &Server{t: t, opts: opts, dir: t.TempDir()}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if opts.Cluster {
			s.port, err = freeClusterPort()
		} else {
			s.port, err = freePort()
		}
		if err != nil {
			t.Fatalf("redistest: pick a port: %v", err)
		}
		if lastErr = s.start(bin); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("redistest: start redis-server: %v", lastErr)
	}
	// go-redis's lines about this server (dial failures while a test has
	// it stopped on purpose) go to the test's own log, not to stderr.
	remove := redisLines.Route(s.Addr(), func(line string) { t.Logf("go-redis: %s", line) })
	t.Cleanup(func() { remove(); s.Stop() })
	return s
}

// redisLines routes go-redis's log lines of every test server in the
// process; lines about no test server go to stderr as before.
var redisLines = func() *redislog.Router {
	r := redislog.NewRouter(func(line string) { fmt.Fprintln(os.Stderr, "go-redis:", line) })
	redis.SetLogger(r)
	return r
}()

// Addr is host:port of the server; it stays the same across restarts.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Client returns a new go-redis client for the server, closed when the test
// ends. Each call returns a client with its own connection pool, standing in
// for a separate replica.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop shuts the server down with SHUTDOWN semantics (SIGTERM), so an AOF is
// flushed. It is a no-op when the server is not running.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill stops the server with SIGKILL, losing anything not yet persisted.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

// Restart starts the server again on the same port and directory, so data
// persisted with AOF is loaded again.
func (s *Server) Restart() {
	s.t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		s.t.Fatalf("redis-server not found: %v", err)
	}
	// The port was ours a moment ago; retry briefly in case the kernel has
	// not released it yet.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = s.start(bin)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("redistest: restart redis-server on %s: %v", s.Addr(), err)
	}
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	proc, exited := s.proc, s.exited
	s.proc, s.exited = nil, nil
	s.mu.Unlock()
	if proc == nil {
		return
	}
	_ = proc.Signal(sig)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = proc.Kill()
		<-exited
	}
}

func (s *Server) start(bin string) error {
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--daemonize", "no",
		"--protected-mode", "yes",
		"--logfile", filepath.Join(s.dir, "redis.log"),
	}
	if s.opts.AOF {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if s.opts.Cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000")
	}
	args = append(args, s.opts.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Wait until the server answers PING, or exits (port taken).
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server exited at start (%v): %s", err, s.logTail())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			break
		}
		// Loading an AOF answers LOADING until done; keep waiting.
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server did not answer PING within 10s: %v: %s", err, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	s.proc, s.exited = cmd.Process, exited
	s.mu.Unlock()
	return nil
}

func (s *Server) logTail() string {
	f, err := os.Open(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return "(no log)"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 5 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, " | ")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("not a TCP address")
	}
	return addr.Port, nil
}

// freeClusterPort returns a free port whose cluster bus port (port+10000)
// was free a moment ago too.
func freeClusterPort() (int, error) {
	for attempt := 0; attempt < 50; attempt++ {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+10000)))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, errors.New("no free port with a free cluster bus port")
}
