package jsonproto

import (
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// Registered for the dependencies of wireFile.
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/emptypb"
	_ "google.golang.org/protobuf/types/known/fieldmaskpb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// wireFile declares, with the options no real message carries yet
// (wire.name, read_only, the epoch time formats, wire_value), a message of
// every kind of field Encode handles:
//
//	enum Level { LEVEL_UNSPECIFIED; LEVEL_LOW; LEVEL_VERY_HIGH [wire_value "very-high"]; LEVEL_NO_SHOW; }
//	message Inner { string name; string secret [OUTPUT_ONLY]; Level level; }
//	message Wired { ... see the field list below ... }
//	message Clash { string a [write_name "b"]; string b; }
func wireFile(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	type opt func(*descriptorpb.FieldDescriptorProto)
	wire := func(w *hlgatev1.Wire) opt {
		return func(fd *descriptorpb.FieldDescriptorProto) {
			if fd.Options == nil {
				fd.Options = &descriptorpb.FieldOptions{}
			}
			proto.SetExtension(fd.Options, hlgatev1.E_Wire, w)
		}
	}
	outputOnly := func(fd *descriptorpb.FieldDescriptorProto) {
		if fd.Options == nil {
			fd.Options = &descriptorpb.FieldOptions{}
		}
		proto.SetExtension(fd.Options, annotations.E_FieldBehavior, []annotations.FieldBehavior{annotations.FieldBehavior_OUTPUT_ONLY})
	}
	repeated := func(fd *descriptorpb.FieldDescriptorProto) {
		fd.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	}
	oneof := func(i int32) opt {
		return func(fd *descriptorpb.FieldDescriptorProto) { fd.OneofIndex = proto.Int32(i) }
	}
	optional := func(i int32) opt {
		return func(fd *descriptorpb.FieldDescriptorProto) {
			fd.OneofIndex = proto.Int32(i)
			fd.Proto3Optional = proto.Bool(true)
		}
	}
	type T = descriptorpb.FieldDescriptorProto_Type
	const (
		tString  = descriptorpb.FieldDescriptorProto_TYPE_STRING
		tMsg     = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
		tEnum    = descriptorpb.FieldDescriptorProto_TYPE_ENUM
		tInt64   = descriptorpb.FieldDescriptorProto_TYPE_INT64
		tInt32   = descriptorpb.FieldDescriptorProto_TYPE_INT32
		tUint64  = descriptorpb.FieldDescriptorProto_TYPE_UINT64
		tUint32  = descriptorpb.FieldDescriptorProto_TYPE_UINT32
		tSint64  = descriptorpb.FieldDescriptorProto_TYPE_SINT64
		tFixed64 = descriptorpb.FieldDescriptorProto_TYPE_FIXED64
		tFloat   = descriptorpb.FieldDescriptorProto_TYPE_FLOAT
		tDouble  = descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
		tBytes   = descriptorpb.FieldDescriptorProto_TYPE_BYTES
		tBool    = descriptorpb.FieldDescriptorProto_TYPE_BOOL
	)
	n := int32(0)
	f := func(name string, typ T, typeName string, opts ...opt) *descriptorpb.FieldDescriptorProto {
		n++
		fd := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Type: typ.Enum(),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()}
		if typeName != "" {
			fd.TypeName = proto.String(typeName)
		}
		for _, o := range opts {
			o(fd)
		}
		return fd
	}
	entry := func(name string, key, val T, valType string) *descriptorpb.DescriptorProto {
		n = 0
		return &descriptorpb.DescriptorProto{Name: proto.String(name), Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
			Field: []*descriptorpb.FieldDescriptorProto{f("key", key, ""), f("value", val, valType)}}
	}
	veryHigh := &descriptorpb.EnumValueOptions{}
	proto.SetExtension(veryHigh, hlgatev1.E_WireValue, "very-high")

	counts, names := entry("CountsEntry", tString, tInt64, ""), entry("NamesEntry", tInt32, tString, "")
	n = 0
	wired := []*descriptorpb.FieldDescriptorProto{
		f("renamed", tString, "", wire(&hlgatev1.Wire{Name: "Renamed"})),
		f("aliased", tString, "", wire(&hlgatev1.Wire{ReadAliases: []string{"alt1", "alt2"}, WriteName: "aliased_w"})),
		f("server_set", tString, "", outputOnly),
		f("read_only", tString, "", wire(&hlgatev1.Wire{ReadOnly: true})),
		f("at", tMsg, ".google.protobuf.Timestamp"),
		f("at_ms", tMsg, ".google.protobuf.Timestamp", wire(&hlgatev1.Wire{Time: hlgatev1.TimeFormat_TIME_FORMAT_EPOCH_MILLIS})),
		f("at_ms_string", tMsg, ".google.protobuf.Timestamp", wire(&hlgatev1.Wire{Time: hlgatev1.TimeFormat_TIME_FORMAT_EPOCH_MILLIS_STRING})),
		f("big", tInt64, ""),
		f("ubig", tUint64, ""),
		f("small", tInt32, ""),
		f("usmall", tUint32, ""),
		f("zigzag", tSint64, ""),
		f("fixed", tFixed64, ""),
		f("f32", tFloat, ""),
		f("f64", tDouble, ""),
		f("data", tBytes, ""),
		f("level", tEnum, ".jsonproto.wire.Level"),
		f("levels", tEnum, ".jsonproto.wire.Level", repeated),
		f("nick", tString, "", optional(1)),
		f("opt_level", tEnum, ".jsonproto.wire.Level", optional(2)),
		f("by_name", tString, "", oneof(0)),
		f("by_number", tInt64, "", oneof(0)),
		f("counts", tMsg, ".jsonproto.wire.Wired.CountsEntry", repeated),
		f("names", tMsg, ".jsonproto.wire.Wired.NamesEntry", repeated),
		f("wait", tMsg, ".google.protobuf.Duration"),
		f("mask", tMsg, ".google.protobuf.FieldMask"),
		f("nothing", tMsg, ".google.protobuf.Empty"),
		f("sv", tMsg, ".google.protobuf.StringValue"),
		f("iv", tMsg, ".google.protobuf.Int64Value"),
		f("bv", tMsg, ".google.protobuf.BoolValue"),
		f("dv", tMsg, ".google.protobuf.DoubleValue"),
		f("json", tMsg, ".google.protobuf.Value"),
		f("obj", tMsg, ".google.protobuf.Struct"),
		f("list", tMsg, ".google.protobuf.ListValue"),
		f("inner", tMsg, ".jsonproto.wire.Inner"),
		f("inners", tMsg, ".jsonproto.wire.Inner", repeated),
		f("flag", tBool, ""),
		f("unmapped", tMsg, ".google.protobuf.Struct"),
	}
	n = 0
	inner := []*descriptorpb.FieldDescriptorProto{f("name", tString, ""), f("secret", tString, "", outputOnly), f("level", tEnum, ".jsonproto.wire.Level")}
	n = 0
	clash := []*descriptorpb.FieldDescriptorProto{f("a", tString, "", wire(&hlgatev1.Wire{WriteName: "b"})), f("b", tString, "")}
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("jsonproto/wire.proto"), Package: proto.String("jsonproto.wire"), Syntax: proto.String("proto3"),
		Dependency: []string{"google/protobuf/struct.proto", "google/protobuf/timestamp.proto", "google/protobuf/duration.proto",
			"google/protobuf/field_mask.proto", "google/protobuf/empty.proto", "google/protobuf/wrappers.proto",
			"google/api/field_behavior.proto", "hlgate/v1/options.proto"},
		EnumType: []*descriptorpb.EnumDescriptorProto{{Name: proto.String("Level"), Value: []*descriptorpb.EnumValueDescriptorProto{
			{Name: proto.String("LEVEL_UNSPECIFIED"), Number: proto.Int32(0)},
			{Name: proto.String("LEVEL_LOW"), Number: proto.Int32(1)},
			{Name: proto.String("LEVEL_VERY_HIGH"), Number: proto.Int32(2), Options: veryHigh},
			{Name: proto.String("LEVEL_NO_SHOW"), Number: proto.Int32(3)},
		}}},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Wired"), Field: wired, NestedType: []*descriptorpb.DescriptorProto{counts, names},
				OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("choice")}, {Name: proto.String("_nick")}, {Name: proto.String("_opt_level")}}},
			{Name: proto.String("Inner"), Field: inner},
			{Name: proto.String("Clash"), Field: clash},
		},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// The option readers see the options wireFile declares: the test message
// means what its comment says.
func TestWireOptionsRead(t *testing.T) {
	t.Parallel()
	md := wireFile(t).Messages().ByName("Wired")
	field := func(name string) protoreflect.FieldDescriptor { return md.Fields().ByName(protoreflect.Name(name)) }
	for _, tc := range []struct {
		field    string
		read     string
		write    string
		writable bool
	}{
		{"renamed", "Renamed", "Renamed", true},
		{"aliased", "aliased", "aliased_w", true},
		{"server_set", "serverSet", "serverSet", false},
		{"read_only", "readOnly", "readOnly", false},
		{"unmapped", "unmapped", "unmapped", false},
		{"at_ms", "atMs", "atMs", true},
	} {
		fd := field(tc.field)
		if got := primaryKey(fd); got != tc.read {
			t.Errorf("%s: read key %q, want %q", tc.field, got, tc.read)
		}
		if got := writeKey(fd); got != tc.write {
			t.Errorf("%s: write key %q, want %q", tc.field, got, tc.write)
		}
		if got := writable(fd); got != tc.writable {
			t.Errorf("%s: writable %v, want %v", tc.field, got, tc.writable)
		}
	}
}

func TestEnumPrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"DndStatus", "DND_STATUS"},
		{"HTTPMethod", "HTTP_METHOD"},
		{"OAuth2Token", "O_AUTH2_TOKEN"},
		{"Level", "LEVEL"},
		{"MeetingLocationType", "MEETING_LOCATION_TYPE"},
	} {
		if got := upperSnake(tc.in); got != tc.want {
			t.Errorf("upperSnake(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// An enum whose values do not all carry its name: the prefix they share.
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("jsonproto/prefix.proto"), Package: proto.String("jsonproto.prefix"), Syntax: proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{Name: proto.String("Color"), Value: []*descriptorpb.EnumValueDescriptorProto{
			{Name: proto.String("PAINT_COLOR_UNKNOWN"), Number: proto.Int32(0)},
			{Name: proto.String("PAINT_COLOR_DARK_RED"), Number: proto.Int32(1)},
			{Name: proto.String("PAINT_CYAN"), Number: proto.Int32(2)},
		}}},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	ed := fd.Enums().Get(0)
	if got := enumPrefix(ed); got != "PAINT_" {
		t.Errorf("enumPrefix = %q, want PAINT_", got)
	}
	if got := defaultWireValue(ed.Values().ByNumber(1)); got != "colordarkred" {
		t.Errorf("default wire value %q, want colordarkred", got)
	}
}
