package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/hlgate/hlgate/api"
	"github.com/hlgate/hlgate/internal/specexample"
	"github.com/hlgate/hlgate/limiter"
	"github.com/hlgate/hlgate/sandbox"
)

// walkParent fills the parent path parameters of the walked collections.
const walkParent = "WalkParent0000000001"

// walkOp is one generated RPC the walk drives.
type walkOp struct {
	full   string
	f      *forward
	op     *openapi3.Operation
	method string // upstream method
	rest   *annotations.HttpRule
	coll   string // the engine's collection template
}

// Every generated RPC whose operation the sandbox's engine serves is driven
// from its document alone, over gRPC and over REST: per collection, a
// create on each transport (or a stored document when the collection has
// no create), the list, the read of what was created, the update and the
// delete on each, and a read after the delete that is NOT_FOUND. A newly
// generated RPC is proved served both ways without a test of its own.
func TestEveryGeneratedRPCServesOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	// Some 150 calls: the quota is not what this test is about.
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true, RateLimit: 100_000}, limiter: limiter.Config{Limit: 100_000}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	engine := h.sb.EngineOperations()
	families := map[string][]walkOp{}
	for full, f := range forwards {
		m := methodByName(t, full)
		if m.Input().ParentFile().Path() != m.ParentFile().Path() || !slices.Contains(engine, f.row.ID) {
			continue // hand-written messages, or a hand-written sandbox handler: tested on their own
		}
		item := doc.Paths.Value(f.row.Path)
		op := item.GetOperation(f.row.Method)
		coll := h.sb.EngineCollection(f.row.ID)
		rule, _ := proto.GetExtension(m.Options().(*descriptorpb.MethodOptions), annotations.E_Http).(*annotations.HttpRule)
		families[coll] = append(families[coll], walkOp{full: full, f: f, op: op, method: f.row.Method, rest: rule, coll: coll})
	}
	if len(families) == 0 {
		t.Fatal("no generated RPC is served by the engine")
	}
	rank := map[string]int{http.MethodPost: 0, http.MethodGet: 1, http.MethodPut: 2, http.MethodPatch: 2, http.MethodDelete: 3}
	colls := make([]string, 0, len(families))
	for c := range families {
		colls = append(colls, c)
	}
	sort.Strings(colls)
	driven := 0
	for _, coll := range colls {
		ops := families[coll]
		sort.SliceStable(ops, func(i, j int) bool {
			if rank[ops[i].method] != rank[ops[j].method] {
				return rank[ops[i].method] < rank[ops[j].method]
			}
			return ops[i].full < ops[j].full
		})
		t.Run(coll, func(t *testing.T) {
			var ids []string
			for _, w := range ops {
				if w.method != http.MethodPost {
					continue
				}
				ids = append(ids, w.grpc(t, h, ctx, loc, ""), w.restCall(t, h, loc, ""))
			}
			if len(ids) == 0 {
				// No create: store two documents of the read's shape.
				ids = []string{"WalkDoc0000000000001", "WalkDoc0000000000002"}
				for _, id := range ids {
					b, _ := json.Marshal(map[string]any{"id": id, "_id": id, "locationId": loc})
					famOps := make([]*openapi3.Operation, len(ops))
					for i, w := range ops {
						famOps[i] = w.op
					}
					if err := h.sb.PutDocument(loc, specexample.FillPath(coll, loc, walkParent, famOps...), b); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, w := range ops {
				switch w.method {
				case http.MethodPost:
				case http.MethodGet:
					w.grpc(t, h, ctx, loc, ids[0])
					w.restCall(t, h, loc, ids[len(ids)-1])
				case http.MethodDelete:
					w.grpc(t, h, ctx, loc, ids[0])
					w.restCall(t, h, loc, ids[len(ids)-1])
					for _, r := range ops {
						if path := strings.TrimSuffix(r.f.row.Path, "/"); r.method == http.MethodGet && strings.HasSuffix(path, "}") && len(path) > len(r.coll) {
							r.expectNotFound(t, h, ctx, loc, ids[0])
						}
					}
				default:
					w.grpc(t, h, ctx, loc, ids[0])
					w.restCall(t, h, loc, ids[len(ids)-1])
				}
				driven++
			}
		})
	}
	t.Logf("drove %d generated RPCs over gRPC and REST", driven)
}

// methodByName finds a method's descriptor by its full gRPC name.
func methodByName(t *testing.T, full string) protoreflect.MethodDescriptor {
	t.Helper()
	svc, name, _ := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(name))
}

// values is the request of w as JSON names and values: the subject, the
// path parameters (the item's id last), the required query parameters and
// the body's required members.
func (w walkOp) values(loc, id string) map[string]any {
	v := map[string]any{}
	switch b := specexample.Body(w.op).(type) {
	case map[string]any:
		for k, x := range b {
			v[k] = x
		}
	case []any:
		v[upstreamName(w.f.body)] = b // a body that is a list: the request's list field
	}
	for k, x := range specexample.Query(w.op, loc) {
		v[k] = x
	}
	for _, p := range w.f.params {
		if p.In == "path" {
			v[p.Name] = walkParent
			if e, ok := specexample.PathEnum(w.op, p.Name); ok {
				v[p.Name] = e // a collection named by an enum (a resource type)
			}
		}
	}
	if path := strings.TrimSuffix(w.f.row.Path, "/"); strings.HasSuffix(path, "}") && id != "" && len(path) > len(w.coll) {
		v[path[strings.LastIndex(path, "{")+1:len(path)-1]] = id
	}
	delete(v, "locationId")
	if w.f.row.Location != nil {
		delete(v, w.f.row.Location.Name)
	}
	v["locationId"] = loc
	return v
}

// grpc calls w over gRPC and returns the id of what it answered.
func (w walkOp) grpc(t *testing.T, h *harness, ctx context.Context, loc, id string) string {
	t.Helper()
	b, _ := json.Marshal(w.values(loc, id))
	in := w.f.in.New().Interface()
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, in); err != nil {
		t.Fatalf("%s: request %s: %v", w.full, b, err)
	}
	out := w.f.out.New().Interface()
	if err := h.conn.Invoke(ctx, w.full, in, out); err != nil {
		t.Fatalf("%s %s: %v", w.full, b, err)
	}
	ans, _ := protojson.Marshal(out)
	return answerID(ans)
}

// expectNotFound reads id over gRPC and wants NOT_FOUND.
func (w walkOp) expectNotFound(t *testing.T, h *harness, ctx context.Context, loc, id string) {
	t.Helper()
	b, _ := json.Marshal(w.values(loc, id))
	in := w.f.in.New().Interface()
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, in); err != nil {
		t.Fatal(err)
	}
	if err := h.conn.Invoke(ctx, w.full, in, w.f.out.New().Interface()); status.Code(err) != codes.NotFound {
		t.Fatalf("%s after the delete: %v, want NOT_FOUND", w.full, err)
	}
}

// restCall calls w through the gateway and returns the id it answered.
func (w walkOp) restCall(t *testing.T, h *harness, loc, id string) string {
	t.Helper()
	method, tmpl := httpRoute(w.rest)
	vals := w.values(loc, id)
	in := w.f.in.New().Interface()
	b, _ := json.Marshal(vals)
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, in); err != nil {
		t.Fatal(err)
	}
	// The path's variables are the request's fields by proto name.
	path := tmpl
	m := in.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if v := "{" + string(fd.Name()) + "}"; strings.Contains(path, v) {
			path = strings.ReplaceAll(path, v, url.PathEscape(m.Get(fd).String()))
			m.Clear(fd)
		}
	}
	var body *bytes.Reader
	if w.rest.GetBody() == "*" {
		jb, err := protojson.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(jb)
	} else {
		q := url.Values{}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fd.Kind() != protoreflect.MessageKind && !fd.IsList() {
				q.Set(fd.JSONName(), v.String())
			}
			return true
		})
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		body = bytes.NewReader(nil)
	}
	code, _, ans := h.rest(method, path, "", body)
	if code != http.StatusOK {
		t.Fatalf("%s %s = %d %s", method, path, code, ans)
	}
	return answerID(ans)
}

// answerID is the id of an answer: its own, or its first object member's
// (or that of the first document of a list member).
func answerID(b []byte) string {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	for _, k := range []string{"id", "_id"} {
		if id, ok := m[k].(string); ok && id != "" {
			return id
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if l, ok := m[k].([]any); ok && len(l) > 0 {
			m[k] = l[0] // a list that is the answer: its first document
		}
		if o, ok := m[k].(map[string]any); ok {
			for _, ik := range []string{"id", "_id"} {
				if id, ok := o[ik].(string); ok && id != "" {
					return id
				}
			}
		}
	}
	return ""
}
