package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/hlgate/hlgate/gen/optable"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// Every forwarding RPC is served by the generic path unless handWritten
// lists it with the behaviour that needs a hand; handWritten names only
// real forwarding RPCs, and the generic path serves no RPC of TokensService
// (whose handlers go through the token store).
func TestEveryForwardingRPCIsGenericOrHandWritten(t *testing.T) {
	t.Parallel()
	forwarding := map[string]bool{}
	eachMethod(hlgateFiles[:len(hlgateFiles)-1], func(full string, m protoreflect.MethodDescriptor) {
		if operationOf(m) == "" {
			return
		}
		forwarding[full] = true
		_, generic := forwards[full]
		why, hand := handWritten[full]
		switch {
		case generic && hand:
			t.Errorf("%s is both generic and hand-written (%s)", full, why)
		case !generic && !hand:
			t.Errorf("%s is served by nothing", full)
		case hand && why == "":
			t.Errorf("%s is hand-written without saying why", full)
		}
	})
	for full := range handWritten {
		if !forwarding[full] {
			t.Errorf("handWritten lists %s, which is no forwarding RPC", full)
		}
	}
	for full := range forwards {
		if strings.HasPrefix(full, "/hlgate.v1.TokensService/") {
			t.Errorf("the generic path serves %s", full)
		}
	}
	if len(forwards) < 14 {
		t.Errorf("the generic path serves %d RPCs, fewer than the 14 it served when this test was written", len(forwards))
	}
}

// newForward refuses, at start, an RPC whose request has a field that
// reaches neither a parameter nor the body, or that lacks a field for a
// required parameter: nothing a caller sets may be dropped silently.
func TestGenericPathRefusesUnboundFields(t *testing.T) {
	t.Parallel()
	row, ok := optable.Lookup("get-contact")
	if !ok {
		t.Fatal("no get-contact row")
	}
	for name, tc := range map[string]struct {
		fields []*descriptorpb.FieldDescriptorProto
		want   string
	}{
		"a field that reaches nowhere": {
			fields: []*descriptorpb.FieldDescriptorProto{strField("location_id", 1), strField("contact_id", 2), strField("nickname", 3)},
			want:   "request field nickname reaches no parameter",
		},
		"no field for a path parameter": {
			fields: []*descriptorpb.FieldDescriptorProto{strField("location_id", 1)},
			want:   `no field for the required path parameter "contactId"`,
		},
		"no subject": {
			fields: []*descriptorpb.FieldDescriptorProto{strField("contact_id", 2)},
			want:   "no location_id",
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := testMethod(t, tc.fields)
			if _, err := newForward(m, row); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("newForward = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// The real GetContact binds.
	m := hlgatev1.File_hlgate_v1_contacts_service_proto.Services().ByName("ContactsService").Methods().ByName("GetContact")
	f, err := newForward(m, row)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.params) != 1 || f.params[0].Name != "contactId" || f.params[0].fd.Name() != "contact_id" {
		t.Fatalf("GetContact binds %v", f.params)
	}
}

func strField(name string, n int32) *descriptorpb.FieldDescriptorProto {
	return &descriptorpb.FieldDescriptorProto{
		Name: proto.String(name), Number: proto.Int32(n), JsonName: proto.String(jsonCamel(name)),
		Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
	}
}

func jsonCamel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

// testMethod builds a method Probe(Req) returns (hlgate.v1.GetContactResponse)
// whose request has the given fields, registered in a private registry's
// file but resolvable by protoregistry.GlobalTypes for its response.
func testMethod(t *testing.T, fields []*descriptorpb.FieldDescriptorProto) protoreflect.MethodDescriptor {
	t.Helper()
	fdp := &descriptorpb.FileDescriptorProto{
		Name:        proto.String("probe/probe.proto"),
		Package:     proto.String("probe"),
		Syntax:      proto.String("proto3"),
		Dependency:  []string{"hlgate/v1/contacts.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Req"), Field: fields}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   proto.String("Probe"),
			Method: []*descriptorpb.MethodDescriptorProto{{Name: proto.String("Probe"), InputType: proto.String(".probe.Req"), OutputType: proto.String(".hlgate.v1.GetContactResponse")}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Services().Get(0).Methods().Get(0)
}

// wireBody is the upstream request body the generic path builds for req,
// as decoded JSON, or the error it refuses req with.
func wireBody(t *testing.T, method string, req proto.Message) (any, error) {
	t.Helper()
	f, ok := forwards[method]
	if !ok {
		t.Fatalf("%s is not served by the generic path", method)
	}
	r, err := firstRequest(f, req)
	if err != nil {
		return nil, err
	}
	var body any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("%s sent a body that is not JSON: %v\n%s", method, err, r.body)
	}
	return body, nil
}

// firstRequest is the upstream request the generic path builds for the
// first page of req (req has no page token).
func firstRequest(f *forward, req proto.Message) (*upstreamRequest, error) {
	var pg page
	if f.paging != nil {
		var err error
		if pg, err = (&Server{}).openPage(f.method, f.paging, req); err != nil {
			return nil, err
		}
	}
	return f.request(req, f.paging.request(pg))
}

// sameJSON fails unless got (decoded JSON) equals the JSON text want.
func sameJSON(t *testing.T, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("golden: %v", err)
	}
	if diff := cmp.Diff(w, got); diff != "" {
		t.Fatalf("upstream body (-golden +sent):\n%s", diff)
	}
}

// The declared checks, through the generic path's request building: each
// refusal names the field, and a mask may not empty a field that must
// have a value.
func TestDeclaredChecks(t *testing.T) {
	t.Parallel()
	const loc = "LocationA0000000001"
	text := structpb.NewStringValue("x")
	for _, tc := range []struct {
		name   string
		method string
		req    proto.Message
		want   []string // fields named; nil: accepted
	}{
		{"a custom field without id or key", hlgatev1.ContactsService_CreateContact_FullMethodName,
			&hlgatev1.CreateContactRequest{LocationId: loc, Contact: &hlgatev1.Contact{CustomFields: []*hlgatev1.CustomField{{Value: text}}}},
			[]string{"contact.custom_fields[0].id"}},
		{"a custom field by key", hlgatev1.ContactsService_CreateContact_FullMethodName,
			&hlgatev1.CreateContactRequest{LocationId: loc, Contact: &hlgatev1.Contact{CustomFields: []*hlgatev1.CustomField{{Key: "contact.nickname", Value: text}}}},
			nil},
		{"a custom field value of a mixed list", hlgatev1.ContactsService_CreateContact_FullMethodName,
			&hlgatev1.CreateContactRequest{LocationId: loc, Contact: &hlgatev1.Contact{CustomFields: []*hlgatev1.CustomField{{Id: "f", Value: structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{text, structpb.NewNumberValue(1)}})}}}},
			[]string{"contact.custom_fields[0].value"}},
		{"a null custom field value", hlgatev1.ContactsService_CreateContact_FullMethodName,
			&hlgatev1.CreateContactRequest{LocationId: loc, Contact: &hlgatev1.Contact{CustomFields: []*hlgatev1.CustomField{{Id: "f", Value: structpb.NewNullValue()}}}},
			[]string{"contact.custom_fields[0].value"}},
		{"a bad email, phone, time zone and an empty tag", hlgatev1.ContactsService_CreateContact_FullMethodName,
			&hlgatev1.CreateContactRequest{LocationId: loc, Contact: &hlgatev1.Contact{Email: "a@", Phone: "12", Timezone: "Mars/Base", Tags: []string{"ok", " "}}},
			[]string{"contact.email", "contact.phone", "contact.timezone", "contact.tags[1]"}},
		{"too many tags", hlgatev1.ContactsService_AddContactTags_FullMethodName,
			&hlgatev1.AddContactTagsRequest{LocationId: loc, ContactId: "c1", Tags: make([]string, 1001)},
			[]string{"tags"}},
		{"a negative value", hlgatev1.OpportunitiesService_CreateOpportunity_FullMethodName,
			&hlgatev1.CreateOpportunityRequest{LocationId: loc, Opportunity: &hlgatev1.Opportunity{Name: "n", PipelineId: "p", ContactId: "c",
				Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN, MonetaryValue: -1}},
			[]string{"opportunity.monetary_value"}},
		{"a mask that empties a required field and one that may not be emptied", hlgatev1.OpportunitiesService_UpdateOpportunity_FullMethodName,
			&hlgatev1.UpdateOpportunityRequest{LocationId: loc, OpportunityId: "o1", Opportunity: &hlgatev1.Opportunity{},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name", "pipeline_stage_id", "assigned_to"}}},
			[]string{"opportunity.name", "opportunity.pipeline_stage_id"}},
		{"a mask that clears what may be cleared", hlgatev1.OpportunitiesService_UpdateOpportunity_FullMethodName,
			&hlgatev1.UpdateOpportunityRequest{LocationId: loc, OpportunityId: "o1", Opportunity: &hlgatev1.Opportunity{},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"assigned_to", "monetary_value"}}},
			nil},
		{"a mask naming a field the update does not take", hlgatev1.ContactsService_UpdateContact_FullMethodName,
			&hlgatev1.UpdateContactRequest{LocationId: loc, ContactId: "c1", Contact: &hlgatev1.Contact{CompanyName: "x"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"company_name"}}},
			[]string{"update_mask"}},
		{"no mask, a field the update does not take, nothing else", hlgatev1.ContactsService_UpdateContact_FullMethodName,
			&hlgatev1.UpdateContactRequest{LocationId: loc, ContactId: "c1", Contact: &hlgatev1.Contact{CompanyName: "x"}},
			[]string{"update_mask"}},
		{"an id that would change the path", hlgatev1.ContactsService_GetContact_FullMethodName,
			&hlgatev1.GetContactRequest{LocationId: loc, ContactId: "../search"},
			[]string{"contact_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wireBody(t, tc.method, tc.req)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			st := wantStatus(t, err, codes.InvalidArgument, ReasonInvalidArgument)
			for _, f := range tc.want {
				wantFieldViolation(t, st, f)
			}
		})
	}
}

// A response with members beside its one message field and its flags (an
// id, a status) is the resource itself, flat, and that message field a
// member of it (a message's meta), which an answer may lack; a response of
// one message field and flags is an envelope whose message field is the
// resource, which an answer must carry.
func TestFlatAnswerIsItsOwnResource(t *testing.T) {
	t.Parallel()
	row, ok := optable.Lookup("get-contact")
	if !ok {
		t.Fatal("no get-contact row")
	}
	msg := func(name string, fields ...*descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: fields}
	}
	sub := func(name string, n int32) *descriptorpb.FieldDescriptorProto {
		f := strField(name, n)
		f.Type, f.TypeName = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), proto.String(".flat.Meta")
		return f
	}
	boolField := func(name string, n int32) *descriptorpb.FieldDescriptorProto {
		f := strField(name, n)
		f.Type = descriptorpb.FieldDescriptorProto_TYPE_BOOL.Enum()
		return f
	}
	method := func(name, out string) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(".flat.Req"), OutputType: proto.String(".flat." + out)}
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("flat/flat.proto"), Package: proto.String("flat"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			msg("Req", strField("location_id", 1), strField("contact_id", 2)),
			msg("Meta", strField("note", 1)),
			msg("Flat", strField("id", 1), sub("meta", 2)),
			msg("Envelope", boolField("success", 1), sub("contact", 2)),
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("Probe"),
			Method: []*descriptorpb.MethodDescriptorProto{method("Flat", "Flat"), method("Envelope", "Envelope")}}},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	methods := fd.Services().Get(0).Methods()
	flat, err := newForward(methods.ByName("Flat"), row)
	if err != nil {
		t.Fatal(err)
	}
	if flat.resource != nil {
		t.Errorf("a flat answer's member %s is taken for its resource", flat.resource.Name())
	}
	env, err := newForward(methods.ByName("Envelope"), row)
	if err != nil {
		t.Fatal(err)
	}
	if env.resource == nil || env.resource.Name() != "contact" {
		t.Errorf("an envelope's resource is %v, want contact", env.resource)
	}
}
