package server

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/hlgate/hlgate/gen/optable"
)

// An empty 2xx answer is the whole answer of an operation whose response
// declares no members (the document gives it no schema), and a lost body
// of one whose response declares any: the first decodes as an empty
// response, the second is refused, as before.
func TestEmptyAnswerIsAnAnswerOnlyWhereNothingIsDeclared(t *testing.T) {
	t.Parallel()
	row, ok := optable.Lookup("get-contact")
	if !ok {
		t.Fatal("no get-contact row")
	}
	msg := func(name string, fields ...*descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: fields}
	}
	method := func(name, out string) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(".emptyans.Req"), OutputType: proto.String(".emptyans." + out)}
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("emptyans/emptyans.proto"), Package: proto.String("emptyans"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			msg("Req", strField("location_id", 1), strField("contact_id", 2)),
			msg("Nothing"),
			msg("Something", strField("id", 1)),
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("Probe"),
			Method: []*descriptorpb.MethodDescriptorProto{method("Nothing", "Nothing"), method("Something", "Something")}}},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	answer := ""
	s := fakeHL(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(answer))
	})
	call := func(name string) (proto.Message, error) {
		m := fd.Services().Get(0).Methods().ByName(protoreflect.Name(name))
		f, err := newForward(m, row)
		if err != nil {
			t.Fatal(err)
		}
		in := dynamicpb.NewMessage(m.Input())
		in.Set(m.Input().Fields().ByName("location_id"), protoreflect.ValueOfString("LocationA0000000001"))
		in.Set(m.Input().Fields().ByName("contact_id"), protoreflect.ValueOfString("c1"))
		return f.call(context.Background(), s, in)
	}
	for _, a := range []string{"", " \n"} {
		answer = a
		if out, err := call("Nothing"); err != nil || out == nil {
			t.Errorf("an empty answer %q to a response of no members = %v, %v; want an empty response", a, out, err)
		}
		if _, err := call("Something"); !errors.Is(err, errMissingBody) {
			t.Errorf("an empty answer %q to a response with members: %v, want errMissingBody", a, err)
		}
	}
	answer = `{"id":"c1"}`
	out, err := call("Something")
	if err != nil {
		t.Fatalf("an answer with its members: %v", err)
	}
	if id := out.ProtoReflect().Get(out.ProtoReflect().Descriptor().Fields().ByName("id")).String(); id != "c1" {
		t.Errorf("id = %q, want c1", id)
	}
}
