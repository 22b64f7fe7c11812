package server

import (
	"context"
	"testing"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/jsonproto"
)

// The generic path's own cost per call, past gRPC and the upstream chain:
// binding the request, building the upstream request, sending it to a
// loopback server that answers the document's example contact, and
// decoding the answer without loss. Run with
//
//	go test -run XXX -bench Generic -benchmem ./server/
func BenchmarkGenericGetContact(b *testing.B) {
	svc := fakeUpstream(b, map[string]string{"GET /contacts/seD4PfOuKoVMLkEZqohJ": string(contactsGolden(b, "get_contact.json"))})
	req := &hlgatev1.GetContactRequest{LocationId: "ve9EPM428h8vShlRW1KT", ContactId: "seD4PfOuKoVMLkEZqohJ"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := callForward(ctx, svc.s, hlgatev1.ContactsService_GetContact_FullMethodName, req); err != nil {
			b.Fatal(err)
		}
	}
}

// The same request built and the answer decoded, without the loopback
// round trip: what the generic path adds to a bare proxy.
func BenchmarkGenericGetContactNoNetwork(b *testing.B) {
	f := forwards[hlgatev1.ContactsService_GetContact_FullMethodName]
	answer := contactsGolden(b, "get_contact.json")
	req := &hlgatev1.GetContactRequest{LocationId: "ve9EPM428h8vShlRW1KT", ContactId: "seD4PfOuKoVMLkEZqohJ"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.request(req, nil); err != nil {
			b.Fatal(err)
		}
		out := f.out.New().Interface()
		if _, err := jsonproto.Decode(answer, out); err != nil {
			b.Fatal(err)
		}
	}
}
