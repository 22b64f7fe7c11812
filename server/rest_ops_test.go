package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/hlgate/hlgate/gen/optable"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
	"github.com/hlgate/hlgate/tokenstore"
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

// restLoc is the demo location, whose token the harness installs.
const restLoc = sandbox.DemoLocationID

// restObject sends a REST request to the gateway, wants 200 and decodes the
// answer.
func restObject(t *testing.T, h *harness, method, path string, body any) map[string]any {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	code, _, ans := h.rest(method, path, "", r)
	if code != http.StatusOK {
		t.Fatalf("%s %s = %d %s", method, path, code, ans)
	}
	var m map[string]any
	if err := json.Unmarshal(ans, &m); err != nil {
		t.Fatalf("%s %s: %v (%s)", method, path, err, ans)
	}
	return m
}

// aContact is a seeded contact of the demo location that has an email.
func aContact(t *testing.T, h *harness) (id, email string) {
	t.Helper()
	found, err := h.contacts.SearchContacts(h.ctx(""), &hlgatev1.SearchContactsRequest{LocationId: restLoc, PageSize: 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range found.GetContacts() {
		if c.GetEmail() != "" {
			return c.GetId(), c.GetEmail()
		}
	}
	t.Fatal("no seeded contact has an email")
	return "", ""
}

// Custom subtypes are created, listed and changed, and a contact's
// subscriptions changed and read, over gRPC and REST: what one transport
// writes, the other reads; a resubscribe without a legal reason and a
// change missing its contact are refused with the field named.
func TestPreferencesSubtypesAndSubscriptions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	c := hlgatev1.NewConversationsServiceClient(h.conn)
	news, err := c.CreateCustomSubtype(ctx, &hlgatev1.CreateCustomSubtypeRequest{LocationId: restLoc,
		Name: proto.String("Newsletter"), Channel: proto.String("email"), Language: proto.String("en")})
	if err != nil || news.GetId() == "" || news.GetLocationId() != restLoc {
		t.Fatalf("CreateCustomSubtype = %v, %v", news, err)
	}
	promo := restObject(t, h, http.MethodPost, "/v1/locations/"+restLoc+"/conversations/preferences/custom-subtypes",
		map[string]any{"name": "Promotions", "channel": "email", "language": "en", "description": "Offers"})
	promoID, _ := promo["id"].(string)
	if promoID == "" || promo["description"] != "Offers" {
		t.Fatalf("POST a custom subtype = %v", promo)
	}
	if _, err := c.UpdateCustomSubtype(ctx, &hlgatev1.UpdateCustomSubtypeRequest{LocationId: restLoc, Id: promoID, Name: proto.String("Promotions and offers")}); err != nil {
		t.Fatalf("UpdateCustomSubtype: %v", err)
	}
	list, err := c.GetAllCustomSubtypes(ctx, &hlgatev1.GetAllCustomSubtypesRequest{LocationId: restLoc})
	if err != nil || len(list.GetCustomSubtypes()) != 2 || list.GetCustomSubtypes()[1].GetName() != "Promotions and offers" {
		t.Fatalf("GetAllCustomSubtypes = %v, %v", list, err)
	}
	if got := restObject(t, h, http.MethodGet, "/v1/locations/"+restLoc+"/conversations/preferences/custom-subtypes", nil); len(got["customSubtypes"].([]any)) != 2 {
		t.Fatalf("GET the custom subtypes = %v", got)
	}

	contactID, email := aContact(t, h)
	if _, err := c.UserSubscriptionChange(ctx, &hlgatev1.UserSubscriptionChangeRequest{LocationId: restLoc, ContactId: proto.String(contactID), Email: proto.String(email),
		SubscriptionAction: &hlgatev1.SubscriptionActionDto{Type: proto.String("custom"), SubtypeId: proto.String(news.GetId()), SubtypeStatus: proto.String("unsubscribed")}}); err != nil {
		t.Fatalf("UserSubscriptionChange: %v", err)
	}
	changed := restObject(t, h, http.MethodPost, "/v1/locations/"+restLoc+"/conversations/preferences/unsubscriptions/user-change", map[string]any{
		"contactId": contactID, "email": email,
		"subscription_action": map[string]any{"type": "default", "subtype_name": "One on One", "subtype_status": "unsubscribed"}})
	if changed["email"] != strings.ToLower(email) && changed["email"] != email {
		t.Fatalf("POST a subscription change = %v", changed)
	}
	st, err := c.GetContactUnsubscriptionStatus(ctx, &hlgatev1.GetContactUnsubscriptionStatusRequest{LocationId: restLoc, ContactId: proto.String(contactID)})
	if err != nil || len(st.GetEmails()) != 1 {
		t.Fatalf("GetContactUnsubscriptionStatus = %v, %v", st, err)
	}
	statuses := map[string]string{}
	for _, s := range st.GetEmails()[0].GetSubscriptions() {
		statuses[s.GetSubtypeName()+s.GetSubtypeId()] = s.GetSubtypeStatus()
	}
	want := map[string]string{"One on One": "unsubscribed", "Newsletter" + news.GetId(): "unsubscribed", "Promotions and offers" + promoID: "subscribed"}
	if !maps.Equal(statuses, want) {
		t.Fatalf("statuses = %v, want %v", statuses, want)
	}
	byREST := restObject(t, h, http.MethodGet, "/v1/locations/"+restLoc+"/conversations/preferences/unsubscriptions/status?contactId="+contactID+"&email="+url.QueryEscape(email), nil)
	if byREST["contactId"] != contactID || len(byREST["emails"].([]any)) != 1 {
		t.Fatalf("GET the statuses = %v", byREST)
	}

	_, err = c.UserSubscriptionChange(ctx, &hlgatev1.UserSubscriptionChangeRequest{LocationId: restLoc, ContactId: proto.String(contactID), Email: proto.String(email),
		SubscriptionAction: &hlgatev1.SubscriptionActionDto{Type: proto.String("resub_all"), SubtypeStatus: proto.String("subscribed")}})
	// No legal_reason: HighLevel's rule (the sandbox's), refused upstream.
	wantStatus(t, err, codes.InvalidArgument, ReasonUpstreamRejected)
	_, err = c.UserSubscriptionChange(ctx, &hlgatev1.UserSubscriptionChangeRequest{LocationId: restLoc, Email: proto.String(email),
		SubscriptionAction: &hlgatev1.SubscriptionActionDto{Type: proto.String("resub_all"), SubtypeStatus: proto.String("subscribed")}, LegalReason: proto.String("asked")})
	wantFieldViolation(t, wantStatus(t, err, codes.InvalidArgument, ReasonInvalidArgument), "contact_id")
}

// A call message's attachments are replaced over gRPC and REST (the answer
// is empty); a message of another type is refused, and so are six URLs.
func TestMessageAttachments(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	for _, doc := range []string{
		`{"id":"CallMessage000000001","messageType":"TYPE_CUSTOM_CALL","type":34,"locationId":"` + restLoc + `"}`,
		`{"id":"ExternalCall00000001","messageType":"TYPE_CALL","subType":"EXTERNAL_CALL","type":1,"locationId":"` + restLoc + `"}`,
		`{"id":"SmsMessage0000000001","messageType":"TYPE_SMS","type":2,"locationId":"` + restLoc + `"}`,
	} {
		if err := h.sb.PutDocument(restLoc, "/conversations/messages", json.RawMessage(doc)); err != nil {
			t.Fatal(err)
		}
	}
	c := hlgatev1.NewConversationsServiceClient(h.conn)
	if _, err := c.AddMessageAttachments(ctx, &hlgatev1.AddMessageAttachmentsRequest{LocationId: restLoc, MessageId: "CallMessage000000001",
		Attachments: []string{"https://provider.example.com/recordings/call-1.mp3"}}); err != nil {
		t.Fatalf("AddMessageAttachments: %v", err)
	}
	if got := restObject(t, h, http.MethodPut, "/v1/locations/"+restLoc+"/conversations/messages/ExternalCall00000001/attachments",
		map[string]any{"attachments": []string{"https://provider.example.com/a.mp3", "https://provider.example.com/b.mp3"}}); len(got) != 0 {
		t.Fatalf("PUT the attachments = %v, want an empty answer", got)
	}
	_, err := c.AddMessageAttachments(ctx, &hlgatev1.AddMessageAttachmentsRequest{LocationId: restLoc, MessageId: "SmsMessage0000000001", Attachments: []string{"https://a.example/1"}})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("attachments on an SMS: %v, want PERMISSION_DENIED", err)
	}
	six := []string{"https://a.example/1", "https://a.example/2", "https://a.example/3", "https://a.example/4", "https://a.example/5", "https://a.example/6"}
	// The document's maxItems (the overlay's) is checked before anything
	// is sent, with the field named.
	before := h.hits.total("")
	_, err = c.AddMessageAttachments(ctx, &hlgatev1.AddMessageAttachmentsRequest{LocationId: restLoc, MessageId: "CallMessage000000001", Attachments: six})
	wantFieldViolation(t, status.Convert(err), "attachments")
	if h.hits.total("") != before {
		t.Fatal("six attachments reached the sandbox")
	}
	msg, err := c.GetMessage(ctx, &hlgatev1.GetMessageRequest{LocationId: restLoc, Id: "CallMessage000000001"})
	if err != nil {
		t.Fatalf("GetMessage: %v", err)
	}
	if b, _ := protojson.Marshal(msg); !strings.Contains(string(b), "call-1.mp3") || strings.Contains(string(b), "a.example/6") {
		t.Fatalf("the message after the changes = %s, want the first attachment only", b)
	}
}

// The location's tasks are its contacts' tasks: walked to the end through
// page_token, two at a time, over gRPC and REST, every task once and in
// order; the filters narrow the search.
func TestTaskSearchWalksEveryPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	found, err := h.contacts.SearchContacts(ctx, &hlgatev1.SearchContactsRequest{LocationId: restLoc, PageSize: 3})
	if err != nil || len(found.GetContacts()) != 3 {
		t.Fatalf("SearchContacts = %v, %v", found, err)
	}
	var contacts []string
	for _, c := range found.GetContacts() {
		contacts = append(contacts, c.GetId())
	}
	slices.Sort(contacts)
	var want, wantDone []string // in the search's order: contact id, then creation
	for i, cid := range contacts {
		for k := range 2 + i { // 2, 3 and 4 tasks
			id := fmt.Sprintf("Task%02d%02d000000000000", i, k)
			done := k%2 == 1
			doc := fmt.Sprintf(`{"id":%q,"title":"Task %d of contact %d","body":"call back","assignedTo":"User%d","dueDate":"2026-05-0%dT10:00:00.000Z","completed":%t}`, id, k, i, k%2, k+1, done)
			if err := h.sb.PutDocument(restLoc, "/contacts/"+cid+"/tasks", json.RawMessage(doc)); err != nil {
				t.Fatal(err)
			}
			want = append(want, id)
			if done {
				wantDone = append(wantDone, id)
			}
		}
	}
	svc := hlgatev1.NewLocationsServiceClient(h.conn)
	var got []string
	token := ""
	for range 10 {
		page, err := svc.TaskSearch(ctx, &hlgatev1.TaskSearchRequest{LocationId: restLoc, PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatalf("TaskSearch: %v", err)
		}
		if len(page.GetTasks()) > 2 {
			t.Fatalf("a page of %d tasks, asked 2", len(page.GetTasks()))
		}
		for _, task := range page.GetTasks() {
			got = append(got, task.GetId())
			if !slices.Contains(contacts, task.GetContactId()) {
				t.Errorf("task %s names contact %q", task.GetId(), task.GetContactId())
			}
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("walked tasks %v, want %v", got, want)
	}
	// Over REST, the completed ones of two assignees' ... one assignee.
	got = nil
	body := map[string]any{"completed": true, "assignedTo": []string{"User1"}, "pageSize": 2}
	for range 10 {
		page := restObject(t, h, http.MethodPost, "/v1/locations/"+restLoc+"/tasks/search", body)
		tasks, _ := page["tasks"].([]any)
		for _, task := range tasks {
			got = append(got, task.(map[string]any)["id"].(string))
		}
		next, _ := page["nextPageToken"].(string)
		if next == "" {
			break
		}
		body["pageToken"] = next
	}
	if !slices.Equal(got, wantDone) {
		t.Fatalf("completed tasks over REST %v, want %v", got, wantDone)
	}
	one, err := svc.TaskSearch(ctx, &hlgatev1.TaskSearchRequest{LocationId: restLoc, ContactId: contacts[:1], Query: proto.String("TASK 1 of")})
	if err != nil || len(one.GetTasks()) != 1 || one.GetTasks()[0].GetId() != want[1] {
		t.Fatalf("TaskSearch of one contact's task 1 = %v, %v", one, err)
	}
}

// An order's items are fulfilled over gRPC and REST, and the sandbox gets
// the items and trackings sent; an item the order lacks, or more of one
// than is left, is refused; the fulfillments and the notes are listed
// both ways.
func TestOrderFulfillments(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	orders, err := h.payments.ListOrders(ctx, &hlgatev1.ListOrdersRequest{LocationId: restLoc, Status: "completed", PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	var order *hlgatev1.Order
	for _, o := range orders.GetOrders() {
		full, err := h.payments.GetOrder(ctx, &hlgatev1.GetOrderRequest{LocationId: restLoc, OrderId: o.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		if it := full.GetOrder().GetItems(); len(it) > 0 && it[0].GetQuantity() >= 2 {
			order = full.GetOrder()
			break
		}
	}
	if order == nil {
		t.Fatal("no completed order has an item of two or more")
	}
	item := order.GetItems()[0]
	pay := hlgatev1.NewPaymentsServiceClient(h.conn)
	made, err := pay.CreateOrderFulfillment(ctx, &hlgatev1.CreateOrderFulfillmentRequest{LocationId: restLoc, OrderId: order.GetId(), AltType: proto.String("location"),
		Trackings:      []*hlgatev1.FulfillmentTracking{{TrackingNumber: proto.String("40012345678"), ShippingCarrier: proto.String("FedEx")}},
		Items:          []*hlgatev1.FulfillmentItems{{PriceId: proto.String(item.GetPriceId()), Qty: proto.Float64(1)}},
		NotifyCustomer: proto.Bool(false)})
	if err != nil || !made.GetStatus() || made.GetData().GetId() == "" {
		t.Fatalf("CreateOrderFulfillment = %v, %v", made, err)
	}
	if it := made.GetData().GetItems(); len(it) != 1 || it[0].GetId() != item.GetPriceId() || it[0].GetQty() != 1 || made.GetData().GetTrackings()[0].GetShippingCarrier() != "FedEx" {
		t.Fatalf("the fulfillment = %v, want one of %s, by FedEx", made.GetData(), item.GetPriceId())
	}
	path := "/v1/locations/" + restLoc + "/payments/orders/" + order.GetId() + "/fulfillments"
	rest := restObject(t, h, http.MethodPost, path, map[string]any{"altType": "location", "notifyCustomer": true, "trackings": []any{map[string]any{"trackingNumber": "1Z999", "shippingCarrier": "UPS"}},
		"items": []any{map[string]any{"priceId": item.GetPriceId(), "qty": item.GetQuantity() - 1}}})
	if rest["status"] != true {
		t.Fatalf("POST a fulfillment = %v", rest)
	}
	for name, items := range map[string]*hlgatev1.FulfillmentItems{
		"an item the order lacks":  {PriceId: proto.String("NoSuchPrice000000001"), Qty: proto.Float64(1)},
		"more than is left":        {PriceId: proto.String(item.GetPriceId()), Qty: proto.Float64(1)},
		"a part of a unit":         {PriceId: proto.String(item.GetPriceId()), Qty: proto.Float64(0.5)},
		"an item without quantity": {PriceId: proto.String(item.GetPriceId())},
	} {
		_, err := pay.CreateOrderFulfillment(ctx, &hlgatev1.CreateOrderFulfillmentRequest{LocationId: restLoc, OrderId: order.GetId(), AltType: proto.String("location"),
			Trackings: []*hlgatev1.FulfillmentTracking{{TrackingNumber: proto.String("1")}}, Items: []*hlgatev1.FulfillmentItems{items}, NotifyCustomer: proto.Bool(false)})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("a fulfillment of %s: %v, want INVALID_ARGUMENT", name, err)
		}
	}
	list, err := pay.ListOrderFulfillment(ctx, &hlgatev1.ListOrderFulfillmentRequest{LocationId: restLoc, OrderId: order.GetId()})
	if err != nil || len(list.GetData()) != 2 || list.GetData()[1].GetItems()[0].GetQty() != float64(item.GetQuantity()-1) {
		t.Fatalf("ListOrderFulfillment = %v, %v", list, err)
	}
	if got := restObject(t, h, http.MethodGet, path, nil); len(got["data"].([]any)) != 2 {
		t.Fatalf("GET the fulfillments = %v", got)
	}
	if after, err := h.payments.GetOrder(ctx, &hlgatev1.GetOrderRequest{LocationId: restLoc, OrderId: order.GetId()}); err != nil || after.GetOrder().GetFulfillmentStatus() == "unfulfilled" {
		t.Fatalf("the order after its fulfillments = %v, %v", after.GetOrder().GetFulfillmentStatus(), err)
	}

	note := `{"_id":"OrderNote00000000001","body":"Gift wrap","createdAt":"2026-04-14T15:07:00.000Z"}`
	if err := h.sb.PutDocument(restLoc, "/payments/orders/"+order.GetId()+"/notes", json.RawMessage(note)); err != nil {
		t.Fatal(err)
	}
	notes, err := pay.ListOrderNotes(ctx, &hlgatev1.ListOrderNotesRequest{LocationId: restLoc, OrderId: order.GetId()})
	if err != nil || len(notes.GetData()) != 1 || notes.GetData()[0].GetId() != "OrderNote00000000001" || notes.GetData()[0].GetUnmapped().GetFields()["body"].GetStringValue() != "Gift wrap" {
		t.Fatalf("ListOrderNotes = %v, %v", notes, err)
	}
	if got := restObject(t, h, http.MethodGet, "/v1/locations/"+restLoc+"/payments/orders/"+order.GetId()+"/notes", nil); len(got["data"].([]any)) != 1 {
		t.Fatalf("GET the notes = %v", got)
	}
}

// The time zones, over gRPC and REST.
func TestTimezones(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	tz, err := hlgatev1.NewLocationsServiceClient(h.conn).GetTimezones(h.ctx(""), &hlgatev1.GetTimezonesRequest{LocationId: restLoc})
	if err != nil || !slices.Contains(tz.GetTimeZones(), "America/New_York") {
		t.Fatalf("GetTimezones = %v, %v", tz, err)
	}
	if got := restObject(t, h, http.MethodGet, "/v1/locations/"+restLoc+"/timezones", nil); len(got["timeZones"].([]any)) != len(tz.GetTimeZones()) {
		t.Fatalf("GET the time zones = %v", got)
	}
}

// An invoice and an estimate are stamped visited at the sandbox's time, over
// gRPC and REST; an invoice the location lacks is not found.
func TestLastVisitedStamps(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 4, 14, 15, 7, 0, 0, time.UTC)
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true, Now: func() time.Time { return at }}})
	ctx := h.ctx("")
	for coll, id := range map[string]string{"/invoices": "VisitedInvoice000001", "/invoices/estimate": "VisitedEstimate00001"} {
		if err := h.sb.PutDocument(restLoc, coll, json.RawMessage(`{"_id":"`+id+`","altId":"`+restLoc+`","altType":"location","name":"Visit me"}`)); err != nil {
			t.Fatal(err)
		}
	}
	inv := hlgatev1.NewInvoicesServiceClient(h.conn)
	if _, err := inv.UpdateInvoiceLastVisitedAt(ctx, &hlgatev1.UpdateInvoiceLastVisitedAtRequest{LocationId: restLoc, InvoiceId: proto.String("VisitedInvoice000001")}); err != nil {
		t.Fatalf("UpdateInvoiceLastVisitedAt: %v", err)
	}
	_, err := inv.UpdateInvoiceLastVisitedAt(ctx, &hlgatev1.UpdateInvoiceLastVisitedAtRequest{LocationId: restLoc, InvoiceId: proto.String("NoSuchInvoice0000001")})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("stamping an unknown invoice: %v, want NOT_FOUND", err)
	}
	_, err = inv.UpdateInvoiceLastVisitedAt(ctx, &hlgatev1.UpdateInvoiceLastVisitedAtRequest{LocationId: restLoc})
	wantFieldViolation(t, wantStatus(t, err, codes.InvalidArgument, ReasonInvalidArgument), "invoice_id")
	if got := restObject(t, h, http.MethodPatch, "/v1/locations/"+restLoc+"/invoices/estimate/stats/last-visited-at", map[string]any{"estimateId": "VisitedEstimate00001"}); len(got) != 0 {
		t.Fatalf("PATCH the estimate's stamp = %v, want an empty answer", got)
	}
	got, err := inv.GetInvoice(ctx, &hlgatev1.GetInvoiceRequest{LocationId: restLoc, InvoiceId: "VisitedInvoice000001"})
	if err != nil {
		t.Fatalf("GetInvoice: %v", err)
	}
	if b, _ := protojson.Marshal(got); !strings.Contains(string(b), `"lastVisitedAt":"2026-04-14T15:07:00.000Z"`) {
		t.Fatalf("the stamped invoice = %s", b)
	}
}

// The company's users are filtered by email with the company's token, over
// gRPC and REST: a user of two locations once, a deleted one only when
// asked, by default its id and email only.
func TestFilterUsersByEmail(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	code, err := h.sb.MintCode(sandbox.CodeRequest{UserType: sandbox.UserCompany})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.mgr.ExchangeCode(h.ctx(""), code, "", tokenstore.ExchangeOptions{}); err != nil {
		t.Fatalf("install the company: %v", err)
	}
	ann := `{"id":"UserAnn0000000000001","email":"ann@example.com","firstName":"Ann","deleted":false}`
	for loc, docs := range map[string][]string{
		sandbox.DemoLocationID:  {ann, `{"id":"UserBob0000000000002","email":"Bob@Example.com","firstName":"Bob","deleted":true}`},
		sandbox.OtherLocationID: {ann, `{"id":"UserCyd0000000000003","email":"cyd@example.com","firstName":"Cyd","deleted":false}`},
	} {
		for _, d := range docs {
			if err := h.sb.PutDocument(loc, "/users", json.RawMessage(d)); err != nil {
				t.Fatal(err)
			}
		}
	}
	users := hlgatev1.NewUsersServiceClient(h.conn)
	co := sandbox.DemoCompanyID
	got, err := users.FilterUsersByEmail(h.ctx(""), &hlgatev1.FilterUsersByEmailRequest{CompanyId: co, Emails: proto.String("ann@example.com, bob@example.com,cyd@example.com")})
	if err != nil {
		t.Fatalf("FilterUsersByEmail: %v", err)
	}
	var ids []string
	for _, u := range got.GetUsers() {
		ids = append(ids, u.GetId())
		if u.GetFirstName() != "" {
			t.Errorf("user %s has its first name without a projection", u.GetId())
		}
	}
	if !slices.Equal(ids, []string{"UserAnn0000000000001", "UserCyd0000000000003"}) || got.GetCount() != 2 {
		t.Fatalf("users = %v (count %v), want Ann and Cyd", ids, got.GetCount())
	}
	rest := restObject(t, h, http.MethodPost, "/v1/companies/"+co+"/users/search/filter-by-email",
		map[string]any{"emails": "bob@example.com", "deleted": true, "projection": "all"})
	if us, _ := rest["users"].([]any); len(us) != 1 || us[0].(map[string]any)["firstName"] != "Bob" {
		t.Fatalf("POST the filter = %v, want Bob, whole", rest)
	}
	_, err = users.FilterUsersByEmail(h.ctx(""), &hlgatev1.FilterUsersByEmailRequest{CompanyId: co})
	wantFieldViolation(t, wantStatus(t, err, codes.InvalidArgument, ReasonInvalidArgument), "emails")
}

// The whitelabel providers, declared one object upstream, are a list
// (corrected in the overlay): walked to the end by limit and offset behind
// page_token, over gRPC two at a time and over REST, every provider once.
func TestWhitelabelProvidersWalkEveryPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	var want []string
	for i := range 5 {
		id := fmt.Sprintf("Provider%012d", i)
		doc := fmt.Sprintf(`{"_id":%q,"altId":%q,"altType":"location","title":"Provider %d","route":"p%d","provider":"nmi","description":"d","imageUrl":"https://example.com/p.png","createdAt":"2026-04-14T15:07:00.000Z","updatedAt":"2026-04-14T15:07:00.000Z"}`, id, restLoc, i, i)
		if err := h.sb.PutDocument(restLoc, "/payments/integrations/provider/whitelabel", json.RawMessage(doc)); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	pay := hlgatev1.NewPaymentsServiceClient(h.conn)
	var got []string
	token := ""
	for range 10 {
		page, err := pay.ListIntegrationProviders(h.ctx(""), &hlgatev1.ListIntegrationProvidersRequest{LocationId: restLoc, PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatalf("ListIntegrationProviders: %v", err)
		}
		for _, p := range page.GetProviders() {
			got = append(got, p.GetId())
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("walked providers %v, want %v", got, want)
	}
	if all := restObject(t, h, http.MethodGet, "/v1/locations/"+restLoc+"/payments/integrations/provider/whitelabel?pageSize=10", nil); len(all["providers"].([]any)) != 5 {
		t.Fatalf("GET the providers = %v", all)
	}
}
