package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hlgate/hlgate/gen/optable"
)

// TestSliceMatchesOperationTable proves that the slice (api/openapi.yaml,
// which the client is generated from and the sandbox routes by) and the
// operation table describe the same operations: each declared row (its
// x-hlgate; exposed or for the passthrough) has the slice operation with its
// method and path, whose x-hlgate-version and x-hlgate-scope are the row's
// Version and scope, and the slice has no operation the table does not
// declare. tools/opgen writes both from the same
// overlaid documents; this keeps a change to one of its two renderings from
// going unnoticed.
func TestSliceMatchesOperationTable(t *testing.T) {
	doc := loadDoc(t)
	type sliceOp struct{ version, scope string }
	slice := map[string]sliceOp{} // "GET /contacts/{contactId}" → extensions
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ext := func(name string) string {
				v, ok := op.Extensions[name]
				if !ok {
					return ""
				}
				return fmt.Sprint(v)
			}
			slice[method+" "+path] = sliceOp{version: ext("x-hlgate-version"), scope: ext("x-hlgate-scope")}
		}
	}

	declared := 0
	for _, row := range optable.Ops {
		if !row.Declared {
			continue
		}
		declared++
		key := row.Method + " " + row.Path
		got, ok := slice[key]
		if !ok {
			t.Errorf("%s: declared as %s, which api/openapi.yaml does not hold", row.ID, key)
			continue
		}
		delete(slice, key)
		if got.version != row.Version {
			t.Errorf("%s (%s): x-hlgate-version %q, the official document requires %q", row.ID, key, got.version, row.Version)
		}
		// The slice names one scope per operation; the documents list them
		// as a security requirement, one scope each for every declared one.
		if want := strings.Join(row.Scopes, " "); got.scope != want {
			t.Errorf("%s (%s): x-hlgate-scope %q, the official document requires %q", row.ID, key, got.scope, want)
		}
	}
	for key := range slice {
		t.Errorf("api/openapi.yaml holds %s, which the operation table does not declare (add its x-hlgate to api/overlay.yaml)", key)
	}
	if declared == 0 {
		t.Fatal("the operation table declares nothing")
	}
}

// TestOperationTableLookup checks that Lookup finds rows by their official
// operationId (the table is sorted, and Lookup searches it) and nothing else.
func TestOperationTableLookup(t *testing.T) {
	for i, row := range optable.Ops {
		if i > 0 && optable.Ops[i-1].ID >= row.ID {
			t.Fatalf("Ops not sorted by ID at %s", row.ID)
		}
		got, ok := optable.Lookup(row.ID)
		if !ok || got != &optable.Ops[i] {
			t.Errorf("Lookup(%q) = %v, %v", row.ID, got, ok)
		}
	}
	for _, id := range []string{"", "GetContact", "get-contact-x", "zzz"} {
		if _, ok := optable.Lookup(id); ok {
			t.Errorf("Lookup(%q) found a row", id)
		}
	}
	c, ok := optable.Lookup("get-contact")
	if !ok || c.Method != "GET" || c.Path != "/contacts/{contactId}" || c.Document != "contacts" || c.Version != "2021-07-28" || !c.Read || !c.Safe || !c.Exposed {
		t.Errorf("get-contact row: %+v", c)
	}
}
