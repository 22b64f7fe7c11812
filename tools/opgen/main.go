// Command opgen writes hlgate's operation table, gen/optable/optable.go,
// from HighLevel's official V2 OpenAPI documents (api/highlevel, byte copies
// whose sha256 api/highlevel/SOURCE.md lists) and hlgate's overlay
// (api/overlay.yaml, OpenAPI Overlay 1.0.0).
//
// The documents are never edited: what hlgate adds (which operations it
// exposes, their access level, retry safety, where the request names the
// location or company, the paging style) and what it corrects (live
// deviations from the documents) are overlay actions. The overlay is applied
// with github.com/speakeasy-api/openapi/overlay, pinned in tools/go.mod.
//
// opgen refuses to write anything, naming the operation or action, when a
// document's sha256 differs from SOURCE.md, an overlay action targets nothing,
// two documents declare the same operationId, or an exposed operation lacks
// its access, safe, paging or location metadata (or names a location or
// company field its request does not have).
//
// Run from the repository root (scripts/generate.sh does):
//
//	go -C tools run ./opgen -root ..
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	root := flag.String("root", ".", "repository root: reads api/highlevel and api/overlay.yaml, writes gen/optable/optable.go")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "opgen:", err)
		os.Exit(1)
	}
}

// writeProtos writes the generated proto files and removes the generated
// files it no longer writes (a product that got a hand-written service).
func writeProtos(dir string, files map[string][]byte) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, keep := files[e.Name()]; keep || !strings.HasSuffix(e.Name(), ".proto") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		if bytes.HasPrefix(b, []byte(genMarker)) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func run(root string) error {
	srcs, ops, err := buildAll(filepath.Join(root, "api", "highlevel"), filepath.Join(root, "api", "overlay.yaml"))
	if err != nil {
		return err
	}
	slice, err := renderSlice(srcs.docs, srcs.common, ops)
	if err != nil {
		return fmt.Errorf("api/openapi.yaml: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, "api", "openapi.yaml"), slice, 0o644); err != nil {
		return err
	}
	protos, services, err := renderProtos(filepath.Join(root, "proto", "hlgate", "v1"), srcs.docs, srcs.common, ops)
	if err != nil {
		return fmt.Errorf("proto: %w", err)
	}
	if err := writeProtos(filepath.Join(root, "proto", "hlgate", "v1"), protos); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "docs", "COVERAGE.md"), renderCoverage(ops), 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, "gen", "genservices"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "gen", "genservices", "services.go"), services, 0o644); err != nil {
		return err
	}
	src, err := render(ops)
	if err != nil {
		return err
	}
	out := filepath.Join(root, "gen", "optable", "optable.go")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}
