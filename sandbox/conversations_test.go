package sandbox_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hlgate/hlgate/sandbox"
)

// conversationsConformance validates the conversations' operations against
// the document, the hand-written ones and the engine's, for a contact of
// location L: each answer and each refused request conforms. now is the
// sandbox's clock.
func (cf *conformance) conversationsConformance(L, loc, contactID string, now time.Time) {
	t := cf.t
	t.Helper()
	conv := cf.run(confCase{name: "create conversation", method: "POST", path: "/conversations/", token: loc, status: 201,
		json: map[string]any{"locationId": L, "contactId": contactID}})
	convID := str(conv, "conversation", "id")
	cf.run(confCase{name: "create conversation again", method: "POST", path: "/conversations/", token: loc, status: 400,
		json: map[string]any{"locationId": L, "contactId": contactID}})
	cf.run(confCase{name: "create conversation unknown contact", method: "POST", path: "/conversations/", token: loc, status: 400,
		json: map[string]any{"locationId": L, "contactId": "nope"}})
	cf.run(confCase{name: "create conversation other location", method: "POST", path: "/conversations/", token: loc, status: 403,
		json: map[string]any{"locationId": sandbox.OtherLocationID, "contactId": contactID}})
	cf.run(confCase{name: "create conversation without contact", method: "POST", path: "/conversations/", token: loc, status: 422, badRequest: true,
		json: map[string]any{"locationId": L}})
	cf.run(confCase{name: "get conversation", method: "GET", path: "/conversations/" + convID, token: loc, status: 200})
	cf.run(confCase{name: "get unknown conversation", method: "GET", path: "/conversations/nope", token: loc, status: 404})
	cf.run(confCase{name: "update conversation", method: "PUT", path: "/conversations/" + convID, token: loc, status: 200,
		json: map[string]any{"locationId": L, "starred": true, "unreadCount": 0}})

	sms := cf.run(confCase{name: "send sms", method: "POST", path: "/conversations/messages", token: loc, status: 200,
		json: map[string]any{"type": "SMS", "subType": "SMS", "contactId": contactID, "status": "pending", "message": "Hello"}})
	if str(sms, "conversationId") != convID {
		t.Errorf("the contact's message went to conversation %s, not its conversation %s", str(sms, "conversationId"), convID)
	}
	smsID := str(sms, "messageId")
	email := cf.run(confCase{name: "send email", method: "POST", path: "/conversations/messages", token: loc, status: 200,
		json: map[string]any{"type": "Email", "subType": "Email", "contactId": contactID, "status": "pending", "html": "<p>Hi</p>", "subject": "Hi",
			"emailCc": []string{"cc@example.com"}}})
	got := cf.run(confCase{name: "get email", method: "GET", path: "/conversations/messages/email/" + str(email, "emailMessageId"), token: loc, status: 200})
	if str(got, "threadId") != str(email, "messageId") || str(got, "subject") != "Hi" || str(got, "cc", 0) != "cc@example.com" {
		t.Errorf("the sent email reads %v", got)
	}
	cf.run(confCase{name: "get unknown email", method: "GET", path: "/conversations/messages/email/nope", token: loc, status: 404})
	cf.run(confCase{name: "cancel unscheduled email", method: "DELETE", path: "/conversations/messages/email/" + str(email, "emailMessageId") + "/schedule", token: loc, status: 400})
	laterEmail := cf.run(confCase{name: "send scheduled email", method: "POST", path: "/conversations/messages", token: loc, status: 200,
		json: map[string]any{"type": "Email", "subType": "Email", "contactId": contactID, "status": "pending", "message": "Later", "subject": "Later",
			"scheduledTimestamp": now.Add(time.Hour).Unix()}})
	cf.run(confCase{name: "cancel scheduled email", method: "DELETE", path: "/conversations/messages/email/" + str(laterEmail, "emailMessageId") + "/schedule", token: loc, status: 200})
	cf.run(confCase{name: "cancel scheduled email again", method: "DELETE", path: "/conversations/messages/email/" + str(laterEmail, "emailMessageId") + "/schedule", token: loc, status: 404})
	cf.run(confCase{name: "the cancelled email's message", method: "GET", path: "/conversations/messages/" + str(laterEmail, "messageId"), token: loc, status: 404})
	later := cf.run(confCase{name: "send scheduled", method: "POST", path: "/conversations/messages", token: loc, status: 200,
		json: map[string]any{"type": "SMS", "subType": "SMS", "contactId": contactID, "status": "pending", "message": "Later",
			"scheduledTimestamp": now.Add(time.Hour).Unix()}})
	cf.run(confCase{name: "send scheduled in the past", method: "POST", path: "/conversations/messages", token: loc, status: 400,
		json: map[string]any{"type": "SMS", "subType": "SMS", "contactId": contactID, "status": "pending", "message": "Late",
			"scheduledTimestamp": now.Add(-time.Hour).Unix()}})
	cf.run(confCase{name: "send empty sms", method: "POST", path: "/conversations/messages", token: loc, status: 400,
		json: map[string]any{"type": "SMS", "subType": "SMS", "contactId": contactID, "status": "pending"}})
	cf.run(confCase{name: "send without status", method: "POST", path: "/conversations/messages", token: loc, status: 422, badRequest: true,
		json: map[string]any{"type": "SMS", "subType": "SMS", "contactId": contactID, "message": "x"}})
	cf.run(confCase{name: "send undeclared member", method: "POST", path: "/conversations/messages", token: loc, status: 422,
		json: map[string]any{"type": "SMS", "subType": "SMS", "contactId": contactID, "status": "pending", "message": "x", "priority": 1}})
	cf.run(confCase{name: "inbound", method: "POST", path: "/conversations/messages/inbound", token: loc, status: 200,
		json: map[string]any{"type": "SMS", "conversationId": convID, "contactId": contactID, "conversationProviderId": "ProviderConformance1",
			"message": "Reply", "direction": "inbound"}})
	cf.run(confCase{name: "inbound other contact", method: "POST", path: "/conversations/messages/inbound", token: loc, status: 400,
		json: map[string]any{"type": "SMS", "conversationId": convID, "contactId": "nope", "conversationProviderId": "ProviderConformance1"}})
	cf.run(confCase{name: "outbound call", method: "POST", path: "/conversations/messages/outbound", token: loc, status: 200,
		json: map[string]any{"type": "Call", "conversationId": convID, "conversationProviderId": "ProviderConformance1",
			"call": map[string]any{"to": "+15550000001", "from": "+15550000002", "status": "completed"}}})
	page := cf.run(confCase{name: "messages", method: "GET", path: "/conversations/" + convID + "/messages?limit=2", token: loc, status: 200})
	cf.run(confCase{name: "messages after", method: "GET", path: "/conversations/" + convID + "/messages?limit=2&lastMessageId=" + str(page, "lastMessageId"), token: loc, status: 200})
	cf.run(confCase{name: "messages of unknown conversation", method: "GET", path: "/conversations/nope/messages", token: loc, status: 404})
	cf.run(confCase{name: "message", method: "GET", path: "/conversations/messages/" + smsID, token: loc, status: 200})
	found := cf.run(confCase{name: "search conversations", method: "GET", path: "/conversations/search?locationId=" + L + "&limit=1&status=unread", token: loc, status: 200})
	if str(found, "conversations", 0, "id") != convID {
		t.Errorf("the unread search found %v, want conversation %s", found, convID)
	}
	sortValues, _ := found["conversations"].([]any)[0].(map[string]any)["sort"].([]any)
	cursor := ""
	for _, v := range sortValues {
		cursor += "&startAfterDate=" + strconv.FormatFloat(v.(float64), 'f', -1, 64)
	}
	cf.run(confCase{name: "search conversations after", method: "GET", path: "/conversations/search?locationId=" + L + "&limit=1&status=unread" + cursor, token: loc, status: 200})
	cf.run(confCase{name: "search conversations by text", method: "GET", path: "/conversations/search?locationId=" + L + "&query=Reply&lastMessageDirection=outbound", token: loc, status: 200})
	cf.run(confCase{name: "export", method: "GET", path: "/conversations/messages/export?locationId=" + L + "&limit=10", token: loc, status: 200})
	exported := cf.run(confCase{name: "export emails", method: "GET", path: "/conversations/messages/export?locationId=" + L + "&channel=Email&sortOrder=asc", token: loc, status: 200})
	if n := len(exported["messages"].([]any)); n != 1 {
		t.Errorf("exported %d emails, want the one sent", n)
	}
	cf.run(confCase{name: "export bad cursor", method: "GET", path: "/conversations/messages/export?locationId=" + L + "&cursor=nope", token: loc, status: 400})
	cf.run(confCase{name: "export under the limit", method: "GET", path: "/conversations/messages/export?locationId=" + L + "&limit=5", token: loc, status: 422, badRequest: true})
	cf.run(confCase{name: "export other location", method: "GET", path: "/conversations/messages/export?locationId=" + sandbox.OtherLocationID, token: loc, status: 403})
	cf.run(confCase{name: "search conversations over the limit", method: "GET", path: "/conversations/search?locationId=" + L + "&limit=101", token: loc, status: 422})
	cf.run(confCase{name: "search conversations bad sort", method: "GET", path: "/conversations/search?locationId=" + L + "&sort=up", token: loc, status: 422, badRequest: true})
	cf.run(confCase{name: "search conversations other location", method: "GET", path: "/conversations/search?locationId=" + sandbox.OtherLocationID, token: loc, status: 403})
	cf.run(confCase{name: "update status", method: "PUT", path: "/conversations/messages/" + smsID + "/status", token: loc, status: 200,
		json: map[string]any{"status": "delivered"}})
	cf.run(confCase{name: "update status bad value", method: "PUT", path: "/conversations/messages/" + smsID + "/status", token: loc, status: 422, badRequest: true,
		json: map[string]any{"status": "lost"}})
	cf.run(confCase{name: "cancel unscheduled", method: "DELETE", path: "/conversations/messages/" + smsID + "/schedule", token: loc, status: 400})
	cf.run(confCase{name: "cancel scheduled", method: "DELETE", path: "/conversations/messages/" + str(later, "messageId") + "/schedule", token: loc, status: 200})
	cf.run(confCase{name: "cancel scheduled again", method: "DELETE", path: "/conversations/messages/" + str(later, "messageId") + "/schedule", token: loc, status: 404})
	cf.run(confCase{name: "agent typing", method: "POST", path: "/conversations/providers/live-chat/typing", token: loc, status: 201,
		json: map[string]any{"locationId": L, "isTyping": true, "visitorId": "Visitor0000000000001", "conversationId": convID}})
	cf.run(confCase{name: "agent typing as text", method: "POST", path: "/conversations/providers/live-chat/typing", token: loc, status: 422, badRequest: true,
		json: map[string]any{"locationId": L, "isTyping": "true", "visitorId": "Visitor0000000000001", "conversationId": convID}})
	cf.run(confCase{name: "agent typing unknown conversation", method: "POST", path: "/conversations/providers/live-chat/typing", token: loc, status: 400,
		json: map[string]any{"locationId": L, "isTyping": false, "visitorId": "Visitor0000000000001", "conversationId": "nope"}})
	review := `{"id":"ReviewConversation01","locationId":"` + L + `","contactId":"` + contactID + `","type":4,"reviewId":"Review00000000000001",` +
		`"deleted":false,"inbox":true,"unreadCount":0,"dateAdded":"2026-04-14T15:00:00.000Z","lastMessageDate":"2026-04-14T15:00:00.000Z"}`
	if err := cf.e.sb.PutDocument(L, "/conversations", []byte(review)); err != nil {
		t.Fatal(err)
	}
	cf.run(confCase{name: "review reply", method: "POST", path: "/conversations/messages/review-reply", token: loc, status: 200,
		json: map[string]any{"conversationId": "ReviewConversation01", "locationId": L, "message": "Thank you!"}})
	cf.run(confCase{name: "review reply without a review", method: "POST", path: "/conversations/messages/review-reply", token: loc, status: 400,
		json: map[string]any{"conversationId": convID, "locationId": L, "message": "Thank you!"}})
	cf.run(confCase{name: "review reply without text", method: "POST", path: "/conversations/messages/review-reply", token: loc, status: 422, badRequest: true,
		json: map[string]any{"conversationId": "ReviewConversation01", "locationId": L}})
	cf.run(confCase{name: "delete conversation", method: "DELETE", path: "/conversations/" + convID, token: loc, status: 200})
	cf.run(confCase{name: "get deleted conversation", method: "GET", path: "/conversations/" + convID, token: loc, status: 404})
}

// The engine's update refuses a body that names another location than the
// token's, as its create does (a conversation's update names it).
func TestEngineUpdateNamesTheTokensLocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{QuotaOff: true})
	if !slices.Contains(e.sb.EngineOperations(), "update-conversation") {
		t.Fatal("update-conversation is not the engine's")
	}
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	L := sandbox.DemoLocationID
	if err := e.sb.PutDocument(L, "/conversations", []byte(`{"id":"Conversation000000001","locationId":"`+L+`","contactId":"C1","deleted":false}`)); err != nil {
		t.Fatal(err)
	}
	resp, body := e.call("PUT", "/conversations/Conversation000000001", tok, sandbox.VersionCalendars, map[string]any{"locationId": sandbox.OtherLocationID, "starred": true})
	if resp.StatusCode != 403 {
		t.Fatalf("an update naming another location: %d %s, want 403", resp.StatusCode, body)
	}
	resp, body = e.call("PUT", "/conversations/Conversation000000001", tok, sandbox.VersionCalendars, map[string]any{"locationId": L, "starred": true})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"starred":true`) {
		t.Fatalf("an update naming the token's location: %d %s", resp.StatusCode, body)
	}
}
