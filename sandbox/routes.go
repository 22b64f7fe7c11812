package sandbox

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/hlgate/hlgate/api"
)

// handlerFunc serves one authenticated, admitted resource call.
type handlerFunc func(s *Sandbox, w http.ResponseWriter, r *http.Request, c *call)

// route is one upstream operation, with the rules the pipeline enforces
// before its handler runs. scope, version and the token kind come from the
// operation's x-hlgate-scope, x-hlgate-version and security scheme in
// api/openapi.yaml, never from this package.
type route struct {
	operationID string
	method      string
	path        string // OpenAPI template, e.g. /contacts/{contactId}
	scope       string
	version     string
	kinds       map[UserType]bool // whose tokens the schemes admit, each with whether its PITs are (false for the *-Only schemes)
	v           *validator
	h           handlerFunc
}

// call is what the pipeline knows about a request once admitted.
type call struct {
	tok *accessToken
	rt  *route
}

// handlers maps the operationIds of api/openapi.yaml whose behaviour is
// hand-written to their handlers; every other operation is served by the
// engine (engine.go), which refuses at start an operation it cannot serve.
// The token endpoint is absent: it is authenticated by client credentials
// and served outside the resource pipeline.
var handlers = map[string]handlerFunc{
	"get-location-access-token":     (*Sandbox).opLocationToken,
	"get-installed-location":        (*Sandbox).opInstalledLocations,
	"get-contact":                   (*Sandbox).opGetContact,
	"get-location":                  (*Sandbox).opGetLocation,
	"search-opportunity":            (*Sandbox).opSearchOpportunities,
	"get-opportunity":               (*Sandbox).opGetOpportunity,
	"create-opportunity":            (*Sandbox).opCreateOpportunity,
	"update-opportunity":            (*Sandbox).opUpdateOpportunity,
	"update-opportunity-status":     (*Sandbox).opUpdateOpportunityStatus,
	"delete-opportunity":            (*Sandbox).opDeleteOpportunity,
	"create-contact":                (*Sandbox).opCreateContact,
	"update-contact":                (*Sandbox).opUpdateContact,
	"delete-contact":                (*Sandbox).opDeleteContact,
	"upsert-contact":                (*Sandbox).opUpsertContact,
	"search-contacts-advanced":      (*Sandbox).opSearchContacts,
	"add-tags":                      contactTags(true),
	"remove-tags":                   contactTags(false),
	"get-calendars":                 (*Sandbox).opListCalendars,
	"get-slots":                     (*Sandbox).opGetFreeSlots,
	"get-calendar-events":           (*Sandbox).opListEvents,
	"create-appointment":            (*Sandbox).opCreateAppointment,
	"get-appointment":               (*Sandbox).opGetAppointment,
	"edit-appointment":              (*Sandbox).opUpdateAppointment,
	"delete-event":                  (*Sandbox).opDeleteEvent,
	"list-orders":                   (*Sandbox).opListOrders,
	"get-order-by-id":               (*Sandbox).opGetOrder,
	"list-transactions":             (*Sandbox).opListTransactions,
	"get-transaction-by-id":         (*Sandbox).opGetTransaction,
	"get-custom-fields":             (*Sandbox).opGetCustomFields,
	"create-custom-field":           (*Sandbox).opCreateCustomField,
	"get-custom-field":              (*Sandbox).opGetCustomField,
	"update-custom-field":           (*Sandbox).opUpdateCustomField,
	"delete-custom-field":           (*Sandbox).opDeleteCustomField,
	"get-contacts":                  (*Sandbox).opListContacts,
	"search-locations":              (*Sandbox).opSearchLocations,
	"create-location":               (*Sandbox).opCreateLocation,
	"put-location":                  (*Sandbox).opPutLocation,
	"disable-group":                 (*Sandbox).opGroupStatus,
	"validate-groups-slug":          (*Sandbox).opValidateGroupSlug,
	"add-calendar-to-schedule":      scheduleCalendar(true),
	"remove-calendar-from-schedule": scheduleCalendar(false),
	// contacts_links.go
	"add-contact-to-workflow":            (*Sandbox).opAddContactToWorkflow,
	"delete-contact-from-workflow":       (*Sandbox).opDeleteContactFromWorkflow,
	"add-contact-to-campaign":            (*Sandbox).opAddContactToCampaign,
	"remove-contact-from-campaign":       (*Sandbox).opRemoveContactFromCampaign,
	"remove-contact-from-every-campaign": (*Sandbox).opRemoveContactFromEveryCampaign,
	"add-followers-contact":              contactFollowers(true),
	"remove-followers-contact":           contactFollowers(false),
	"add-remove-contact-from-business":   (*Sandbox).opContactsBusiness,
	"create-association":                 (*Sandbox).opBulkContactTags,
	"get-appointments-for-contact":       (*Sandbox).opContactAppointments,
	"get-contacts-by-businessId":         (*Sandbox).opContactsByBusiness,
	"update-task-completed":              (*Sandbox).opTaskCompleted,
	"get-duplicate-contact":              (*Sandbox).opDuplicateContact,
	// conversations.go
	"create-conversation":            (*Sandbox).opCreateConversation,
	"search-conversation":            (*Sandbox).opSearchConversations,
	"export-messages-by-location":    (*Sandbox).opExportMessages,
	"live-chat-agent-typing":         (*Sandbox).opLiveChatTyping,
	"cancel-scheduled-email-message": (*Sandbox).opCancelScheduledEmail,
	"send-review-reply":              (*Sandbox).opSendReviewReply,
	"get-messages":                   (*Sandbox).opListMessages,
	"send-a-new-message":             (*Sandbox).opSendMessage,
	"add-an-inbound-message":         processMessage(true),
	"add-an-outbound-message":        processMessage(false),
	"update-message-status":          (*Sandbox).opUpdateMessageStatus,
	"cancel-scheduled-message":       (*Sandbox).opCancelScheduledMessage,
	// files.go
	"upload-file-attachments":        (*Sandbox).opUploadAttachments,
	"initiate-file-upload":           (*Sandbox).opInitiateUpload,
	"complete-file-upload":           (*Sandbox).opCompleteUpload,
	"get-message-recording":          (*Sandbox).opGetRecording,
	"get-message-transcription":      (*Sandbox).opGetTranscription,
	"download-message-transcription": (*Sandbox).opDownloadTranscription,
	"upload-file-customFields":       (*Sandbox).opUploadCustomFieldFiles,
	// invoices.go
	"send-invoice":                                    (*Sandbox).opSendInvoice,
	"void-invoice":                                    (*Sandbox).opVoidInvoice,
	"record-invoice":                                  (*Sandbox).opRecordInvoicePayment,
	"text2pay-invoice":                                (*Sandbox).opText2Pay,
	"generate-invoice-number":                         (*Sandbox).opGenerateInvoiceNumber,
	"get-invoice-settings":                            (*Sandbox).opGetInvoiceSettings,
	"update-invoice-late-fees-configuration":          configure(collInvoices, "invoiceId", "Invoice", "lateFeesConfiguration"),
	"update-invoice-template-late-fees-configuration": configure(collInvoiceTemplates, "templateId", "Template", "lateFeesConfiguration"),
	"update-invoice-payment-methods-configuration":    configure(collInvoiceTemplates, "templateId", "Template", "paymentMethods"),
	"schedule-invoice-schedule":                       scheduleAction("schedule"),
	"update-and-schedule-invoice-schedule":            scheduleAction("updateAndSchedule"),
	"auto-payment-invoice-schedule":                   scheduleAction("auto-payment"),
	"cancel-invoice-schedule":                         scheduleAction("cancel"),
	"generate-estimate-number":                        (*Sandbox).opGenerateEstimateNumber,
	"send-estimate":                                   (*Sandbox).opSendEstimate,
	"create-invoice-from-estimate":                    (*Sandbox).opInvoiceFromEstimate,
	"preview-estimate-template":                       (*Sandbox).opPreviewEstimateTemplate,
	// opportunities_upsert.go
	"Upsert-opportunity":            (*Sandbox).opUpsertOpportunity,
	"add-followers-opportunity":     opportunityFollowers(true),
	"remove-followers-opportunity":  opportunityFollowers(false),
	"search-opportunities-advanced": (*Sandbox).opSearchOpportunitiesAdvanced,
	// payments.go
	"record-order-payment": (*Sandbox).opRecordOrderPayment,
	"create-coupon":        (*Sandbox).opCreateCoupon,
	"list-coupons":         (*Sandbox).opListCoupons,
	"get-coupon":           (*Sandbox).opGetCoupon,
	"update-coupon":        (*Sandbox).opUpdateCoupon,
	"delete-coupon":        (*Sandbox).opDeleteCoupon,
	"create-integration":   (*Sandbox).opCreateCustomProvider,
	"delete-integration":   (*Sandbox).opDeleteCustomProvider,
	"fetch-config":         (*Sandbox).opFetchCustomProvider,
	"create-config":        (*Sandbox).opConnectCustomProvider,
	"disconnect-config":    (*Sandbox).opDisconnectCustomProvider,
	"custom-provider-marketplace-app-update-capabilities": (*Sandbox).opCustomProviderCapabilities,
	// rest.go
	"get-all-custom-subtypes":           (*Sandbox).opListCustomSubtypes,
	"get-contact-unsubscription-status": (*Sandbox).opUnsubscriptionStatus,
	"user-subscription-change":          (*Sandbox).opUserSubscriptionChange,
	"add-message-attachments":           (*Sandbox).opAddMessageAttachments,
	"get-timezones":                     (*Sandbox).opGetTimezones,
	"task-search":                       (*Sandbox).opTaskSearch,
	"create-order-fulfillment":          (*Sandbox).opCreateFulfillment,
	"list-order-fulfillment":            orderList(fulfillmentsKey),
	"list-order-notes":                  orderList(orderNotesKey),
	"update-invoice-last-visited-at":    lastVisited(collInvoices, "invoiceId", "Invoice"),
	"update-estimate-last-visited-at":   lastVisited(collEstimates, "estimateId", "Estimate"),
	"filter-users-by-email":             (*Sandbox).opFilterUsersByEmail,
}

type specRoute struct {
	operationID, method, path, scope, version string
	// kinds are the token kinds the operation's security admits (its
	// requirements are alternatives: Location-Access or Agency-Access),
	// each with whether a private integration token of that kind is.
	kinds map[UserType]bool
	v     *validator
	op    *openapi3.Operation
}

var (
	specOnce   sync.Once
	specRoutes []specRoute
	specErr    error
)

// admit adds a token kind the operation's security admits.
func (sr *specRoute) admit(kind UserType, pit bool) {
	if sr.kinds == nil {
		sr.kinds = map[UserType]bool{}
	}
	sr.kinds[kind] = sr.kinds[kind] || pit
}

// loadSpecRoutes reads the operations of the embedded document once per
// process; every Sandbox shares the result.
func loadSpecRoutes() ([]specRoute, error) {
	specOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
		if err != nil {
			specErr = fmt.Errorf("load api/openapi.yaml: %w", err)
			return
		}
		for _, path := range doc.Paths.InMatchingOrder() {
			item := doc.Paths.Value(path)
			for method, op := range item.Operations() {
				sr := specRoute{operationID: op.OperationID, method: method, path: path, v: newValidator(doc, method, path, item, op), op: op}
				sr.scope, _ = op.Extensions["x-hlgate-scope"].(string)
				sr.version, _ = op.Extensions["x-hlgate-version"].(string)
				if op.Security != nil {
					for _, req := range *op.Security {
						for scheme := range req {
							switch scheme {
							case "bearer", "Location-Access":
								sr.admit(UserLocation, true)
							case "Location-Access-Only":
								sr.admit(UserLocation, false)
							case "Agency-Access":
								sr.admit(UserCompany, true)
							case "Agency-Access-Only":
								sr.admit(UserCompany, false)
							default:
								specErr = fmt.Errorf("%s: unknown security scheme %q", op.OperationID, scheme)
								return
							}
						}
					}
				}
				specRoutes = append(specRoutes, sr)
			}
		}
	})
	return specRoutes, specErr
}

// collectionTemplate is the path template of the collection an engine
// operation works on: the path, less its last segment for an item's.
func collectionTemplate(path string, kind engineKind) string {
	path = strings.TrimSuffix(path, "/")
	if kind == engineRead || kind == engineMerge || kind == engineRemove {
		path = path[:strings.LastIndex(path, "/")]
	}
	return path
}

// muxPattern turns an OpenAPI path into a ServeMux pattern. A trailing
// slash is an exact path upstream (POST /contacts/), so it gets {$} rather
// than ServeMux's subtree meaning.
func muxPattern(method, path string) string {
	if strings.HasSuffix(path, "/") {
		path += "{$}"
	}
	return method + " " + path
}

func (s *Sandbox) buildMux() (err error) {
	srs, err := loadSpecRoutes()
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	defer func() {
		// ServeMux reports conflicting patterns by panicking; turn that
		// into the error New reports.
		if p := recover(); p != nil {
			err = fmt.Errorf("register routes: %v", p)
		}
	}()
	// parents are the templates ending in a {param} that other paths
	// extend by one {param} more: collections named by a parameter.
	parents := map[string]bool{}
	for _, sr := range srs {
		p := strings.TrimSuffix(sr.path, "/")
		if last := lastSegment(p); strings.HasPrefix(last, "{") {
			if parent := p[:strings.LastIndex(p, "/")]; strings.HasSuffix(parent, "}") {
				parents[parent] = true
			}
		}
	}
	seen := map[string]bool{}
	router := newResourceRouter()
	byCollection := map[string][]*engineOp{}
	engineColl := map[string]string{}
	var routes []*route
	var engineOps []string
	for _, sr := range srs {
		seen[sr.operationID] = true
		if sr.operationID == "get-access-token" {
			mux.HandleFunc(muxPattern(sr.method, sr.path), s.handleToken)
			continue
		}
		h, ok := handlers[sr.operationID]
		if !ok {
			eo, err := newEngineOp(sr.method, sr.path, sr.op, parents[strings.TrimSuffix(sr.path, "/")])
			if err != nil {
				return fmt.Errorf("operation %s (%s %s) has no sandbox handler, and the engine cannot serve it: %w", sr.operationID, sr.method, sr.path, err)
			}
			h = func(s *Sandbox, w http.ResponseWriter, r *http.Request, c *call) { eo.serve(s, w, r, c) }
			engineOps = append(engineOps, sr.operationID)
			coll := collectionTemplate(sr.path, eo.kind)
			if eo.search {
				coll = coll[:strings.LastIndex(coll, "/")]
			}
			byCollection[coll] = append(byCollection[coll], eo)
			engineColl[sr.operationID] = coll
		}
		if sr.version == "" || len(sr.kinds) == 0 {
			return fmt.Errorf("operation %s lacks x-hlgate-version or security", sr.operationID)
		}
		rt := &route{operationID: sr.operationID, method: sr.method, path: sr.path, scope: sr.scope,
			version: sr.version, kinds: sr.kinds, v: sr.v, h: h}
		routes = append(routes, rt)
		if err := router.add(rt); err != nil {
			return err
		}
	}
	// Every resource operation is found by the router (router.go), which
	// takes the documents' overlapping paths; the token endpoint and the
	// consent pages below are more specific patterns, served first.
	mux.HandleFunc("/", s.serveRouted)
	s.router = router
	// A document created in a collection has every member any of the
	// collection's operations requires: what the list and the read answer
	// must validate too, not only the create's answer.
	for _, ops := range byCollection {
		for _, c := range ops {
			if c.kind != engineCreate {
				continue
			}
			for _, o := range ops {
				for k, v := range o.base {
					if _, ok := c.base[k]; !ok && c.base != nil {
						c.base[k] = v
					}
				}
			}
		}
	}
	var extra []string
	for id := range handlers {
		if !seen[id] {
			extra = append(extra, id)
		}
	}
	if len(extra) > 0 {
		return fmt.Errorf("handlers without an operation in api/openapi.yaml: %v", extra)
	}
	if !seen["get-access-token"] {
		return errors.New("api/openapi.yaml lacks GetAccessToken")
	}
	s.routes = routes
	s.engineOps = engineOps
	s.engineColl = engineColl
	mux.HandleFunc("GET /oauth/chooselocation", s.handleConsentPage)
	mux.HandleFunc("POST /oauth/chooselocation", s.handleConsentAllow)
	mux.HandleFunc("GET /v2/oauth/chooselocation", s.handleConsentPage)
	mux.HandleFunc("POST /v2/oauth/chooselocation", s.handleConsentAllow)
	s.registerAdmin(mux)
	s.registerWebhookAdmin(mux)
	s.registerStorage(mux)
	s.mux = mux
	return nil
}

// Routes lists the resource operations the sandbox serves, as
// "METHOD /path" strings, for tests that compare it with the document.
func (s *Sandbox) Routes() []string {
	out := make([]string, 0, len(s.routes))
	for _, rt := range s.routes {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

// EngineOperations lists the operationIds the engine serves (those without
// hand-written behaviour), for tests that must know an operation has no
// handler of its own.
func (s *Sandbox) EngineOperations() []string { return slices.Clone(s.engineOps) }

// EngineCollection is the path template of the collection an engine
// operation lists, creates in or reads from (/contacts/{contactId}/notes
// for get-note), and "" for an operation the engine does not serve. Tests
// that walk the engine's operations group them by it.
func (s *Sandbox) EngineCollection(operationID string) string { return s.engineColl[operationID] }

// serveResource is the pipeline of every resource call, in the order
// upstream is assumed to apply it: faults (the network), the bearer token,
// the quota (counted per app and location once the token is known), the
// token kind and scope, the Version header, the request against the
// document (parameters and body), then the operation.
func (s *Sandbox) serveResource(rt *route, w http.ResponseWriter, r *http.Request) {
	if s.applyFaults(w, r) {
		return
	}
	tok, aerr := s.authenticate(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	key := QuotaKey{App: tok.appID, Resource: tok.subject()}
	d := s.quota.admit(key, s.cfg.Now)
	s.quota.setHeaders(w.Header(), d)
	if !d.ok {
		s.quota.served429.Add(1)
		writeError(w, errTooMany())
		return
	}
	if pit, ok := rt.kinds[tok.kind]; !ok || (tok.pit && !pit) {
		writeError(w, errUnauthorized(msgKind))
		return
	}
	if rt.scope != "" && !tok.scopes[rt.scope] {
		writeError(w, errUnauthorized(msgScope))
		return
	}
	if v := r.Header.Get("Version"); v != rt.version {
		writeError(w, errBadRequest("Version header is missing or invalid: this operation requires Version: %s", rt.version))
		return
	}
	if aerr := rt.v.check(r); aerr != nil {
		writeError(w, aerr)
		return
	}
	// The handler, and the webhooks of a successful write (webhooks.go).
	s.serveHooked(rt, w, r, &call{tok: tok, rt: rt})
}

// authenticate finds the bearer token of a request and checks it is live.
func (s *Sandbox) authenticate(r *http.Request) (*accessToken, *apiError) {
	h := r.Header.Get("Authorization")
	scheme, v, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || v == "" {
		return nil, errUnauthorized(msgTokenInvalid)
	}
	tok, ok := s.lookupToken(v)
	if !ok {
		return nil, errUnauthorized(msgTokenInvalid)
	}
	if !tok.pit && !s.now().Before(tok.expires) {
		return nil, errUnauthorized(msgTokenExpired)
	}
	return tok, nil
}

// ownLocation checks that a location id named by a request is the token's
// own; any other location answers 403 whether it exists or not.
func (c *call) ownLocation(id string) *apiError {
	if id != c.tok.locationID {
		return errForbidden(msgLocation)
	}
	return nil
}

// constantTimeEqual compares secrets without leaking their length of
// common prefix through timing.
func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
