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
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	root := flag.String("root", ".", "repository root: reads api/highlevel and api/overlay.yaml, writes gen/optable/optable.go")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "opgen:", err)
		os.Exit(1)
	}
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
