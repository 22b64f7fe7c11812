package server

import (
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/hlgate/hlgate/gen/genservices"
	"github.com/hlgate/hlgate/gen/optable"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/upstream"
)

// rule declares what an RPC needs of its caller. Every method the gRPC
// server registers has exactly one; a method without one is refused (fail
// closed), and TestEveryMethodHasARule keeps the two lists equal.
type rule struct {
	// access is the level the caller's key needs.
	access Access
	// public RPCs need no key at all: gRPC health, which load balancers and
	// Kubernetes probes call without credentials.
	public bool
	// global RPCs are about no location (server reflection): any key with
	// the access level may call them.
	global bool
	// subjects are the request fields, as dotted paths of proto field names,
	// that name a location or a company. The key must allow every one that
	// is set.
	subjects []string
	// unnamedNeedsAll: when no subject field is set, only a key for every
	// location ("*") may call, because the subject is learned only from
	// HighLevel's answer (a code exchange). Without it a request that names
	// no subject is refused.
	unnamedNeedsAll bool
	// keyScoped RPCs are about the locations the caller's key allows rather
	// than one named location (EventsService): a subject field, when set,
	// narrows the call and every value must be allowed, as for any rule;
	// with none set the call passes here and the handler serves only what
	// the key allows (callerKeyFrom), refusing what it cannot prove allowed.
	keyScoped bool

	// readIf, when set, lowers the access a request needs to AccessRead when
	// it reports true: for an RPC whose requests read or write (the
	// passthrough, by method and operation). It is consulted only with a
	// request in hand; a stream is checked at its start at access.
	readIf func(proto.Message) bool
	// alsoNamed, when set, lists the locations and companies a request
	// names outside its subject fields (the passthrough's path, query and
	// body); the key must allow each one too.
	alsoNamed func(proto.Message) []named

	// op is the upstream operation of a forwarding RPC, from the operation
	// table: its Version header and retry safety travel with the call.
	op *upstream.Operation

	// paths are the subjects resolved against the request message.
	paths [][]protoreflect.FieldDescriptor
}

// methodRules is the declaration of every RPC hlgate serves. An RPC that
// forwards to HighLevel gets its rule from the operation its
// (hlgate.v1.upstream) option names (see forwardingRules): a read key for
// the operations the table marks Read, a write key for the others, and the
// location in location_id. The rules written here are for what the table
// cannot say: token administration (admin keys), reflection and health.
var methodRules = map[string]*rule{

	// An import names its subject inside the token; a company id on a
	// location's pair is checked too, because it is stored with the token.
	hlgatev1.TokensService_ImportToken_FullMethodName: {access: AccessAdmin, subjects: []string{
		"private_integration_token.location_id", "oauth_token.subject_id", "oauth_token.company_id",
	}},
	// The installed location is known only after HighLevel answers: a key
	// limited to some locations must name the one it expects in subject_id
	// (the token store stores nothing for a grant of another subject); only
	// a key for every location may leave it out.
	hlgatev1.TokensService_ExchangeCode_FullMethodName:      {access: AccessAdmin, subjects: []string{"subject_id"}, unnamedNeedsAll: true},
	hlgatev1.TokensService_ConfirmInstall_FullMethodName:    {access: AccessAdmin, subjects: []string{"subject_id"}},
	hlgatev1.TokensService_GetTokenStatus_FullMethodName:    {access: AccessAdmin, subjects: []string{"subject_id"}},
	hlgatev1.TokensService_DeleteToken_FullMethodName:       {access: AccessAdmin, subjects: []string{"subject_id"}},
	hlgatev1.TokensService_MintLocationToken_FullMethodName: {access: AccessAdmin, subjects: []string{"company_id", "location_id"}},

	// A stream gets the events of the locations in location_ids (each
	// allowed by the key), or of every location the key allows; an ack is
	// checked by the handler against the subscription's locations.
	hlgatev1.EventsService_StreamEvents_FullMethodName: {access: AccessRead, subjects: []string{"location_ids"}, keyScoped: true},
	hlgatev1.EventsService_AckEvents_FullMethodName:    {access: AccessRead, keyScoped: true},
	// The passthrough reads or writes, and names locations where the
	// caller puts them: see passthroughRule.
	hlgatev1.UpstreamService_Call_FullMethodName: passthroughRule(),

	// Reflection describes the API, not a location's data.
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      {access: AccessRead, global: true},
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": {access: AccessRead, global: true},
}

func init() {
	// Every method of gRPC health is public, whichever the grpc version
	// registers (Check, Watch, List).
	svc := healthpb.File_grpc_health_v1_health_proto.Services().ByName("Health")
	for i := 0; i < svc.Methods().Len(); i++ {
		methodRules["/"+string(svc.FullName())+"/"+string(svc.Methods().Get(i).Name())] = &rule{public: true}
	}
	if err := forwardingRules(methodRules, hlgateFiles...); err != nil {
		panic(err)
	}
	if err := compileRules(methodRules); err != nil {
		panic(err) // a declaration that names no field is a programming error, caught by every test
	}
	var err error
	// TokensService forwards to HighLevel's OAuth operations, but through
	// the token store: its handlers are hlgate's own.
	if forwards, err = buildForwards(hlgateFiles[:len(hlgateFiles)-1]...); err != nil {
		panic(err) // a request field that reaches nowhere upstream is a programming error, caught by every test
	}
}

// hlgateFiles are the files of hlgate's services that forward to HighLevel:
// every product's (generated, gen/genservices), and TokensService's last.
var hlgateFiles = append(generatedFiles(), hlgatev1.File_hlgate_v1_tokens_service_proto)

// generatedFiles are the files of the generated services.
func generatedFiles() []protoreflect.FileDescriptor {
	out := make([]protoreflect.FileDescriptor, 0, len(genservices.Services))
	for _, s := range genservices.Services {
		out = append(out, s.File)
	}
	return out
}

// forwardingRules gives every RPC that names an upstream operation its
// operation from the table, and a rule from it unless one is written in
// rules. An option naming an operation the table lacks, or does not expose,
// is an error: the RPC would be served without its declared Version and
// retry safety.
func forwardingRules(rules map[string]*rule, files ...protoreflect.FileDescriptor) error {
	return forwardingMethods(files, func(full string, m protoreflect.MethodDescriptor, row *optable.Op) error {
		r := rules[full]
		if r == nil {
			// The subject, and every location the request names beside it
			// (an agency operation's location_id, a user's location_ids):
			// the key must allow each.
			subjects := []string{string(subjectField(row))}
			for _, name := range []protoreflect.Name{"location_id", "location_ids"} {
				if fd := m.Input().Fields().ByName(name); fd != nil && fd.Kind() == protoreflect.StringKind && string(name) != subjects[0] {
					subjects = append(subjects, string(name))
				}
			}
			r = &rule{access: AccessWrite, subjects: subjects}
			if row.Read {
				r.access = AccessRead
			}
			rules[full] = r
		}
		r.op = &upstream.Operation{ID: row.ID, Version: row.Version, Safe: row.Safe, MaxBodyBytes: fileBodyBytes(row)}
		return nil
	})
}

// eachMethod calls fn with every method of files and its full gRPC name
// ("/hlgate.v1.ContactsService/GetContact").
func eachMethod(files []protoreflect.FileDescriptor, fn func(full string, m protoreflect.MethodDescriptor)) {
	for _, f := range files {
		for i := 0; i < f.Services().Len(); i++ {
			svc := f.Services().Get(i)
			for j := 0; j < svc.Methods().Len(); j++ {
				m := svc.Methods().Get(j)
				fn("/"+string(svc.FullName())+"/"+string(m.Name()), m)
			}
		}
	}
}

// forwardingMethods calls fn with every method of files that names an
// upstream operation, and the operation's row; a method that names an
// operation the table does not expose is an error.
func forwardingMethods(files []protoreflect.FileDescriptor, fn func(full string, m protoreflect.MethodDescriptor, row *optable.Op) error) error {
	var err error
	eachMethod(files, func(full string, m protoreflect.MethodDescriptor) {
		id := operationOf(m)
		if err != nil || id == "" {
			return
		}
		row, ok := optable.Lookup(id)
		if !ok || !row.Exposed {
			err = fmt.Errorf("%s names upstream operation %q, which the operation table does not expose", full, id)
			return
		}
		err = fn(full, m, row)
	})
	return err
}

// operationOf reads a method's (hlgate.v1.upstream).operation_id.
func operationOf(m protoreflect.MethodDescriptor) string {
	opts, ok := m.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return ""
	}
	u, _ := proto.GetExtension(opts, hlgatev1.E_Upstream).(*hlgatev1.UpstreamOperation)
	return u.GetOperationId()
}

// compileRules resolves every rule's subject paths against its method's
// request message, so a misspelled or removed field fails at start, not as a
// silently unchecked location.
func compileRules(rules map[string]*rule) error {
	for method, r := range rules {
		if len(r.subjects) == 0 {
			continue
		}
		in, err := requestDescriptor(method)
		if err != nil {
			return err
		}
		r.paths = r.paths[:0]
		for _, sub := range r.subjects {
			path, err := fieldPath(in, sub)
			if err != nil {
				return fmt.Errorf("rule of %s: %w", method, err)
			}
			r.paths = append(r.paths, path)
		}
	}
	return nil
}

// requestDescriptor finds the request message of a full method name.
func requestDescriptor(method string) (protoreflect.MessageDescriptor, error) {
	svc, name, ok := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	if !ok {
		return nil, fmt.Errorf("method %q is not /service/method", method)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return nil, fmt.Errorf("rule of %s: service: %w", method, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("rule of %s: %s is not a service", method, svc)
	}
	md := sd.Methods().ByName(protoreflect.Name(name))
	if md == nil {
		return nil, fmt.Errorf("rule of %s: no such method", method)
	}
	return md.Input(), nil
}

// fieldPath resolves "a.b.c" to fields: messages on the way, a string (or
// a repeated string, each element a subject) at the end.
func fieldPath(md protoreflect.MessageDescriptor, dotted string) ([]protoreflect.FieldDescriptor, error) {
	var path []protoreflect.FieldDescriptor
	parts := strings.Split(dotted, ".")
	for i, p := range parts {
		fd := md.Fields().ByName(protoreflect.Name(p))
		last := i == len(parts)-1
		if fd == nil || fd.IsMap() || fd.IsList() && !last {
			return nil, fmt.Errorf("%s has no singular field %q", md.FullName(), p)
		}
		path = append(path, fd)
		if i == len(parts)-1 {
			if fd.Kind() != protoreflect.StringKind {
				return nil, fmt.Errorf("%s.%s is not a string", md.FullName(), p)
			}
			break
		}
		if fd.Message() == nil {
			return nil, fmt.Errorf("%s.%s is not a message", md.FullName(), p)
		}
		md = fd.Message()
	}
	return path, nil
}

// subjects are the locations and companies a request names, with the
// field each came from, in declaration order.
type subjects struct{ fields, values []string }

// names reads the subject fields of req that are set. It is read once per
// call: for the caller check and for the request log.
func (r *rule) names(req proto.Message) subjects {
	var out subjects
	if r == nil {
		return out
	}
	root := req.ProtoReflect()
	for i, path := range r.paths {
		m := root
		for j, fd := range path {
			if j == len(path)-1 && fd.IsList() {
				l := m.Get(fd).List()
				for k := 0; k < l.Len(); k++ {
					// An empty element names no location; the field's
					// own check refuses it.
					if v := l.Get(k).String(); v != "" {
						out.fields, out.values = append(out.fields, fmt.Sprintf("%s[%d]", r.subjects[i], k)), append(out.values, v)
					}
				}
				break
			}
			if j == len(path)-1 {
				if v := m.Get(fd).String(); v != "" {
					out.fields, out.values = append(out.fields, r.subjects[i]), append(out.values, v)
				}
				break
			}
			if !m.Has(fd) {
				break
			}
			m = m.Get(fd).Message()
		}
	}
	return out
}

// first is the first subject named, for the request log.
func (s subjects) first() string {
	if len(s.values) == 0 {
		return ""
	}
	return s.values[0]
}

// check proves that key may act on every location or company named.
func (r *rule) check(key *CallerKey, named subjects) error {
	if r.global {
		return nil
	}
	fields, values := named.fields, named.values
	if len(values) == 0 {
		if r.keyScoped {
			return nil // the handler limits the call to the key's locations
		}
		if r.unnamedNeedsAll && key.all {
			return nil
		}
		if r.unnamedNeedsAll {
			return statusError(codes.PermissionDenied, fmt.Sprintf("key %q is limited to some locations: name the one this call is about in %s, or use a key for every location (\"*\")", key.Name, strings.Join(r.subjects, " or ")), ReasonPermissionDenied)
		}
		var v violations
		v.add(strings.Join(r.subjects, " or "), "is required: the call must name the location (or company) it is about")
		return v.err()
	}
	if key.all {
		return nil
	}
	for i, v := range values {
		if !key.allow[v] {
			return statusError(codes.PermissionDenied, fmt.Sprintf("key %q may not use %s %s (%s)", key.Name, subjectWord(fields[i]), v, fields[i]), ReasonPermissionDenied)
		}
	}
	return nil
}

// checkAlso proves that key may act on every location or company a request
// names outside its subject fields (alsoNamed).
func (r *rule) checkAlso(key *CallerKey, req proto.Message) error {
	if r.alsoNamed == nil || key.all {
		return nil
	}
	for _, n := range r.alsoNamed(req) {
		if !key.allow[n.value] {
			word := "location"
			if n.company {
				word = "company"
			}
			return statusError(codes.PermissionDenied, fmt.Sprintf("key %q may not use %s %s (%s)", key.Name, word, n.value, n.field), ReasonPermissionDenied)
		}
	}
	return nil
}

// needs is the access level a request needs: the rule's, or read when the
// rule's readIf says the request only reads. Without a request (a stream's
// start) it is the rule's.
func (r *rule) needs(req proto.Message) Access {
	if r.readIf != nil && req != nil && r.readIf(req) {
		return AccessRead
	}
	return r.access
}

// subjectWord says whether a field names a location or a company.
func subjectWord(field string) string {
	if strings.HasSuffix(field, "company_id") {
		return "company"
	}
	if strings.HasSuffix(field, "location_id") || strings.Contains(field, "location_ids[") {
		return "location"
	}
	return "subject"
}
