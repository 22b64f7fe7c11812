package jsonproto

import (
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// This file reads what the proto declares about how a field travels
// (hlgate.v1.wire, hlgate.v1.wire_value, google.api.field_behavior), in one
// place for both directions, so the decoder and the encoder cannot disagree
// on a field's keys.

// wireOf is the field's (hlgate.v1.wire) option; nil when it has none, which
// the generated getters read as every default.
func wireOf(fd protoreflect.FieldDescriptor) *hlgatev1.Wire {
	opts, ok := fd.Options().(*descriptorpb.FieldOptions)
	if !ok || opts == nil {
		return nil
	}
	w, _ := proto.GetExtension(opts, hlgatev1.E_Wire).(*hlgatev1.Wire)
	return w
}

// primaryKey is the key HighLevel uses for fd on reads (and on writes unless
// write_name says otherwise): wire.name, else the JSON name.
func primaryKey(fd protoreflect.FieldDescriptor) string {
	if n := wireOf(fd).GetName(); n != "" {
		return n
	}
	return fd.JSONName()
}

// writeKey is the key a write sends fd under: wire.write_name, else the
// primary key.
func writeKey(fd protoreflect.FieldDescriptor) string {
	if n := wireOf(fd).GetWriteName(); n != "" {
		return n
	}
	return primaryKey(fd)
}

// ReadKey is the key HighLevel's JSON carries fd under on reads: its
// (hlgate.v1.wire).name, else its JSON name. The generic call path binds
// request parameters by it.
func ReadKey(fd protoreflect.FieldDescriptor) string { return primaryKey(fd) }

// WriteKey is the key Encode writes fd under.
func WriteKey(fd protoreflect.FieldDescriptor) string { return writeKey(fd) }

// isUnmapped reports whether fd is the message's unmapped Struct.
func isUnmapped(fd protoreflect.FieldDescriptor) bool {
	return fd.Name() == UnmappedField && fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Struct"
}

// unmappedField is md's unmapped Struct, or nil.
func unmappedField(md protoreflect.MessageDescriptor) protoreflect.FieldDescriptor {
	if fd := md.Fields().ByName(UnmappedField); fd != nil && isUnmapped(fd) {
		return fd
	}
	return nil
}

// writable reports whether a write sends fd: not output-only, not read-only
// on this message, and not the unmapped Struct (what a read could not type
// is never written back).
func writable(fd protoreflect.FieldDescriptor) bool {
	if isUnmapped(fd) || wireOf(fd).GetReadOnly() {
		return false
	}
	opts, ok := fd.Options().(*descriptorpb.FieldOptions)
	if !ok || opts == nil {
		return true
	}
	behaviors, _ := proto.GetExtension(opts, annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return !slices.Contains(behaviors, annotations.FieldBehavior_OUTPUT_ONLY)
}

func explicitWireValue(ev protoreflect.EnumValueDescriptor) string {
	opts, ok := ev.Options().(*descriptorpb.EnumValueOptions)
	if !ok || opts == nil {
		return ""
	}
	s, _ := proto.GetExtension(opts, hlgatev1.E_WireValue).(string)
	return s
}

// defaultWireValue is the value's name without the enum's prefix,
// lower-cased, without underscores: DND_STATUS_ACTIVE is "active",
// APPOINTMENT_STATUS_NOSHOW is "noshow". A value HighLevel spells otherwise
// ("ms_teams") declares it with wire_value.
func defaultWireValue(ev protoreflect.EnumValueDescriptor) string {
	name := strings.TrimPrefix(string(ev.Name()), enumPrefix(ev.Parent().(protoreflect.EnumDescriptor)))
	return squash(name)
}

// squash lower-cases s and removes underscores and hyphens, the form in
// which a value's default spelling is compared.
func squash(s string) string {
	return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
}

// enumPrefix is the prefix the enum's value names carry: the enum's name in
// UPPER_SNAKE_CASE and "_" (DndStatus: "DND_STATUS_"), as buf's
// ENUM_VALUE_PREFIX rule has every hlgate enum spell it. When some value
// lacks it, it is the longest "_"-ended prefix every value shares, short of
// a whole name.
func enumPrefix(ed protoreflect.EnumDescriptor) string {
	values := ed.Values()
	prefix := upperSnake(string(ed.Name())) + "_"
	all := true
	for i := 0; i < values.Len(); i++ {
		if n := string(values.Get(i).Name()); !strings.HasPrefix(n, prefix) || n == prefix {
			all = false
			break
		}
	}
	if all {
		return prefix
	}
	common := ""
	for i := 0; i < values.Len(); i++ {
		n := string(values.Get(i).Name())
		// Only up to the last "_" of a name, so no value loses its whole
		// name.
		n = n[:strings.LastIndex(n, "_")+1]
		if i == 0 {
			common = n
			continue
		}
		for !strings.HasPrefix(n, common) {
			common = common[:strings.LastIndex(common[:len(common)-1], "_")+1]
		}
	}
	return common
}

// upperSnake spells a CamelCase name in UPPER_SNAKE_CASE (DndStatus:
// DND_STATUS, HTTPMethod: HTTP_METHOD).
func upperSnake(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i > 0 && isUpper(c) {
			prev := s[i-1]
			nextLower := i+1 < len(s) && isLower(s[i+1])
			if isLower(prev) || isDigit(prev) || (isUpper(prev) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteByte(c)
	}
	return strings.ToUpper(b.String())
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// ParseEnum finds the value of ed that s names the way Decode reads
// HighLevel's answers: the proto name ("OPPORTUNITY_STATUS_WON"), the
// value's (hlgate.v1.wire_value), or HighLevel's spelling in any case
// ("won", "ms_teams", "noshow"). The zero value is found only by its proto
// name. The REST gateway reads callers' enum strings with it, so a caller
// may send what HighLevel's documents show.
func ParseEnum(ed protoreflect.EnumDescriptor, s string) (protoreflect.EnumValueDescriptor, bool) {
	v, _, ok := enumValue(ed, s)
	if !ok {
		return nil, false
	}
	ev := ed.Values().ByNumber(v.Enum())
	return ev, ev != nil
}

// EnumSpelling is the string HighLevel uses for ev, the one Encode sends:
// its (hlgate.v1.wire_value), else its default spelling.
func EnumSpelling(ev protoreflect.EnumValueDescriptor) string { return enumWire(ev) }
