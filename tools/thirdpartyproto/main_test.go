package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protodesc"
)

// TestCommittedFilesAreCurrent fails when third_party/proto differs from what
// the generator writes from the pinned modules, so a module upgrade without a
// rerun (or a hand edit) cannot go unnoticed.
func TestCommittedFilesAreCurrent(t *testing.T) {
	out := t.TempDir()
	if err := run(out, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
	committed := filepath.Join("..", "..", "third_party", "proto")
	var n int
	err := filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(out, path)
		if err != nil {
			return err
		}
		want, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		got, err := os.ReadFile(filepath.Join(committed, rel))
		if err != nil {
			t.Errorf("%s: not committed: %v", rel, err)
			return nil
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from the generator's output; run go -C tools run ./thirdpartyproto -out ../third_party/proto", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(printed) + len(copied) + 1; n != want {
		t.Errorf("generator wrote %d files, want %d", n, want)
	}
}

// TestVerifyRejectsDifferentSource proves that verify compares declarations,
// not just syntax: a source that compiles but changes a field number, an
// option or a name must be refused.
func TestVerifyRejectsDifferentSource(t *testing.T) {
	dirs, err := moduleDirs(genprotoModules)
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]string{}
	for _, fd := range printed {
		module, header, err := licenseHeader(dirs, fd)
		if err != nil {
			t.Fatal(err)
		}
		text, err := printFile(module, header, protodesc.ToFileDescriptorProto(fd))
		if err != nil {
			t.Fatal(err)
		}
		good[fd.Path()] = text
	}
	if err := verify(good, printed); err != nil {
		t.Fatalf("verify rejected the printed files: %v", err)
	}

	tests := []struct {
		name, file, old, new string
	}{
		{"field number", "google/api/http.proto", "string body = 7;", "string body = 9;"},
		{"go_package", "google/api/field_behavior.proto", `annotations;annotations"`, `annotations;other"`},
		{"enum value", "google/api/field_behavior.proto", "IDENTIFIER = 8;", "IDENTIFIER = 9;"},
		{"extension number", "google/api/annotations.proto", "72295728", "72295729"},
		{"map value type", "google/rpc/error_details.proto", "map<string, string> metadata = 3;", "map<string, int32> metadata = 3;"},
		{"nested message field", "google/rpc/error_details.proto", "string field = 1;", "string field = 5;"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := map[string]string{}
			for k, v := range good {
				bad[k] = v
			}
			if !strings.Contains(bad[tc.file], tc.old) {
				t.Fatalf("%s does not contain %q", tc.file, tc.old)
			}
			bad[tc.file] = strings.Replace(bad[tc.file], tc.old, tc.new, 1)
			err := verify(bad, printed)
			if err == nil {
				t.Fatalf("verify accepted %s with %q changed to %q", tc.file, tc.old, tc.new)
			}
			// The change must be caught by the comparison, not by a
			// compile error that would hide a broken comparison.
			if !strings.Contains(err.Error(), "does not compile to the descriptor") {
				t.Errorf("verify failed for another reason: %v", err)
			}
		})
	}
}

// TestPrintedFilesKeepLicense checks each printed googleapis file starts with
// googleapis' Apache-2.0 header.
func TestPrintedFilesKeepLicense(t *testing.T) {
	dirs, err := moduleDirs(genprotoModules)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range printed {
		_, header, err := licenseHeader(dirs, fd)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(header, "// Copyright ") || !strings.Contains(header, "Google LLC") {
			t.Errorf("%s: header does not name Google LLC:\n%s", fd.Path(), header)
		}
	}
}

// TestModulesMatchServer fails when tools/go.mod pins another version of a
// genproto module than the server's go.mod: the files printed from it must
// declare exactly the messages the server puts into its errors.
func TestModulesMatchServer(t *testing.T) {
	for _, module := range genprotoModules {
		tools := moduleVersion(t, ".", module)
		server := moduleVersion(t, filepath.Join("..", ".."), module)
		if tools != server {
			t.Errorf("%s: tools/go.mod has %s, go.mod has %s; pin the same version in both (go -C tools get %s@%s) and rerun the generator", module, tools, server, module, server)
		}
	}
}

func moduleVersion(t *testing.T, dir, module string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}}", module)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m %s in %s: %v", module, dir, err)
	}
	v := strings.TrimSpace(string(out))
	if v == "" {
		t.Fatalf("go list -m %s in %s: no version", module, dir)
	}
	return v
}
