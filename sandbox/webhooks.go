package sandbox

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The sandbox sends HighLevel's webhooks for its own writes: after a
// resource call of an operation in webhookOps succeeds (2xx), it reads the
// stored document the call wrote (or, for a delete, the one it read just
// before), builds the events the operation fires in the shapes of HighLevel's
// event documents (docs/webhook/*.md: a flat object with `type` and
// `locationId`, the document's fields, `webhookId` and `timestamp`), signs the
// exact bytes with the sandbox's own Ed25519 key (X-GHL-Signature, base64)
// and posts them to the configured URL. Installs (the consent page's Allow,
// MintCode) send INSTALL and Uninstall sends UNINSTALL.
//
// Delivery is asynchronous, through a bounded queue and one sender, as
// HighLevel's is: a 429 answer is retried with backoff (HighLevel retries up
// to 6 times about 10 minutes apart; the sandbox keeps the count and
// compresses the wait to WebhookRetryBase, doubling), and anything else — a
// 2xx, another status, a transport error, a full queue — is final; what is
// not a 2xx is dropped and counted. Nothing is sent while no URL is set.

// Defaults of the webhook sender.
const (
	webhookQueueSize   = 4096
	webhookMaxRetries  = 6
	defaultRetryBase   = time.Second
	webhookPostTimeout = 10 * time.Second
	// webhookSignature is the header of the Ed25519 signature.
	webhookSignature = "X-GHL-Signature"
)

// WebhookStats counts what the sender did.
type WebhookStats struct {
	// Sent: posts answered 2xx.
	Sent int64 `json:"sent"`
	// Retried: posts answered 429 and queued again.
	Retried int64 `json:"retried"`
	// Dropped: events lost as HighLevel loses them (another status, a
	// transport error, retries exhausted, or the queue full).
	Dropped int64 `json:"dropped"`
	// Pending: events queued, in flight or waiting for a retry.
	Pending int64 `json:"pending"`
	// LastStatus is the status of the last answer (0: none yet or a
	// transport error).
	LastStatus int `json:"lastStatus"`
}

type hookPost struct {
	body    []byte
	attempt int
}

// hookSender is the sandbox's webhook client.
type hookSender struct {
	key       ed25519.PrivateKey
	url       atomic.Pointer[string]
	retryBase atomic.Int64
	client    *http.Client
	queue     chan *hookPost
	start     sync.Once

	mu      sync.Mutex
	pending int64
	idle    chan struct{} // closed when pending drops to 0, then replaced

	sent, retried, dropped atomic.Int64
	lastStatus             atomic.Int64
}

// webhookKey is the sandbox's signing key: derived from the seed, so a
// sandbox's key is the same on every start (the key is public material of a
// fake; nothing it signs is HighLevel's).
func webhookKey(seed uint64) ed25519.PrivateKey {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	s := sha256.Sum256(append([]byte("hlgate sandbox webhook key v1"), b[:]...))
	return ed25519.NewKeyFromSeed(s[:])
}

// newHookSender returns the sender: key signs (nil: one derived from the
// seed), u is Config.WebhookURL, checked when a post is made (a bad one
// drops and counts every event).
func newHookSender(seed uint64, key ed25519.PrivateKey, u string) *hookSender {
	if len(key) != ed25519.PrivateKeySize {
		key = webhookKey(seed)
	}
	h := &hookSender{
		key:    key,
		client: &http.Client{Timeout: webhookPostTimeout},
		queue:  make(chan *hookPost, webhookQueueSize),
		idle:   make(chan struct{}),
	}
	close(h.idle)
	h.url.Store(&u)
	h.retryBase.Store(int64(defaultRetryBase))
	return h
}

// SetWebhookURL makes the sandbox post its webhooks to u (an absolute http
// or https URL, such as hlgate's /webhooks/highlevel); "" stops sending.
func (s *Sandbox) SetWebhookURL(u string) error {
	if u != "" {
		p, err := url.Parse(u)
		if err != nil || !p.IsAbs() || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("webhook url %q is not an absolute http(s) URL", u)
		}
	}
	s.hooks.url.Store(&u)
	return nil
}

// WebhookURL is where webhooks are posted ("" when none).
func (s *Sandbox) WebhookURL() string {
	if p := s.hooks.url.Load(); p != nil {
		return *p
	}
	return ""
}

// SetWebhookRetryBase sets the wait before the first retry of a 429 (then
// doubling); zero restores the default of one second.
func (s *Sandbox) SetWebhookRetryBase(d time.Duration) {
	if d <= 0 {
		d = defaultRetryBase
	}
	s.hooks.retryBase.Store(int64(d))
}

// WebhookPublicKey is the key the sandbox's webhooks verify with.
func (s *Sandbox) WebhookPublicKey() ed25519.PublicKey {
	return s.hooks.key.Public().(ed25519.PublicKey)
}

// WebhookPublicKeyPEM is WebhookPublicKey as a PEM "PUBLIC KEY" block (SPKI),
// the form HLGATE_WEBHOOK_PUBLIC_KEY takes.
func (s *Sandbox) WebhookPublicKeyPEM() string {
	der, _ := x509.MarshalPKIXPublicKey(s.WebhookPublicKey()) // an Ed25519 key always marshals
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// WebhookStats returns the sender's counters.
func (s *Sandbox) WebhookStats() WebhookStats {
	h := s.hooks
	h.mu.Lock()
	p := h.pending
	h.mu.Unlock()
	return WebhookStats{Sent: h.sent.Load(), Retried: h.retried.Load(), Dropped: h.dropped.Load(), Pending: p, LastStatus: int(h.lastStatus.Load())}
}

// FlushWebhooks waits until every event queued so far has been answered
// (or dropped), retries included, or ctx ends.
func (s *Sandbox) FlushWebhooks(ctx context.Context) error {
	for {
		h := s.hooks
		h.mu.Lock()
		idle, p := h.idle, h.pending
		h.mu.Unlock()
		if p == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("flush webhooks: %d still pending: %w", p, ctx.Err())
		}
	}
}

// emit builds, signs and queues one event of the location (or, with
// locationID "", of the agency). fields are the event's own members; type,
// locationId, webhookId and timestamp are set here.
func (s *Sandbox) emit(typ, locationID string, fields map[string]any) {
	if s.WebhookURL() == "" {
		return
	}
	ev := make(map[string]any, len(fields)+4)
	for k, v := range fields {
		ev[k] = v
	}
	ev["type"] = typ
	if locationID != "" {
		ev["locationId"] = locationID
	}
	ev["webhookId"] = newWebhookID()
	ev["timestamp"] = s.now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	body, err := json.Marshal(ev)
	if err != nil {
		s.hooks.dropped.Add(1)
		return
	}
	s.hooks.enqueue(&hookPost{body: body})
}

// newWebhookID is a random UUID (version 4), the shape of HighLevel's
// webhookIds.
func newWebhookID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (h *hookSender) enqueue(p *hookPost) {
	h.start.Do(func() { go h.run() })
	h.mu.Lock()
	if h.pending == 0 {
		h.idle = make(chan struct{})
	}
	h.pending++
	h.mu.Unlock()
	select {
	case h.queue <- p:
	default:
		h.dropped.Add(1)
		h.done()
	}
}

func (h *hookSender) done() {
	h.mu.Lock()
	h.pending--
	if h.pending == 0 {
		close(h.idle)
	}
	h.mu.Unlock()
}

// run posts the queue in order, one at a time.
func (h *hookSender) run() {
	for p := range h.queue {
		h.post(p)
	}
}

func (h *hookSender) post(p *hookPost) {
	u := ""
	if up := h.url.Load(); up != nil {
		u = *up
	}
	if u == "" {
		h.dropped.Add(1)
		h.done()
		return
	}
	status := 0
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(p.body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "hlgate-sandbox-webhooks")
		req.Header.Set(webhookSignature, base64.StdEncoding.EncodeToString(ed25519.Sign(h.key, p.body)))
		var resp *http.Response
		if resp, err = h.client.Do(req); err == nil {
			status = resp.StatusCode
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
		}
	}
	h.lastStatus.Store(int64(status))
	switch {
	case status >= 200 && status < 300:
		h.sent.Add(1)
	case status == http.StatusTooManyRequests && p.attempt < webhookMaxRetries:
		h.retried.Add(1)
		wait := time.Duration(h.retryBase.Load()) << p.attempt
		p.attempt++
		// Still pending: the retry is queued again after its wait.
		time.AfterFunc(wait, func() {
			select {
			case h.queue <- p:
			default:
				h.dropped.Add(1)
				h.done()
			}
		})
		return
	default:
		h.dropped.Add(1)
	}
	h.done()
}

// ---- the events of resource writes ----

// hookEntity is the kind of document an operation writes.
type hookEntity int

const (
	entContact hookEntity = iota + 1
	entOpportunity
	entAppointment
	entMessage
)

// hookOp says which events an operation's success fires.
type hookOp struct {
	entity hookEntity
	// idParam is the path parameter naming the document; empty: idPath.
	idParam string
	// idPath is the member of the answer holding the written document's
	// id (a create's).
	idPath []string
	// events are the event types fired, from the document before the call
	// (nil when it did not exist or idParam is empty), after it (nil for a
	// delete) and the answer.
	events func(before, after, answer map[string]any) []string
}

func always(types ...string) func(before, after, answer map[string]any) []string {
	return func(_, _, _ map[string]any) []string { return types }
}

// changed reports whether member k differs between two documents.
func changed(a, b map[string]any, k string) bool { return !reflect.DeepEqual(a[k], b[k]) }

// contactUpdate: ContactUpdate for every update, and ContactTagUpdate /
// ContactDndUpdate beside it when the tags / dnd changed.
func contactUpdate(before, after, _ map[string]any) []string {
	out := []string{"ContactUpdate"}
	if before != nil && changed(before, after, "tags") {
		out = append(out, "ContactTagUpdate")
	}
	if before != nil && changed(before, after, "dnd") {
		out = append(out, "ContactDndUpdate")
	}
	return out
}

// tagsChanged: ContactTagUpdate when the tag call changed the tags.
func tagsChanged(before, after, _ map[string]any) []string {
	if before != nil && !changed(before, after, "tags") {
		return nil
	}
	return []string{"ContactTagUpdate"}
}

// opportunityUpdate: OpportunityUpdate for every update, and the event of
// each tracked member that changed beside it.
func opportunityUpdate(before, after, _ map[string]any) []string {
	out := []string{"OpportunityUpdate"}
	if before == nil {
		return out
	}
	for _, c := range []struct{ member, event string }{
		{"pipelineStageId", "OpportunityStageUpdate"}, {"status", "OpportunityStatusUpdate"},
		{"monetaryValue", "OpportunityMonetaryValueUpdate"}, {"assignedTo", "OpportunityAssignedToUpdate"},
	} {
		if changed(before, after, c.member) {
			out = append(out, c.event)
		}
	}
	return out
}

func opportunityStatus(before, after, _ map[string]any) []string {
	if before != nil && !changed(before, after, "status") {
		return nil
	}
	return []string{"OpportunityStatusUpdate"}
}

// upserted fires create for an answer with "new": true, else update.
func upserted(create string, update func(before, after, answer map[string]any) []string) func(before, after, answer map[string]any) []string {
	return func(before, after, answer map[string]any) []string {
		if isNew, _ := answer["new"].(bool); isNew {
			return []string{create}
		}
		return update(before, after, answer)
	}
}

// webhookOps maps the sandbox's operationIds to the events their success
// fires.
var webhookOps = map[string]hookOp{
	"create-contact": {entity: entContact, idPath: []string{"contact", "id"}, events: always("ContactCreate")},
	"update-contact": {entity: entContact, idParam: "contactId", events: contactUpdate},
	"upsert-contact": {entity: entContact, idPath: []string{"contact", "id"}, events: upserted("ContactCreate", contactUpdate)},
	"delete-contact": {entity: entContact, idParam: "contactId", events: always("ContactDelete")},
	"add-tags":       {entity: entContact, idParam: "contactId", events: tagsChanged},
	"remove-tags":    {entity: entContact, idParam: "contactId", events: tagsChanged},

	"create-opportunity":        {entity: entOpportunity, idPath: []string{"opportunity", "id"}, events: always("OpportunityCreate")},
	"update-opportunity":        {entity: entOpportunity, idParam: "id", events: opportunityUpdate},
	"update-opportunity-status": {entity: entOpportunity, idParam: "id", events: opportunityStatus},
	"delete-opportunity":        {entity: entOpportunity, idParam: "id", events: always("OpportunityDelete")},
	"Upsert-opportunity":        {entity: entOpportunity, idPath: []string{"opportunity", "id"}, events: upserted("OpportunityCreate", opportunityUpdate)},

	"create-appointment": {entity: entAppointment, idPath: []string{"id"}, events: always("AppointmentCreate")},
	"edit-appointment":   {entity: entAppointment, idParam: "eventId", events: always("AppointmentUpdate")},
	"delete-event":       {entity: entAppointment, idParam: "eventId", events: always("AppointmentDelete")},

	"send-a-new-message":      {entity: entMessage, idPath: []string{"messageId"}, events: always("OutboundMessage")},
	"add-an-outbound-message": {entity: entMessage, idPath: []string{"messageId"}, events: always("OutboundMessage")},
	"add-an-inbound-message":  {entity: entMessage, idPath: []string{"messageId"}, events: always("InboundMessage")},
}

// The members of each event document (ContactCreate.md, OpportunityCreate.md,
// AppointmentCreate.md, OutboundMessage.md) taken from the stored document
// when it has them; `type` and `locationId` are the event's own.
var (
	contactMembers = []string{"id", "address1", "city", "state", "companyName", "country", "source", "dateAdded",
		"dateOfBirth", "dnd", "email", "name", "firstName", "lastName", "phone", "postalCode", "tags", "website",
		"attachments", "assignedTo", "customFields"}
	opportunityMembers = []string{"id", "assignedTo", "contactId", "monetaryValue", "name", "pipelineId",
		"pipelineStageId", "source", "status", "dateAdded"}
	appointmentMembers = []string{"id", "address", "title", "calendarId", "contactId", "groupId", "appointmentStatus",
		"assignedUserId", "users", "notes", "source", "startTime", "endTime", "dateAdded", "dateUpdated"}
	messageMembers = []string{"attachments", "body", "contactId", "contentType", "conversationId", "dateAdded",
		"direction", "messageType", "messageId", "source", "status", "conversationProviderId", "userId"}
)

// eventMessageType is the messageType an event names for the API's
// TYPE_* value: OutboundMessage.md shows "SMS", "CALL", "Email" and
// "VoiceMail"; for the others the sandbox assumes the name without its
// TYPE_ prefix.
func eventMessageType(t string) string {
	switch t {
	case "TYPE_EMAIL":
		return "Email"
	case "TYPE_VOICEMAIL":
		return "VoiceMail"
	}
	return strings.TrimPrefix(t, "TYPE_")
}

func pick(doc map[string]any, members []string) map[string]any {
	out := map[string]any{}
	for _, k := range members {
		if v, ok := doc[k]; ok {
			out[k] = v
		}
	}
	return out
}

// eventFields shapes a stored document as its events carry it.
func eventFields(e hookEntity, doc map[string]any) map[string]any {
	switch e {
	case entContact:
		out := pick(doc, contactMembers)
		if _, ok := out["attachments"]; !ok {
			out["attachments"] = []any{} // ContactCreate.md's example: always present
		}
		return out
	case entOpportunity:
		d := doc
		if _, ok := d["dateAdded"]; !ok {
			d = map[string]any{"dateAdded": doc["createdAt"]}
			for k, v := range doc {
				d[k] = v
			}
		}
		return pick(d, opportunityMembers)
	case entAppointment:
		return map[string]any{"appointment": pick(doc, appointmentMembers)}
	case entMessage:
		d := map[string]any{"messageId": doc["id"]}
		for k, v := range doc {
			if k != "type" && k != "id" {
				d[k] = v
			}
		}
		if t, ok := d["messageType"].(string); ok {
			d["messageType"] = eventMessageType(t)
		}
		return pick(d, messageMembers)
	}
	return nil
}

// snapshot reads the stored document as JSON members, or nil.
func (l *locStore) snapshot(e hookEntity, id string) map[string]any {
	if id == "" {
		return nil
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	var v any
	switch e {
	case entContact:
		if d, ok := l.contacts[id]; ok {
			v = d
		}
	case entOpportunity:
		if d, ok := l.opportunities[id]; ok {
			v = d
		}
	case entAppointment:
		if d, ok := l.events[id]; ok {
			v = d
		}
	case entMessage:
		if d, ok := l.getDoc(collMessages, id); ok {
			return d
		}
	}
	if v == nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(marshal(v), &m) != nil {
		return nil
	}
	return m
}

// captureWriter keeps the status and (bounded) body of an answer.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

const maxCapturedBody = 1 << 20

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.body.Len()+len(b) <= maxCapturedBody {
		c.body.Write(b)
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// serveHooked runs an admitted call's handler and, when the operation fires
// webhooks and a URL is set, sends its events after a successful write.
func (s *Sandbox) serveHooked(rt *route, w http.ResponseWriter, r *http.Request, c *call) {
	op, ok := webhookOps[rt.operationID]
	if !ok || s.WebhookURL() == "" {
		rt.h(s, w, r, c)
		return
	}
	l := s.tokenStore(c)
	if l == nil {
		rt.h(s, w, r, c)
		return
	}
	var before map[string]any
	if op.idParam != "" {
		before = l.snapshot(op.entity, r.PathValue(op.idParam))
	}
	cw := &captureWriter{ResponseWriter: w}
	rt.h(s, cw, r, c)
	if cw.status < 200 || cw.status > 299 {
		return
	}
	var answer map[string]any
	_ = json.Unmarshal(cw.body.Bytes(), &answer) // a non-object answer leaves it nil
	id := r.PathValue(op.idParam)
	if op.idParam == "" {
		id = memberString(answer, op.idPath)
	}
	after := l.snapshot(op.entity, id)
	doc := after
	if doc == nil {
		doc = before // a delete: the document as it was
	}
	if doc == nil {
		return
	}
	for _, typ := range op.events(before, after, answer) {
		s.emit(typ, l.id, eventFields(op.entity, doc))
	}
}

func memberString(m map[string]any, path []string) string {
	var v any = m
	for _, k := range path {
		o, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = o[k]
	}
	str, _ := v.(string)
	return str
}

// ---- app lifecycle ----

// emitInstall sends INSTALL for an install the consent page (or MintCode)
// recorded, in AppInstall.md's shapes: a location install names the
// location, an agency install only the company.
func (s *Sandbox) emitInstall(appID string, req CodeRequest) {
	f := map[string]any{"appId": appID, "companyId": req.CompanyID, "userId": DemoUserID}
	loc := ""
	if req.UserType == UserLocation {
		loc = req.LocationID
		f["companyName"] = s.companyName
		f["isWhitelabelCompany"] = false
		f["whitelabelDetails"] = map[string]any{}
	}
	s.emit("INSTALL", loc, f)
}

// Uninstall removes the app clientID ("" : the default app) from a location
// (or, given DemoCompanyID, from the agency and all its locations): its
// tokens stop working at once and UNINSTALL is sent (AppUninstall.md).
func (s *Sandbox) Uninstall(clientID, subject string) error {
	if clientID == "" {
		clientID = DefaultClientID
	}
	app, ok := s.app(clientID)
	if !ok {
		return fmt.Errorf("uninstall: unknown client id %q", clientID)
	}
	appID := app.AppID()
	agency := subject == DemoCompanyID
	if !agency {
		if _, ok := s.loc(subject); !ok {
			return fmt.Errorf("uninstall: unknown location %q", subject)
		}
	}
	a := s.auth
	a.mu.Lock()
	_, installed := a.installs[appID][subject]
	if agency {
		installed = a.bulk[appID] || len(a.installs[appID]) > 0
		delete(a.installs, appID)
		delete(a.bulk, appID)
	} else {
		delete(a.installs[appID], subject)
	}
	gone := func(companyID, locationID string) bool {
		return agency && companyID == subject || !agency && locationID == subject
	}
	for v, t := range a.access {
		if !t.pit && t.clientID == clientID && gone(t.companyID, t.locationID) {
			delete(a.access, v)
		}
	}
	for v, g := range a.refresh {
		if g.clientID == clientID && gone(g.companyID, g.locationID) {
			delete(a.refresh, v)
		}
	}
	a.mu.Unlock()
	if !installed {
		return errors.New("uninstall: the app is not installed there")
	}
	if agency {
		s.emit("UNINSTALL", "", map[string]any{"appId": appID, "companyId": subject})
	} else {
		s.emit("UNINSTALL", subject, map[string]any{"appId": appID})
	}
	return nil
}

// registerWebhookAdmin serves the sender's admin API: GET and PUT
// /_sandbox/webhooks (the URL, the public key and the counters),
// POST /_sandbox/webhooks/flush and POST /_sandbox/uninstall.
func (s *Sandbox) registerWebhookAdmin(mux *http.ServeMux) {
	state := func(w http.ResponseWriter) {
		writeJSON(w, http.StatusOK, map[string]any{"url": s.WebhookURL(), "publicKey": s.WebhookPublicKeyPEM(), "stats": s.WebhookStats()})
	}
	mux.HandleFunc("GET /_sandbox/webhooks", func(w http.ResponseWriter, r *http.Request) { state(w) })
	mux.HandleFunc("PUT /_sandbox/webhooks", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			URL string `json:"url"`
		}
		if err := decodeAdmin(r, &in); err != nil {
			writeError(w, errBadRequest("%v", err))
			return
		}
		if err := s.SetWebhookURL(in.URL); err != nil {
			writeError(w, errBadRequest("%v", err))
			return
		}
		state(w)
	})
	mux.HandleFunc("POST /_sandbox/webhooks/flush", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		if err := s.FlushWebhooks(ctx); err != nil {
			writeError(w, &apiError{status: http.StatusGatewayTimeout, message: err.Error()})
			return
		}
		state(w)
	})
	mux.HandleFunc("POST /_sandbox/uninstall", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ClientID   string `json:"clientId"`
			LocationID string `json:"locationId"`
			CompanyID  string `json:"companyId"`
		}
		if err := decodeAdmin(r, &in); err != nil {
			writeError(w, errBadRequest("%v", err))
			return
		}
		subject := in.LocationID
		if in.CompanyID != "" {
			if subject != "" {
				writeError(w, errBadRequest("name a locationId or a companyId, not both"))
				return
			}
			subject = in.CompanyID
		}
		if subject == "" {
			writeError(w, errBadRequest("locationId or companyId is required"))
			return
		}
		if err := s.Uninstall(in.ClientID, subject); err != nil {
			writeError(w, errBadRequest("%v", err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"uninstalled": subject})
	})
}
