package server

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/hlgate/hlgate/gen/optable"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// localOnly are the RPCs that call no HighLevel operation: token
// administration inside hlgate's own store.
var localOnly = map[string]bool{
	hlgatev1.TokensService_ImportToken_FullMethodName:    true,
	hlgatev1.TokensService_GetTokenStatus_FullMethodName: true,
	hlgatev1.TokensService_DeleteToken_FullMethodName:    true,
	hlgatev1.TokensService_ConfirmInstall_FullMethodName: true,
}

// Every RPC that forwards to HighLevel names the official operation it
// calls in its (hlgate.v1.upstream) option, and no two RPCs name the same
// one.
func TestEveryForwardingRPCNamesItsOperation(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	n := 0
	eachMethod(hlgateFiles, func(full string, m protoreflect.MethodDescriptor) {
		op := operationOf(m)
		switch {
		case localOnly[full] && op != "":
			t.Errorf("%s calls no HighLevel operation but names %q", full, op)
		case localOnly[full]:
		case op == "":
			t.Errorf("%s has no (hlgate.v1.upstream).operation_id", full)
		case seen[op] != "":
			t.Errorf("%s and %s both name %q", seen[op], full, op)
		default:
			seen[op] = full
			n++
		}
	})
	// One RPC per exposed row, but the token store's own listing of an
	// agency's installs, which no RPC forwards.
	want := -1
	for _, row := range optable.Ops {
		if row.Exposed {
			want++
		}
	}
	if n != want {
		t.Errorf("%d RPCs name an upstream operation, want %d (one per exposed row but get-installed-location)", n, want)
	}
	// Every operation the table exposes has an RPC, and each RPC's rule
	// carries the operation's Version and retry safety from the table, and
	// the sandbox serves it.
	routes := map[string]bool{}
	for _, r := range sandbox.New(sandbox.Config{}).Routes() {
		routes[r] = true
	}
	for _, row := range optable.Ops {
		// The token endpoint is the sandbox's OAuth handler, not a resource
		// route (sandbox/oauth_test.go).
		if row.Declared && row.ID != "get-access-token" && !routes[row.Method+" "+row.Path] {
			t.Errorf("the table declares %s (%s %s), which the sandbox does not serve", row.ID, row.Method, row.Path)
		}
		if !row.Exposed || row.Document == "oauth" && row.ID == "get-installed-location" {
			continue
		}
		full := seen[row.ID]
		if full == "" {
			t.Errorf("the table exposes %s, which no RPC names", row.ID)
			continue
		}
		r := methodRules[full]
		if r == nil || r.op == nil || r.op.Version != row.Version || r.op.Safe != row.Safe || r.op.ID != row.ID {
			t.Errorf("%s: rule %+v does not carry %s's Version %q and Safe %v", full, r, row.ID, row.Version, row.Safe)
		}
		if want := map[bool]Access{true: AccessRead, false: AccessWrite}[row.Read]; r != nil && r.access < want {
			t.Errorf("%s: access %s, but %s needs %s", full, r.access, row.ID, want)
		}
		if row.Version == "" && row.Document != "oauth" {
			t.Errorf("%s declares no Version header", row.ID)
		}
	}
}

// An RPC that names an operation the table does not expose is refused at
// start.
func TestUnknownOperationIsRefused(t *testing.T) {
	t.Parallel()
	opts := &descriptorpb.MethodOptions{}
	proto.SetExtension(opts, hlgatev1.E_Upstream, &hlgatev1.UpstreamOperation{OperationId: "no-such-operation"})
	fake := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("hlgate/fake/fake.proto"),
		Package:    proto.String("hlgate.fake"),
		Dependency: []string{"hlgate/v1/contacts.proto"},
		Syntax:     proto.String("proto3"),
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("FakeService"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name: proto.String("GetContact"), InputType: proto.String(".hlgate.v1.GetContactRequest"),
				OutputType: proto.String(".hlgate.v1.GetContactResponse"), Options: opts,
			}},
		}},
	}
	fd, err := protodesc.NewFile(fake, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	if err := forwardingRules(map[string]*rule{}, fd); err == nil || !strings.Contains(err.Error(), "no-such-operation") {
		t.Fatalf("forwardingRules = %v, want an error naming the operation", err)
	}
}
