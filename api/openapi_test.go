package api_test

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// loadDoc loads and validates api/openapi.yaml the way the sandbox and the
// request validators do, so a document that kin-openapi rejects fails here
// first.
func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("openapi.yaml")
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate openapi.yaml: %v", err)
	}
	return doc
}

func TestDocumentValidates(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	if got, want := doc.OpenAPI, "3.0.3"; got != want {
		t.Errorf("openapi = %q, want %q", got, want)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "https://services.leadconnectorhq.com" {
		t.Errorf("servers = %v, want only https://services.leadconnectorhq.com", doc.Servers)
	}
}
