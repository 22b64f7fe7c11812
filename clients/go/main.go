// Command example calls hlgate over gRPC with the Go client generated into
// gen/ by `make clients`: a contact search read page by page to the end,
// GetContact of the first contact found, and a call hlgate refuses, whose
// google.rpc error details (ErrorInfo, BadRequest) it decodes.
//
// Against `make run` (sandbox, caller auth off) it needs no flags:
//
//	make clients && (cd clients/go && go run .)
//
// Flags, each with an environment variable: -addr (HLGATE_ADDR,
// 127.0.0.1:9090), -key (HLGATE_CALLER_KEY, none: sent as "authorization:
// Bearer <key>" when set), -location (HLGATE_LOCATION, the sandbox's demo
// location), -query (ada) and -page-size (20).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	hlgatev1 "github.com/hlgate/hlgate/clients/go/gen/hlgate/v1"
)

func main() {
	addr := flag.String("addr", env("HLGATE_ADDR", "127.0.0.1:9090"), "hlgate's gRPC address")
	key := flag.String("key", env("HLGATE_CALLER_KEY", ""), "caller key (none with `make run`)")
	location := flag.String("location", env("HLGATE_LOCATION", "SbxDemoLocation00001"), "location id")
	query := flag.String("query", "ada", "contact search text")
	pageSize := flag.Int("page-size", 20, "contacts per page")
	flag.Parse()
	if err := run(*addr, *key, *location, *query, int32(*pageSize)); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(addr, key, location, query string, pageSize int32) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	contacts := hlgatev1.NewContactsServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}

	// A search read to the end: each response's next_page_token asks for
	// the next page, until it is empty.
	var firstID, token string
	pages, found, total := 0, 0, int32(0)
	for {
		resp, err := contacts.SearchContacts(ctx, &hlgatev1.SearchContactsRequest{
			LocationId: location, Query: query, PageSize: pageSize, PageToken: token,
		})
		if err != nil {
			return fmt.Errorf("SearchContacts page %d: %w", pages+1, err)
		}
		pages++
		found += len(resp.GetContacts())
		total = resp.GetTotalSize()
		if firstID == "" && len(resp.GetContacts()) > 0 {
			firstID = resp.GetContacts()[0].GetId()
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	fmt.Printf("search %q: %d contacts in %d pages (total_size %d)\n", query, found, pages, total)
	if firstID == "" {
		return fmt.Errorf("search %q found no contact to get", query)
	}

	got, err := contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: location, ContactId: firstID})
	if err != nil {
		return fmt.Errorf("GetContact: %w", err)
	}
	c := got.GetContact()
	fmt.Printf("contact %s: %s <%s> in %s\n", c.GetId(), c.GetName(), c.GetEmail(), c.GetLocationId())

	// A call hlgate refuses before it reaches HighLevel: the id has
	// characters no HighLevel id has. The status carries ErrorInfo (why, for
	// code to branch on) and BadRequest (which field).
	_, err = contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: location, ContactId: "not an id!"})
	if err == nil {
		return errors.New("GetContact with a malformed id succeeded")
	}
	st := status.Convert(err)
	fmt.Printf("error %s: %s\n", st.Code(), st.Message())
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			fmt.Printf("  ErrorInfo reason=%s domain=%s\n", d.GetReason(), d.GetDomain())
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				fmt.Printf("  BadRequest field=%s: %s\n", v.GetField(), v.GetDescription())
			}
		case *errdetails.RetryInfo:
			fmt.Printf("  RetryInfo retry_delay=%s\n", d.GetRetryDelay().AsDuration())
		case error:
			return fmt.Errorf("undecodable error detail: %w", d)
		}
	}
	return nil
}
