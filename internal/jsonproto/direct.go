package jsonproto

import (
	"reflect"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Setting a string field through protoreflect costs two allocations (the
// string boxed into an interface, then converted by reflection); answers
// are mostly strings. A generated message's plain string fields and lists
// of strings are set in place instead, and its lists of messages built as
// their Go slices, through the Go struct field protoc-gen-go declared for
// each, found once per message type by its protobuf tag.

// goFields maps a generated message's Go struct type to the index of the
// Go field of each plain string proto field (not in a oneof, not optional:
// a Go string), each list of strings (a Go []string) and each list of
// messages (a Go []*T), by the proto field's index; -1 for any other.
var goFields sync.Map // reflect.Type → []int

// setString sets fd, a singular string field of m, to s.
func setString(m protoreflect.Message, fd protoreflect.FieldDescriptor, s string) {
	fieldSetterOf(m).set(m, fd, s)
}

// fieldSetter sets the fields goFields finds of one message in place; the
// stream decoder makes one per object.
type fieldSetter struct {
	v   reflect.Value // the generated struct; invalid for any other message
	idx []int         // goFieldsOf the struct's type
}

func fieldSetterOf(m protoreflect.Message) fieldSetter {
	mi := m.Interface()
	if _, dynamic := mi.(*dynamicpb.Message); dynamic {
		return fieldSetter{}
	}
	v := reflect.ValueOf(mi)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fieldSetter{}
	}
	return fieldSetter{v: v.Elem(), idx: goFieldsOf(v.Elem().Type(), m.Descriptor())}
}

// set sets fd, a singular string field of m, to s.
func (ss fieldSetter) set(m protoreflect.Message, fd protoreflect.FieldDescriptor, s string) {
	if i := fd.Index(); i < len(ss.idx) && ss.idx[i] >= 0 {
		ss.v.Field(ss.idx[i]).SetString(s)
		return
	}
	m.Set(fd, protoreflect.ValueOfString(s))
}

var protoMessage = reflect.TypeFor[protoreflect.ProtoMessage]()

// messages is the Go slice ([]*T) of fd, a list of messages of m, when m
// is generated; invalid otherwise.
func (ss fieldSetter) messages(fd protoreflect.FieldDescriptor) reflect.Value {
	if i := fd.Index(); i < len(ss.idx) && ss.idx[i] >= 0 {
		return ss.v.Field(ss.idx[i])
	}
	return reflect.Value{}
}

// messageList builds fd, a list of messages of m: a generated message's
// as its Go slice, any other's through protoreflect's list. Nothing is set
// in m until set.
type messageList struct {
	m      protoreflect.Message
	fd     protoreflect.FieldDescriptor
	goList reflect.Value // the generated struct's []*T; invalid for any other
	elems  reflect.Value
	list   protoreflect.List
}

func newMessageList(m protoreflect.Message, strs fieldSetter, fd protoreflect.FieldDescriptor) messageList {
	l := messageList{m: m, fd: fd, goList: strs.messages(fd)}
	if l.goList.IsValid() {
		l.elems = reflect.Zero(l.goList.Type())
	} else {
		l.list = m.NewField(fd).List()
	}
	return l
}

// add appends a new, empty element and returns it, to be filled.
func (l *messageList) add() protoreflect.Message {
	if l.goList.IsValid() {
		ptr := reflect.New(l.goList.Type().Elem().Elem())
		l.elems = reflect.Append(l.elems, ptr)
		return ptr.Interface().(protoreflect.ProtoMessage).ProtoReflect()
	}
	e := l.list.NewElement()
	l.list.Append(e)
	return e.Message()
}

// set sets the list in m.
func (l *messageList) set() {
	if l.goList.IsValid() {
		l.goList.Set(l.elems)
		return
	}
	l.m.Set(l.fd, protoreflect.ValueOfList(l.list))
}

// setList sets fd, a list of strings of m, to list.
func (ss fieldSetter) setList(m protoreflect.Message, fd protoreflect.FieldDescriptor, list []string) {
	if i := fd.Index(); i < len(ss.idx) && ss.idx[i] >= 0 {
		*ss.v.Field(ss.idx[i]).Addr().Interface().(*[]string) = list
		return
	}
	l := m.NewField(fd).List()
	for _, s := range list {
		l.Append(protoreflect.ValueOfString(s))
	}
	m.Set(fd, protoreflect.ValueOfList(l))
}

func goFieldsOf(t reflect.Type, md protoreflect.MessageDescriptor) []int {
	if idx, ok := goFields.Load(t); ok {
		return idx.([]int)
	}
	fields := md.Fields()
	idx := make([]int, fields.Len())
	for i := range idx {
		idx[i] = -1
	}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		// `protobuf:"bytes,3,opt,name=first_name,json=firstName,proto3"`
		parts := strings.Split(sf.Tag.Get("protobuf"), ",")
		if len(parts) < 2 || !sf.IsExported() {
			continue
		}
		n, err := strconv.Atoi(parts[1])
		if err != nil {
			continue
		}
		fd := fields.ByNumber(protoreflect.FieldNumber(n))
		if fd == nil || fd.ContainingOneof() != nil || fd.IsMap() {
			continue
		}
		if fd.IsList() && fd.Kind() == protoreflect.MessageKind {
			// []*T, T the generated message of fd's type.
			if et := sf.Type; et.Kind() == reflect.Slice && et.Elem().Kind() == reflect.Pointer && et.Elem().Implements(protoMessage) &&
				reflect.Zero(et.Elem()).Interface().(protoreflect.ProtoMessage).ProtoReflect().Descriptor() == fd.Message() {
				idx[fd.Index()] = i
			}
			continue
		}
		if fd.Kind() != protoreflect.StringKind {
			continue
		}
		if want := reflect.TypeFor[string](); fd.IsList() {
			if sf.Type != reflect.SliceOf(want) {
				continue
			}
		} else if sf.Type != want {
			continue
		}
		idx[fd.Index()] = i
	}
	actual, _ := goFields.LoadOrStore(t, idx)
	return actual.([]int)
}
