package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// The engine serves the operations of api/openapi.yaml that have no
// hand-written handler, from JSON documents stored per location and
// collection. What it does follows from the operation's method, path and
// 2xx response schema, read once at start:
//
//   - GET of a path ending in a {param} reads one document;
//   - GET of any other path lists the collection (a …/search or …/list
//     path its parent's), a page of it when the operation takes limit and offset
//     (or skip);
//   - POST of a path not ending in a {param} creates a document;
//   - PUT or PATCH of a path ending in a {param} merges the body into it;
//   - DELETE of a path ending in a {param} removes it.
//
// A collection is the request's path without its last segment for the item
// operations, the request's path for the others, trailing slash dropped: so
// GET /calendars/ lists what GET /calendars/{calendarId} reads, and nested
// resources (/calendars/{id}/notifications) are kept per parent. Documents
// are stored as JSON and answered byte for byte, undeclared keys and odd
// types included.

// engineKind is what an engine operation does.
type engineKind int

const (
	engineRead engineKind = iota
	engineList
	engineCreate
	engineMerge
	engineRemove
)

// engineOp is one operation served by the engine.
type engineOp struct {
	kind   engineKind
	status int
	// envelope is the answer's member holding the document (or the list);
	// "" answers the document itself.
	envelope string
	// flags are the answer's boolean members, answered true beside the
	// document (UpdateContact's succeded) or alone (a delete's succeded).
	flags []string
	// counts are the answer's numeric members of a list (total, count),
	// answered with the number of documents listed.
	counts []string
	// texts are the envelope's required string members beside the document
	// or list (a list's traceId), answered with their example. An answer
	// with texts and no envelope holds no document (a delete's or an
	// update's "message"): it is the texts and the flags alone.
	texts [][2]string
	// filters are the query parameters that name a member of the listed
	// documents: a list keeps the documents whose member equals the value.
	filters []string
	// search is set for a GET …/search or …/list: it lists the collection
	// its parent names (GET /calendars/schedules/search lists what POST
	// /calendars/schedules creates), filtered by the query.
	search bool
	// limitParam and offsetParam page a list (limit with offset or skip);
	// "" when the operation takes no such parameters.
	limitParam, offsetParam string
	idKey                   string // "id", or "_id" for the Mongo-shaped schemas
	// echoID is the member of a delete's answer that names the deleted
	// document ("" when the answer names none).
	echoID string
	// echoDoc is set when a delete answers the deleted document itself
	// (delete-invoice): its schema requires more than an id and a flag.
	echoDoc bool
	noun    string // for "<Noun> not found"
	// located is set when the document schema has a locationId: a created
	// document gets the token's location there.
	located bool
	// listBody is set for a create whose body is a JSON array: each member
	// is a document, and the answer lists them.
	listBody bool
	// fromPath are the path parameters a created document has as members
	// (a calendar resource's resourceType): it gets the path's values.
	fromPath []string
	// base holds the members a created document gets before the body is
	// merged in: every required member of the schema, from its default or
	// example.
	base map[string]any
}

// newEngineOp reads what the engine does for an operation from the
// document, or says why it cannot serve it. parent is set when the
// document has paths below path's own {param} (GET
// /calendars/resources/{resourceType}/{id} below
// /calendars/resources/{resourceType}): path names a collection then, not
// an item, though it ends in a parameter.
func newEngineOp(method, path string, op *openapi3.Operation, parent bool) (*engineOp, error) {
	last := lastSegment(path)
	item := strings.HasPrefix(last, "{") && strings.HasSuffix(last, "}") && !parent
	e := &engineOp{}
	switch {
	case method == http.MethodGet && item:
		e.kind = engineRead
	case method == http.MethodGet:
		e.kind = engineList
		e.search = last == "search" || last == "list"
	case method == http.MethodPost && !item:
		e.kind = engineCreate
	case (method == http.MethodPut || method == http.MethodPatch) && item:
		e.kind = engineMerge
	case method == http.MethodDelete && item:
		e.kind = engineRemove
	default:
		return nil, fmt.Errorf("the engine serves GET, POST to a collection, PUT, PATCH and DELETE of an item, not %s %s", method, path)
	}
	if e.kind == engineCreate && op.RequestBody != nil && op.RequestBody.Value != nil {
		if mt := op.RequestBody.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil && mt.Schema.Value != nil {
			e.listBody = mt.Schema.Value.Type.Is("array")
		}
	}
	status, schema := successSchema(op)
	if status == 0 {
		return nil, errors.New("no 2xx response")
	}
	e.status = status
	docSchema := schema
	// An answer with an id of its own is the document itself, flat (a
	// user, a blocked slot); its object members are the document's, not an
	// envelope.
	flat := e.kind != engineRemove && schema != nil && (schema.Properties["id"] != nil || schema.Properties["_id"] != nil)
	if e.kind == engineRemove && schema != nil && (schema.Properties["id"] != nil || schema.Properties["_id"] != nil) {
		e.echoDoc = slices.ContainsFunc(schema.Required, func(r string) bool {
			return r != "id" && r != "_id" && r != "success" && r != "succeded" && r != "succeeded"
		})
	}
	if schema != nil && !flat {
		for _, name := range slices.Sorted(maps.Keys(schema.Properties)) {
			ps := single(schema.Properties[name].Value)
			switch {
			case ps == nil:
			case ps.Type.Is("boolean"):
				e.flags = append(e.flags, name)
			case e.kind == engineRemove && ps.Type.Is("string") && (name == "id" || name == "_id"):
				e.echoID = name
			case ps.Type.Is("number") || ps.Type.Is("integer"):
				e.counts = append(e.counts, name)
			case e.kind == engineList && ps.Type.Is("array") && e.envelope == "":
				e.envelope, docSchema = name, nil
				if ps.Items != nil {
					docSchema = ps.Items.Value
				}
			case e.kind != engineList && e.kind != engineRemove && ps.Type.Is("object") && len(ps.Properties) > 0 && e.envelope == "":
				e.envelope, docSchema = name, ps
			case ps.Type.Is("string") && slices.Contains(schema.Required, name):
				e.texts = append(e.texts, [2]string{name, string(marshal(exampleOf(ps)))})
			}
		}
	}
	switch {
	case e.kind == engineList && e.envelope == "" && (schema == nil || !schema.Type.Is("array")):
		return nil, errors.New("a list answer needs an array member (or an array)")
	case e.kind == engineList && e.envelope == "":
		docSchema = nil
		if schema.Items != nil {
			docSchema = schema.Items.Value
		}
	}
	e.idKey = "id"
	e.noun = "Record"
	if e.envelope != "" {
		e.noun = strings.ToUpper(e.envelope[:1]) + strings.TrimSuffix(e.envelope[1:], "s")
	}
	if docSchema != nil {
		if _, ok := docSchema.Properties["_id"]; ok {
			e.idKey = "_id"
		}
		_, e.located = docSchema.Properties["locationId"]
		if e.kind == engineCreate {
			for _, p := range op.Parameters {
				if pv := p.Value; pv != nil && pv.In == openapi3.ParameterInPath && pv.Name != "locationId" && docSchema.Properties[pv.Name] != nil {
					e.fromPath = append(e.fromPath, pv.Name)
				}
			}
		}
		e.base = map[string]any{}
		for _, name := range docSchema.Required {
			if ps := docSchema.Properties[name]; ps != nil && ps.Value != nil {
				e.base[name] = exampleOf(ps.Value)
			}
		}
		if e.kind == engineList {
			for _, p := range op.Parameters {
				if pv := p.Value; pv != nil && pv.In == openapi3.ParameterInQuery {
					switch pv.Name {
					case "limit":
						e.limitParam = pv.Name
					case "offset", "skip":
						e.offsetParam = pv.Name
					}
				}
			}
			if e.offsetParam == "" {
				e.limitParam = "" // a limit alone is not a page this engine cuts
			}
			for _, p := range op.Parameters {
				if pv := p.Value; pv != nil && pv.In == openapi3.ParameterInQuery && !isLocationName(pv.Name) && docSchema.Properties[pv.Name] != nil {
					e.filters = append(e.filters, pv.Name)
				}
			}
		}
	}
	return e, nil
}

// single is s, or the one schema its allOf names when it adds nothing of
// its own (a $ref with a description beside it is written that way).
func single(s *openapi3.Schema) *openapi3.Schema {
	if s != nil && len(s.AllOf) == 1 && s.AllOf[0].Value != nil && len(s.Properties) == 0 && s.Type == nil {
		return s.AllOf[0].Value
	}
	return s
}

// successSchema returns the lowest 2xx status an operation declares and its
// JSON schema (nil when it declares no body).
func successSchema(op *openapi3.Operation) (int, *openapi3.Schema) {
	for code := 200; code < 300; code++ {
		resp := op.Responses.Status(code)
		if resp == nil || resp.Value == nil {
			continue
		}
		if mt := resp.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
			return code, mt.Schema.Value
		}
		return code, nil
	}
	return 0, nil
}

// exampleOf is the value a created document gets for a required member the
// body does not send: the schema's default, else its example, else the
// zero value of its type (an object with its required members).
func exampleOf(s *openapi3.Schema) any { return exampleAt(s, 0) }

// exampleAt is exampleOf at a depth: an object gets its required members,
// each with its own example, a few levels down.
func exampleAt(s *openapi3.Schema, depth int) any {
	s = single(s)
	switch {
	case s.Default != nil:
		return s.Default
	case s.Example != nil:
		return s.Example
	case len(s.Enum) > 0:
		return s.Enum[0]
	case s.Type.Is("string"):
		return ""
	case s.Type.Is("number"), s.Type.Is("integer"):
		return 0
	case s.Type.Is("boolean"):
		return false
	case s.Type.Is("array"):
		return []any{}
	}
	out := map[string]any{}
	if depth < 4 {
		for _, name := range s.Required {
			if p := s.Properties[name]; p != nil && p.Value != nil {
				out[name] = exampleAt(p.Value, depth+1)
			}
		}
	}
	return out
}

// isLocationName reports the request members that name a location: they
// must name the token's (see call.ownLocation).
func isLocationName(name string) bool {
	return name == "locationId" || name == "location_id" || name == "altId"
}

// collection is one collection's documents, kept in insertion order so
// lists are stable.
type collection struct {
	ids  []string
	docs map[string]json.RawMessage
}

func (c *collection) put(id string, doc json.RawMessage) {
	if _, ok := c.docs[id]; !ok {
		c.ids = append(c.ids, id)
	}
	c.docs[id] = doc
}

func (c *collection) remove(id string) bool {
	if _, ok := c.docs[id]; !ok {
		return false
	}
	delete(c.docs, id)
	c.ids = slices.DeleteFunc(c.ids, func(x string) bool { return x == id })
	return true
}

// list returns the documents in insertion order.
func (c *collection) list() []json.RawMessage {
	if c == nil {
		return nil
	}
	out := make([]json.RawMessage, 0, len(c.ids))
	for _, id := range c.ids {
		out = append(out, c.docs[id])
	}
	return out
}

// coll returns a collection of the location, creating it when create is
// set. Callers hold l.mu (for writing when create is set).
func (l *locStore) coll(key string, create bool) *collection {
	c := l.docs[key]
	if c == nil && create {
		c = &collection{docs: map[string]json.RawMessage{}}
		l.docs[key] = c
	}
	return c
}

// doc returns one stored document. Callers hold l.mu.
func (l *locStore) doc(key, id string) (json.RawMessage, bool) {
	c := l.docs[key]
	if c == nil {
		return nil, false
	}
	d, ok := c.docs[id]
	return d, ok
}

// Collections of documents the hand-written handlers share with the
// engine.
const (
	collPipelines = "/opportunities/pipelines"
	collCalendars = "/calendars"
)

// collectionKey is the collection of an item (its path without the last
// segment) or of a collection operation (its path), trailing slash dropped.
func collectionKey(path string, item bool) string {
	path = strings.TrimSuffix(path, "/")
	if item {
		path = path[:strings.LastIndex(path, "/")]
	}
	return path
}

// PutDocument stores a raw JSON object in a location's engine collection
// (e.g. "/calendars", "/opportunities/pipelines"), under its "id" (or
// "_id"), replacing any document with that id. The engine answers it as it
// is, undeclared keys and odd types included, so tests can show how a
// client copes with what HighLevel really sends.
func (s *Sandbox) PutDocument(locationID, collection string, doc json.RawMessage) error {
	l, ok := s.loc(locationID)
	if !ok {
		return fmt.Errorf("no location %s", locationID)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return fmt.Errorf("document must be a JSON object: %w", err)
	}
	id, _ := m["id"].(string)
	if id == "" {
		id, _ = m["_id"].(string)
	}
	if id == "" {
		return errors.New(`document has no string "id" or "_id"`)
	}
	l.mu.Lock()
	l.coll(collectionKey(collection, false), true).put(id, slices.Clone(doc))
	l.mu.Unlock()
	return nil
}

// serve is the engine's handler for one operation.
func (e *engineOp) serve(s *Sandbox, w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	for name := range q {
		if isLocationName(name) {
			if aerr := c.ownLocation(q.Get(name)); aerr != nil {
				writeError(w, aerr)
				return
			}
		}
	}
	l := s.tokenStore(c)
	switch e.kind {
	case engineRead:
		l.mu.RLock()
		d, ok := l.doc(collectionKey(r.URL.Path, true), lastSegment(r.URL.Path))
		var b []byte
		if ok {
			b = e.answer(d)
		}
		l.mu.RUnlock()
		if !ok {
			writeError(w, errNotFound("%s not found", e.noun))
			return
		}
		writeBody(w, e.status, b)
	case engineList:
		key := collectionKey(r.URL.Path, false)
		if e.search {
			key = key[:strings.LastIndex(key, "/")]
		}
		l.mu.RLock()
		docs := l.coll(key, false).list()
		l.mu.RUnlock()
		docs = e.filter(docs, q)
		total, more := len(docs), false
		if e.limitParam != "" {
			// The request was validated: the page parameters are numbers.
			limit, _ := strconv.Atoi(q.Get(e.limitParam))
			offset, _ := strconv.Atoi(q.Get(e.offsetParam))
			offset = min(max(offset, 0), len(docs))
			end := len(docs)
			if limit > 0 {
				end = min(offset+limit, len(docs))
			}
			docs, more = docs[offset:end], end < len(docs)
		}
		writeBody(w, e.status, e.answerList(docs, total, more))
	case engineCreate:
		e.create(l, w, r, c)
	case engineMerge:
		e.merge(l, w, r, c)
	case engineRemove:
		l.mu.Lock()
		ok := false
		var gone json.RawMessage
		if cl := l.coll(collectionKey(r.URL.Path, true), false); cl != nil {
			gone = cl.docs[lastSegment(r.URL.Path)]
			ok = cl.remove(lastSegment(r.URL.Path))
		}
		l.mu.Unlock()
		if !ok {
			writeError(w, errNotFound("%s not found", e.noun))
			return
		}
		if e.echoDoc {
			writeBody(w, e.status, slices.Clone(gone)) // the deleted document, as it was
			return
		}
		b := e.answer(nil)
		if e.echoID != "" {
			id, _ := json.Marshal(lastSegment(r.URL.Path)) // a string always marshals
			b = appendMember(b[:len(b)-1], e.echoID, id)
			b = append(b, '}')
		}
		writeBody(w, e.status, b)
	}
}

func lastSegment(path string) string {
	path = strings.TrimSuffix(path, "/")
	return path[strings.LastIndex(path, "/")+1:]
}

// answer wraps a document (nil for none) in the operation's envelope, with
// its flags true. Stored documents are valid JSON (PutDocument and the
// engine's writes check it), so they are copied into the answer as they
// are rather than re-encoded, which would also re-validate every byte.
func (e *engineOp) answer(doc json.RawMessage) []byte {
	if len(e.texts) > 0 && e.envelope == "" {
		doc = nil // an answer of texts holds no document (below)
	}
	switch {
	case e.envelope == "" && len(e.flags) == 0 && doc != nil:
		return slices.Clone(doc)
	case e.envelope == "" && doc != nil:
		// A flat document with flags beside it: merge them in.
		m := map[string]json.RawMessage{}
		if err := json.Unmarshal(doc, &m); err != nil {
			return nil
		}
		for _, f := range e.flags {
			m[f] = json.RawMessage("true")
		}
		return marshal(m)
	}
	b := []byte{'{'}
	if doc != nil {
		b = appendMember(b, e.envelope, doc)
	}
	for _, f := range e.flags {
		b = appendMember(b, f, []byte("true"))
	}
	for _, m := range e.texts {
		b = appendMember(b, m[0], []byte(m[1]))
	}
	return append(b, '}')
}

// answerList answers a page of a list: its counts are the number of
// matching documents, and a hasMore flag says whether a page follows.
func (e *engineOp) answerList(docs []json.RawMessage, total int, more bool) []byte {
	arr := []byte{'['}
	for i, d := range docs {
		if i > 0 {
			arr = append(arr, ',')
		}
		arr = append(arr, d...)
	}
	arr = append(arr, ']')
	if e.envelope == "" {
		return arr
	}
	b := appendMember([]byte{'{'}, e.envelope, arr)
	for _, n := range e.counts {
		b = appendMember(b, n, strconv.AppendInt(nil, int64(total), 10))
	}
	for _, f := range e.flags {
		b = appendMember(b, f, strconv.AppendBool(nil, f != "hasMore" || more))
	}
	for _, m := range e.texts {
		b = appendMember(b, m[0], []byte(m[1]))
	}
	return append(b, '}')
}

// appendMember appends "name":value to an object being written, with a
// comma unless it is the first member.
func appendMember(b []byte, name string, value []byte) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = strconv.AppendQuote(b, name) // member names are the schema's ASCII identifiers
	b = append(b, ':')
	return append(b, value...)
}

// filter keeps the documents whose member named by a filter parameter
// equals its value (compared as text, so numbers and booleans match too).
func (e *engineOp) filter(docs []json.RawMessage, q map[string][]string) []json.RawMessage {
	var active []string
	for _, f := range e.filters {
		if len(q[f]) > 0 && q[f][0] != "" {
			active = append(active, f)
		}
	}
	if len(active) == 0 {
		return docs
	}
	var out []json.RawMessage
	for _, d := range docs {
		var m map[string]any
		if json.Unmarshal(d, &m) != nil {
			continue
		}
		keep := true
		for _, f := range active {
			keep = keep && textOf(m[f]) == q[f][0]
		}
		if keep {
			out = append(out, d)
		}
	}
	return out
}

func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// decodeObject reads a body the validator has already checked against the
// document into a JSON object.
func decodeObject(r *http.Request) (map[string]any, *apiError) {
	var m map[string]any
	if aerr := decodeBody(r, &m); aerr != nil {
		return nil, aerr
	}
	if m == nil {
		return nil, errUnprocessable("body must be an object")
	}
	return m, nil
}

func (e *engineOp) create(l *locStore, w http.ResponseWriter, r *http.Request, c *call) {
	if e.listBody {
		e.createList(l, w, r, c)
		return
	}
	body, aerr := decodeObject(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	raw, aerr := e.newDoc(l, r, c, body)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeBody(w, e.status, e.answer(raw))
}

// createList creates a document of each member of a body that is a JSON
// array (a calendar's notifications) and answers them, as a list.
func (e *engineOp) createList(l *locStore, w http.ResponseWriter, r *http.Request, c *call) {
	var bodies []map[string]any
	if aerr := decodeBody(r, &bodies); aerr != nil {
		writeError(w, aerr)
		return
	}
	if len(bodies) == 0 {
		writeError(w, errUnprocessable("body must contain at least 1 element"))
		return
	}
	docs := make([]json.RawMessage, 0, len(bodies))
	for _, body := range bodies {
		raw, aerr := e.newDoc(l, r, c, body)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		docs = append(docs, raw)
	}
	writeBody(w, e.status, e.answerList(docs, len(docs), false))
}

// newDoc stores a created document: the schema's base, the body, the
// location and the path's members, under a new id.
func (e *engineOp) newDoc(l *locStore, r *http.Request, c *call, body map[string]any) (json.RawMessage, *apiError) {
	if v, ok := body["locationId"].(string); ok {
		if aerr := c.ownLocation(v); aerr != nil {
			return nil, aerr
		}
	}
	doc := make(map[string]any, len(e.base)+len(body)+2)
	for k, v := range e.base {
		doc[k] = v
	}
	for k, v := range body {
		doc[k] = v
	}
	if e.located {
		doc["locationId"] = l.id
	}
	for _, name := range e.fromPath {
		doc[name] = r.PathValue(name)
	}
	l.mu.Lock()
	id := l.newID()
	doc[e.idKey] = id
	raw := marshal(doc)
	l.coll(collectionKey(r.URL.Path, false), true).put(id, raw)
	l.mu.Unlock()
	return raw, nil
}

func (e *engineOp) merge(l *locStore, w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := decodeObject(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	// As for a create: a body that names a location names the token's.
	if v, ok := body["locationId"].(string); ok {
		if aerr := c.ownLocation(v); aerr != nil {
			writeError(w, aerr)
			return
		}
	}
	key, id := collectionKey(r.URL.Path, true), lastSegment(r.URL.Path)
	l.mu.Lock()
	old, ok := l.doc(key, id)
	if !ok {
		l.mu.Unlock()
		writeError(w, errNotFound("%s not found", e.noun))
		return
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(old, &doc); err != nil {
		l.mu.Unlock()
		writeError(w, errBadRequest("stored %s %s is not a JSON object", e.noun, id))
		return
	}
	for k, v := range body {
		if k == e.idKey || k == "locationId" {
			continue // a record keeps its id and its location
		}
		doc[k] = marshal(v)
	}
	raw := marshal(doc)
	l.coll(key, true).put(id, raw)
	l.mu.Unlock()
	writeBody(w, e.status, e.answer(raw))
}
