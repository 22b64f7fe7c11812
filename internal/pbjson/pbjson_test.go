package pbjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/jsonproto"
)

// tokens is JSON as the sequence of its tokens, numbers as written: two
// texts with the same tokens are the same JSON, keys in the same order,
// whatever whitespace lies between.
func tokens(t *testing.T, b []byte) []any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []any
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s is not JSON: %v", b, err)
		}
		out = append(out, tok)
	}
}

// same checks that Marshal writes what protojson writes, or fails where it
// fails.
func same(t *testing.T, m proto.Message) {
	t.Helper()
	want, werr := protojson.Marshal(m)
	got, gerr := Marshal(m)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%T: protojson error %v, Marshal error %v", m, werr, gerr)
	}
	if werr != nil {
		return
	}
	if d := cmp.Diff(tokens(t, want), tokens(t, got)); d != "" {
		t.Errorf("%T: (-protojson +Marshal):\n%s\nprotojson: %s\nMarshal:   %s", m, d, want, got)
	}
}

// filler sets every field of a message, nested messages to a depth, each
// oneof to the member n picks, with values that exercise every spelling:
// escapes, non-ASCII, negative and large numbers, enum values and unknown
// numbers, times with 0, 3, 6 and 9 fractional digits.
type filler struct{ n int }

func (f filler) fill(m protoreflect.Message, depth int) {
	if depth > 3 {
		return
	}
	switch m.Interface().(type) {
	case *timestamppb.Timestamp, *structpb.Value, *structpb.Struct, *structpb.ListValue:
		proto.Merge(m.Interface(), f.wellKnown(m.Descriptor().FullName()))
		return
	}
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && od.Fields().Get(f.n%od.Fields().Len()) != fd {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for j := range 2 {
				l.Append(f.value(fd, l.NewElement, depth, j))
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for j := range 2 {
				k := f.value(fd.MapKey(), nil, depth, j+1).MapKey()
				mp.Set(k, f.value(fd.MapValue(), mp.NewValue, depth, j))
			}
		default:
			m.Set(fd, f.value(fd, func() protoreflect.Value { return m.NewField(fd) }, depth, 0))
		}
	}
}

func (f filler) value(fd protoreflect.FieldDescriptor, newMsg func() protoreflect.Value, depth, j int) protoreflect.Value {
	n := f.n + j
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(n%2 == 0)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString([]string{"plain", "quote \" back \\ tab \t nl \n \x01 \u2028", "café 😀 \ufffd", ""}[n%4] + string(fd.Name()))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{byte(n), 0xff, 0})
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32([]int32{-7, math.MaxInt32, 42}[n%3])
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64([]int64{-7, math.MaxInt64, 1 << 53}[n%3])
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32([]uint32{7, math.MaxUint32}[n%2])
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64([]uint64{7, math.MaxUint64}[n%2])
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32([]float32{12.5, 1e-7, 3e21, -0.1}[n%4])
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64([]float64{12.5, 1e-7, 3e21, -0.1, 123456789.123}[n%5])
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		if n%5 == 4 {
			return protoreflect.ValueOfEnum(999) // a number with no name
		}
		return protoreflect.ValueOfEnum(vals.Get(n % vals.Len()).Number())
	}
	v := newMsg()
	f.fill(v.Message(), depth+1)
	return v
}

func (f filler) wellKnown(name protoreflect.FullName) proto.Message {
	switch name {
	case "google.protobuf.Timestamp":
		return &timestamppb.Timestamp{Seconds: []int64{1700000000, -62135596800, 253402300799, 0}[f.n%4],
			Nanos: []int32{0, 500000000, 123456000, 123456789}[(f.n/4)%4]}
	case "google.protobuf.Struct":
		return f.structure()
	case "google.protobuf.ListValue":
		return &structpb.ListValue{Values: []*structpb.Value{structpb.NewNumberValue(1.5), structpb.NewStringValue("x"), structpb.NewNullValue()}}
	}
	return []*structpb.Value{
		structpb.NewStringValue("s"), structpb.NewNumberValue(-2.25e-9), structpb.NewBoolValue(true), structpb.NewNullValue(),
		structpb.NewStructValue(f.structure()), structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewNumberValue(3)}}),
	}[f.n%6]
}

func (f filler) structure() *structpb.Struct {
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"b": structpb.NewNumberValue(float64(f.n)), "a": structpb.NewStringValue("é"), "z\"": structpb.NewBoolValue(false),
		"nested": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"k": structpb.NewNullValue()}}),
	}}
}

// Every message hlgate answers with, filled every way, is written as
// protojson writes it.
func TestMarshalMatchesProtojson(t *testing.T) {
	t.Parallel()
	pkg := (&hlgatev1.Contact{}).ProtoReflect().Descriptor().ParentFile().Package()
	types := 0
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		if mt.Descriptor().ParentFile().Package() != pkg {
			return true
		}
		types++
		for n := range 20 {
			m := mt.New()
			filler{n}.fill(m, 0)
			same(t, m.Interface())
		}
		same(t, mt.New().Interface()) // empty
		return true
	})
	if types < 100 {
		t.Fatalf("only %d message types checked", types)
	}
}

// The answers hlgate writes most are written by pbjson itself, not handed
// to protojson.
func TestMarshalWritesAnswersItself(t *testing.T) {
	t.Parallel()
	for _, m := range []proto.Message{&hlgatev1.GetContactResponse{}, &hlgatev1.SearchContactsResponse{}, &hlgatev1.GetOrderResponse{}, &hlgatev1.Opportunity{}} {
		for n := range 8 {
			mm := proto.Clone(m)
			filler{n}.fill(mm.ProtoReflect(), 0)
			if e := (encoder{}); !e.message(mm.ProtoReflect()) {
				t.Errorf("%T (filled %d): left to protojson", mm, n)
			}
		}
	}
}

// What protojson refuses, Marshal refuses; what it writes itself (a
// wrapper, a dynamic well-known value), Marshal leaves to it.
func TestMarshalLeavesTheRestToProtojson(t *testing.T) {
	t.Parallel()
	for name, m := range map[string]proto.Message{
		"NaN in a Value":          &hlgatev1.CustomField{Value: structpb.NewNumberValue(math.NaN())},
		"an unset Value":          &hlgatev1.CustomField{Value: &structpb.Value{}},
		"a time before year 1":    &hlgatev1.Contact{DateAdded: &timestamppb.Timestamp{Seconds: -62135596801}},
		"nanos out of range":      &hlgatev1.Contact{DateAdded: &timestamppb.Timestamp{Nanos: 1e9}},
		"invalid UTF-8":           &hlgatev1.Contact{FirstName: "\xff"},
		"invalid UTF-8 in Struct": &hlgatev1.Contact{Unmapped: &structpb.Struct{Fields: map[string]*structpb.Value{"\xff": structpb.NewNullValue()}}},
		"a wrapper":               wrapperspb.String("x"),
		"a bare Value":            structpb.NewStringValue("x"),
		"nil":                     (*hlgatev1.Contact)(nil),
	} {
		t.Run(name, func(t *testing.T) { same(t, m) })
	}
}

// Any message proto can read from any bytes is written as protojson
// writes it: unknown enum numbers, NaN, odd times, empty lists.
func FuzzMarshalMatchesProtojson(f *testing.F) {
	for n := range 8 {
		for _, m := range []proto.Message{&hlgatev1.GetContactResponse{}, &hlgatev1.SearchContactsResponse{}, &hlgatev1.Order{}} {
			filler{n}.fill(m.ProtoReflect(), 0)
			b, err := proto.Marshal(m)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	types := []func() proto.Message{
		func() proto.Message { return &hlgatev1.GetContactResponse{} },
		func() proto.Message { return &hlgatev1.SearchContactsResponse{} },
		func() proto.Message { return &hlgatev1.Order{} },
		func() proto.Message { return &hlgatev1.Opportunity{} },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range types {
			m := typ()
			if proto.Unmarshal(data, m) == nil {
				same(t, m)
			}
		}
	})
}

// HighLevel's contact, as the gateway writes it.
func BenchmarkMarshalContact(b *testing.B) {
	answer, err := os.ReadFile("../../server/testdata/contacts/get_contact.json")
	if err != nil {
		b.Fatal(err)
	}
	m := &hlgatev1.GetContactResponse{}
	if _, err := jsonproto.Decode(answer, m); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name    string
		marshal func(proto.Message) ([]byte, error)
	}{{"pbjson", Marshal}, {"protojson", protojson.Marshal}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.marshal(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
