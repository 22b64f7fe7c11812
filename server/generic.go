package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oapi-codegen/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hlgate/hlgate/gen/highlevel"
	"github.com/hlgate/hlgate/gen/optable"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/jsonproto"
)

// The generic call path. An RPC that names its upstream operation
// ((hlgate.v1.upstream).operation_id) and needs no behaviour of its own is
// served by one handler built at start from its descriptors and its row of
// the operation table:
//
//   - each path and query parameter of the row is bound to the request field
//     of the same upstream name (the field's (hlgate.v1.wire).name, else its
//     JSON name); the body is the request field the RPC names as its body,
//     encoded by JSON name (internal/jsonproto), plus the request's other
//     fields that the document's body declares (a create's locationId);
//   - a request field that reaches neither a parameter nor the body fails
//     the start: nothing a caller sets is silently dropped;
//   - the request is validated from declarations: path parameters are ids,
//     the document's required parameters and body properties and the
//     proto's REQUIRED fields are present;
//   - HighLevel's answer is decoded straight into the response by JSON name,
//     without loss (jsonproto.Decode).
//
//   - a paged RPC pages through its row's pager behind one page_token
//     (pagers.go); parameters the row fills (x-hlgate.fill: payments'
//     altId and altType) are sent without a request field, and a bare
//     answer (x-hlgate.bare) is the response's resource itself.
//
// Hand-written handlers remain for RPCs whose semantics need them (free
// slots, windows of events, the rules of a search's filters); handWritten
// lists them and says why.

// handWritten lists the forwarding RPCs that keep a hand-written handler, by
// full method name, with the behaviour that needs it. Every other forwarding
// RPC is served by the generic path.
var handWritten = map[string]string{
	hlgatev1.ContactsService_SearchContacts_FullMethodName: "checks the filter tree (groups versus conditions, nesting depth, values by operator) and sort entries, which no declared rule expresses yet; its searchAfter pager is declared in the row",
	hlgatev1.CalendarsService_GetFreeSlots_FullMethodName:  "turns the day-keyed answer into a half-open window in the caller's time zone",
	hlgatev1.CalendarsService_ListEvents_FullMethodName:    "filters HighLevel's closed window to a half-open one",
}

// A forward is the generic handler of one RPC.
type forward struct {
	method  string // full gRPC method name
	row     *optable.Op
	in, out protoreflect.MessageType

	params  []boundParam
	fills   []optable.Param                // parameters hlgate always sends (x-hlgate.fill): a fixed value, or another parameter's
	body    protoreflect.FieldDescriptor   // the request field encoded as the body; nil when the request's own fields are
	bodyTop []protoreflect.FieldDescriptor // request fields sent as top-level body properties
	mask    protoreflect.FieldDescriptor   // update_mask, when the request has one
	subject protoreflect.FieldDescriptor   // location_id: whose token and quota the call spends
	paging  *pagedRPC                      // nil when the operation does not page
	// resource is the response's one message field (contact), when it has
	// exactly one beside flags (created, success): an answer without it is
	// an error, and a resource that names another location is not found. A
	// response with other members (an id, a status) is the resource itself,
	// flat (a message), and its one message field an optional member of it
	// (its meta).
	resource protoreflect.FieldDescriptor
	// bareList is the response's list that a bare array answer fills (a
	// calendar's notifications); nil otherwise.
	bareList protoreflect.FieldDescriptor
	// form: the body is multipart/form-data, the request's fields encoded
	// as a form (files.go).
	form bool
	// bytes: the answer is bytes, not JSON; the response is a
	// google.api.HttpBody (files.go).
	bytes bool
	// restRoute is the RPC's google.api.http rule (for the REST bound of a
	// form, files.go).
	restRoute *annotations.HttpRule
	// noMembers is set when the response declares no member beside
	// unmapped (the document gives the answer no schema): an empty answer
	// is then an answer, not a lost body.
	noMembers bool
}

// boundParam is a path or query parameter and the request field that fills it.
type boundParam struct {
	optable.Param
	fd protoreflect.FieldDescriptor
}

// upstreamName is the key HighLevel uses for fd (jsonproto.ReadKey).
func upstreamName(fd protoreflect.FieldDescriptor) string { return jsonproto.ReadKey(fd) }

// fieldRule is what a field declares for requests: its field behaviors
// and its (hlgate.v1.check). Read once per field and kept, since every
// request walks them.
type fieldRule struct {
	required, outputOnly bool
	// optional is set for a response field the document says may be null
	// (OPTIONAL): an answer without it is an answer, not a missing body.
	optional bool
	check    *hlgatev1.Check
}

// fieldRules caches fieldRule by field descriptor.
var fieldRules sync.Map

func ruleOf(fd protoreflect.FieldDescriptor) *fieldRule {
	if r, ok := fieldRules.Load(fd); ok {
		return r.(*fieldRule)
	}
	r := &fieldRule{}
	if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts != nil {
		b, _ := proto.GetExtension(opts, annotations.E_FieldBehavior).([]annotations.FieldBehavior)
		r.required = slices.Contains(b, annotations.FieldBehavior_REQUIRED)
		r.outputOnly = slices.Contains(b, annotations.FieldBehavior_OUTPUT_ONLY)
		r.optional = slices.Contains(b, annotations.FieldBehavior_OPTIONAL)
		r.check, _ = proto.GetExtension(opts, hlgatev1.E_Check).(*hlgatev1.Check)
	}
	actual, _ := fieldRules.LoadOrStore(fd, r)
	return actual.(*fieldRule)
}

// newForward binds an RPC to its row, or says why it cannot be.
func newForward(m protoreflect.MethodDescriptor, row *optable.Op) (*forward, error) {
	full := "/" + string(m.Parent().FullName()) + "/" + string(m.Name())
	fail := func(format string, a ...any) (*forward, error) {
		return nil, fmt.Errorf("%s (%s): %s", full, row.ID, fmt.Sprintf(format, a...))
	}
	f := &forward{method: full, row: row, in: messageType(m.Input()), out: messageType(m.Output())}
	req := m.Input()
	byName := map[string]protoreflect.FieldDescriptor{}
	for i := 0; i < req.Fields().Len(); i++ {
		fd := req.Fields().Get(i)
		byName[upstreamName(fd)] = fd
	}
	used := map[protoreflect.Name]bool{}
	for _, p := range row.Params {
		if pageOwner(row, p.In, p.Name) {
			if _, ok := byName[p.Name]; ok {
				return fail("the %s parameter %q is the pager's, and no request field may fill it", p.In, p.Name)
			}
			continue
		}
		if p.Value != "" || p.From != "" {
			if _, ok := byName[p.Name]; ok {
				return fail("the %s parameter %q is filled by the operation table, and no request field may fill it", p.In, p.Name)
			}
			f.fills = append(f.fills, p)
			continue
		}
		fd, ok := byName[p.Name]
		if !ok {
			if p.Required {
				return fail("the request has no field for the required %s parameter %q", p.In, p.Name)
			}
			continue
		}
		if fd.IsList() && p.Type != "array" || fd.Kind() == protoreflect.MessageKind {
			return fail("field %s cannot fill the %s parameter %q", fd.Name(), p.In, p.Name)
		}
		f.params = append(f.params, boundParam{Param: p, fd: fd})
		used[fd.Name()] = true
	}
	for _, p := range f.fills {
		if p.From != "" && !slices.ContainsFunc(f.params, func(b boundParam) bool { return b.Name == p.From && b.In == "query" }) {
			return fail("the %s parameter %q copies %q, which no request field fills", p.In, p.Name, p.From)
		}
	}
	subject := subjectField(row)
	f.subject = req.Fields().ByName(subject)
	if f.subject == nil || f.subject.Kind() != protoreflect.StringKind {
		return fail("the request has no %s, so the call has no subject", subject)
	}
	paging, err := bindPaging(m, row, used)
	if err != nil {
		return fail("%v", err)
	}
	f.paging = paging
	if fd := req.Fields().ByName("update_mask"); fd != nil && fd.Message() != nil && fd.Message().FullName() == "google.protobuf.FieldMask" {
		f.mask = fd
		used[fd.Name()] = true
	}
	if name := bodyFieldOf(m); name != "" && name != "*" {
		fd := req.Fields().ByName(protoreflect.Name(name))
		if fd == nil || fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
			return fail("the body field %q is not a message field of the request", name)
		}
		f.body = fd
		used[fd.Name()] = true
	}
	var props []string
	if row.Body != nil {
		props = row.Body.Props
	}
	for i := 0; i < req.Fields().Len(); i++ {
		fd := req.Fields().Get(i)
		if used[fd.Name()] {
			continue
		}
		if slices.Contains(props, upstreamName(fd)) && !pageOwner(row, "body", upstreamName(fd)) {
			f.bodyTop = append(f.bodyTop, fd)
			continue
		}
		if fd == f.subject {
			continue // names the subject only
		}
		return fail("request field %s reaches no parameter or body property of the operation", fd.Name())
	}
	if (f.body != nil || len(f.bodyTop) > 0) && row.Body == nil {
		return fail("the operation takes no body")
	}
	if row.Body != nil && row.Body.ContentType == formMediaType {
		f.form = true
		f.restRoute, _ = proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
		if f.body != nil {
			return fail("a multipart/form-data body is the request's own fields, not the field %s", f.body.Name())
		}
		if err := checkFormFields(f.bodyTop); err != nil {
			return fail("%v", err)
		}
	}
	if answersBytes(m.Output()) {
		if row.MaxBytes == 0 || f.paging != nil {
			return fail("an answer of bytes needs the row's MaxBytes (x-hlgate.maxBytes) and does not page")
		}
		f.bytes = true
		return f, nil
	}
	var msgs, lists []protoreflect.FieldDescriptor
	flat := false // a member beside the message fields and flags
	res := m.Output()
	f.noMembers = true
	for i := 0; i < res.Fields().Len(); i++ {
		fd := res.Fields().Get(i)
		if fd.Name() != jsonproto.UnmappedField {
			f.noMembers = false
		}
		if fd.IsList() && fd.Kind() == protoreflect.MessageKind {
			lists = append(lists, fd)
		}
		switch {
		case fd.Name() == jsonproto.UnmappedField:
		case fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap():
			msgs = append(msgs, fd)
		case fd.Kind() != protoreflect.BoolKind || fd.IsList():
			flat = true
		}
	}
	if len(msgs) == 1 && (!flat || row.Bare) {
		f.resource = msgs[0]
	}
	if row.Bare && f.resource == nil && len(lists) == 1 {
		// A bare list: HighLevel answers a JSON array, the response's one
		// list of messages.
		f.bareList = lists[0]
	}
	switch {
	case row.Bare && f.resource == nil && f.bareList == nil:
		return fail("the answer is the resource itself (bare), so the response needs exactly one message field, or one list of messages")
	case row.Bare && f.resource != nil && f.paging != nil:
		return fail("a bare resource does not page")
	}
	return f, nil
}

// subjectField is the request field that names whose token and quota a
// call spends: location_id, or company_id for an agency operation (one that
// names a company and no location).
func subjectField(row *optable.Op) protoreflect.Name {
	if row.Location == nil && row.Company != nil {
		return "company_id"
	}
	return "location_id"
}

// messageType is the generated type of md, or a dynamic one for a message
// no generated code registered (tests build such methods).
func messageType(md protoreflect.MessageDescriptor) protoreflect.MessageType {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil {
		return mt
	}
	return dynamicpb.NewMessageType(md)
}

// bodyFieldOf is the request field the RPC sends upstream as its body: the
// option's body, else the google.api.http rule's.
func bodyFieldOf(m protoreflect.MethodDescriptor) string {
	opts, ok := m.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return ""
	}
	if u, _ := proto.GetExtension(opts, hlgatev1.E_Upstream).(*hlgatev1.UpstreamOperation); u.GetBody() != "" {
		return u.GetBody()
	}
	h, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
	return h.GetBody()
}

// handler is the gRPC method handler of the RPC.
func (f *forward) handler(s *Server) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		in := f.in.New().Interface()
		if err := dec(in); err != nil {
			return nil, err
		}
		call := func(ctx context.Context, req any) (any, error) {
			return f.call(ctx, s, req.(proto.Message))
		}
		if interceptor == nil {
			return call(ctx, in)
		}
		return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: f.method}, call)
	}
}

// call validates the request, sends the operation and decodes the answer.
func (f *forward) call(ctx context.Context, s *Server, in proto.Message) (proto.Message, error) {
	var pg page
	if f.paging != nil {
		var err error
		if pg, err = s.openPage(f.method, f.paging, in); err != nil {
			return nil, err
		}
	}
	req, err := f.request(in, f.paging.request(pg))
	if err != nil {
		return nil, err
	}
	subject := in.ProtoReflect().Get(f.subject).String()
	resp, err := s.send(upstreamCtx(ctx, subject), req)
	if f.bytes {
		return f.answerBytes(ctx, resp, err)
	}
	b, err := readUpstream(resp, err)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		// An empty 2xx answer: the whole answer of an operation whose
		// response declares no members, a lost body of any other.
		if !f.noMembers {
			return nil, errMissingBody
		}
		b = []byte("{}")
	}
	out := f.out.New().Interface()
	ap, err := f.decode(ctx, s, b, out)
	if err != nil {
		return nil, err
	}
	// A location's call answers that location's resources; a company's
	// answers resources of its locations, which caller auth checked.
	location := ""
	if f.subject.Name() == "location_id" {
		location = subject
	}
	if f.paging != nil {
		if err := checkItemsLocation(location, out.ProtoReflect().Get(f.paging.items).List()); err != nil {
			return nil, err
		}
		if f.paging.pager != nil {
			err = s.upstreamPage(f.method, f.paging, pg, ap, in, out)
		} else {
			err = s.clientPage(f.method, f.paging, pg, in, out)
		}
		if err != nil {
			return nil, err
		}
	}
	if f.resource != nil {
		m := out.ProtoReflect()
		if !m.Has(f.resource) && ruleOf(f.resource).optional {
			return out, nil // null where the document allows it: nothing found
		}
		if !m.Has(f.resource) {
			return nil, errMissingBody
		}
		if err := inLocation(location, m.Get(f.resource).Message()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decode decodes HighLevel's answer into out, the response. An answer
// that is the response's own object streams into it (jsonproto.Decode);
// one whose envelope the call reads itself (a page and its cursor, a bare
// resource or list) is parsed first.
func (f *forward) decode(ctx context.Context, s *Server, b []byte, out proto.Message) (answerPage, error) {
	var ap answerPage
	paged := f.paging != nil && f.paging.pager != nil
	switch {
	case f.bareList != nil || f.row.Bare:
		// The answer is not the response's object: the tree below.
	case paged:
		// A page streams too, its paging state taken out as take takes it.
		pg, rep, err := jsonproto.DecodePage(b, out, f.paging.spec)
		if err != nil {
			return ap, fmt.Errorf("decode HighLevel's answer to %s: %w", f.row.ID, err)
		}
		if f.row.Confirm != "" {
			if err := f.confirmedBy(pg.Taken[f.row.Confirm]); err != nil {
				return ap, err
			}
		}
		if ap, err = f.paging.fromPage(pg); err != nil {
			return ap, fmt.Errorf("decode HighLevel's answer to %s: %w", f.row.ID, err)
		}
		s.countUnmapped(ctx, rep)
		return ap, nil
	default:
		said, rep, err := jsonproto.DecodeWithout(b, out, f.row.Confirm)
		if err != nil {
			return ap, fmt.Errorf("decode HighLevel's answer to %s: %w", f.row.ID, err)
		}
		if err := f.confirmedBy(said); err != nil {
			return ap, err
		}
		s.countUnmapped(ctx, rep)
		return ap, nil
	}
	obj, err := f.answer(b)
	if err != nil {
		return ap, fmt.Errorf("decode HighLevel's answer to %s: %w", f.row.ID, err)
	}
	if err := f.confirmed(obj); err != nil {
		return ap, err
	}
	if paged {
		if ap, err = f.paging.take(obj); err != nil {
			return ap, fmt.Errorf("decode HighLevel's answer to %s: %w", f.row.ID, err)
		}
	}
	s.countUnmapped(ctx, jsonproto.DecodeMap(obj, out))
	return ap, nil
}

// answer parses HighLevel's answer, with numbers kept as json.Number
// (jsonproto.DecodeMap needs them), as the object the response decodes: the
// answer itself, or for a bare operation an object that holds it under the
// response's resource or list.
func (f *forward) answer(b []byte) (map[string]any, error) {
	v, err := decodeAnswer(b)
	if err != nil {
		return nil, err
	}
	if f.bareList != nil {
		if _, ok := v.([]any); !ok {
			return nil, fmt.Errorf("want a JSON array, got %T", v)
		}
		return map[string]any{upstreamName(f.bareList): v}, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a JSON object, got %T", v)
	}
	if f.row.Bare {
		obj = map[string]any{upstreamName(f.resource): obj}
	}
	return obj, nil
}

// answerObject parses an answer that must be a JSON object (as
// forward.answer does).
func answerObject(b []byte) (map[string]any, error) {
	v, err := decodeAnswer(b)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a JSON object, got %T", v)
	}
	return obj, nil
}

// decodeAnswer parses HighLevel's JSON with numbers kept as json.Number;
// anything after the value but whitespace is an error.
func decodeAnswer(b []byte) (any, error) {
	return jsonproto.Parse(b)
}

// inLocation refuses a resource that names another location than the
// call's (sameLocation); location is "" for a company's call, which checks
// nothing here.
func inLocation(location string, r protoreflect.Message) error {
	if location == "" {
		return nil
	}
	if fd := r.Descriptor().Fields().ByName("location_id"); fd != nil && fd.Kind() == protoreflect.StringKind {
		got := r.Get(fd).String()
		return sameLocation(location, &got)
	}
	return nil
}

// checkItemsLocation applies inLocation to every resource of a list.
func checkItemsLocation(location string, l protoreflect.List) error {
	for i := 0; i < l.Len(); i++ {
		if err := inLocation(location, l.Get(i).Message()); err != nil {
			return err
		}
	}
	return nil
}

// upstreamRequest is an operation's request, before it is bound to a server.
type upstreamRequest struct {
	method, path string
	query        url.Values
	body         []byte // nil without a body
	contentType  string
}

// request builds the upstream request from the RPC's and the pager's
// values, or the violations that keep it from being sent.
func (f *forward) request(in proto.Message, paging []pagerValue) (*upstreamRequest, error) {
	m := in.ProtoReflect()
	var v violations
	v.id(string(f.subject.Name()), m.Get(f.subject).String())
	requiredFields(m, "", f.mask == nil, &v)
	checkFields(m, "", &v)
	r := &upstreamRequest{method: f.row.Method, path: f.row.Path, query: url.Values{}}
	for _, p := range f.params {
		f.bindParam(m, p, r, &v)
	}
	for _, p := range f.fills {
		val := p.Value
		if p.From != "" {
			val = r.query.Get(p.From)
		}
		if val != "" {
			r.query.Set(p.Name, val)
		}
	}
	pageBody := map[string]any{}
	for _, pv := range paging {
		if pv.In == "query" {
			r.query[pv.Name] = queryTexts(pv.value)
		} else {
			pageBody[pv.Name] = pv.value
		}
	}
	var paths []string
	if f.mask != nil && m.Has(f.mask) {
		mask := m.Get(f.mask).Message().Interface().(*fieldmaskpb.FieldMask)
		for _, p := range mask.GetPaths() {
			paths = append(paths, snakePath(p))
		}
		if len(paths) == 0 {
			v.add(string(f.mask.Name()), "names no field")
		}
	}
	// A declared JSON body is always sent, {} when nothing fills it: the
	// document's validation wants its media type.
	if f.body != nil && f.body.IsList() {
		// The body is a JSON array (a calendar's notifications): the list
		// field itself, which is REQUIRED (opgen declares it so).
		if err := v.err(); err != nil {
			return nil, err
		}
		enc, err := encodeField(m, f.body)
		if err != nil {
			return nil, encodeViolation(err, "", nil, &v)
		}
		if r.body, err = json.Marshal(enc); err != nil {
			return nil, fmt.Errorf("encode the body of %s: %w", f.row.ID, err)
		}
		r.contentType = f.row.Body.ContentType
		return r, nil
	}
	if f.form {
		r.body, r.contentType = f.encodeForm(m, &v)
	}
	if f.row.Body != nil && f.row.Body.ContentType == "application/json" {
		body, err := f.encodeBody(m, paths, pageBody, &v)
		if err != nil {
			return nil, err
		}
		if err := v.err(); err != nil {
			return nil, err
		}
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode the body of %s: %w", f.row.ID, err)
		}
		r.body, r.contentType = b, f.row.Body.ContentType
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return r, nil
}

// bindParam puts one parameter in the path or the query, the way the
// generated client does (oapi-codegen's runtime styles it).
func (f *forward) bindParam(m protoreflect.Message, p boundParam, r *upstreamRequest, v *violations) {
	field := string(p.fd.Name())
	if !m.Has(p.fd) {
		if p.Required {
			v.add(field, "is required")
		}
		return
	}
	val := m.Get(p.fd)
	if p.In == "path" {
		s, ok := val.Interface().(string)
		if !ok {
			v.add(field, "must be a string")
			return
		}
		if !v.id(field, s) {
			return
		}
		// An id holds only characters a path segment keeps as they are,
		// so its "simple" style is the id itself, with nothing to escape.
		r.path = strings.Replace(r.path, "{"+p.Name+"}", s, 1)
		return
	}
	enc, err := encodeField(m, p.fd)
	if err != nil {
		v.add(field, "%v", err)
		return
	}
	var value any = paramText(enc)
	if l, ok := enc.([]any); ok {
		vals := make([]string, len(l))
		for i, e := range l {
			vals[i] = paramText(e)
		}
		value = vals
	}
	frag, err := runtime.StyleParamWithLocation("form", true, p.Name, runtime.ParamLocationQuery, value)
	if err != nil {
		v.add(field, "%v", err)
		return
	}
	q, err := url.ParseQuery(frag)
	if err != nil {
		v.add(field, "%v", err)
		return
	}
	for k, vs := range q {
		r.query[k] = append(r.query[k], vs...)
	}
}

// encodeField is one set field of m as HighLevel's JSON spells it.
func encodeField(m protoreflect.Message, fd protoreflect.FieldDescriptor) (any, error) {
	enc, err := jsonproto.Encode(m.Interface(), jsonproto.EncodeOptions{Paths: []string{string(fd.Name())}})
	if err != nil {
		return nil, err
	}
	return enc[jsonproto.WriteKey(fd)], nil
}

// paramText is a JSON scalar as a query parameter spells it.
func paramText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// encodeBody is the upstream body: the body field's message by JSON name
// and the request's top-level body fields. Without a mask only the fields
// the caller set are sent, and a field the operation's body does not
// declare (a read-only one, such as companyName on an update) is left out:
// a resource read and written back must succeed. A mask that names one is
// refused, since the caller asked for a change HighLevel cannot make.
func (f *forward) encodeBody(m protoreflect.Message, paths []string, paging map[string]any, v *violations) (map[string]any, error) {
	props := f.row.Body.Props
	body := maps.Clone(paging)
	if f.body != nil && m.Has(f.body) {
		res := m.Get(f.body).Message()
		for _, p := range paths {
			top := strings.SplitN(p, ".", 2)[0]
			fd := f.body.Message().Fields().ByName(protoreflect.Name(top))
			if fd == nil || outputOnly(fd) {
				continue
			}
			if !slices.Contains(props, upstreamName(fd)) {
				v.add(string(f.mask.Name()), "%q cannot be changed by %s (HighLevel's body takes no %s)", p, f.row.ID, upstreamName(fd))
				continue
			}
			// A mask may clear a field, but not one that must have a value.
			if top == p && !res.Has(fd) && (ruleOf(fd).required || checkOf(fd).GetNonEmpty()) {
				v.add(string(f.body.Name())+"."+p, "is named by %s and cannot be emptied", f.mask.Name())
			}
		}
		enc, err := jsonproto.Encode(m.Get(f.body).Message().Interface(), jsonproto.EncodeOptions{Paths: paths})
		if err != nil {
			return nil, encodeViolation(err, string(f.body.Name())+".", f.mask, v)
		}
		for k, val := range enc {
			if slices.Contains(props, k) {
				body[k] = val
			}
		}
		f.dropOutputOnlyValues(res, body, paths, v)
	} else if f.body != nil && paths != nil {
		v.add(string(f.body.Name()), "is required with %s", f.mask.Name())
	}
	for _, fd := range f.bodyTop {
		if !m.Has(fd) {
			continue
		}
		enc, err := encodeField(m, fd)
		if err != nil {
			return nil, encodeViolation(err, "", nil, v)
		}
		body[upstreamName(fd)] = enc
	}
	if f.mask != nil && f.body != nil && len(body) == len(paging) {
		v.add(string(f.mask.Name()), "names no field to change")
	}
	for _, req := range f.row.Body.RequiredOf {
		if _, ok := body[req]; !ok {
			v.addOnce(f.fieldFor(req), "is required")
		}
	}
	return body, nil
}

// dropOutputOnlyValues leaves out of the body each top-level enum field of
// the resource whose value HighLevel answers but does not take
// ((hlgate.v1.output_only_value)): a resource read and written back keeps
// its other fields. A create that sets one, or a mask that names such a
// field, is refused.
func (f *forward) dropOutputOnlyValues(res protoreflect.Message, body map[string]any, paths []string, v *violations) {
	res.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		if fd.Kind() != protoreflect.EnumKind || fd.IsList() || fd.IsMap() {
			return true
		}
		ev := fd.Enum().Values().ByNumber(val.Enum())
		if ev == nil || !outputOnlyValue(ev) {
			return true
		}
		delete(body, jsonproto.WriteKey(fd))
		// An update without a mask writes back what was read and leaves
		// the value out; a create, or a mask that names the field, asks
		// for what HighLevel cannot do.
		if f.mask == nil || slices.Contains(paths, string(fd.Name())) {
			v.add(string(f.body.Name())+"."+string(fd.Name()), "%s is set by HighLevel and cannot be written", ev.Name())
		}
		return true
	})
}

func outputOnlyValue(ev protoreflect.EnumValueDescriptor) bool {
	opts, ok := ev.Options().(*descriptorpb.EnumValueOptions)
	if !ok || opts == nil {
		return false
	}
	b, _ := proto.GetExtension(opts, hlgatev1.E_OutputOnlyValue).(bool)
	return b
}

// encodeViolation turns a caller's mistake that Encode found (a mask path
// that names nothing, a value JSON cannot carry) into a violation, and
// returns any other error.
func encodeViolation(err error, prefix string, mask protoreflect.FieldDescriptor, v *violations) error {
	var pe *jsonproto.PathError
	var fe *jsonproto.FieldError
	switch {
	case errors.As(err, &pe) && mask != nil:
		v.add(string(mask.Name()), "%q: %s", pe.Path, pe.Reason)
	case errors.As(err, &fe):
		v.add(prefix+fe.Field, "%s", fe.Reason)
	default:
		return err
	}
	return nil
}

// fieldFor names, in proto terms, the field that fills body property prop.
func (f *forward) fieldFor(prop string) string {
	for _, fd := range f.bodyTop {
		if upstreamName(fd) == prop {
			return string(fd.Name())
		}
	}
	if f.body != nil {
		fields := f.body.Message().Fields()
		for i := 0; i < fields.Len(); i++ {
			if fd := fields.Get(i); upstreamName(fd) == prop {
				return string(f.body.Name()) + "." + string(fd.Name())
			}
		}
		return string(f.body.Name())
	}
	return prop
}

// outputOnly reports whether fd is OUTPUT_ONLY: writes ignore it.
func outputOnly(fd protoreflect.FieldDescriptor) bool { return ruleOf(fd).outputOnly }

// requiredFields reports the request's REQUIRED fields that are unset, by
// path, through set messages and lists of messages. A resource's REQUIRED
// fields bind a create; an update (a request with an update_mask) changes
// only what it names, so resources is false there and only the request's
// own fields are checked.
func requiredFields(m protoreflect.Message, prefix string, resources bool, v *violations) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		name := prefix + string(fd.Name())
		if ruleOf(fd).required && !m.Has(fd) {
			v.addOnce(name, "is required")
			continue
		}
		if !resources || fd.Kind() != protoreflect.MessageKind || fd.IsMap() || !m.Has(fd) {
			continue
		}
		if !fd.IsList() {
			requiredFields(m.Get(fd).Message(), name+".", resources, v)
			continue
		}
		l := m.Get(fd).List()
		for j := 0; j < l.Len(); j++ {
			requiredFields(l.Get(j).Message(), name+"["+strconv.Itoa(j)+"].", resources, v)
		}
	}
}

// checkFields applies every (hlgate.v1.check) of the set fields of m,
// through set messages and lists of messages.
func checkFields(m protoreflect.Message, prefix string, v *violations) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		other := checkOf(fd).GetEither()
		if other == "" || m.Has(fd) {
			continue
		}
		if sib := fields.ByName(protoreflect.Name(other)); sib == nil || !m.Has(sib) {
			v.add(prefix+string(fd.Name()), "%s or %s is required", fd.Name(), other)
		}
	}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if other := checkOf(fd).GetNotBefore(); other != "" && m.Has(fd) {
			notBefore(m, fd, fields.ByName(protoreflect.Name(other)), prefix, v)
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		name := prefix + string(fd.Name())
		if c := checkOf(fd); c != nil {
			applyCheck(c, fd, val, name, v)
			if other := c.GetAfter(); other != "" {
				checkAfter(m, fd, fields.ByName(protoreflect.Name(other)), name, v)
			}
			if cond := c.GetOnlyIf(); cond != nil {
				checkOnlyIf(m, cond, fields.ByName(protoreflect.Name(cond.GetField())), prefix, name, v)
			}
		}
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			l := val.List()
			for i := 0; i < l.Len(); i++ {
				checkFields(l.Get(i).Message(), name+"["+strconv.Itoa(i)+"].", v)
			}
			return true
		}
		checkFields(val.Message(), name+".", v)
		return true
	})
}

func checkOf(fd protoreflect.FieldDescriptor) *hlgatev1.Check { return ruleOf(fd).check }

// applyCheck checks one field's value against its declared rule.
func applyCheck(c *hlgatev1.Check, fd protoreflect.FieldDescriptor, val protoreflect.Value, name string, v *violations) {
	if fd.IsList() {
		l := val.List()
		if c.GetNonEmpty() && l.Len() == 0 {
			v.add(name, "needs at least one element")
		}
		if n := int(c.GetMaxLen()); n > 0 && l.Len() > n {
			v.add(name, "takes at most %d elements, not %d", n, l.Len())
			return // the elements of an oversized list are not worth reporting one by one
		}
		if fd.Kind() == protoreflect.StringKind {
			for i := 0; i < l.Len(); i++ {
				checkString(c.GetFormat(), int(c.GetMaxItemLen()), l.Get(i).String(), name+"["+strconv.Itoa(i)+"]", v)
			}
		}
		return
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		checkString(c.GetFormat(), int(c.GetMaxLen()), val.String(), name, v)
		if p := c.GetPrefix(); p != "" && val.String() != "" && !strings.HasPrefix(val.String(), p) {
			v.add(name, "must start with %q", p)
		}
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		if c.Min != nil && val.Float() < c.GetMin() {
			v.add(name, "must be at least %g", c.GetMin())
		}
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		if c.Min != nil && float64(val.Int()) < c.GetMin() {
			v.add(name, "must be at least %g", c.GetMin())
		}
	case protoreflect.MessageKind:
		if ts, ok := val.Message().Interface().(*timestamppb.Timestamp); ok {
			if err := ts.CheckValid(); err != nil {
				v.add(name, "is not a valid timestamp")
			} else if c.GetWholeSeconds() && ts.GetNanos() != 0 {
				v.add(name, "must be a whole second (HighLevel takes this time to the second)")
			}
		}
		if c.GetFormat() == hlgatev1.Format_FORMAT_CUSTOM_FIELD_VALUE {
			if sv, ok := val.Message().Interface().(*structpb.Value); ok && !customFieldValue(sv) {
				v.add(name, "must be a string, number, boolean, object, or a list of strings or of objects")
			}
		}
	}
}

// checkOnlyIf refuses a field set while its condition's sibling does not
// hold the value named (an enum value by name, anything else as text).
func checkOnlyIf(m protoreflect.Message, cond *hlgatev1.Condition, sib protoreflect.FieldDescriptor, prefix, name string, v *violations) {
	if sib == nil {
		v.add(name, "names a condition on %q, which the message lacks", cond.GetField())
		return
	}
	got := fmt.Sprint(m.Get(sib).Interface())
	if sib.Kind() == protoreflect.EnumKind {
		if ev := sib.Enum().Values().ByNumber(m.Get(sib).Enum()); ev != nil {
			got = string(ev.Name())
		}
	}
	if got != cond.GetEquals() {
		v.add(name, "is allowed only with %s%s %s", prefix, sib.Name(), cond.GetEquals())
	}
}

// checkAfter refuses a time that is not later than its sibling's, when
// both are set.
func checkAfter(m protoreflect.Message, fd, sib protoreflect.FieldDescriptor, name string, v *violations) {
	if sib == nil || !m.Has(sib) {
		return
	}
	t, ok1 := m.Get(fd).Message().Interface().(*timestamppb.Timestamp)
	u, ok2 := m.Get(sib).Message().Interface().(*timestamppb.Timestamp)
	if ok1 && ok2 && !t.AsTime().After(u.AsTime()) {
		v.add(name, "must be after %s", sib.Name())
	}
}

// customFieldValue reports whether HighLevel's custom field writes take v.
func customFieldValue(v *structpb.Value) bool {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue, *structpb.Value_NumberValue, *structpb.Value_BoolValue, *structpb.Value_StructValue:
		return true
	case *structpb.Value_ListValue:
		// A list of strings (options), or of objects (files), not mixed.
		var strs, objs int
		for _, e := range k.ListValue.GetValues() {
			switch e.GetKind().(type) {
			case *structpb.Value_StringValue:
				strs++
			case *structpb.Value_StructValue:
				objs++
			default:
				return false
			}
		}
		return strs == 0 || objs == 0
	}
	return false
}

// notBefore applies (hlgate.v1.check).not_before: fd's value is not before
// its sibling's, when both are set and well formed (a malformed one is
// reported by its format already).
func notBefore(m protoreflect.Message, fd, sib protoreflect.FieldDescriptor, prefix string, v *violations) {
	if sib == nil || !m.Has(sib) || fd.Kind() != protoreflect.StringKind || sib.Kind() != protoreflect.StringKind || fd.IsList() || sib.IsList() {
		return
	}
	a, b := m.Get(fd).String(), m.Get(sib).String()
	if checkOf(fd).GetFormat() == hlgatev1.Format_FORMAT_DAY {
		if _, err := time.Parse(time.DateOnly, a); err != nil {
			return
		}
		if _, err := time.Parse(time.DateOnly, b); err != nil {
			return
		}
	}
	if a < b {
		v.add(prefix+string(fd.Name()), "must not be before %s", sib.Name())
	}
}

// checkString checks a string against a format and a length (0: none).
func checkString(f hlgatev1.Format, max int, s, name string, v *violations) {
	switch f {
	case hlgatev1.Format_FORMAT_ID:
		v.optionalID(name, s)
	case hlgatev1.Format_FORMAT_EMAIL:
		v.email(name, s)
	case hlgatev1.Format_FORMAT_PHONE:
		v.phone(name, s)
	case hlgatev1.Format_FORMAT_TIME_ZONE:
		v.timeZone(name, s)
	case hlgatev1.Format_FORMAT_NON_EMPTY:
		v.required(name, s)
	case hlgatev1.Format_FORMAT_DAY:
		if _, err := time.Parse(time.DateOnly, s); s != "" && err != nil {
			v.add(name, "must be a day as YYYY-MM-DD")
		}
	}
	if max > 0 {
		v.maxLen(name, s, max)
	}
}

// confirmed is the error of a change HighLevel answered 2xx without
// confirming, where its document declares a flag that confirms it (the
// row's Confirm, "succeded" in their spelling): the flag must be there and
// true, else the caller learns the change may not have happened.
func (f *forward) confirmed(obj map[string]any) error {
	if f.row.Confirm == "" {
		return nil
	}
	said := obj[f.row.Confirm]
	delete(obj, f.row.Confirm) // said, not data: the response has no field for it
	return f.confirmedBy(said)
}

// confirmedBy is confirmed for the value HighLevel gave under the row's
// Confirm key (nil when it gave none).
func (f *forward) confirmedBy(said any) error {
	if ok, _ := said.(bool); ok || f.row.Confirm == "" {
		return nil
	}
	return statusError(codes.Aborted, "HighLevel did not confirm the change; read the resource to see its state", ReasonUpstreamError)
}

// send sends a built request through the generated client's transport (the
// upstream chain: token, quota, Version header, retries) and its editors.
func (s *Server) send(ctx context.Context, r *upstreamRequest) (*http.Response, error) {
	c, ok := s.hl.ClientInterface.(*highlevel.Client)
	if !ok {
		return nil, fmt.Errorf("the upstream client is a %T, not the generated *highlevel.Client", s.hl.ClientInterface)
	}
	// The URL is written out and parsed once, by NewRequestWithContext.
	target := strings.TrimSuffix(c.Server, "/") + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, err
	}
	if r.body != nil {
		req.Header.Set("Content-Type", r.contentType)
	}
	for _, edit := range c.RequestEditors {
		if err := edit(ctx, req); err != nil {
			return nil, err
		}
	}
	return c.Client.Do(req)
}

// forwards are the RPCs the generic path serves, by full method name.
var forwards map[string]*forward

// buildForwards binds every forwarding RPC of files that handWritten does
// not list to its row of the operation table, by full method name.
func buildForwards(files ...protoreflect.FileDescriptor) (map[string]*forward, error) {
	out := map[string]*forward{}
	err := forwardingMethods(files, func(full string, m protoreflect.MethodDescriptor, row *optable.Op) error {
		if _, hand := handWritten[full]; hand {
			return nil
		}
		f, err := newForward(m, row)
		if err != nil {
			return err
		}
		out[full] = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// register registers a service on g with the generic handler in place of
// each method the generic path serves; impl serves the rest.
func (s *Server) register(g *grpc.Server, desc *grpc.ServiceDesc, impl any) {
	d := *desc
	d.Methods = slices.Clone(desc.Methods)
	for i, md := range d.Methods {
		if f, ok := forwards["/"+desc.ServiceName+"/"+md.MethodName]; ok {
			d.Methods[i].Handler = f.handler(s)
		}
	}
	g.RegisterService(&d, impl)
}
