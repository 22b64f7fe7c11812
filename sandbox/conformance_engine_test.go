package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/hlgate/hlgate/internal/specexample"
)

// engineWalk drives, through run, every operation the engine serves that
// the hand-written cases did not: per collection, a create (or a stored
// document when the collection has no create), the list, the item's read,
// update and delete, each with a request built from the document's own
// schema. So an operation that joins the slice is proved served, validated
// both ways, without a case written for it. A parent's path parameter
// (a contact's tasks) takes one fixed id; locationId is the location's.
func (cf *conformance) engineWalk(engineOps []string, location, token string, nextWindow func()) {
	t := cf.t
	t.Helper()
	type famOp struct {
		method, path string
		op           *openapi3.Operation
	}
	families := map[string][]famOp{} // collection template → its operations
	var order []string
	for _, path := range cf.doc.Paths.InMatchingOrder() {
		for method, op := range cf.doc.Paths.Value(path).Operations() {
			if cf.served[op.OperationID] || !slices.Contains(engineOps, op.OperationID) {
				continue
			}
			coll := cf.e.sb.EngineCollection(op.OperationID)
			if _, ok := families[coll]; !ok {
				order = append(order, coll)
			}
			families[coll] = append(families[coll], famOp{method, path, op})
		}
	}
	slices.Sort(order)
	for _, coll := range order {
		nextWindow()
		ops := families[coll]
		rank := map[string]int{http.MethodPost: 0, http.MethodGet: 1, http.MethodPut: 2, http.MethodPatch: 2, http.MethodDelete: 3}
		slices.SortStableFunc(ops, func(a, b famOp) int { return rank[a.method] - rank[b.method] })
		// parents fills the path parameters of a collection's parents: the
		// engine keeps a collection per parent path, whatever the parent.
		famOps := make([]*openapi3.Operation, len(ops))
		for i, f := range ops {
			famOps[i] = f.op
		}
		parents := func(path string) string { return specexample.FillPath(path, location, parentID, famOps...) }
		// fill names the item id in an item's path (one longer than its
		// collection's).
		fill := func(path, id string) string {
			path = strings.ReplaceAll(path, "{locationId}", location)
			if last := strings.TrimSuffix(path, "/"); strings.HasSuffix(last, "}") && len(last) > len(strings.ReplaceAll(coll, "{locationId}", location)) {
				i := strings.LastIndex(last, "{")
				path = last[:i] + id
			}
			return parents(path)
		}
		// query is an operation's required query parameters, a create's
		// too (a location named in the query).
		query := func(op *openapi3.Operation) string {
			q := specexample.Query(op, location)
			if len(q) == 0 {
				return ""
			}
			v := url.Values{}
			for k, x := range q {
				v.Set(k, x)
			}
			return "?" + v.Encode()
		}
		id := ""
		for _, f := range ops {
			if f.method == http.MethodPost {
				ans := cf.run(confCase{name: "engine create " + f.op.OperationID, method: f.method, path: fill(f.path, "") + query(f.op), token: token,
					status: specexample.SuccessCode(f.op), json: located(specexample.Body(f.op), location)})
				id = createdID(ans)
			}
		}
		if id == "" {
			// No create: store a document of the list's or item's shape.
			id = "ConfDoc0000000000001"
			doc := map[string]any{"id": id, "locationId": location}
			for _, f := range ops {
				if s := answerItemSchema(f.op); s != nil {
					for k, v := range specexample.Value(s, true).(map[string]any) {
						if _, set := doc[k]; !set {
							doc[k] = v
						}
					}
					if s.Properties["_id"] != nil {
						doc["_id"] = id
					}
					break
				}
			}
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if err := cf.e.sb.PutDocument(location, parents(coll), b); err != nil {
				t.Fatalf("store a document in %s: %v", coll, err)
			}
		}
		for _, f := range ops {
			if f.method == http.MethodPost {
				continue
			}
			cf.run(confCase{name: "engine " + f.op.OperationID, method: f.method, path: fill(f.path, id) + query(f.op), token: token,
				status: specexample.SuccessCode(f.op), json: located(specexample.Body(f.op), location)})
		}
	}
}

// parentID fills the parent path parameters of the walked collections.
const parentID = "ConfParent0000000001"

// located names the walked location in a body that names one.
func located(body any, location string) any {
	if m, ok := body.(map[string]any); ok {
		for _, k := range []string{"locationId", "altId"} {
			if _, names := m[k]; names {
				m[k] = location
			}
		}
	}
	return body
}

// answerItemSchema is the schema of the document an answer carries: its
// object member, or the items of its array member.
func answerItemSchema(op *openapi3.Operation) *openapi3.Schema {
	r := op.Responses.Status(specexample.SuccessCode(op))
	if r == nil || r.Value == nil {
		return nil
	}
	mt := r.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return nil
	}
	for _, p := range mt.Schema.Value.Properties {
		switch v := p.Value; {
		case v == nil:
		case v.Type.Is("array") && v.Items != nil && v.Items.Value != nil && v.Items.Value.Type.Is("object"):
			return v.Items.Value
		case v.Type.Is("object") && len(v.Properties) > 0:
			return v
		}
	}
	return nil
}

// createdID is the id of the document a create answered.
func createdID(ans map[string]any) string {
	for _, k := range []string{"id", "_id"} {
		if id, ok := ans[k].(string); ok && id != "" {
			return id // the answer is the document itself
		}
	}
	if l, ok := ans[answerList].([]any); ok && len(l) > 0 {
		ans = map[string]any{"first": l[0]} // a list's first document
	}
	for _, v := range ans {
		if m, ok := v.(map[string]any); ok {
			for _, k := range []string{"id", "_id"} {
				if id, ok := m[k].(string); ok && id != "" {
					return id
				}
			}
		}
	}
	return ""
}
