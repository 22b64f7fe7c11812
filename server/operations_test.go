package server

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
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
	files := []protoreflect.FileDescriptor{
		hlgatev1.File_hlgate_v1_contacts_service_proto, hlgatev1.File_hlgate_v1_opportunities_service_proto,
		hlgatev1.File_hlgate_v1_calendars_service_proto, hlgatev1.File_hlgate_v1_payments_service_proto,
		hlgatev1.File_hlgate_v1_tokens_service_proto,
	}
	n := 0
	for _, f := range files {
		for i := 0; i < f.Services().Len(); i++ {
			svc := f.Services().Get(i)
			for j := 0; j < svc.Methods().Len(); j++ {
				m := svc.Methods().Get(j)
				full := "/" + string(svc.FullName()) + "/" + string(m.Name())
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
			}
		}
	}
	if n != 29 {
		t.Errorf("%d RPCs name an upstream operation, want 29", n)
	}
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
