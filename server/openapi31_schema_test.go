package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v4"

	"github.com/hlgate/hlgate/gen/openapiv3"
)

// TestOpenAPI31MatchesTheSpecSchema validates the OpenAPI 3.1 document
// against the OpenAPI Initiative's own JSON Schema of a 3.1 document
// (testdata/oas31, schema-base: the structure, and every Schema Object
// against the 3.1 base dialect), which is what viewers and linters check a
// document against. Nothing is fetched: the schemas are local, and the
// compiler refuses any other URL.
func TestOpenAPI31MatchesTheSpecSchema(t *testing.T) {
	t.Parallel()
	c := jsonschema.NewCompiler()
	c.UseLoader(noFetch{})
	for url, file := range map[string]string{
		"https://spec.openapis.org/oas/3.1/schema/2021-04-15":      "schema.json",
		"https://spec.openapis.org/oas/3.1/schema-base/2021-04-15": "schema-base.json",
		"https://spec.openapis.org/oas/3.1/dialect/base":           "dialect-base.schema.json",
		"https://spec.openapis.org/oas/3.1/meta/base":              "meta-base.schema.json",
	} {
		b, err := os.ReadFile(filepath.Join("testdata", "oas31", file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	schema, err := c.Compile("https://spec.openapis.org/oas/3.1/schema-base/2021-04-15")
	if err != nil {
		t.Fatalf("compile the OpenAPI 3.1 schema: %v", err)
	}

	var tree any
	if err := yaml.Unmarshal(openapiv3.Document, &tree); err != nil {
		t.Fatalf("the document is not YAML: %v", err)
	}
	asJSON, err := json.Marshal(tree)
	if err != nil {
		t.Fatalf("the document has no JSON form: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(asJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Fatalf("gen/openapiv3/hlgate.openapi.yaml is not a valid OpenAPI 3.1 document:\n%v", err)
	}

	// The check has teeth: a document with a 2.0 leftover or a Schema
	// Object of an unknown type is refused.
	for name, broken := range map[string]func(map[string]any){
		"swagger key": func(d map[string]any) { d["swagger"] = "2.0" },
		"schema type": func(d map[string]any) { firstSchema(d)["type"] = "text" },
		"response not an object": func(d map[string]any) {
			for _, item := range d["paths"].(map[string]any) {
				for _, op := range item.(map[string]any) {
					if o, ok := op.(map[string]any); ok && o["responses"] != nil {
						o["responses"].(map[string]any)["200"] = "ok"
						return
					}
				}
			}
		},
	} {
		var d map[string]any
		if err := json.Unmarshal(asJSON, &d); err != nil {
			t.Fatal(err)
		}
		broken(d)
		b, _ := json.Marshal(d)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if schema.Validate(inst) == nil {
			t.Errorf("a document with a broken %s passed the schema", name)
		}
	}
}

// firstSchema returns one of the document's component schemas.
func firstSchema(d map[string]any) map[string]any {
	for _, s := range d["components"].(map[string]any)["schemas"].(map[string]any) {
		return s.(map[string]any)
	}
	return nil
}

// noFetch refuses every URL the schemas do not carry.
type noFetch struct{}

func (noFetch) Load(url string) (any, error) {
	return nil, errors.New("not fetched (the test has no network): " + url)
}
