//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The examples' search: a query with a few pages of matches at the demo
// location, read in pages of clientPageSize.
const (
	clientQuery    = "ada"
	clientPageSize = 20
)

// TestClients generates each client of clients/ on this machine, as a new
// user would (scripts/clients.sh, which `make clients` runs: buf with the
// language's plugins), runs its example program against a real `hlgate
// serve` with a caller key, and checks what it printed: the whole search
// read page by page to its end, the contact it then fetched, and the
// ErrorInfo reason and BadRequest field it decoded from a refused call.
// A missing compiler, plugin or runtime fails the test with the Debian or
// npm package to install.
func TestClients(t *testing.T) {
	s := startSystem(t, 1)
	r := s.replicas[0]
	s.install(r, demoLoc)
	// What the sandbox holds, read directly: the examples must find all of
	// it through hlgate's page tokens.
	want := len(s.sandboxContacts(s.pit(demoLoc, "contacts.readonly"), demoLoc, clientQuery))
	if want <= clientPageSize {
		t.Fatalf("the sandbox has %d contacts matching %q: too few for more than one page of %d", want, clientQuery, clientPageSize)
	}
	env := cleanEnv("HLGATE_ADDR="+r.grpcAddr, "HLGATE_CALLER_KEY="+s.readKey, "HLGATE_LOCATION="+demoLoc)
	args := []string{"--query", clientQuery, "--page-size", strconv.Itoa(clientPageSize)}

	t.Run("go", func(t *testing.T) {
		s.generateClient(t, "go")
		dir := filepath.Join(s.root, "clients", "go")
		bin := filepath.Join(t.TempDir(), "example")
		run(t, dir, nil, "go", "vet", ".")
		run(t, dir, nil, "go", "build", "-o", bin, ".")
		// The Go flag package spells long flags with one dash or two.
		checkExample(t, run(t, dir, env, bin, args...), want)
	})
	t.Run("ts", func(t *testing.T) {
		s.generateClient(t, "ts")
		dir := filepath.Join(s.root, "clients", "ts")
		run(t, dir, nil, "npm", "run", "--silent", "build")
		checkExample(t, run(t, dir, env, "node", append([]string{"dist/example.js"}, args...)...), want)
	})
	t.Run("python", func(t *testing.T) {
		s.generateClient(t, "python")
		py := pythonWithGRPC(t)
		checkExample(t, run(t, s.root, env, py, append([]string{"clients/python/example.py"}, args...)...), want)
	})
}

// generateClient runs scripts/clients.sh for one language; its message on
// failure names the package of a missing tool.
func (s *system) generateClient(t *testing.T, lang string) {
	t.Helper()
	start := time.Now()
	run(t, s.root, nil, "scripts/clients.sh", lang)
	t.Logf("generated clients/%s/gen in %v", lang, time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(filepath.Join(s.root, "clients", lang, "gen")); err != nil {
		t.Fatalf("scripts/clients.sh %s wrote nothing: %v", lang, err)
	}
}

// pythonWithGRPC returns the first python3 that imports Debian's grpc and
// protobuf runtimes (the system one first: a python3 of pyenv or a venv
// earlier on PATH does not see Debian's packages).
func pythonWithGRPC(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		out, err := exec.Command(py, "-c", "import grpc, google.protobuf; print(grpc.__version__, google.protobuf.__version__)").CombinedOutput()
		if err == nil {
			t.Logf("%s: grpc and protobuf %s", py, strings.TrimSpace(string(out)))
			return py
		}
		tried = append(tried, fmt.Sprintf("%s: %v: %s", py, err, strings.TrimSpace(string(out))))
	}
	t.Fatalf("no python3 imports grpc and google.protobuf; install the Debian packages python3-grpcio and python3-protobuf (make test-e2e does, as root: scripts/ensure-client-tools.sh)\n%s", strings.Join(tried, "\n"))
	return ""
}

// run runs a command in dir (with env, or the test's own environment when
// nil) and returns its standard output; any failure ends the test with
// both outputs.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s (in %s): %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), dir, err, out, stderr.String())
	}
	return string(out)
}

var (
	searchLine  = regexp.MustCompile(`(?m)^search "` + clientQuery + `": (\d+) contacts in (\d+) pages \(total_size (\d+)\)$`)
	contactLine = regexp.MustCompile(`(?m)^contact ([A-Za-z0-9_-]+): .* in (\S+)$`)
	errorLine   = regexp.MustCompile(`(?m)^error (\S+): (.*)$`)
	infoLine    = regexp.MustCompile(`(?m)^  ErrorInfo reason=(\S+) domain=(\S+)$`)
	fieldLine   = regexp.MustCompile(`(?m)^  BadRequest field=(\S+): (.+)$`)
)

// checkExample asserts on an example's output: want contacts found in as
// many pages as it takes to read them clientPageSize at a time, a contact of
// the demo location fetched, and the refused call's details decoded.
func checkExample(t *testing.T, out string, want int) {
	t.Helper()
	t.Logf("example printed:\n%s", out)
	m := searchLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no search line in the output")
	}
	found, _ := strconv.Atoi(m[1])
	pages, _ := strconv.Atoi(m[2])
	total, _ := strconv.Atoi(m[3])
	if wantPages := (want + clientPageSize - 1) / clientPageSize; found != want || total != want || pages != wantPages {
		t.Errorf("search: %d contacts in %d pages (total_size %d), want %d in %d pages", found, pages, total, want, wantPages)
	}
	if m := contactLine.FindStringSubmatch(out); m == nil {
		t.Errorf("no contact line in the output")
	} else if m[2] != demoLoc {
		t.Errorf("contact %s is in %s, want %s", m[1], m[2], demoLoc)
	}
	if m := errorLine.FindStringSubmatch(out); m == nil {
		t.Errorf("no error line in the output")
	} else if code := strings.ToUpper(strings.ReplaceAll(m[1], "_", "")); code != "INVALIDARGUMENT" {
		t.Errorf("refused call: code %s, want INVALID_ARGUMENT", m[1])
	}
	if m := infoLine.FindStringSubmatch(out); m == nil {
		t.Errorf("no ErrorInfo decoded")
	} else if m[1] != "INVALID_ARGUMENT" || m[2] != "hlgate" {
		t.Errorf("ErrorInfo reason=%s domain=%s, want INVALID_ARGUMENT and hlgate", m[1], m[2])
	}
	if m := fieldLine.FindStringSubmatch(out); m == nil {
		t.Errorf("no BadRequest field violation decoded")
	} else if m[1] != "contact_id" {
		t.Errorf("BadRequest field=%s, want contact_id", m[1])
	}
}
