package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v4"

	"github.com/hlgate/hlgate/gen/openapiv2"
	"github.com/hlgate/hlgate/sandbox"
)

// /openapi.yaml serves an OpenAPI 3.1 document of the REST API that a
// validator accepts, whose every $ref resolves, with nothing of Swagger 2.0
// left in it, and with every route of the 2.0 document.
func TestOpenAPI31Document(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys(), noInstall: true})
	code, hdr, body := h.rest(http.MethodGet, "/openapi.yaml", "", nil)
	if code != http.StatusOK || hdr.Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /openapi.yaml = %d %s", code, hdr.Get("Content-Type"))
	}
	if first, _, _ := bytes.Cut(body, []byte("\n")); !bytes.Contains(first, []byte("Code generated")) {
		t.Errorf("first line %q does not say the document is generated", first)
	}

	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(body)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi: %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableSchemaFormatValidation()); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3.1: %v", err)
	}

	// Every $ref resolves inside the document (the loader leaves one it
	// cannot resolve without a value).
	var tree map[string]any
	if err := yaml.Unmarshal(body, &tree); err != nil {
		t.Fatal(err)
	}
	schemas := tree["components"].(map[string]any)["schemas"].(map[string]any)
	refs := 0
	walkYAML(tree, func(k string, v any) {
		switch k {
		case "$ref":
			refs++
			name, ok := strings.CutPrefix(v.(string), "#/components/schemas/")
			if _, found := schemas[name]; !ok || !found {
				t.Errorf("$ref %v resolves to nothing", v)
			}
		case "definitions", "x-nullable", "nullable", "collectionFormat", "swagger", "securityDefinitions", "consumes", "produces":
			t.Errorf("Swagger 2.0 leftover %q", k)
		}
	})
	if refs < 100 {
		t.Errorf("only %d $refs", refs)
	}

	// The same routes as the 2.0 document.
	var v2 struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openapiv2.Document, &v2); err != nil {
		t.Fatal(err)
	}
	for path, ops := range v2.Paths {
		item := doc.Paths.Find(path)
		if item == nil {
			t.Errorf("%s is missing", path)
			continue
		}
		for method := range ops {
			if item.GetOperation(strings.ToUpper(method)) == nil {
				t.Errorf("%s %s is missing", method, path)
			}
		}
	}
	// A body parameter became a requestBody; a 2.0 response schema, content.
	op := doc.Paths.Find("/v1/locations/{locationId}/contacts").Post
	if op.RequestBody == nil || op.RequestBody.Value.Content.Get("application/json") == nil {
		t.Errorf("POST contacts has no JSON requestBody")
	}
	if r := op.Responses.Status(200); r == nil || r.Value.Content.Get("application/json").Schema.Value == nil {
		t.Errorf("POST contacts has no resolved 200 schema")
	}
}

// walkYAML calls f with every key and value of a decoded YAML tree.
func walkYAML(v any, f func(string, any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, y := range x {
			f(k, y)
			walkYAML(y, f)
		}
	case []any:
		for _, y := range x {
			walkYAML(y, f)
		}
	}
}
