package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// The engine serves operations of an official document it was never
// written for: the contact notes of contacts.json (create, list, get,
// update, delete), none of which the sandbox exposes, over real HTTP, each
// answer validated against the document.
func TestEngineServesDocumentOperations(t *testing.T) {
	t.Parallel()
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	doc, err := loader.LoadFromFile("../api/highlevel/apps/contacts.json")
	if err != nil {
		t.Fatal(err)
	}
	sb := New(Config{QuotaOff: true, DemoContacts: 10})
	tokens := map[string]*accessToken{"demo": {locationID: DemoLocationID}, "other": {locationID: OtherLocationID}}
	routes := map[string]*routers.Route{}
	mux := http.NewServeMux()
	for _, id := range []string{"create-note", "get-all-notes", "get-note", "update-note", "delete-note"} {
		path, method, op := findOperation(t, doc, id)
		eo, err := newEngineOp(method, path, op, false)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		v := newValidator(doc, method, path, doc.Paths.Value(path), op)
		routes[method+" "+path] = v.route
		mux.HandleFunc(muxPattern(method, path), func(w http.ResponseWriter, r *http.Request) {
			if aerr := v.check(r); aerr != nil {
				writeError(w, aerr)
				return
			}
			eo.serve(sb, w, r, &call{tok: tokens[r.Header.Get("X-Test-Token")]})
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	do := func(tok, method, template, path string, body any, want int) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Test-Token", tok)
		req.Header.Set("Version", "2021-07-28") // the document declares it as a header parameter
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, b, err)
		}
		if want < 300 {
			route := routes[method+" "+template]
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
				Status:                 resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(b)),
				Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
			}
			if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
				t.Fatalf("%s %s: answer %s does not conform: %v", method, path, b, err)
			}
		}
		return m
	}
	const coll, item = "/contacts/{contactId}/notes", "/contacts/{contactId}/notes/{id}"

	created := do("demo", "POST", coll, "/contacts/c1/notes", map[string]any{"body": "first", "title": "Call back"}, 201)
	note, _ := created["note"].(map[string]any)
	id, _ := note["id"].(string)
	if id == "" || note["body"] != "first" || note["title"] != "Call back" {
		t.Fatalf("created note %v: want an id and the sent members", created)
	}
	got := do("demo", "GET", item, "/contacts/c1/notes/"+id, nil, 200)
	if got["note"].(map[string]any)["body"] != "first" {
		t.Fatalf("read note %v", got)
	}
	updated := do("demo", "PUT", item, "/contacts/c1/notes/"+id, map[string]any{"body": "second"}, 200)
	if n := updated["note"].(map[string]any); n["body"] != "second" || n["title"] != "Call back" || n["id"] != id {
		t.Fatalf("updated note %v: want the body replaced, the title and id kept", updated)
	}
	do("demo", "POST", coll, "/contacts/c1/notes", map[string]any{"body": "another"}, 201)
	if notes := do("demo", "GET", coll, "/contacts/c1/notes", nil, 200)["notes"].([]any); len(notes) != 2 ||
		notes[0].(map[string]any)["body"] != "second" {
		t.Fatalf("list: %v, want the two notes in creation order", notes)
	}
	// Collections are per parent and per location.
	if notes := do("demo", "GET", coll, "/contacts/c2/notes", nil, 200)["notes"].([]any); len(notes) != 0 {
		t.Fatalf("another contact's notes: %v", notes)
	}
	if notes := do("other", "GET", coll, "/contacts/c1/notes", nil, 200)["notes"].([]any); len(notes) != 0 {
		t.Fatalf("another location's notes: %v", notes)
	}
	if m := do("other", "GET", item, "/contacts/c1/notes/"+id, nil, 404); !strings.Contains(m["message"].(string), "Note not found") {
		t.Fatalf("another location's note: %v", m)
	}
	// The document requires body on create: the validator refuses it.
	do("demo", "POST", coll, "/contacts/c1/notes", map[string]any{"title": "no body"}, 422)
	// Delete answers the document's spelling, succeded.
	if m := do("demo", "DELETE", item, "/contacts/c1/notes/"+id, nil, 200); m["succeded"] != true || len(m) != 1 {
		t.Fatalf("delete: %v, want {succeded: true}", m)
	}
	do("demo", "GET", item, "/contacts/c1/notes/"+id, nil, 404)
	do("demo", "DELETE", item, "/contacts/c1/notes/"+id, nil, 404)
}

func findOperation(t *testing.T, doc *openapi3.T, id string) (string, string, *openapi3.Operation) {
	t.Helper()
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == id {
				return path, method, op
			}
		}
	}
	t.Fatalf("no operation %s", id)
	return "", "", nil
}

// The engine refuses at start what it cannot serve, so an exposed
// operation is never silently answered wrong.
func TestEngineRefusesWhatItCannotServe(t *testing.T) {
	t.Parallel()
	ok200 := openapi3.NewResponses(openapi3.WithStatus(200, &openapi3.ResponseRef{Value: openapi3.NewResponse().WithJSONSchema(
		openapi3.NewObjectSchema().WithProperty("things", openapi3.NewObjectSchema()))}))
	for _, tc := range []struct{ method, path string }{
		{"POST", "/things/{id}"},   // a POST to an item is an action, not a create
		{"PUT", "/things"},         // an update needs an item
		{"GET", "/things"},         // a list answer needs an array member
		{"DELETE", "/things"},      // so does a delete
		{"PATCH", "/things/{id}/"}, // fine as an item, but see below
	} {
		op := &openapi3.Operation{Responses: ok200}
		_, err := newEngineOp(tc.method, tc.path, op, false)
		if tc.method == "PATCH" {
			if err != nil {
				t.Errorf("PATCH of an item: %v", err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s %s: the engine took it", tc.method, tc.path)
		}
	}
	// A template that other paths extend by a {param} is a collection
	// named by its parameter (POST /calendars/resources/{resourceType}).
	if eo, err := newEngineOp("POST", "/things/{kind}", &openapi3.Operation{Responses: ok200}, true); err != nil || eo.kind != engineCreate {
		t.Errorf("POST to a collection named by a parameter: %v, %+v", err, eo)
	}
	if _, err := newEngineOp("GET", "/things/{id}", &openapi3.Operation{Responses: openapi3.NewResponses()}, false); err == nil {
		t.Error("an operation without a 2xx answer: the engine took it")
	}
}

// An envelope's required string members beside the list or the document
// (a list's traceId) are answered with their example, so the answer
// validates; an optional one is left out.
func TestEngineAnswersRequiredTexts(t *testing.T) {
	t.Parallel()
	trace := openapi3.NewStringSchema()
	trace.Example = "trace-1"
	list := openapi3.NewObjectSchema().
		WithProperty("things", openapi3.NewArraySchema().WithItems(openapi3.NewObjectSchema().WithProperty("id", openapi3.NewStringSchema()))).
		WithProperty("total", openapi3.NewFloat64Schema()).
		WithPropertyRef("traceId", &openapi3.SchemaRef{Value: trace}).
		WithProperty("note", openapi3.NewStringSchema())
	list.Required = []string{"things", "total", "traceId"}
	op := &openapi3.Operation{Responses: openapi3.NewResponses(openapi3.WithStatus(200, &openapi3.ResponseRef{Value: openapi3.NewResponse().WithJSONSchema(list)}))}
	e, err := newEngineOp("GET", "/things", op, false)
	if err != nil {
		t.Fatal(err)
	}
	got := string(e.answerList([]json.RawMessage{json.RawMessage(`{"id":"a"}`)}, 1, false))
	if want := `{"things":[{"id":"a"}],"total":1,"traceId":"trace-1"}`; got != want {
		t.Errorf("answerList = %s, want %s", got, want)
	}
}
