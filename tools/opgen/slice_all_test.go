package main

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"
	"gopkg.in/yaml.v3"
)

// TestSliceOfEveryOperationGenerates renders the slice as if every
// operation of the official documents were exposed, and checks that
// kin-openapi (which the sandbox loads the slice with) validates it and that
// oapi-codegen, with the repository's configuration, generates a client
// without two declarations of one name. So exposing any operation never
// breaks make generate on a defect of its document: the repairs are made
// once, here, for all of them.
func TestSliceOfEveryOperationGenerates(t *testing.T) {
	root := filepath.Join("..", "..")
	src, ops, err := buildAll(filepath.Join(root, "api", "highlevel"), filepath.Join(root, "api", "overlay.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ops {
		ops[i].Exposed, ops[i].Declared = true, true
	}
	out, err := renderSlice(src.docs, src.common, ops)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(out)
	if err != nil {
		t.Fatalf("load the slice of every operation: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate the slice of every operation: %v", err)
	}
	if got := len(doc.Paths.Map()); got == 0 {
		t.Fatal("the slice of every operation has no paths")
	}

	raw, err := os.ReadFile(filepath.Join(root, "api", "oapi-codegen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg codegen.Configuration
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("api/oapi-codegen.yaml: %v", err)
	}
	cfg = cfg.UpdateDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("api/oapi-codegen.yaml: %v", err)
	}
	code, err := codegen.Generate(doc, cfg)
	if err != nil {
		t.Fatalf("oapi-codegen on the slice of every operation: %v", err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "highlevel.gen.go", code, 0)
	if err != nil {
		t.Fatalf("the generated client does not parse: %v", err)
	}
	// The compiler's "redeclared" errors, without compiling: one name per
	// package-level declaration, one per method of a type.
	seen := map[string]bool{}
	declare := func(name string) {
		if seen[name] {
			t.Errorf("the generated client declares %s twice", name)
		}
		seen[name] = true
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			name := d.Name.Name
			if d.Recv != nil && len(d.Recv.List) == 1 {
				name = receiverType(d.Recv.List[0].Type) + "." + name
			}
			declare(name)
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					declare(s.Name.Name)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.Name != "_" {
							declare(n.Name)
						}
					}
				}
			}
		}
	}
}

// receiverType is the type name of a method's receiver (T for *T).
func receiverType(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return receiverType(e.X)
	case *ast.Ident:
		return e.Name
	case *ast.IndexExpr:
		return receiverType(e.X)
	}
	return "?"
}
