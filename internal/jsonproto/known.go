package jsonproto

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// Values the stream reads without a tree, beyond strings, booleans and
// messages: lists of strings (tags), HighLevel's free-form values
// (google.protobuf.Value, Struct and ListValue: custom fields) and times
// written as strings. Each gives what the tree gives; a value that is not
// in the expected form is left where it is, for the tree decoder's own
// rules.

// known decodes the value at s.i into fd when it is one of those, and
// reports whether it did; when it did not, s.i has not moved.
func (s *streamer) known(m protoreflect.Message, strs fieldSetter, fd protoreflect.FieldDescriptor, k keeper, depth int) (bool, error) {
	c := s.data[s.i]
	if fd.IsMap() {
		return false, nil
	}
	if fd.IsList() {
		if fd.Kind() == protoreflect.StringKind && c == '[' {
			return s.stringList(m, strs, fd, depth+1)
		}
		return false, nil
	}
	if fd.Kind() != protoreflect.MessageKind {
		return false, nil
	}
	switch name := fd.Message().FullName(); name {
	case "google.protobuf.Value", "google.protobuf.Struct", "google.protobuf.ListValue":
		if name == "google.protobuf.Struct" && c != '{' || name == "google.protobuf.ListValue" && c != '[' {
			return false, nil
		}
		v, err := s.jsonValue(depth)
		if err != nil {
			return false, err
		}
		var msg protoreflect.ProtoMessage = v
		switch name {
		case "google.protobuf.Struct":
			msg = v.GetStructValue()
		case "google.protobuf.ListValue":
			msg = v.GetListValue()
		}
		s.setMessage(m, strs, fd, msg)
	case "google.protobuf.Timestamp":
		if c != '"' {
			return false, nil
		}
		t, err := s.string()
		if err != nil {
			return false, errRestart
		}
		ts, coerced, ok := timestampString(t)
		switch {
		case !ok:
			keep(k, &s.path, t, Mismatch, &s.report)
			return true, nil
		case coerced:
			s.report = append(s.report, Finding{Path: s.path.String(), Kind: Coerced, Kept: true})
		}
		s.setMessage(m, strs, fd, ts)
	default:
		return false, nil
	}
	return true, nil
}

// setMessage sets fd, a field of a well-known message type, to v: v itself
// in a generated message, a copy into the field's own type in any other
// (as the tree's into).
func (s *streamer) setMessage(m protoreflect.Message, strs fieldSetter, fd protoreflect.FieldDescriptor, v protoreflect.ProtoMessage) {
	if strs.v.IsValid() {
		m.Set(fd, protoreflect.ValueOfMessage(v.ProtoReflect()))
		return
	}
	m.Set(fd, into(func() protoreflect.Value { return m.NewField(fd) }, v.ProtoReflect().Interface()))
}

// stringList decodes the array at s.i (at depth, counted as Parse counts
// it) into fd, a list of strings, when every element is a string.
// Otherwise it reads nothing: the tree's rules say what such a list is.
func (s *streamer) stringList(m protoreflect.Message, strs fieldSetter, fd protoreflect.FieldDescriptor, depth int) (bool, error) {
	if depth > maxDepth {
		return false, errRestart
	}
	begin := s.i
	s.i++ // [
	s.space()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
		return true, nil // an empty list sets nothing, as in the tree
	}
	var out []string
	for {
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			s.i = begin
			return false, nil
		}
		v, err := s.string()
		if err != nil {
			return false, errRestart
		}
		out = append(out, v)
		more, err := s.more(']')
		if err != nil {
			return false, err
		}
		if !more {
			strs.setList(m, fd, out)
			return true, nil
		}
	}
}

// jsonValue reads the value at s.i as a google.protobuf.Value, as the
// tree's newValue converts what Parse gives; depth is the enclosing
// object's, counted as Parse counts it.
func (s *streamer) jsonValue(depth int) (*structpb.Value, error) {
	if s.i >= len(s.data) {
		return nil, errRestart
	}
	switch c := s.data[s.i]; {
	case c == '{':
		st, err := s.jsonStruct(depth + 1)
		if err != nil {
			return nil, err
		}
		return structpb.NewStructValue(st), nil
	case c == '[':
		lv, err := s.jsonList(depth + 1)
		if err != nil {
			return nil, err
		}
		return structpb.NewListValue(lv), nil
	case c == '"':
		t, err := s.string()
		if err != nil {
			return nil, errRestart
		}
		return structpb.NewStringValue(t), nil
	case c == '-' || isDigit(c):
		start := s.i
		if err := s.scanNumber(); err != nil {
			return nil, errRestart
		}
		if f, ok := plainNumber(string(s.data[start:s.i])); ok {
			return structpb.NewNumberValue(f), nil
		}
		return structpb.NewStringValue(string(s.data[start:s.i])), nil
	case c == 't' || c == 'f':
		word := "false"
		if c == 't' {
			word = "true"
		}
		if err := s.literal(word); err != nil {
			return nil, errRestart
		}
		return structpb.NewBoolValue(c == 't'), nil
	case c == 'n':
		if err := s.literal("null"); err != nil {
			return nil, errRestart
		}
		return structpb.NewNullValue(), nil
	}
	return nil, errRestart
}

// jsonStruct reads the object at s.i (at depth) as a Struct; a key written
// twice keeps its last value, as in Parse.
func (s *streamer) jsonStruct(depth int) (*structpb.Struct, error) {
	if depth > maxDepth {
		return nil, errRestart
	}
	st := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	s.i++ // {
	s.space()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		return st, nil
	}
	for {
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			return nil, errRestart
		}
		key, err := s.string()
		if err != nil {
			return nil, errRestart
		}
		s.space()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return nil, errRestart
		}
		s.i++
		s.space()
		v, err := s.jsonValue(depth)
		if err != nil {
			return nil, err
		}
		st.Fields[key] = v
		more, err := s.more('}')
		if err != nil {
			return nil, err
		}
		if !more {
			return st, nil
		}
	}
}

// jsonList reads the array at s.i (at depth) as a ListValue.
func (s *streamer) jsonList(depth int) (*structpb.ListValue, error) {
	if depth > maxDepth {
		return nil, errRestart
	}
	lv := &structpb.ListValue{Values: []*structpb.Value{}}
	s.i++ // [
	s.space()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
		return lv, nil
	}
	for {
		v, err := s.jsonValue(depth)
		if err != nil {
			return nil, err
		}
		lv.Values = append(lv.Values, v)
		more, err := s.more(']')
		if err != nil {
			return nil, err
		}
		if !more {
			return lv, nil
		}
	}
}
