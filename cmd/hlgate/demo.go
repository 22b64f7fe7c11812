package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// installDemo installs the sandbox's demo location through the real OAuth
// code flow, as a person would: hlgate's /oauth/install redirects to the
// consent page, "Allow" redirects to hlgate's /oauth/callback with a code,
// and hlgate exchanges and stores it.
func installDemo(ctx context.Context, hlgateURL string) error {
	return sandbox.Install(ctx, http.DefaultClient, hlgateURL+"/oauth/install", "location:"+sandbox.DemoLocationID)
}

// printDemo prints commands that work as pasted against this process;
// events says the sandbox's webhooks reach this process's receiver.
func printDemo(ctx context.Context, w io.Writer, grpcAddr, httpAddr net.Addr, conn *grpc.ClientConn, events bool) {
	contactID := "<contact id>"
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if resp, err := hlgatev1.NewContactsServiceClient(conn).SearchContacts(ctx, &hlgatev1.SearchContactsRequest{
		LocationId: sandbox.DemoLocationID, PageSize: 1,
	}); err == nil && len(resp.GetContacts()) == 1 {
		contactID = resp.GetContacts()[0].GetId()
	} else if err != nil {
		slog.Warn("demo: first contact search failed", "err", err)
	}
	g, h := loopbackAddr(grpcAddr), "http://"+loopbackAddr(httpAddr)
	loc := sandbox.DemoLocationID
	fmt.Fprintf(w, `
hlgate is running against the in-process sandbox; demo location %[3]s is installed.

Try it (gRPC, with server reflection):
  grpcurl -plaintext -d '{"location_id":"%[3]s","contact_id":"%[4]s"}' %[1]s hlgate.v1.ContactsService/GetContact
  grpcurl -plaintext -d '{"location_id":"%[3]s","query":"a","page_size":5}' %[1]s hlgate.v1.ContactsService/SearchContacts
  grpcurl -plaintext -d '{"location_id":"%[3]s"}' %[1]s hlgate.v1.OpportunitiesService/ListPipelines

Or REST:
  curl -s %[2]s/v1/locations/%[3]s/contacts/%[4]s
  curl -s -X POST %[2]s/v1/locations/%[3]s/contacts:search -d '{"query":"a","pageSize":5}'
  curl -s %[2]s/v1/locations/%[3]s/calendars

Also: %[2]s/openapi.json  %[2]s/metrics  %[2]s/readyz
`, g, h, loc, contactID)
	if events {
		fmt.Fprintf(w, `
Webhooks: the sandbox posts its writes' events to %[2]s/webhooks/highlevel.
Watch them (leave it running; the subscription starts when first opened):
  curl -s -N %[2]s/v1/subscriptions/demo/events:stream
Then, in another terminal, create a contact and see its ContactCreate arrive:
  curl -s -X POST %[2]s/v1/locations/%[3]s/contacts -d '{"firstName":"Ada","email":"ada@example.com"}'
`, g, h, loc)
	}
	fmt.Fprint(w, "Stop with Ctrl-C.\n")
}
