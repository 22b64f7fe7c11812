package jsonproto

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// testFile declares a resource shaped like HighLevel's: typed fields, a
// free-form custom field value, a time, an enum, nested messages and the
// unmapped Struct.
func testFile(t testing.TB) protoreflect.FileDescriptor {
	t.Helper()
	f := func(name string, n int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string, repeated bool) *descriptorpb.FieldDescriptorProto {
		fd := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Type: typ.Enum(),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()}
		if typeName != "" {
			fd.TypeName = proto.String(typeName)
		}
		if repeated {
			fd.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
		}
		return fd
	}
	msg := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("jsonproto/test.proto"), Package: proto.String("jsonproto.test"), Syntax: proto.String("proto3"),
		Dependency: []string{"google/protobuf/struct.proto", "google/protobuf/timestamp.proto"},
		EnumType: []*descriptorpb.EnumDescriptorProto{{Name: proto.String("Status"), Value: []*descriptorpb.EnumValueDescriptorProto{
			{Name: proto.String("STATUS_UNSPECIFIED"), Number: proto.Int32(0)},
			{Name: proto.String("STATUS_OPEN"), Number: proto.Int32(1)},
			{Name: proto.String("STATUS_WON"), Number: proto.Int32(2)},
		}}},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("CustomField"), Field: []*descriptorpb.FieldDescriptorProto{
				f("id", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, "", false),
				f("value", 2, msg, ".google.protobuf.Value", false),
				f("unmapped", 3, msg, ".google.protobuf.Struct", false),
			}},
			{Name: proto.String("Resource"), Field: []*descriptorpb.FieldDescriptorProto{
				f("first_name", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, "", false),
				f("count", 2, descriptorpb.FieldDescriptorProto_TYPE_INT32, "", false),
				f("tags", 3, descriptorpb.FieldDescriptorProto_TYPE_STRING, "", true),
				f("date_added", 4, msg, ".google.protobuf.Timestamp", false),
				f("custom_fields", 5, msg, ".jsonproto.test.CustomField", true),
				f("status", 6, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".jsonproto.test.Status", false),
				f("monetary_value", 7, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, "", false),
				f("unmapped", 8, msg, ".google.protobuf.Struct", false),
				f("owner", 9, msg, ".jsonproto.test.Owner", false),
				f("details", 10, msg, ".google.protobuf.Struct", false),
				f("history", 11, msg, ".google.protobuf.ListValue", false),
			}},
			{Name: proto.String("Owner"), Field: []*descriptorpb.FieldDescriptorProto{
				f("name", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, "", false),
			}},
		},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// Every key of HighLevel's JSON reaches the caller: in its field, or kept
// with its JSON type in unmapped, and reported either way.
func TestDecodeKeepsEverything(t *testing.T) {
	t.Parallel()
	fd := testFile(t)
	res := dynamicpb.NewMessage(fd.Messages().ByName("Resource"))
	upstream := `{
		"firstName": "Ada",
		"count": 3,
		"tags": ["a", "b"],
		"dateAdded": 1796169600000,
		"status": "won",
		"monetaryValue": 12.5,
		"customFields": [
			{"id": "checkbox", "value": ["x", "y"]},
			{"id": "numeric", "value": 42},
			{"id": "file", "value": {"url": "https://example.com/f", "meta": {"size": 7}}},
			{"id": "text", "value": "plain", "fieldValueString": "plain"}
		],
		"companyName": "Acme",
		"someNewThing": {"nested": [1, 2]},
		"big": 9007199254740993,
		"lastName": null,
		"OWNER": {"name": "Grace", "since": 2020}
	}`
	// lastName is a key this message does not declare: even its null is
	// kept, so the overlay can see the key exists.
	rep, err := Decode([]byte(upstream), res)
	if err != nil {
		t.Fatal(err)
	}
	got, err := protojson.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	// The same data, compared key by key through protojson's view.
	want := `{"firstName":"Ada","count":3,"tags":["a","b"],"dateAdded":"2026-12-02T00:00:00Z",
		"customFields":[{"id":"checkbox","value":["x","y"]},{"id":"numeric","value":42},
		{"id":"file","value":{"meta":{"size":7},"url":"https://example.com/f"}},
		{"id":"text","value":"plain","unmapped":{"fieldValueString":"plain"}}],
		"status":"STATUS_WON","monetaryValue":12.5,
		"owner":{"name":"Grace"},
		"unmapped":{"big":"9007199254740993","companyName":"Acme","lastName":null,"OWNER.since":2020,"someNewThing":{"nested":[1,2]}}}`
	if diff := cmp.Diff(canonical(t, want), canonical(t, string(got))); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	// Keys are kept as HighLevel spells them; a nested message without an
	// unmapped field of its own keeps its keys in the resource's, by path.
	wantRep := Report{
		{Path: "OWNER.since", Kind: Undeclared, Kept: true},
		{Path: "big", Kind: Undeclared, Kept: true},
		{Path: "companyName", Kind: Undeclared, Kept: true},
		{Path: "customFields[3].fieldValueString", Kind: Undeclared, Kept: true},
		{Path: "dateAdded", Kind: Coerced, Kept: true},
		{Path: "lastName", Kind: Undeclared, Kept: true},
		{Path: "someNewThing", Kind: Undeclared, Kept: true},
	}
	if diff := cmp.Diff(wantRep, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

// A value whose type differs from its field never fails the call: it is
// kept in unmapped with its own type, and reported as a mismatch.
func TestDecodeKeepsMismatches(t *testing.T) {
	t.Parallel()
	fd := testFile(t)
	res := dynamicpb.NewMessage(fd.Messages().ByName("Resource"))
	rep, err := Decode([]byte(`{"firstName": 7, "count": "3", "tags": "solo", "dateAdded": "yesterday",
		"status": "lost-forever", "customFields": {"id": "x"}}`), res)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := protojson.Marshal(res)
	want := `{"unmapped":{"firstName":7,"count":"3","tags":"solo","dateAdded":"yesterday","status":"lost-forever","customFields":{"id":"x"}}}`
	if diff := cmp.Diff(canonical(t, want), canonical(t, string(got))); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	if len(rep) != 6 || len(rep.Lost()) != 0 {
		t.Fatalf("report %+v, want 6 kept mismatches", rep)
	}
	for _, f := range rep {
		if f.Kind != Mismatch {
			t.Errorf("%s: %s, want mismatch", f.Path, f.Kind)
		}
	}
}

// A message without an unmapped field cannot keep what does not fit: the
// report says so (Lost), so the caller can count it and fail loudly in
// tests instead of dropping it silently.
func TestDecodeReportsWhatItCannotKeep(t *testing.T) {
	t.Parallel()
	var c hlgatev1.CustomField
	rep, err := Decode([]byte(`{"id":"f","value":[1,2],"notDeclared":true}`), &c)
	if err != nil {
		t.Fatal(err)
	}
	if c.GetId() != "f" || len(c.GetValue().GetListValue().GetValues()) != 2 {
		t.Fatalf("decoded %v", &c)
	}
	if lost := rep.Lost(); len(lost) != 1 || lost[0].Path != "notDeclared" || lost[0].Kind != Undeclared {
		t.Fatalf("lost = %+v, want notDeclared", lost)
	}
}

func TestDecodeRefusesWhatIsNotAnObject(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`[]`, `"x"`, `{`, ``, `null`} {
		if _, err := Decode([]byte(in), &hlgatev1.Contact{}); err == nil {
			t.Errorf("Decode(%q) accepted", in)
		}
	}
}

// canonical re-encodes JSON so that two documents compare by content.
func canonical(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v in %s", err, s)
	}
	return v
}

// A custom field value arrives under any of the spellings CustomField.value
// declares (value, then the read aliases fieldValue, fieldValueString,
// field_value); the first present fills the field. A later spelling with the
// same JSON is consumed; one with different JSON is kept and reported as a
// conflict, so neither value is lost.
func TestDecodeReadAliases(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		msg     proto.Message
		in      string
		want    string // protojson of the decoded message
		wantRep Report
	}{{
		name: "opportunity fieldValue",
		msg:  &hlgatev1.Opportunity{},
		in:   `{"customFields":[{"id":"f","fieldValue":["a","b"]}]}`,
		want: `{"customFields":[{"id":"f","value":["a","b"]}]}`,
	}, {
		name: "opportunity fieldValueString",
		msg:  &hlgatev1.Opportunity{},
		in:   `{"customFields":[{"id":"f","fieldValueString":"x"}]}`,
		want: `{"customFields":[{"id":"f","value":"x"}]}`,
	}, {
		name: "same value twice is one value",
		msg:  &hlgatev1.Opportunity{},
		in:   `{"customFields":[{"id":"f","fieldValue":12.5,"fieldValueString":12.50}]}`,
		want: `{"customFields":[{"id":"f","value":12.5}]}`,
	}, {
		name: "null spelling yields to the next",
		msg:  &hlgatev1.Opportunity{},
		in:   `{"customFields":[{"id":"f","fieldValue":null,"fieldValueString":"x"}]}`,
		want: `{"customFields":[{"id":"f","value":"x"}]}`,
	}, {
		// Opportunity declares no unmapped Struct: the losing value is
		// reported as lost, which the server counts and tests fail on.
		name:    "opportunity conflict kept in the opportunity's unmapped",
		msg:     &hlgatev1.Opportunity{},
		in:      `{"customFields":[{"id":"f","fieldValueString":"12.5","fieldValue":12.5}]}`,
		want:    `{"customFields":[{"id":"f","value":12.5}],"unmapped":{"customFields.0.fieldValueString":"12.5"}}`,
		wantRep: Report{{Path: "customFields[0].fieldValueString", Kind: Conflict, Kept: true}},
	}, {
		name:    "contact conflict kept in the contact's unmapped",
		msg:     &hlgatev1.Contact{},
		in:      `{"customFields":[{"id":"f","fieldValueString":"b","fieldValue":"a"}]}`,
		want:    `{"customFields":[{"id":"f","value":"a"}],"unmapped":{"customFields.0.fieldValueString":"b"}}`,
		wantRep: Report{{Path: "customFields[0].fieldValueString", Kind: Conflict, Kept: true}},
	}, {
		name:    "the primary key wins over every alias",
		msg:     &hlgatev1.Contact{},
		in:      `{"customFields":[{"id":"f","field_value":"w","value":"r"}]}`,
		want:    `{"customFields":[{"id":"f","value":"r"}],"unmapped":{"customFields.0.field_value":"w"}}`,
		wantRep: Report{{Path: "customFields[0].field_value", Kind: Conflict, Kept: true}},
	}, {
		// A spelling whose value does not fit is a mismatch, and the next
		// spelling may still fill the field.
		name:    "the proto name and another case fill one field",
		msg:     &hlgatev1.Contact{},
		in:      `{"first_name":"Ada","FIRSTNAME":"Grace","firstName":7}`,
		want:    `{"firstName":"Ada","unmapped":{"firstName":7,"FIRSTNAME":"Grace"}}`,
		wantRep: Report{{Path: "firstName", Kind: Mismatch, Kept: true}, {Path: "FIRSTNAME", Kind: Conflict, Kept: true}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep, err := Decode([]byte(tc.in), tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := protojson.Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(canonical(t, tc.want), canonical(t, string(got))); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRep, rep); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

// The options of wireFile's message steer Decode: wire.name and
// read_aliases choose the keys, wire_value names enum values, every time
// field takes every time format, and a second oneof member is a conflict.
func TestDecodeWireOptions(t *testing.T) {
	t.Parallel()
	fd := wireFile(t)
	for _, tc := range []struct {
		name    string
		in      string
		want    string // protojson of the decoded message
		wantRep Report
	}{{
		name: "wire name",
		in:   `{"Renamed":"a"}`,
		want: `{"renamed":"a"}`,
	}, {
		name: "aliases in order",
		in:   `{"alt2":"two","alt1":"one"}`,
		want: `{"aliased":"one","unmapped":{"alt2":"two"}}`, wantRep: Report{{Path: "alt2", Kind: Conflict, Kept: true}},
	}, {
		name: "write name is not a read key",
		in:   `{"aliased_w":"w"}`,
		want: `{"unmapped":{"aliased_w":"w"}}`, wantRep: Report{{Path: "aliased_w", Kind: Undeclared, Kept: true}},
	}, {
		name: "enum wire_value and default spellings",
		in:   `{"level":"very-high","levels":["low","noshow","no_show","LEVEL_LOW","VERY_HIGH"]}`,
		want: `{"level":"LEVEL_VERY_HIGH","levels":["LEVEL_LOW","LEVEL_NO_SHOW","LEVEL_NO_SHOW","LEVEL_LOW","LEVEL_VERY_HIGH"]}`,
	}, {
		name: "unspecified only by its name",
		in:   `{"level":"unspecified"}`,
		want: `{"unmapped":{"level":"unspecified"}}`, wantRep: Report{{Path: "level", Kind: Mismatch, Kept: true}},
	}, {
		name:    "every time field takes every format",
		in:      `{"at":"1796115600000","atMs":"2026-12-01T09:00:00.5+01:00","atMsString":1796115600000}`,
		want:    `{"at":"2026-12-01T09:00:00Z","atMs":"2026-12-01T08:00:00.500Z","atMsString":"2026-12-01T09:00:00Z"}`,
		wantRep: Report{{Path: "at", Kind: Coerced, Kept: true}, {Path: "atMsString", Kind: Coerced, Kept: true}},
	}, {
		name: "times a Timestamp cannot hold",
		in:   `{"at":"0000-01-01T00:00:00Z","atMs":"999999999999999999","atMsString":"-5"}`,
		want: `{"unmapped":{"at":"0000-01-01T00:00:00Z","atMs":"999999999999999999","atMsString":"-5"}}`,
		wantRep: Report{{Path: "at", Kind: Mismatch, Kept: true}, {Path: "atMs", Kind: Mismatch, Kept: true},
			{Path: "atMsString", Kind: Mismatch, Kept: true}},
	}, {
		name: "second oneof member",
		in:   `{"byName":"n","byNumber":3}`,
		want: `{"byName":"n","unmapped":{"byNumber":3}}`, wantRep: Report{{Path: "byNumber", Kind: Conflict, Kept: true}},
	}, {
		name: "a key named unmapped is undeclared",
		in:   `{"unmapped":{"x":1}}`,
		want: `{"unmapped":{"unmapped":{"x":1}}}`, wantRep: Report{{Path: "unmapped", Kind: Undeclared, Kept: true}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := dynamicpb.NewMessage(fd.Messages().ByName("Wired"))
			rep, err := Decode([]byte(tc.in), m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := protojson.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(canonical(t, tc.want), canonical(t, string(got))); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRep, rep); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

// Real enums read as HighLevel spells them, with no wire_value declared
// yet: the suffix in any case, or the default spelling without underscores.
func TestDecodeRealEnums(t *testing.T) {
	t.Parallel()
	var a hlgatev1.Appointment
	rep, err := Decode([]byte(`{"appointmentStatus":"noshow","meetingLocationType":"ms_teams"}`), &a)
	if err != nil || len(rep) != 0 {
		t.Fatalf("Decode: %v, report %+v", err, rep)
	}
	if a.GetAppointmentStatus() != hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_NOSHOW ||
		a.GetMeetingLocationType() != hlgatev1.MeetingLocationType_MEETING_LOCATION_TYPE_MS_TEAMS {
		t.Errorf("decoded %v", &a)
	}
}

// Dotted keys read members of nested objects that have no field: the flat
// key wins, a nested member is moved into its field (not kept twice), the
// rest of its object is kept, an emptied object goes, a member that does
// not fit is kept under its dotted path, and the answer is not modified.
func TestDecodeDottedKeys(t *testing.T) {
	in := `{"_id":"o1","contactName":"Flat","contactSnapshot":{"name":"Nested","email":"a@b.c","first_name":"F"},
		"amountSummary":{"subtotal":100,"discount":"5"},"coupon":{"code":"X"},
		"items":[{"_id":"i1","qty":2,"price":{"amount":9.5,"currency":"USD","type":"one_time"},"product":{"_id":"p1"}}]}`
	var obj map[string]any
	dec := json.NewDecoder(strings.NewReader(in))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		t.Fatal(err)
	}
	var got hlgatev1.Order
	r := DecodeMap(obj, &got)
	want := &hlgatev1.Order{Id: "o1", ContactName: "Flat", ContactEmail: "a@b.c", Subtotal: 100, CouponCode: "X",
		Items: []*hlgatev1.OrderItem{{Id: "i1", Quantity: 2, UnitPrice: 9.5, Currency: "USD", ProductId: "p1"}}}
	unmapped := map[string]any{
		// The flat contactName won; the nested name differs, so it is kept.
		"contactSnapshot.name":   "Nested",
		"contactSnapshot":        map[string]any{"first_name": "F"},
		"amountSummary.discount": "5", // a string where the field is a number
		"items.0.price":          map[string]any{"type": "one_time"},
	}
	if d := cmp.Diff(want, &got, protocmp.Transform(), protocmp.IgnoreFields(&hlgatev1.Order{}, "unmapped")); d != "" {
		t.Errorf("decoded (-want +got):\n%s", d)
	}
	if d := cmp.Diff(unmapped, got.GetUnmapped().AsMap()); d != "" {
		t.Errorf("unmapped (-want +got):\n%s", d)
	}
	kinds := map[string]Kind{}
	for _, f := range r {
		kinds[f.Path] = f.Kind
	}
	if kinds["contactSnapshot.name"] != Conflict || kinds["amountSummary.discount"] != Mismatch || kinds["contactSnapshot"] != Undeclared {
		t.Errorf("report %v", r)
	}
	snap := obj["contactSnapshot"].(map[string]any)
	if len(snap) != 3 || obj["amountSummary"] == nil {
		t.Errorf("the answer was modified: %v", obj)
	}
}
