package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// In sandbox mode (caller auth off) an address left at its default
// listens on 127.0.0.1 only, and the log says how to widen it; an address
// given as a flag or in the environment is kept, with a warning when it
// reaches beyond the machine.
func TestSandboxListensOnLoopback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		args       []string
		env        map[string]string
		grpc, http string
		wantLog    string
	}{
		{"defaults", nil, nil, "127.0.0.1:9090", "127.0.0.1:8080", "listening on 127.0.0.1 only; set HLGATE_HTTP_ADDR"},
		{"flag", []string{"--http-addr", ":8081"}, nil, "127.0.0.1:9090", ":8081", "listening beyond this machine with caller auth off"},
		{"environment", nil, map[string]string{"HLGATE_GRPC_ADDR": "0.0.0.0:9999"}, "0.0.0.0:9999", "127.0.0.1:8080", "listening beyond this machine"},
		{"loopback given", []string{"--grpc-addr", "localhost:1", "--http-addr", "[::1]:2"}, nil, "localhost:1", "[::1]:2", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, c := serveSettings(func(k string) string { return tc.env[k] })
			if err := s.parse(append([]string{"--sandbox"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			c.InsecureNoAuth = true // as startSandbox sets it without a keys file
			var logs bytes.Buffer
			sandboxLoopback(c, s, slog.New(slog.NewJSONHandler(&logs, nil)))
			if c.GRPCAddr != tc.grpc || c.HTTPAddr != tc.http {
				t.Errorf("addresses %s %s, want %s %s", c.GRPCAddr, c.HTTPAddr, tc.grpc, tc.http)
			}
			if tc.wantLog != "" && !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log does not say %q:\n%s", tc.wantLog, logs.String())
			}
			if tc.wantLog == "" && strings.Contains(logs.String(), "beyond") {
				t.Errorf("a loopback address is warned about:\n%s", logs.String())
			}
		})
	}
}
