package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// conversationsClock is the sandbox's frozen clock in the conversations'
// tests: a scheduled message is scheduled after it.
var conversationsClock = time.Date(2026, 4, 14, 15, 7, 0, 0, time.UTC)

// convREST calls the gateway with a JSON body and decodes its answer.
func convREST(t *testing.T, h *harness, method, path string, body any, out any) {
	t.Helper()
	var r *strings.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = strings.NewReader(string(b))
	} else {
		r = strings.NewReader("")
	}
	code, _, ans := h.rest(method, path, "", r)
	if code != http.StatusOK {
		t.Fatalf("%s %s = %d %s", method, path, code, ans)
	}
	if err := json.Unmarshal(ans, out); err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, ans)
	}
}

// A contact's conversation and its messages, end to end: the conversation
// created over gRPC and REST, messages sent, added inbound and outbound
// and listed newest first through page_token to the end with no duplicate
// and no gap, a status changed, a scheduled message cancelled; each
// hand-served RPC reached over both transports.
func TestConversationMessages(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true, Now: frozenClock(conversationsClock)}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	svc := hlgatev1.NewConversationsServiceClient(h.conn)
	contacts, err := h.contacts.SearchContacts(ctx, &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: 2})
	if err != nil || len(contacts.GetContacts()) != 2 {
		t.Fatalf("two contacts: %v, %v", contacts, err)
	}
	first, second := contacts.GetContacts()[0].GetId(), contacts.GetContacts()[1].GetId()

	// A conversation per contact: over gRPC, then over REST.
	created, err := svc.CreateConversation(ctx, &hlgatev1.CreateConversationRequest{LocationId: loc, ContactId: proto.String(first)})
	if err != nil || created.GetConversation().GetContactId() != first || created.GetConversation().GetLocationId() != loc {
		t.Fatalf("CreateConversation = %v, %v", created, err)
	}
	conv := created.GetConversation().GetId()
	if _, err := svc.CreateConversation(ctx, &hlgatev1.CreateConversationRequest{LocationId: loc, ContactId: proto.String(first)}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a second conversation of the contact: %v, want INVALID_ARGUMENT", err)
	}
	if _, err := svc.CreateConversation(ctx, &hlgatev1.CreateConversationRequest{LocationId: loc}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "contact_id") {
		t.Errorf("no contact: %v, want INVALID_ARGUMENT naming contact_id", err)
	}
	var viaREST struct {
		Conversation struct{ ID, ContactID string }
	}
	convREST(t, h, http.MethodPost, "/v1/locations/"+loc+"/conversations", map[string]any{"contactId": second}, &viaREST)
	if viaREST.Conversation.ID == "" || viaREST.Conversation.ContactID != second {
		t.Fatalf("POST conversations = %+v", viaREST)
	}

	// Messages: sent (gRPC and REST), added inbound and outbound (each
	// both ways); each lands in the first contact's conversation.
	var ids []string // oldest first
	for i := range 3 {
		sent, err := svc.SendANewMessage(ctx, &hlgatev1.SendANewMessageRequest{LocationId: loc, Type: proto.String("SMS"), SubType: proto.String("SMS"),
			ContactId: proto.String(first), Status: proto.String("pending"), Message: proto.String(fmt.Sprintf("text %d", i))})
		if err != nil || sent.GetConversationId() != conv || sent.GetMessageId() == "" {
			t.Fatalf("SendANewMessage = %v, %v", sent, err)
		}
		ids = append(ids, sent.GetMessageId())
	}
	var sent struct{ ConversationID, MessageID, EmailMessageID, Status string }
	convREST(t, h, http.MethodPost, "/v1/locations/"+loc+"/conversations/messages", map[string]any{
		"type": "Email", "subType": "Email", "contactId": first, "status": "pending", "html": "<p>Hello</p>", "subject": "Hello"}, &sent)
	if sent.ConversationID != conv || sent.EmailMessageID == "" {
		t.Fatalf("POST messages = %+v", sent)
	}
	ids = append(ids, sent.MessageID)
	in, err := svc.AddAnInboundMessage(ctx, &hlgatev1.AddAnInboundMessageRequest{LocationId: loc, Type: proto.String("SMS"), ConversationId: proto.String(conv),
		ContactId: proto.String(first), ConversationProviderId: proto.String("Provider000000000001"), Message: proto.String("reply"), Direction: proto.String("inbound")})
	if err != nil || !in.GetSuccess() || in.GetConversationId() != conv {
		t.Fatalf("AddAnInboundMessage = %v, %v", in, err)
	}
	ids = append(ids, in.GetMessageId())
	var added struct {
		Success   bool
		MessageID string
	}
	convREST(t, h, http.MethodPost, "/v1/locations/"+loc+"/conversations/messages/inbound", map[string]any{
		"type": "SMS", "conversationId": conv, "contactId": first, "conversationProviderId": "Provider000000000001", "message": "again", "direction": "inbound"}, &added)
	ids = append(ids, added.MessageID)
	out, err := svc.AddAnOutboundMessage(ctx, &hlgatev1.AddAnOutboundMessageRequest{LocationId: loc, Type: proto.String("Call"), ConversationId: proto.String(conv),
		ConversationProviderId: proto.String("Provider000000000001"), Call: &hlgatev1.CallDataDTO{To: proto.String("+15550000001"), From: proto.String("+15550000002"), Status: proto.String("completed")}})
	if err != nil || !out.GetSuccess() {
		t.Fatalf("AddAnOutboundMessage = %v, %v", out, err)
	}
	ids = append(ids, out.GetMessageId())
	convREST(t, h, http.MethodPost, "/v1/locations/"+loc+"/conversations/messages/outbound", map[string]any{
		"type": "Call", "conversationId": conv, "conversationProviderId": "Provider000000000001", "call": map[string]any{"status": "voicemail"}}, &added)
	ids = append(ids, added.MessageID)

	// Listed newest first, 3 a page, to the end: every message once.
	var got []string
	token, pages := "", 0
	for {
		page, err := svc.GetMessages(ctx, &hlgatev1.GetMessagesRequest{LocationId: loc, ConversationId: conv, PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatalf("GetMessages page %d: %v", pages+1, err)
		}
		pages++
		for _, m := range page.GetMessages() {
			if m.GetConversationId() != conv || m.GetLocationId() != loc {
				t.Errorf("message %s is of conversation %s, location %s", m.GetId(), m.GetConversationId(), m.GetLocationId())
			}
			got = append(got, m.GetId())
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
		if pages > len(ids) {
			t.Fatal("the walk does not end")
		}
	}
	want := make([]string, len(ids))
	for i, id := range ids {
		want[len(ids)-1-i] = id
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || pages != 3 {
		t.Fatalf("walked %v in %d pages, want %v in 3", got, pages, want)
	}
	var listed struct {
		Messages []struct {
			ID, MessageType, Direction, Body string
			Type                             float64
			Meta                             struct{ CallStatus string }
		}
		NextPageToken string
	}
	convREST(t, h, http.MethodGet, "/v1/locations/"+loc+"/conversations/"+conv+"/messages?pageSize=2", nil, &listed)
	if len(listed.Messages) != 2 || listed.Messages[0].ID != want[0] || listed.Messages[0].Meta.CallStatus != "voicemail" ||
		listed.Messages[0].MessageType != "TYPE_CALL" || listed.Messages[0].Type != 1 || listed.NextPageToken == "" {
		t.Fatalf("GET messages = %+v", listed)
	}
	// The type filter reaches HighLevel: only the email.
	emails, err := svc.GetMessages(ctx, &hlgatev1.GetMessagesRequest{LocationId: loc, ConversationId: conv, Type: proto.String("TYPE_EMAIL")})
	if err != nil || len(emails.GetMessages()) != 1 || emails.GetMessages()[0].GetId() != sent.MessageID || emails.GetMessages()[0].GetContentType() != "text/html" {
		t.Fatalf("GetMessages of TYPE_EMAIL = %v, %v", emails, err)
	}

	// What was sent is what is read back.
	msg, err := svc.GetMessage(ctx, &hlgatev1.GetMessageRequest{LocationId: loc, Id: ids[0]})
	if err != nil || msg.GetBody() != "text 0" || msg.GetMessageType() != "TYPE_SMS" || msg.GetDirection() != "outbound" || msg.GetContactId() != first {
		t.Fatalf("GetMessage = %v, %v", msg, err)
	}

	// A delivery status, over gRPC and REST; a value the document does
	// not list is refused.
	st, err := svc.UpdateMessageStatus(ctx, &hlgatev1.UpdateMessageStatusRequest{LocationId: loc, MessageId: ids[0], Status: proto.String("delivered")})
	if err != nil || st.GetStatus() != "delivered" || st.GetMessageId() != ids[0] {
		t.Fatalf("UpdateMessageStatus = %v, %v", st, err)
	}
	var stREST struct{ Status string }
	convREST(t, h, http.MethodPut, "/v1/locations/"+loc+"/conversations/messages/"+ids[1]+"/status", map[string]any{"status": "read"}, &stREST)
	if stREST.Status != "read" {
		t.Fatalf("PUT status = %+v", stREST)
	}
	if _, err := svc.UpdateMessageStatus(ctx, &hlgatev1.UpdateMessageStatusRequest{LocationId: loc, MessageId: ids[0], Status: proto.String("lost")}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("status lost: %v, want INVALID_ARGUMENT", err)
	}
	if m, err := svc.GetMessage(ctx, &hlgatev1.GetMessageRequest{LocationId: loc, Id: ids[0]}); err != nil || m.GetStatus() != "delivered" {
		t.Errorf("after the status change: %v, %v", m, err)
	}

	// Scheduled messages are cancelled once, over gRPC and REST; a sent
	// one is not.
	var scheduled []string
	for range 2 {
		s, err := svc.SendANewMessage(ctx, &hlgatev1.SendANewMessageRequest{LocationId: loc, Type: proto.String("SMS"), SubType: proto.String("SMS"),
			ContactId: proto.String(first), Status: proto.String("pending"), Message: proto.String("later"),
			ScheduledTimestamp: proto.Float64(float64(conversationsClock.Add(time.Hour).Unix()))})
		if err != nil || s.GetStatus() != "pending" {
			t.Fatalf("scheduled send = %v, %v", s, err)
		}
		scheduled = append(scheduled, s.GetMessageId())
	}
	if m, err := svc.GetMessage(ctx, &hlgatev1.GetMessageRequest{LocationId: loc, Id: scheduled[0]}); err != nil || m.GetStatus() != "scheduled" {
		t.Fatalf("a scheduled message reads %v, %v", m, err)
	}
	if c, err := svc.CancelScheduledMessage(ctx, &hlgatev1.CancelScheduledMessageRequest{LocationId: loc, MessageId: scheduled[0]}); err != nil || c.GetStatus() != 200 {
		t.Fatalf("CancelScheduledMessage = %v, %v", c, err)
	}
	var cancelled struct {
		Status  float64
		Message string
	}
	convREST(t, h, http.MethodDelete, "/v1/locations/"+loc+"/conversations/messages/"+scheduled[1]+"/schedule", nil, &cancelled)
	if cancelled.Status != 200 {
		t.Fatalf("DELETE schedule = %+v", cancelled)
	}
	if _, err := svc.CancelScheduledMessage(ctx, &hlgatev1.CancelScheduledMessageRequest{LocationId: loc, MessageId: scheduled[0]}); status.Code(err) != codes.NotFound {
		t.Errorf("cancelled twice: %v, want NOT_FOUND", err)
	}
	if _, err := svc.CancelScheduledMessage(ctx, &hlgatev1.CancelScheduledMessageRequest{LocationId: loc, MessageId: ids[0]}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a sent message cancelled: %v, want INVALID_ARGUMENT", err)
	}

	// The conversation moved with its messages: the inbound ones are
	// unread; read back over REST.
	got1, err := svc.GetConversation(ctx, &hlgatev1.GetConversationRequest{LocationId: loc, ConversationId: conv})
	if err != nil || got1.GetUnreadCount() != 2 {
		t.Fatalf("GetConversation = %v, %v", got1, err)
	}
	code, _, body := h.rest(http.MethodGet, "/v1/locations/"+loc+"/conversations/"+conv, "", nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"lastMessageDate"`) {
		t.Fatalf("GET conversation = %d %s", code, body)
	}
}

// The conversation search walked through page_token to the end: every
// matching conversation once, in the upstream's order, although all of
// them share one last-message date (the clock is frozen), which only the
// cursor's tiebreaker tells apart; the filters reach HighLevel.
func TestSearchConversations(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true, Now: frozenClock(conversationsClock)}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	svc := hlgatev1.NewConversationsServiceClient(h.conn)
	contacts, err := h.contacts.SearchContacts(ctx, &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: 7})
	if err != nil || len(contacts.GetContacts()) != 7 {
		t.Fatalf("seven contacts: %v, %v", contacts, err)
	}
	var made []string // in creation order
	for i, ct := range contacts.GetContacts() {
		c, err := svc.CreateConversation(ctx, &hlgatev1.CreateConversationRequest{LocationId: loc, ContactId: proto.String(ct.GetId())})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, c.GetConversation().GetId())
		if i%2 == 0 { // the even ones get an inbound message: unread
			if _, err := svc.AddAnInboundMessage(ctx, &hlgatev1.AddAnInboundMessageRequest{LocationId: loc, Type: proto.String("SMS"),
				ConversationId: proto.String(made[i]), ContactId: proto.String(ct.GetId()), ConversationProviderId: proto.String("Provider000000000001"),
				Message: proto.String("hello"), Direction: proto.String("inbound")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	walk := func(req *hlgatev1.SearchConversationRequest) ([]string, int) {
		t.Helper()
		var got []string
		pages := 0
		for {
			page, err := svc.SearchConversation(ctx, req)
			if err != nil {
				t.Fatalf("SearchConversation page %d: %v", pages+1, err)
			}
			pages++
			for _, c := range page.GetConversations() {
				if c.GetLocationId() != loc || c.GetType() != "TYPE_PHONE" || len(c.GetSort()) != 0 {
					t.Errorf("conversation %v: want the location's, of type TYPE_PHONE, its cursor not kept as data", c)
				}
				got = append(got, c.GetId())
			}
			if page.GetTotalSize() != int32(len(made)) && req.Status == nil {
				t.Errorf("total_size %d, want %d", page.GetTotalSize(), len(made))
			}
			if req.PageToken = page.GetNextPageToken(); req.PageToken == "" {
				return got, pages
			}
			if pages > len(made) {
				t.Fatal("the walk does not end")
			}
		}
	}
	// Newest first: the same date, so the last made first.
	got, pages := walk(&hlgatev1.SearchConversationRequest{LocationId: loc, PageSize: 3})
	want := make([]string, len(made))
	for i, id := range made {
		want[len(made)-1-i] = id
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || pages != 3 {
		t.Fatalf("walked %v in %d pages, want %v in 3", got, pages, want)
	}
	// Oldest first, the unread ones only.
	got, _ = walk(&hlgatev1.SearchConversationRequest{LocationId: loc, PageSize: 2, Sort: proto.String("asc"), Status: proto.String("unread")})
	if strings.Join(got, ",") != strings.Join([]string{made[0], made[2], made[4], made[6]}, ",") {
		t.Fatalf("unread, oldest first: %v", got)
	}
	// Over REST, one contact's.
	var one struct {
		Conversations []struct{ ID, ContactID, LastMessageBody string }
		TotalSize     int
	}
	convREST(t, h, http.MethodGet, "/v1/locations/"+loc+"/conversations/search?contactId="+contacts.GetContacts()[2].GetId(), nil, &one)
	if len(one.Conversations) != 1 || one.Conversations[0].ID != made[2] || one.Conversations[0].LastMessageBody != "hello" || one.TotalSize != 1 {
		t.Fatalf("GET search by contact = %+v", one)
	}
}

// The location's messages exported through page_token to the end: every
// message but the emails once, newest first, the cursor HighLevel answers
// carried from page to page; the filters reach HighLevel.
func TestExportMessages(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true, Now: frozenClock(conversationsClock)}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	svc := hlgatev1.NewConversationsServiceClient(h.conn)
	contacts, err := h.contacts.SearchContacts(ctx, &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: 2})
	if err != nil || len(contacts.GetContacts()) != 2 {
		t.Fatalf("two contacts: %v, %v", contacts, err)
	}
	var sent []string // oldest first, emails left out
	conv := map[string]string{}
	for i := range 23 {
		ct := contacts.GetContacts()[i%2].GetId()
		m, err := svc.SendANewMessage(ctx, &hlgatev1.SendANewMessageRequest{LocationId: loc, Type: proto.String("SMS"), SubType: proto.String("SMS"),
			ContactId: proto.String(ct), Status: proto.String("pending"), Message: proto.String(fmt.Sprintf("text %d", i))})
		if err != nil {
			t.Fatal(err)
		}
		sent, conv[ct] = append(sent, m.GetMessageId()), m.GetConversationId()
	}
	email, err := svc.SendANewMessage(ctx, &hlgatev1.SendANewMessageRequest{LocationId: loc, Type: proto.String("Email"), SubType: proto.String("Email"),
		ContactId: proto.String(contacts.GetContacts()[0].GetId()), Status: proto.String("pending"), Message: proto.String("by email")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	req := &hlgatev1.ExportMessagesByLocationRequest{LocationId: loc, PageSize: 10}
	pages := 0
	for {
		page, err := svc.ExportMessagesByLocation(ctx, req)
		if err != nil {
			t.Fatalf("ExportMessagesByLocation page %d: %v", pages+1, err)
		}
		pages++
		if page.GetTotalSize() != int32(len(sent)) || page.NextCursor != nil {
			t.Errorf("page %d: total_size %d, want %d; next_cursor %v, want it kept as paging state", pages, page.GetTotalSize(), len(sent), page.NextCursor)
		}
		for _, m := range page.GetMessages() {
			got = append(got, m.GetId())
		}
		if req.PageToken = page.GetNextPageToken(); req.PageToken == "" {
			break
		}
		if pages > len(sent) {
			t.Fatal("the walk does not end")
		}
	}
	want := make([]string, len(sent))
	for i, id := range sent {
		want[len(sent)-1-i] = id
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || pages != 3 {
		t.Fatalf("exported %v in %d pages, want %v in 3", got, pages, want)
	}
	// One conversation's, oldest first, over REST; the emails alone.
	var one struct {
		Messages  []struct{ ID, ConversationID string }
		TotalSize int
	}
	convREST(t, h, http.MethodGet, "/v1/locations/"+loc+"/conversations/messages/export?sortOrder=asc&conversationId="+conv[contacts.GetContacts()[1].GetId()], nil, &one)
	if one.TotalSize != 11 || len(one.Messages) != 11 || one.Messages[0].ID != sent[1] {
		t.Fatalf("GET export of one conversation = %+v", one)
	}
	emails, err := svc.ExportMessagesByLocation(ctx, &hlgatev1.ExportMessagesByLocationRequest{LocationId: loc, Channel: proto.String("Email")})
	if err != nil || len(emails.GetMessages()) != 1 || emails.GetMessages()[0].GetId() != email.GetMessageId() {
		t.Fatalf("the emails: %v, %v", emails, err)
	}
}

// An agent's typing indicator, over gRPC and REST: is_typing is required
// (false is a value, not an absence), and the conversation must exist.
func TestLiveChatAgentTyping(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true, Now: frozenClock(conversationsClock)}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	svc := hlgatev1.NewConversationsServiceClient(h.conn)
	created, err := svc.CreateConversation(ctx, &hlgatev1.CreateConversationRequest{LocationId: loc, ContactId: proto.String(firstContactID(t, h))})
	if err != nil {
		t.Fatal(err)
	}
	conv := created.GetConversation().GetId()
	typing, err := svc.LiveChatAgentTyping(ctx, &hlgatev1.LiveChatAgentTypingRequest{LocationId: loc, IsTyping: proto.Bool(false),
		VisitorId: proto.String("Visitor0000000000001"), ConversationId: proto.String(conv)})
	if err != nil || !typing.GetSuccess() {
		t.Fatalf("LiveChatAgentTyping = %v, %v", typing, err)
	}
	if _, err := svc.LiveChatAgentTyping(ctx, &hlgatev1.LiveChatAgentTypingRequest{LocationId: loc,
		VisitorId: proto.String("Visitor0000000000001"), ConversationId: proto.String(conv)}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "is_typing") {
		t.Errorf("without is_typing: %v, want INVALID_ARGUMENT naming is_typing", err)
	}
	var ok struct{ Success bool }
	convREST(t, h, http.MethodPost, "/v1/locations/"+loc+"/conversations/providers/live-chat/typing",
		map[string]any{"isTyping": true, "visitorId": "Visitor0000000000001", "conversationId": conv}, &ok)
	if !ok.Success {
		t.Fatalf("POST typing = %+v", ok)
	}
	if _, err := svc.LiveChatAgentTyping(ctx, &hlgatev1.LiveChatAgentTypingRequest{LocationId: loc, IsTyping: proto.Bool(true),
		VisitorId: proto.String("Visitor0000000000001"), ConversationId: proto.String("Conversation00000404")}); status.Code(err) != codes.NotFound {
		t.Errorf("an unknown conversation: %v, want NOT_FOUND", err)
	}
}

// An email sent to a contact is read back by the emailMessageId the send
// answered, over gRPC and REST, with its thread (the message) and its
// addresses; scheduled emails are cancelled once each way, their messages
// with them.
func TestEmailMessages(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true, Now: frozenClock(conversationsClock)}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	svc := hlgatev1.NewConversationsServiceClient(h.conn)
	contact := firstContactID(t, h)
	send := func(scheduled bool) *hlgatev1.SendANewMessageResponse {
		t.Helper()
		req := &hlgatev1.SendANewMessageRequest{LocationId: loc, Type: proto.String("Email"), SubType: proto.String("Email"), ContactId: proto.String(contact),
			Status: proto.String("pending"), Html: proto.String("<p>Quote</p>"), Subject: proto.String("Your quote"),
			EmailTo: proto.String("buyer@example.com"), EmailCc: []string{"boss@example.com"}}
		if scheduled {
			req.ScheduledTimestamp = proto.Float64(float64(conversationsClock.Add(2 * time.Hour).Unix()))
		}
		sent, err := svc.SendANewMessage(ctx, req)
		if err != nil || sent.GetEmailMessageId() == "" {
			t.Fatalf("send an email: %v, %v", sent, err)
		}
		return sent
	}
	sent := send(false)
	email, err := svc.GetEmailById(ctx, &hlgatev1.GetEmailByIdRequest{LocationId: loc, Id: sent.GetEmailMessageId()})
	if err != nil || email.GetThreadId() != sent.GetMessageId() || email.GetSubject() != "Your quote" || email.GetBody() != "<p>Quote</p>" ||
		strings.Join(email.GetTo(), ",") != "buyer@example.com" || strings.Join(email.GetCc(), ",") != "boss@example.com" || email.GetConversationId() != sent.GetConversationId() {
		t.Fatalf("GetEmailById = %v, %v", email, err)
	}
	var viaREST struct{ ID, ThreadID, ContentType string }
	convREST(t, h, http.MethodGet, "/v1/locations/"+loc+"/conversations/messages/email/"+sent.GetEmailMessageId(), nil, &viaREST)
	if viaREST.ID != sent.GetEmailMessageId() || viaREST.ContentType != "text/html" {
		t.Fatalf("GET email = %+v", viaREST)
	}
	if _, err := svc.CancelScheduledEmailMessage(ctx, &hlgatev1.CancelScheduledEmailMessageRequest{LocationId: loc, EmailMessageId: sent.GetEmailMessageId()}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("cancel a sent email: %v, want INVALID_ARGUMENT", err)
	}
	first, second := send(true), send(true)
	if c, err := svc.CancelScheduledEmailMessage(ctx, &hlgatev1.CancelScheduledEmailMessageRequest{LocationId: loc, EmailMessageId: first.GetEmailMessageId()}); err != nil || c.GetStatus() != 200 {
		t.Fatalf("CancelScheduledEmailMessage = %v, %v", c, err)
	}
	var cancelled struct{ Status float64 }
	convREST(t, h, http.MethodDelete, "/v1/locations/"+loc+"/conversations/messages/email/"+second.GetEmailMessageId()+"/schedule", nil, &cancelled)
	if cancelled.Status != 200 {
		t.Fatalf("DELETE email schedule = %+v", cancelled)
	}
	for _, s := range []*hlgatev1.SendANewMessageResponse{first, second} {
		if _, err := svc.GetEmailById(ctx, &hlgatev1.GetEmailByIdRequest{LocationId: loc, Id: s.GetEmailMessageId()}); status.Code(err) != codes.NotFound {
			t.Errorf("a cancelled email reads %v, want NOT_FOUND", err)
		}
		if _, err := svc.GetMessage(ctx, &hlgatev1.GetMessageRequest{LocationId: loc, Id: s.GetMessageId()}); status.Code(err) != codes.NotFound {
			t.Errorf("a cancelled email's message reads %v, want NOT_FOUND", err)
		}
	}
}

// A reply to a Google review joins the review's conversation, over gRPC
// and REST; a conversation without a review is refused.
func TestSendReviewReply(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true, Now: frozenClock(conversationsClock)}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	svc := hlgatev1.NewConversationsServiceClient(h.conn)
	contact := firstContactID(t, h)
	review := `{"id":"ReviewConversation01","locationId":"` + loc + `","contactId":"` + contact + `","type":4,"reviewId":"Review00000000000001",` +
		`"deleted":false,"inbox":true,"unreadCount":0,"dateAdded":"2026-04-14T15:00:00.000Z","lastMessageDate":"2026-04-14T15:00:00.000Z"}`
	if err := h.sb.PutDocument(loc, "/conversations", json.RawMessage(review)); err != nil {
		t.Fatal(err)
	}
	reply, err := svc.SendReviewReply(ctx, &hlgatev1.SendReviewReplyRequest{LocationId: loc, ConversationId: proto.String("ReviewConversation01"), Message: proto.String("Thank you!")})
	if err != nil || reply.GetConversationId() != "ReviewConversation01" || reply.GetMessageId() == "" {
		t.Fatalf("SendReviewReply = %v, %v", reply, err)
	}
	var viaREST struct{ ConversationID, MessageID string }
	convREST(t, h, http.MethodPost, "/v1/locations/"+loc+"/conversations/messages/review-reply",
		map[string]any{"conversationId": "ReviewConversation01", "message": "Glad you liked it."}, &viaREST)
	page, err := svc.GetMessages(ctx, &hlgatev1.GetMessagesRequest{LocationId: loc, ConversationId: "ReviewConversation01"})
	if err != nil || len(page.GetMessages()) != 2 || page.GetMessages()[0].GetId() != viaREST.MessageID ||
		page.GetMessages()[1].GetBody() != "Thank you!" || page.GetMessages()[1].GetMessageType() != "TYPE_REVIEW" {
		t.Fatalf("the review's messages: %v, %v", page, err)
	}
	// A sent SMS goes to the contact's own conversation, made for it, not
	// to the review's.
	sms, err := svc.SendANewMessage(ctx, &hlgatev1.SendANewMessageRequest{LocationId: loc, Type: proto.String("SMS"), SubType: proto.String("SMS"),
		ContactId: proto.String(contact), Status: proto.String("pending"), Message: proto.String("hi")})
	if err != nil || sms.GetConversationId() == "ReviewConversation01" {
		t.Fatalf("an SMS to the reviewer: %v, %v", sms, err)
	}
	if _, err := svc.SendReviewReply(ctx, &hlgatev1.SendReviewReplyRequest{LocationId: loc, ConversationId: proto.String(sms.GetConversationId()), Message: proto.String("x")}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a reply in a conversation without a review: %v, want INVALID_ARGUMENT", err)
	}
}
