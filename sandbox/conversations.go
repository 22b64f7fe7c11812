package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Conversations and their messages. A location keeps one conversation per
// contact, in the engine's collection /conversations (GET, PUT and DELETE
// of /conversations/{conversationId} are the engine's), and its messages in
// /conversations/messages (GET /conversations/messages/{id} is the
// engine's). What the engine cannot know is written here: a conversation
// belongs to an existing contact, a message lands in its contact's
// conversation (made on the first send) and moves the conversation's last
// message, a conversation's messages are listed newest first behind
// lastMessageId, only a scheduled message can be cancelled, and the search
// filters and sorts the conversations with their contacts' names and
// addresses, behind the sort values each answers.

// Engine collections of conversations and messages.
const (
	collConversations = "/conversations"
	collMessages      = "/conversations/messages"
	collEmails        = "/conversations/messages/email" // GET …/email/{id} is the engine's
)

// messageTypes are the message types of GetMessageResponseDto's
// messageType enum, numbered as its type member counts them: the document
// says type 1 and 10 are calls and voicemails (attachments), type 3 is
// email (MessageMeta.email) and TYPE_CUSTOM_CALL is 34
// (add-message-attachments), which is the enum's order from TYPE_CALL, with
// TYPE_RCS (a later addition, listed third) left out of the count.
var messageTypes = []string{
	"TYPE_CALL", "TYPE_SMS", "TYPE_EMAIL", "TYPE_SMS_REVIEW_REQUEST", "TYPE_WEBCHAT", "TYPE_SMS_NO_SHOW_REQUEST",
	"TYPE_CAMPAIGN_SMS", "TYPE_CAMPAIGN_CALL", "TYPE_CAMPAIGN_EMAIL", "TYPE_CAMPAIGN_VOICEMAIL", "TYPE_FACEBOOK",
	"TYPE_CAMPAIGN_FACEBOOK", "TYPE_CAMPAIGN_MANUAL_CALL", "TYPE_CAMPAIGN_MANUAL_SMS", "TYPE_GMB", "TYPE_CAMPAIGN_GMB",
	"TYPE_REVIEW", "TYPE_INSTAGRAM", "TYPE_WHATSAPP", "TYPE_CUSTOM_SMS", "TYPE_CUSTOM_EMAIL", "TYPE_CUSTOM_PROVIDER_SMS",
	"TYPE_CUSTOM_PROVIDER_EMAIL", "TYPE_IVR_CALL", "TYPE_ACTIVITY_CONTACT", "TYPE_ACTIVITY_INVOICE", "TYPE_ACTIVITY_PAYMENT",
	"TYPE_ACTIVITY_OPPORTUNITY", "TYPE_LIVE_CHAT", "TYPE_LIVE_CHAT_INFO_MESSAGE", "TYPE_ACTIVITY_APPOINTMENT",
	"TYPE_FACEBOOK_COMMENT", "TYPE_INSTAGRAM_COMMENT", "TYPE_CUSTOM_CALL", "TYPE_INTERNAL_COMMENT",
	"TYPE_ACTIVITY_EMPLOYEE_ACTION_LOG", "TYPE_TIKTOK", "TYPE_TIKTOK_COMMENT", "TYPE_ACTIVITY_WHATSAPP",
	"TYPE_FORM_SUBMISSION", "TYPE_SMS_REACTION", "TYPE_RCS",
}

// sentTypes maps the type of a sent (SendMessageBodyDto) or added
// (ProcessMessageBodyDto) message to its messageType.
var sentTypes = map[string]string{
	"SMS": "TYPE_SMS", "RCS": "TYPE_RCS", "Email": "TYPE_EMAIL", "WhatsApp": "TYPE_WHATSAPP", "GMB": "TYPE_GMB",
	"IG": "TYPE_INSTAGRAM", "FB": "TYPE_FACEBOOK", "Custom": "TYPE_CUSTOM_SMS", "WebChat": "TYPE_WEBCHAT",
	"Live_Chat": "TYPE_LIVE_CHAT", "Call": "TYPE_CALL", "IVR_Call": "TYPE_IVR_CALL", "Campaign_Call": "TYPE_CAMPAIGN_CALL",
	"Campaign_VoiceMail": "TYPE_CAMPAIGN_VOICEMAIL", "TIKTOK": "TYPE_TIKTOK", "ALL_IN_ONE_CHAT": "TYPE_LIVE_CHAT",
	"FORM_SUBMISSION": "TYPE_FORM_SUBMISSION",
}

// messageTypeNumber is a messageType's number (see messageTypes).
func messageTypeNumber(t string) int { return slices.Index(messageTypes, t) + 1 }

// sandboxTime is how HighLevel writes a date of a conversation or message
// (GetMessageResponseDto.dateAdded's example 2024-03-27T18:13:49.000Z).
const sandboxTime = "2006-01-02T15:04:05.000Z"

// strictBody reads a JSON object body the validator has checked, and
// refuses a member the operation's body schema does not declare, as
// decodeBody does for a struct (422 "property X should not exist").
func strictBody(r *http.Request, c *call) (map[string]any, *apiError) {
	m, aerr := decodeObject(r)
	if aerr != nil {
		return nil, aerr
	}
	op := c.rt.v.route.Operation
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return m, nil
	}
	mt := op.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return m, nil
	}
	props := mt.Schema.Value.Properties
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if _, ok := props[k]; !ok {
			return nil, errUnprocessable(fmt.Sprintf("property %s should not exist", k))
		}
	}
	return m, nil
}

// conversationOf finds the conversation of a contact: its messages', not
// one of its reviews' (type 4, Review). Callers hold l.mu.
func (l *locStore) conversationOf(contactID string) (map[string]any, bool) {
	for _, d := range l.coll(collConversations, false).list() {
		var m map[string]any
		if json.Unmarshal(d, &m) == nil && m["contactId"] == contactID && m["type"] != float64(4) {
			return m, true
		}
	}
	return nil, false
}

// getDoc decodes a stored document of a collection. Callers hold l.mu.
func (l *locStore) getDoc(coll, id string) (map[string]any, bool) {
	d, ok := l.doc(coll, id)
	if !ok {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(d, &m) != nil {
		return nil, false
	}
	return m, true
}

// newConversation makes a contact's conversation. Callers hold l.mu for
// writing.
func (l *locStore) newConversation(contactID string, now time.Time) map[string]any {
	at := now.UTC().Format(sandboxTime)
	conv := map[string]any{
		"id": l.newID(), "locationId": l.id, "contactId": contactID,
		"deleted": false, "inbox": true, "starred": false,
		"type":        1, // GetConversationByIdResponse.type: 1 (Phone)
		"unreadCount": 0, "dateAdded": at, "dateUpdated": at, "lastMessageDate": at,
	}
	l.coll(collConversations, true).put(conv["id"].(string), marshal(conv))
	return conv
}

// opCreateConversation answers POST /conversations/: a conversation for a
// contact of the location, which has none yet.
func (s *Sandbox) opCreateConversation(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := strictBody(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := c.ownLocation(body["locationId"].(string)); aerr != nil {
		writeError(w, aerr)
		return
	}
	contactID := body["contactId"].(string)
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.contacts[contactID]; !ok {
		writeError(w, errBadRequest("Contact not found"))
		return
	}
	if _, ok := l.conversationOf(contactID); ok {
		writeError(w, errBadRequest("Conversation already exists"))
		return
	}
	conv := l.newConversation(contactID, s.now())
	writeJSON(w, http.StatusCreated, map[string]any{"success": true, "conversation": conv})
}

// addMessage stores a message in its conversation and makes it the
// conversation's last. Callers hold l.mu for writing.
func (l *locStore) addMessage(conv, msg map[string]any, now time.Time) {
	at := now.UTC().Format(sandboxTime)
	msg["id"] = l.newID()
	msg["locationId"] = l.id
	msg["conversationId"] = conv["id"]
	msg["contactId"] = conv["contactId"]
	msg["dateAdded"] = at
	msg["type"] = messageTypeNumber(msg["messageType"].(string))
	if _, ok := msg["attachments"]; !ok {
		msg["attachments"] = []any{}
	}
	l.coll(collMessages, true).put(msg["id"].(string), marshal(msg))
	conv["lastMessageDate"], conv["dateUpdated"] = at, at
	conv["lastMessageType"] = msg["messageType"]
	b, _ := msg["body"].(string) // a call has none
	conv["lastMessageBody"] = b
	if msg["direction"] == "inbound" {
		n, _ := conv["unreadCount"].(float64)
		conv["unreadCount"] = n + 1
	}
	l.coll(collConversations, true).put(conv["id"].(string), marshal(conv))
}

// opSendMessage answers POST /conversations/messages: a message to a
// contact of the location, in the contact's conversation, made on the first
// message. A text message needs a text or an attachment and a number to
// reach; an email an HTML or text body and an address; a scheduled message
// a time to come.
func (s *Sandbox) opSendMessage(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := strictBody(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	typ, _ := body["type"].(string)
	text, _ := body["message"].(string)
	html, _ := body["html"].(string)
	atts, _ := body["attachments"].([]any)
	now := s.now()
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	ct, ok := l.contacts[body["contactId"].(string)]
	if !ok {
		writeError(w, errBadRequest("Contact not found"))
		return
	}
	msg := map[string]any{"messageType": sentTypes[typ], "direction": "outbound", "source": "api", "contentType": "text/plain"}
	switch typ {
	case "Email":
		to, _ := body["emailTo"].(string)
		if html == "" && text == "" {
			writeError(w, errBadRequest("An email needs html or message"))
			return
		}
		if to == "" && ct.Email == "" {
			writeError(w, errBadRequest("The contact has no email address and no emailTo is given"))
			return
		}
		if html != "" {
			msg["contentType"], text = "text/html", html
		}
	default:
		to, _ := body["toNumber"].(string)
		if text == "" && len(atts) == 0 {
			writeError(w, errBadRequest("A %s message needs message or attachments", typ))
			return
		}
		if typ == "SMS" && to == "" && ct.Phone == "" {
			writeError(w, errBadRequest("The contact has no phone number and no toNumber is given"))
			return
		}
	}
	msg["body"] = text
	if len(atts) > 0 {
		msg["attachments"] = atts
	}
	if p, ok := body["conversationProviderId"].(string); ok {
		msg["conversationProviderId"] = p
	}
	msg["status"] = body["status"]
	answered := body["status"]
	if ts, ok := body["scheduledTimestamp"].(float64); ok {
		// UTC seconds (the document's scheduledTimestamp).
		if at := time.Unix(int64(ts), 0); !at.After(now) {
			writeError(w, errBadRequest("scheduledTimestamp %d is not in the future", int64(ts)))
			return
		}
		msg["status"], answered = "scheduled", "pending"
	}
	conv, ok := l.conversationOf(ct.ID)
	if !ok {
		conv = l.newConversation(ct.ID, now)
	}
	l.addMessage(conv, msg, now)
	out := map[string]any{"conversationId": conv["id"], "messageId": msg["id"], "status": answered}
	if typ == "Email" {
		out["emailMessageId"] = l.addEmail(msg, body, ct)
	}
	writeJSON(w, http.StatusOK, out)
}

// processMessage answers POST /conversations/messages/inbound and
// …/outbound: a message a conversation provider adds to a conversation of
// the location (and, inbound, of the contact the body names).
func processMessage(inbound bool) handlerFunc {
	return func(s *Sandbox, w http.ResponseWriter, r *http.Request, c *call) {
		body, aerr := strictBody(r, c)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		now := s.now()
		l := s.tokenStore(c)
		l.mu.Lock()
		defer l.mu.Unlock()
		conv, ok := l.getDoc(collConversations, body["conversationId"].(string))
		if !ok {
			writeError(w, errBadRequest("Conversation not found"))
			return
		}
		if id, named := body["contactId"].(string); named && id != conv["contactId"] {
			writeError(w, errBadRequest("The conversation is not the contact's"))
			return
		}
		typ := body["type"].(string)
		msg := map[string]any{"messageType": sentTypes[typ], "direction": "outbound", "contentType": "text/plain",
			"conversationProviderId": body["conversationProviderId"]}
		if inbound {
			// The document's default, for the inbound endpoint too.
			if d, ok := body["direction"].(string); ok {
				msg["direction"] = d
			}
			text, _ := body["message"].(string)
			if html, ok := body["html"].(string); ok && html != "" {
				msg["contentType"], text = "text/html", html
			}
			msg["body"] = text
		}
		if atts, ok := body["attachments"].([]any); ok {
			msg["attachments"] = atts
		}
		if call, ok := body["call"].(map[string]any); ok {
			if st, ok := call["status"].(string); ok {
				msg["meta"] = map[string]any{"callStatus": st}
			}
		}
		l.addMessage(conv, msg, now)
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "conversationId": conv["id"], "messageId": msg["id"],
			"message": "Message added", "contactId": conv["contactId"], "dateAdded": msg["dateAdded"]})
	}
}

// opListMessages answers GET /conversations/{conversationId}/messages: the
// conversation's messages newest first, limit (20 unless set) at a time
// after lastMessageId, with the page's last id and whether more follow.
func (s *Sandbox) opListMessages(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		f, _ := strconv.ParseFloat(v, 64) // validated as a number
		if limit = int(f); limit < 1 || float64(limit) != f {
			writeError(w, errUnprocessable("limit must be a positive whole number"))
			return
		}
	}
	var types []string
	if v := q.Get("type"); v != "" {
		types = strings.Split(v, ",")
	}
	id := r.PathValue("conversationId")
	l := s.tokenStore(c)
	l.mu.RLock()
	_, ok := l.doc(collConversations, id)
	all := l.coll(collMessages, false).list()
	l.mu.RUnlock()
	if !ok {
		writeError(w, errNotFound("Conversation not found"))
		return
	}
	var msgs []json.RawMessage
	var ids []string
	for i := len(all) - 1; i >= 0; i-- { // newest first
		var m struct {
			ID, ConversationID, MessageType string
		}
		if json.Unmarshal(all[i], &m) != nil || m.ConversationID != id || len(types) > 0 && !slices.Contains(types, m.MessageType) {
			continue
		}
		msgs, ids = append(msgs, all[i]), append(ids, m.ID)
	}
	start := 0
	if after := q.Get("lastMessageId"); after != "" {
		i := slices.Index(ids, after)
		if i < 0 {
			writeError(w, errBadRequest("lastMessageId %s is not a message of the conversation", after))
			return
		}
		start = i + 1
	}
	end := min(start+limit, len(msgs))
	last := ""
	if end > start {
		last = ids[end-1]
	}
	b := appendMember([]byte{'{'}, "lastMessageId", marshal(last))
	b = appendMember(b, "nextPage", strconv.AppendBool(nil, end < len(msgs)))
	page := []byte{'['}
	for i, m := range msgs[start:end] {
		if i > 0 {
			page = append(page, ',')
		}
		page = append(page, m...)
	}
	b = appendMember(b, "messages", append(page, ']'))
	writeBody(w, http.StatusOK, append(b, '}'))
}

// opUpdateMessageStatus answers PUT /conversations/messages/{messageId}/status:
// the delivery status of a message a conversation provider sent.
func (s *Sandbox) opUpdateMessageStatus(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := strictBody(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	id := r.PathValue("messageId")
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	msg, ok := l.getDoc(collMessages, id)
	if !ok {
		writeError(w, errNotFound("Message not found"))
		return
	}
	if msg["direction"] != "outbound" {
		writeError(w, errBadRequest("Only an outbound message has a delivery status"))
		return
	}
	msg["status"] = body["status"]
	l.coll(collMessages, true).put(id, marshal(msg))
	writeJSON(w, http.StatusOK, map[string]any{"conversationId": msg["conversationId"], "messageId": id, "status": body["status"]})
}

// opCancelScheduledMessage answers DELETE
// /conversations/messages/{messageId}/schedule: a scheduled message is
// removed before it is sent; any other message cannot be cancelled.
func (s *Sandbox) opCancelScheduledMessage(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("messageId")
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	msg, ok := l.getDoc(collMessages, id)
	switch {
	case !ok:
		writeError(w, errNotFound("Message not found"))
		return
	case msg["status"] != "scheduled":
		writeError(w, errBadRequest("Message %s is not scheduled", id))
		return
	}
	l.cancelScheduled(msg)
	writeJSON(w, http.StatusOK, map[string]any{"status": http.StatusOK, "message": "Scheduled message cancelled"})
}

// cancelScheduled removes a scheduled message and, for an email, its
// email. Callers hold l.mu for writing.
func (l *locStore) cancelScheduled(msg map[string]any) {
	id, _ := msg["id"].(string)
	l.coll(collMessages, true).remove(id)
	emails := l.coll(collEmails, true)
	for _, raw := range emails.list() {
		var e struct{ ID, ThreadID string }
		if json.Unmarshal(raw, &e) == nil && e.ThreadID == id {
			emails.remove(e.ID)
		}
	}
}

// addEmail stores the email of a sent Email message, under its own id (the
// answer's emailMessageId), threaded on the message; it returns its id.
// Callers hold l.mu for writing.
func (l *locStore) addEmail(msg, body map[string]any, ct *Contact) string {
	to, _ := body["emailTo"].(string)
	if to == "" {
		to = ct.Email
	}
	from, _ := body["emailFrom"].(string)
	if from == "" {
		from = l.name + " <noreply@sandbox.example>"
	}
	email := map[string]any{
		"id": l.newID(), "threadId": msg["id"], "locationId": l.id, "contactId": msg["contactId"],
		"conversationId": msg["conversationId"], "dateAdded": msg["dateAdded"], "body": msg["body"],
		"direction": "outbound", "status": msg["status"], "contentType": msg["contentType"],
		"attachments": msg["attachments"], "from": from, "to": []any{to}, "source": "api",
	}
	for _, k := range []string{"subject", "emailCc", "emailBcc"} {
		if v, ok := body[k]; ok {
			email[map[string]string{"subject": "subject", "emailCc": "cc", "emailBcc": "bcc"}[k]] = v
		}
	}
	id := email["id"].(string)
	l.coll(collEmails, true).put(id, marshal(email))
	return id
}

// opCancelScheduledEmail answers DELETE
// /conversations/messages/email/{emailMessageId}/schedule: a scheduled
// email is removed with its message before it is sent.
func (s *Sandbox) opCancelScheduledEmail(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("emailMessageId")
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	email, ok := l.getDoc(collEmails, id)
	switch {
	case !ok:
		writeError(w, errNotFound("Email message not found"))
		return
	case email["status"] != "scheduled":
		writeError(w, errBadRequest("Email message %s is not scheduled", id))
		return
	}
	l.cancelScheduled(map[string]any{"id": email["threadId"]})
	writeJSON(w, http.StatusOK, map[string]any{"status": http.StatusOK, "message": "Scheduled email cancelled"})
}

// conversationTypes spells a conversation's type as the search answers it
// (ConversationSchema.type's enum) for the number a read answers
// (GetConversationByIdResponse.type: 1 Phone, 2 Email, 3 Facebook
// Messenger, 4 Review, 5 Group SMS; the enum lists them in that order).
var conversationTypes = []string{"TYPE_PHONE", "TYPE_EMAIL", "TYPE_FB_MESSENGER", "TYPE_REVIEW", "TYPE_GROUP_SMS"}

// searchMaxLimit is the most conversations a search answers at once. The
// document gives no maximum; the sandbox refuses more than hlgate asks for
// (api/overlay.yaml), the stricter reading.
const searchMaxLimit = 100

// searched is a conversation as the search sees it.
type searched struct {
	doc  map[string]any
	last map[string]any // its newest message; nil without one
	at   int64          // lastMessageDate in epoch ms: the sort value
	seq  int            // its position in the collection: the tiebreaker
}

// opSearchConversations answers GET /conversations/search: the location's
// conversations that match every filter, newest last message first (sort
// asc reverses it), limit at a time after the startAfterDate cursor (the
// sort values of the previous page's last conversation, which each
// conversation carries as sort), with the number that match.
func (s *Sandbox) opSearchConversations(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	if aerr := c.ownLocation(q.Get("locationId")); aerr != nil {
		writeError(w, aerr)
		return
	}
	limit := 20
	if v := q.Get("limit"); v != "" {
		f, _ := strconv.ParseFloat(v, 64) // validated as a number
		if limit = int(f); limit < 1 || limit > searchMaxLimit || float64(limit) != f {
			writeError(w, errUnprocessable(fmt.Sprintf("limit must be a whole number from 1 to %d", searchMaxLimit)))
			return
		}
	}
	switch q.Get("sortBy") {
	case "", "last_message_date", "last_manual_message_date":
	default:
		writeError(w, errBadRequest("sandbox: sortBy %s needs data the sandbox does not keep", q.Get("sortBy")))
		return
	}
	var after []int64
	for _, v := range q["startAfterDate"] {
		f, _ := strconv.ParseFloat(v, 64) // validated as numbers
		after = append(after, int64(f))
	}
	if len(after) > 2 {
		writeError(w, errUnprocessable("startAfterDate holds a conversation's sort values: its date and its tiebreaker"))
		return
	}
	asc := q.Get("sort") == "asc"
	l := s.tokenStore(c)
	l.mu.RLock()
	defer l.mu.RUnlock() // the contacts are read until the answer is written
	convs := l.coll(collConversations, false).list()
	msgs := l.coll(collMessages, false).list()
	contacts := l.contacts
	lastOf := map[string]map[string]any{}
	for _, raw := range msgs { // oldest first: the last one written wins
		var m map[string]any
		if json.Unmarshal(raw, &m) == nil {
			if id, ok := m["conversationId"].(string); ok {
				lastOf[id] = m
			}
		}
	}
	var found []searched
	for i, raw := range convs {
		var d map[string]any
		if json.Unmarshal(raw, &d) != nil {
			continue
		}
		id, _ := d["id"].(string)
		sc := searched{doc: d, last: lastOf[id], seq: i}
		if at, err := time.Parse(sandboxTime, fmt.Sprint(d["lastMessageDate"])); err == nil {
			sc.at = at.UnixMilli()
		}
		if searchMatches(q, sc, contacts[fmt.Sprint(d["contactId"])]) {
			found = append(found, sc)
		}
	}
	before := func(a, b searched) bool { // a comes first
		switch {
		case a.at != b.at:
			return (a.at < b.at) == asc
		case a.seq != b.seq:
			return (a.seq < b.seq) == asc
		}
		return false
	}
	slices.SortStableFunc(found, func(a, b searched) int {
		switch {
		case before(a, b):
			return -1
		case before(b, a):
			return 1
		}
		return 0
	})
	total := len(found)
	if len(after) > 0 {
		// Skip what comes before the cursor, and the cursor's own
		// conversation: with its tiebreaker, the conversations up to
		// its position; with a date alone, every one of that date.
		cur := searched{at: after[0]}
		var passed func(searched) bool
		if len(after) == 2 {
			cur.seq = int(after[1])
			passed = func(x searched) bool { return !before(cur, x) }
		} else {
			passed = func(x searched) bool { return x.at == cur.at || !before(cur, x) }
		}
		i := 0
		for i < len(found) && passed(found[i]) {
			i++
		}
		found = found[i:]
	}
	found = found[:min(limit, len(found))]
	out := make([]map[string]any, 0, len(found))
	for _, sc := range found {
		out = append(out, searchAnswer(sc, contacts[fmt.Sprint(sc.doc["contactId"])]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversations": out, "total": total})
}

// searchMatches reports whether a conversation matches every filter of a
// search. The sandbox keeps no followers, mentions or score profiles, so a
// filter by them matches nothing.
func searchMatches(q map[string][]string, sc searched, ct *Contact) bool {
	get := func(k string) string {
		if len(q[k]) == 0 {
			return ""
		}
		return q[k][0]
	}
	d := sc.doc
	text := func(k string) string { s, _ := d[k].(string); return s }
	if v := get("contactId"); v != "" && text("contactId") != v {
		return false
	}
	if v := get("id"); v != "" && text("id") != v {
		return false
	}
	if v := get("assignedTo"); v != "" {
		want := strings.Split(v, ",")
		if a := text("assignedTo"); !(a == "" && slices.Contains(want, "unassigned") || a != "" && slices.Contains(want, a)) {
			return false
		}
	}
	for _, k := range []string{"followers", "mentions", "scoreProfile", "scoreProfileMin", "scoreProfileMax"} {
		if get(k) != "" {
			return false
		}
	}
	last := func(k string) string {
		if sc.last == nil {
			return ""
		}
		s, _ := sc.last[k].(string)
		return s
	}
	if v := get("lastMessageType"); v != "" && last("messageType") != v {
		return false
	}
	if v := get("lastMessageDirection"); v != "" && last("direction") != v {
		return false
	}
	if v := get("lastMessageAction"); v != "" {
		// The action of the last outbound message: manual when a user or
		// the API sent it, automated when a workflow, campaign or bulk
		// action did.
		src := last("source")
		manual := src == "" || src == "api" || src == "app"
		if last("direction") != "outbound" || (v == "manual") != manual {
			return false
		}
	}
	unread, _ := d["unreadCount"].(float64)
	switch get("status") {
	case "read":
		if unread > 0 {
			return false
		}
	case "unread":
		if unread == 0 {
			return false
		}
	case "starred":
		if d["starred"] != true {
			return false
		}
	}
	if start, end := get("startDate"), get("endDate"); start != "" || end != "" {
		added, err := time.Parse(sandboxTime, text("dateAdded"))
		if err != nil {
			return false
		}
		ms := float64(added.UnixMilli())
		if f, err := strconv.ParseFloat(start, 64); err == nil && ms < f {
			return false
		}
		if f, err := strconv.ParseFloat(end, 64); err == nil && ms > f {
			return false
		}
	}
	if v := strings.ToLower(get("query")); v != "" {
		hay := []string{text("lastMessageBody")}
		if ct != nil {
			hay = append(hay, ct.FirstName+" "+ct.LastName, ct.CompanyName, ct.Email, ct.Phone)
		}
		if !slices.ContainsFunc(hay, func(h string) bool { return strings.Contains(strings.ToLower(h), v) }) {
			return false
		}
	}
	return true
}

// searchAnswer is a conversation as the search answers it: the contact's
// names and addresses, the type spelled as the search spells it, and its
// sort values.
func searchAnswer(sc searched, ct *Contact) map[string]any {
	out := make(map[string]any, len(sc.doc)+6)
	for k, v := range sc.doc {
		out[k] = v
	}
	if n, ok := sc.doc["type"].(float64); ok && n >= 1 && int(n) <= len(conversationTypes) {
		out["type"] = conversationTypes[int(n)-1]
	}
	out["fullName"], out["contactName"], out["email"], out["phone"] = "", "", "", ""
	if ct != nil {
		full := strings.TrimSpace(ct.FirstName + " " + ct.LastName)
		out["fullName"], out["email"], out["phone"] = full, ct.Email, ct.Phone
		out["contactName"] = full
		if full == "" {
			out["contactName"] = ct.CompanyName
		}
	}
	out["sort"] = []int64{sc.at, int64(sc.seq)}
	return out
}

// exportChannels maps the export's channel to the messageTypes it names;
// emailTypes are the types an export without a channel leaves out (the
// document: "all non-email message types").
var (
	exportChannels = map[string]string{"Call": "TYPE_CALL", "SMS": "TYPE_SMS", "Email": "TYPE_EMAIL",
		"WhatsApp": "TYPE_WHATSAPP", "Instagram": "TYPE_INSTAGRAM", "Facebook": "TYPE_FACEBOOK"}
	emailTypes = []string{"TYPE_EMAIL", "TYPE_CAMPAIGN_EMAIL", "TYPE_CUSTOM_EMAIL", "TYPE_CUSTOM_PROVIDER_EMAIL"}
)

// exportCursor is the opaque cursor of an export page: the id of the page's
// last message.
func exportCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("after:" + id))
}

// opExportMessages answers GET /conversations/messages/export: the
// location's messages that match the filters, newest first unless
// sortOrder is asc (both sortBy values order by the date a message was
// added: the sandbox never changes a message's date), limit at a time
// after the cursor, with the number that match and the next page's cursor
// (null after the last page).
func (s *Sandbox) opExportMessages(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	if aerr := c.ownLocation(q.Get("locationId")); aerr != nil {
		writeError(w, aerr)
		return
	}
	limit := 100 // the document's default
	if v := q.Get("limit"); v != "" {
		f, _ := strconv.ParseFloat(v, 64) // validated from 10 to 500
		if limit = int(f); float64(limit) != f {
			writeError(w, errUnprocessable("limit must be a whole number"))
			return
		}
	}
	var from, to time.Time
	for _, d := range []struct {
		name string
		at   *time.Time
	}{{"startDate", &from}, {"endDate", &to}} {
		if v := q.Get(d.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, errUnprocessable(d.name+" must be an ISO 8601 date and time"))
				return
			}
			*d.at = t
		}
	}
	l := s.tokenStore(c)
	l.mu.RLock()
	all := l.coll(collMessages, false).list()
	l.mu.RUnlock()
	type exported struct {
		id  string
		raw json.RawMessage
	}
	var msgs []exported
	for _, raw := range all {
		var m struct{ ID, ConversationID, ContactID, MessageType, DateAdded string }
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		at, _ := time.Parse(sandboxTime, m.DateAdded)
		switch ch := q.Get("channel"); {
		case q.Get("conversationId") != "" && m.ConversationID != q.Get("conversationId"),
			q.Get("contactId") != "" && m.ContactID != q.Get("contactId"),
			ch != "" && m.MessageType != exportChannels[ch],
			ch == "" && slices.Contains(emailTypes, m.MessageType),
			!from.IsZero() && at.Before(from),
			!to.IsZero() && at.After(to):
			continue
		}
		msgs = append(msgs, exported{m.ID, raw})
	}
	if q.Get("sortOrder") != "asc" {
		slices.Reverse(msgs) // newest first
	}
	start := 0
	if cur := q.Get("cursor"); cur != "" {
		b, err := base64.RawURLEncoding.DecodeString(cur)
		i := slices.IndexFunc(msgs, func(m exported) bool { return "after:"+m.id == string(b) })
		if err != nil || i < 0 {
			writeError(w, errBadRequest("cursor is not a cursor of this export"))
			return
		}
		start = i + 1
	}
	end := min(start+limit, len(msgs))
	page := []byte{'['}
	for i, m := range msgs[start:end] {
		if i > 0 {
			page = append(page, ',')
		}
		page = append(page, m.raw...)
	}
	next := []byte("null")
	if end < len(msgs) {
		next = marshal(exportCursor(msgs[end-1].id))
	}
	b := appendMember([]byte{'{'}, "messages", append(page, ']'))
	b = appendMember(b, "nextCursor", next)
	b = appendMember(b, "total", strconv.AppendInt(nil, int64(len(msgs)), 10))
	writeBody(w, http.StatusOK, append(b, '}'))
}

// opLiveChatTyping answers POST /conversations/providers/live-chat/typing:
// an agent's typing indicator in a conversation of the location.
func (s *Sandbox) opLiveChatTyping(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := strictBody(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := c.ownLocation(body["locationId"].(string)); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	l.mu.RLock()
	_, ok := l.doc(collConversations, body["conversationId"].(string))
	l.mu.RUnlock()
	if !ok {
		writeError(w, errBadRequest("Conversation not found"))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"success": true})
}

// opSendReviewReply answers POST /conversations/messages/review-reply: a
// reply to the Google review of a conversation of the location, which must
// have a reviewId (the document); it joins the conversation as an outbound
// review message.
func (s *Sandbox) opSendReviewReply(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := strictBody(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := c.ownLocation(body["locationId"].(string)); aerr != nil {
		writeError(w, aerr)
		return
	}
	now := s.now()
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	conv, ok := l.getDoc(collConversations, body["conversationId"].(string))
	switch {
	case !ok:
		writeError(w, errBadRequest("Conversation not found"))
		return
	case conv["reviewId"] == nil || conv["reviewId"] == "":
		writeError(w, errBadRequest("The conversation has no review to reply to"))
		return
	}
	msg := map[string]any{"messageType": "TYPE_REVIEW", "direction": "outbound", "source": "api", "contentType": "text/plain",
		"body": body["message"], "status": "delivered"}
	l.addMessage(conv, msg, now)
	writeJSON(w, http.StatusOK, map[string]any{"conversationId": conv["id"], "messageId": msg["id"], "status": "delivered"})
}
