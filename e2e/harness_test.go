//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/hlgate/hlgate/sandbox"
)

// proc is one child process of the suite, its output captured in a log file
// under the test's temporary directory.
type proc struct {
	t       *testing.T
	name    string
	bin     string
	args    []string
	env     []string
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current process has exited
	exitErr error
}

// newProc describes a process; start runs it. Whatever happens, the process
// is killed when the test ends, and its log's tail is printed if the test
// failed.
func newProc(t *testing.T, name, bin string, env []string, args ...string) *proc {
	p := &proc{t: t, name: name, bin: bin, args: args, env: env, logPath: filepath.Join(t.TempDir(), name+".log")}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("---- last lines of %s (%s) ----\n%s", name, p.logPath, tail(p.logPath, 60))
		}
		keepLog(t, p.logPath)
	})
	return p
}

// start runs the process; its output is appended to the log, so a restart
// keeps the earlier run's lines.
func (p *proc) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.t.Fatalf("%s: open log: %v", p.name, err)
	}
	fmt.Fprintf(f, "==== start %s %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(p.args, " "))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("%s: start: %v", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.exitErr = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(done)
	}()
}

// running reports whether the last started process has not exited.
func (p *proc) running() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// signal sends sig to the running process.
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || !p.running() {
		p.t.Fatalf("%s: signal %v: not running", p.name, sig)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("%s: signal %v: %v", p.name, sig, err)
	}
}

// wait waits up to d for the process to exit and returns its exit code
// (-1 when a signal ended it).
func (p *proc) wait(d time.Duration) (int, error) {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return 0, errors.New("never started")
	}
	select {
	case <-done:
	case <-time.After(d):
		return 0, fmt.Errorf("%s still running after %v", p.name, d)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var ee *exec.ExitError
	switch {
	case p.exitErr == nil:
		return 0, nil
	case errors.As(p.exitErr, &ee):
		return ee.ExitCode(), nil
	default:
		return 0, p.exitErr
	}
}

// kill ends the process with SIGKILL, if it runs, and waits for it.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || done == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Kill() // it may have exited between the check and here
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// keepLog copies a log into $HLGATE_E2E_LOGS, when set, before the test's
// temporary directory is removed, for reading a whole run afterwards.
func keepLog(t *testing.T, path string) {
	dir := os.Getenv("HLGATE_E2E_LOGS")
	if dir == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Logf("keep %s: %v", path, err)
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("keep logs in %s: %v", dir, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(path)), b, 0o644); err != nil {
		t.Logf("keep %s: %v", path, err)
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cleanEnv is the parent's environment without any HLGATE_* setting, so the
// suite alone decides how its processes are configured.
func cleanEnv(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HLGATE_") {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// moduleRoot is the repository root: the suite runs in e2e/.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}
	return root
}

// buildHlgate builds cmd/hlgate from the tree into a temporary directory.
func buildHlgate(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hlgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hlgate")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/hlgate: %v\n%s", err, out)
	}
	return bin
}

// waitHTTP polls url until it answers 200, the process exits, or d passes.
func waitHTTP(t *testing.T, p *proc, url string, d time.Duration) {
	t.Helper()
	awaitHTTP(t, p, url, d, false)
}

// bindAttempts bounds the starts of a process whose port was taken.
const bindAttempts = 5

// awaitReady is waitHTTP for a process started on ports just found free.
// Such a port may be taken before the process binds it (another process's
// outgoing connection draws from the same ephemeral range): when p exited
// for that reason, restart starts it again on new ports and says where it
// will answer, up to bindAttempts starts in all.
func awaitReady(t *testing.T, p *proc, url string, d time.Duration, restart func() (*proc, string)) {
	t.Helper()
	for attempt := 1; !awaitHTTP(t, p, url, d, attempt < bindAttempts); attempt++ {
		t.Logf("%s: its port was taken before it bound it; starting it on new ports", p.name)
		p, url = restart()
	}
}

// awaitHTTP is waitHTTP, except that with retryBind a process that exited
// because an address it was to listen on was in use is not a failure: it
// returns false, for the caller to start it again on other ports.
func awaitHTTP(t *testing.T, p *proc, url string, d time.Duration, retryBind bool) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	c := &http.Client{Timeout: time.Second}
	var last string
	for time.Now().Before(deadline) {
		if !p.running() {
			code, err := p.wait(time.Second)
			log := tail(p.logPath, 30)
			if retryBind && strings.Contains(log, "address already in use") {
				return false
			}
			t.Fatalf("%s exited before it was ready (exit %d, %v):\n%s", p.name, code, err, log)
		}
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
			last = fmt.Sprintf("%s: %s", resp.Status, b)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not ready at %s within %v (last: %s):\n%s", p.name, url, d, last, tail(p.logPath, 30))
	return false
}

// randomHex returns n random bytes in hex.
func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// ---- the system under test ----

// replica is one `hlgate serve` process and a gRPC connection to it.
type replica struct {
	*proc
	idx      int
	grpcAddr string
	httpURL  string
	conn     *grpc.ClientConn
	contacts hlgatev1.ContactsServiceClient
}

// system is everything the suite starts: Redis, the sandbox and the
// replicas, plus the caller keys they accept.
type system struct {
	t          *testing.T
	root, bin  string
	redis      *redistest.Server // nil on a cluster (startClusterSystem)
	redisURL   string            // what the replicas' HLGATE_REDIS_URL says
	sandbox    *proc
	sandboxURL string
	replicas   []*replica
	writeKey   string // read and write on every location
	readKey    string // read only, on every location
	http       *http.Client
}

// startSystem builds hlgate and starts redis-server (AOF on), `hlgate
// sandbox` and n `hlgate serve` replicas with the default quota settings.
func startSystem(t *testing.T, n int) *system {
	t.Helper()
	return startSystemOn(t, n, nil)
}

// startClusterSystem is startSystem with the replicas sharing a Redis
// Cluster of three masters (redistest.StartCluster) instead of one server.
func startClusterSystem(t *testing.T, n int) (*system, *redistest.Cluster) {
	t.Helper()
	c := redistest.StartCluster(t)
	return startSystemOn(t, n, c), c
}

// startSystemOn starts the system on cluster, or on a redis-server of its
// own when cluster is nil.
func startSystemOn(t *testing.T, n int, cluster *redistest.Cluster) *system {
	t.Helper()
	s := &system{t: t, root: moduleRoot(t), http: &http.Client{Timeout: 30 * time.Second}}
	start := time.Now()
	s.bin = buildHlgate(t, s.root)
	t.Logf("built hlgate in %v", time.Since(start).Round(time.Millisecond))

	redisDesc := ""
	if cluster != nil {
		s.redisURL = cluster.URL()
		redisDesc = fmt.Sprintf("cluster of %d nodes", len(cluster.Nodes))
	} else {
		s.redis = redistest.Start(t, redistest.Options{AOF: true})
		s.redisURL = s.redis.URL()
		redisDesc = s.redis.Addr()
	}

	startSandbox := func() (*proc, string) {
		sbPort := freePort(t)
		s.sandboxURL = fmt.Sprintf("http://127.0.0.1:%d", sbPort)
		// The sandbox signs its webhooks (sent once a test sets its URL)
		// with the suite's webhook key, which the replicas trust (below).
		s.sandbox = newProc(t, "sandbox", s.bin, cleanEnv("HLGATE_SANDBOX_ADDR="+fmt.Sprintf("127.0.0.1:%d", sbPort),
			"HLGATE_SANDBOX_WEBHOOK_KEY_SEED="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{4}, ed25519.SeedSize))), "sandbox")
		s.sandbox.start()
		return s.sandbox, s.sandboxURL + "/_sandbox/stats"
	}
	sb, sbReady := startSandbox()
	awaitReady(t, sb, sbReady, 20*time.Second, startSandbox)

	// Caller keys: the keys file holds only their SHA-256.
	s.writeKey, s.readKey = randomHex(t, 32), randomHex(t, 32)
	hash := func(k string) string { h := sha256.Sum256([]byte(k)); return hex.EncodeToString(h[:]) }
	keys, err := json.Marshal(map[string]any{"keys": []map[string]any{
		{"name": "e2e-load", "sha256": hash(s.writeKey), "locations": []string{"*"}, "access": "write"},
		{"name": "e2e-node", "sha256": hash(s.readKey), "locations": []string{"*"}, "access": "read"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keysFile, keys, 0o600); err != nil {
		t.Fatal(err)
	}
	tokenKey := make([]byte, 32)
	if _, err := rand.Read(tokenKey); err != nil {
		t.Fatal(err)
	}

	// The replicas' webhook receiver needs a key (hlgate has no default);
	// this one is the suite's own, from a fixed seed, not HighLevel's.
	hookDER, err := x509.MarshalPKIXPublicKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{4}, ed25519.SeedSize)).Public())
	if err != nil {
		t.Fatal(err)
	}

	newReplica := func(i int) *replica {
		gp, hp := freePort(t), freePort(t)
		r := &replica{idx: i, grpcAddr: fmt.Sprintf("127.0.0.1:%d", gp), httpURL: fmt.Sprintf("http://127.0.0.1:%d", hp)}
		env := cleanEnv(
			"HLGATE_GRPC_ADDR="+r.grpcAddr,
			fmt.Sprintf("HLGATE_HTTP_ADDR=127.0.0.1:%d", hp),
			"HLGATE_UPSTREAM_URL="+s.sandboxURL,
			"HLGATE_AUTHORIZE_URL="+s.sandboxURL+"/oauth/chooselocation",
			"HLGATE_PUBLIC_URL="+r.httpURL,
			"HLGATE_CLIENT_ID="+sandbox.DefaultClientID,
			"HLGATE_CLIENT_SECRET="+sandbox.DefaultClientSecret,
			"HLGATE_REDIS_URL="+s.redisURL,
			"HLGATE_TOKEN_KEY="+base64.StdEncoding.EncodeToString(tokenKey),
			"HLGATE_API_KEYS_FILE="+keysFile,
			"HLGATE_REPLICAS="+strconv.Itoa(n),
			"HLGATE_WEBHOOK_PUBLIC_KEY="+base64.StdEncoding.EncodeToString(hookDER),
		)
		r.proc = newProc(t, fmt.Sprintf("replica%d", i+1), s.bin, env, "serve")
		r.start()
		return r
	}
	for i := range n {
		s.replicas = append(s.replicas, newReplica(i))
	}
	for i, r := range s.replicas {
		awaitReady(t, r.proc, r.httpURL+"/readyz", 30*time.Second, func() (*proc, string) {
			r = newReplica(i)
			s.replicas[i] = r
			return r.proc, r.httpURL + "/readyz"
		})
		conn, err := grpc.NewClient(r.grpcAddr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			// Reconnect quickly once a killed replica is back.
			grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{
				BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 300 * time.Millisecond,
			}, MinConnectTimeout: time.Second}))
		if err != nil {
			t.Fatalf("dial %s: %v", r.grpcAddr, err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		r.conn, r.contacts = conn, hlgatev1.NewContactsServiceClient(conn)
	}
	t.Logf("system up in %v: redis %s, sandbox %s, %d replicas", time.Since(start).Round(time.Millisecond), redisDesc, s.sandboxURL, n)
	return s
}

// install runs the OAuth install of a location through a replica's
// /oauth/install, the sandbox's consent page and the replica's callback.
func (s *system) install(r *replica, locationID string) {
	s.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		s.t.Fatal(err)
	}
	c := &http.Client{Timeout: 30 * time.Second, Jar: jar}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sandbox.Install(ctx, c, r.httpURL+"/oauth/install", "location:"+locationID); err != nil {
		s.t.Fatalf("install %s through replica%d: %v", locationID, r.idx+1, err)
	}
}

// restart starts a stopped replica again on the same ports and waits until
// it is ready.
func (s *system) restart(r *replica) {
	s.t.Helper()
	r.start()
	waitHTTP(s.t, r.proc, r.httpURL+"/readyz", 30*time.Second)
}

// ---- the sandbox's admin API ----

func (s *system) admin(method, path string, body, out any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.sandboxURL+"/_sandbox/"+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("sandbox admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		s.t.Fatalf("sandbox admin %s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("sandbox admin %s %s: decode %s: %v", method, path, b, err)
		}
	}
}

func (s *system) stats() sandbox.Stats {
	var st sandbox.Stats
	s.admin(http.MethodGet, "stats", nil, &st)
	return st
}

func (s *system) setFaults(f sandbox.Faults) { s.admin(http.MethodPut, "faults", f, nil) }

func (s *system) setTokenLatency(d time.Duration) {
	s.admin(http.MethodPut, "token-latency", map[string]time.Duration{"latency": d}, nil)
}

func (s *system) expire(subject string) int {
	var out struct {
		Expired int `json:"expired"`
	}
	s.admin(http.MethodPost, "expire", map[string]string{"subject": subject}, &out)
	return out.Expired
}

// arrivals returns every request the sandbox's quota decided for the
// default app on a location, in decision order.
func (s *system) arrivals(locationID string) []sandbox.Arrival {
	s.t.Helper()
	var out struct {
		Arrivals []sandbox.Arrival `json:"arrivals"`
	}
	s.admin(http.MethodGet, "arrivals?app="+sandbox.DefaultAppID+"&resource="+locationID, nil, &out)
	return out.Arrivals
}

// acceptedTimes returns the arrival times of the requests the sandbox's
// quota accepted for the default app on a location, and how many it
// rejected.
func (s *system) acceptedTimes(locationID string) (acc []time.Time, rejected int) {
	s.t.Helper()
	for _, a := range s.arrivals(locationID) {
		if a.Accepted {
			acc = append(acc, a.At)
		} else {
			rejected++
		}
	}
	return acc, rejected
}

// pit mints a Private Integration Token at the sandbox, so the suite can
// read the sandbox's records without going through hlgate (a PIT uses its
// own quota key, so it does not disturb the app's window).
func (s *system) pit(subject string, scopes ...string) string {
	var out struct {
		Token string `json:"token"`
	}
	s.admin(http.MethodPost, "pits", map[string]any{"subject": subject, "scopes": scopes}, &out)
	return out.Token
}

// sandboxContacts searches a location's contacts directly at the sandbox.
func (s *system) sandboxContacts(token, locationID, query string) []map[string]any {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"locationId": locationID, "pageLimit": 500, "query": query})
	req, err := http.NewRequest(http.MethodPost, s.sandboxURL+"/contacts/search", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Version", sandbox.VersionDefault)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("sandbox contacts search: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("sandbox contacts search: %s: %s", resp.Status, b)
	}
	var out struct {
		Contacts []map[string]any `json:"contacts"`
		Total    int              `json:"total"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		s.t.Fatalf("sandbox contacts search: decode: %v", err)
	}
	if out.Total > len(out.Contacts) {
		s.t.Fatalf("sandbox contacts search: %d matches, more than one page of %d; use a narrower query", out.Total, len(out.Contacts))
	}
	return out.Contacts
}

// upstreamCount sums upstreamStatusCount over every running replica.
func (s *system) upstreamCount(prefix string) float64 {
	var sum float64
	for _, r := range s.replicas {
		if r.running() {
			sum += s.upstreamStatusCount(r, prefix)
		}
	}
	return sum
}

// upstreamStatusCount sums a replica's hlgate_upstream_requests_total series
// whose status label starts with prefix (such as "5").
func (s *system) upstreamStatusCount(r *replica, prefix string) float64 {
	s.t.Helper()
	resp, err := s.http.Get(r.httpURL + "/metrics")
	if err != nil {
		s.t.Fatalf("replica%d metrics: %v", r.idx+1, err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "hlgate_upstream_requests_total{") || !strings.Contains(line, `status="`+prefix) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			s.t.Fatalf("metrics line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}
