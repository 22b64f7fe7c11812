package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// What a contact is linked to besides its own members: the workflows and
// campaigns it is enrolled in, its followers, its business, its tasks'
// completion, its appointments. Enrolments and followers are documents of
// collections under the contact (/contacts/{id}/workflow,
// /contacts/{id}/campaigns, /contacts/{id}/followers), keyed by the
// workflow, campaign or user id, so the engine's stores hold them and a
// second enrolment or removal sees the first. Workflows are the documents of
// /workflows, which GET /workflows/ lists.

// collWorkflows is the collection of a location's workflows.
const collWorkflows = "/workflows"

// contactLinks is the collection of what a contact is linked to (workflow,
// campaigns, followers).
func contactLinks(contactID, kind string) string { return "/contacts/" + contactID + "/" + kind }

// workflowInput is CreateWorkflowDto, the body of an enrolment and of its
// removal.
type workflowInput struct {
	EventStartTime *string `json:"eventStartTime"`
}

// check reads eventStartTime, an ISO 8601 instant with an offset (the
// document's example 2021-06-23T03:30:00+01:00).
func (in *workflowInput) check() *apiError {
	if in.EventStartTime == nil {
		return nil
	}
	if _, err := time.Parse(time.RFC3339, *in.EventStartTime); err != nil {
		return errUnprocessable("eventStartTime must be a valid ISO 8601 date string")
	}
	return nil
}

// workflowCall reads an enrolment's or a removal's body and finds the
// contact in the token's location, whose store it returns locked (the
// caller unlocks it).
func (s *Sandbox) workflowCall(r *http.Request, c *call) (workflowInput, *locStore, *apiError) {
	var in workflowInput
	if aerr := decodeBody(r, &in); aerr != nil {
		return in, nil, aerr
	}
	if aerr := in.check(); aerr != nil {
		return in, nil, aerr
	}
	l := s.tokenStore(c)
	l.mu.Lock()
	if _, ok := l.contacts[r.PathValue("contactId")]; !ok {
		l.mu.Unlock()
		return in, nil, errNotFound("Contact not found")
	}
	return in, l, nil
}

func (s *Sandbox) opAddContactToWorkflow(w http.ResponseWriter, r *http.Request, c *call) {
	in, l, aerr := s.workflowCall(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	defer l.mu.Unlock()
	contactID, workflowID := r.PathValue("contactId"), r.PathValue("workflowId")
	if _, ok := l.doc(collWorkflows, workflowID); !ok {
		writeError(w, errNotFound("Workflow not found"))
		return
	}
	key := contactLinks(contactID, "workflow")
	if _, ok := l.doc(key, workflowID); ok {
		// The document declares no answer for a second enrolment; the
		// stricter reading refuses it rather than starting the workflow
		// twice.
		writeError(w, errBadRequest("Contact %s is already enrolled in workflow %s", contactID, workflowID))
		return
	}
	doc := map[string]any{"id": workflowID, "enrolledAt": fmtTime(s.now())}
	if in.EventStartTime != nil {
		doc["eventStartTime"] = *in.EventStartTime
	}
	l.coll(key, true).put(workflowID, marshal(doc))
	writeJSON(w, http.StatusOK, map[string]any{"succeded": true})
}

func (s *Sandbox) opDeleteContactFromWorkflow(w http.ResponseWriter, r *http.Request, c *call) {
	_, l, aerr := s.workflowCall(r, c) // the body is checked; a removal keeps nothing of it
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	defer l.mu.Unlock()
	contactID, workflowID := r.PathValue("contactId"), r.PathValue("workflowId")
	cl := l.coll(contactLinks(contactID, "workflow"), false)
	if cl == nil || !cl.remove(workflowID) {
		// Not enrolled: nothing was removed, and the caller learns so
		// (the document declares no answer for it; the stricter reading).
		writeError(w, errNotFound("Contact %s is not enrolled in workflow %s", contactID, workflowID))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"succeded": true})
}

// EnrolledWorkflows lists the workflows a contact of a location is
// enrolled in, with each enrolment's eventStartTime ("" when none was
// sent), for tests that check what an enrolment stored.
func (s *Sandbox) EnrolledWorkflows(locationID, contactID string) map[string]string {
	l, ok := s.loc(locationID)
	if !ok {
		return nil
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := map[string]string{}
	for _, d := range l.coll(contactLinks(contactID, "workflow"), false).list() {
		var e struct {
			ID             string `json:"id"`
			EventStartTime string `json:"eventStartTime"`
		}
		if json.Unmarshal(d, &e) == nil {
			out[e.ID] = e.EventStartTime
		}
	}
	return out
}

func (s *Sandbox) opAddContactToCampaign(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct{} // AddContactToCampaignDto: {}
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	contactID, campaignID := r.PathValue("contactId"), r.PathValue("campaignId")
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.contacts[contactID]; !ok {
		writeError(w, errNotFound("Contact not found"))
		return
	}
	key := contactLinks(contactID, "campaigns")
	if _, ok := l.doc(key, campaignID); ok {
		writeError(w, errBadRequest("Contact %s is already in campaign %s", contactID, campaignID))
		return
	}
	l.coll(key, true).put(campaignID, marshal(map[string]any{"id": campaignID}))
	writeJSON(w, http.StatusCreated, map[string]any{"succeded": true})
}

func (s *Sandbox) opRemoveContactFromCampaign(w http.ResponseWriter, r *http.Request, c *call) {
	contactID, campaignID := r.PathValue("contactId"), r.PathValue("campaignId")
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.contacts[contactID]; !ok {
		writeError(w, errNotFound("Contact not found"))
		return
	}
	cl := l.coll(contactLinks(contactID, "campaigns"), false)
	if cl == nil || !cl.remove(campaignID) {
		writeError(w, errNotFound("Contact %s is not in campaign %s", contactID, campaignID))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"succeded": true})
}

func (s *Sandbox) opRemoveContactFromEveryCampaign(w http.ResponseWriter, r *http.Request, c *call) {
	contactID := r.PathValue("contactId")
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.contacts[contactID]; !ok {
		writeError(w, errNotFound("Contact not found"))
		return
	}
	delete(l.docs, contactLinks(contactID, "campaigns")) // none is not an error: every campaign of none is none
	writeJSON(w, http.StatusOK, map[string]any{"succeded": true})
}

// Campaigns lists the campaigns a contact is in, for tests.
func (s *Sandbox) Campaigns(locationID, contactID string) []string {
	return s.linkIDs(locationID, contactLinks(contactID, "campaigns"))
}

// ContactFollowers lists a contact's followers, for tests.
func (s *Sandbox) ContactFollowers(locationID, contactID string) []string {
	return s.linkIDs(locationID, contactLinks(contactID, "followers"))
}

func (s *Sandbox) linkIDs(locationID, key string) []string {
	l, ok := s.loc(locationID)
	if !ok {
		return nil
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	cl := l.coll(key, false)
	if cl == nil {
		return []string{}
	}
	return slices.Clone(cl.ids)
}

// followersInput is FollowersDTO.
type followersInput struct {
	Followers []string `json:"followers"`
}

func (in *followersInput) check() *apiError {
	var p problems
	if in.Followers == nil {
		p.add("followers should not be empty", "followers must be an array")
	}
	for i, f := range in.Followers {
		if strings.TrimSpace(f) == "" {
			p.add(fmt.Sprintf("followers.%d should not be empty", i))
		}
	}
	return p.err()
}

// changeFollowers adds or removes followers, keeping their order and no
// duplicate; it answers the new list and those it added or removed.
func changeFollowers(have, sent []string, add bool) (all, changed []string) {
	all, changed = slices.Clone(have), []string{}
	for _, f := range sent {
		i := slices.Index(all, f)
		switch {
		case add && i < 0:
			all = append(all, f)
			changed = append(changed, f)
		case !add && i >= 0:
			all = slices.Delete(all, i, i+1)
			changed = append(changed, f)
		}
	}
	if all == nil {
		all = []string{}
	}
	return all, changed
}

// followersAnswer is the answer of an add (followersAdded, 201) or a
// removal (followersRemoved, 200).
func followersAnswer(w http.ResponseWriter, all, changed []string, add bool) {
	if add {
		writeJSON(w, http.StatusCreated, map[string]any{"followers": all, "followersAdded": changed})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"followers": all, "followersRemoved": changed})
}

func contactFollowers(add bool) handlerFunc {
	return func(s *Sandbox, w http.ResponseWriter, r *http.Request, c *call) {
		var in followersInput
		if aerr := decodeBody(r, &in); aerr != nil {
			writeError(w, aerr)
			return
		}
		if aerr := in.check(); aerr != nil {
			writeError(w, aerr)
			return
		}
		contactID := r.PathValue("contactId")
		l := s.tokenStore(c)
		l.mu.Lock()
		defer l.mu.Unlock()
		if _, ok := l.contacts[contactID]; !ok {
			writeError(w, errNotFound("Contact not found"))
			return
		}
		key := contactLinks(contactID, "followers")
		var have []string
		if cl := l.coll(key, false); cl != nil {
			have = cl.ids
		}
		all, changed := changeFollowers(have, in.Followers, add)
		cl := &collection{docs: map[string]json.RawMessage{}}
		for _, f := range all {
			cl.put(f, marshal(map[string]any{"id": f}))
		}
		l.docs[key] = cl
		followersAnswer(w, all, changed, add)
	}
}

func (s *Sandbox) opContactsBusiness(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		LocationID string   `json:"locationId"`
		IDs        []string `json:"ids"`
		BusinessID *string  `json:"businessId"` // null clears it
	}
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	var p problems
	p.add(required("locationId", in.LocationID)...)
	if in.IDs == nil {
		p.add("ids must be an array")
	}
	if in.BusinessID != nil && *in.BusinessID == "" {
		p.add("businessId should not be empty (send null to remove the business)")
	}
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	l, aerr := s.locationStore(c, in.LocationID)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	now := s.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	done := []string{}
	for _, id := range in.IDs {
		old, ok := l.contacts[id]
		if !ok || slices.Contains(done, id) {
			continue // the answer's ids are the contacts changed
		}
		ct := *old
		ct.BusinessID = ""
		if in.BusinessID != nil {
			ct.BusinessID = *in.BusinessID
		}
		ct.updated = now
		finishContact(&ct)
		l.contacts[id] = &ct
		done = append(done, id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": len(done) == len(in.IDs), "ids": done})
}

// tagResult is one contact's line of the bulk tag update's answer.
type tagResult struct {
	ContactID   string   `json:"contactId"`
	Message     string   `json:"message"`
	Type        string   `json:"type"`
	OldTags     []string `json:"oldTags,omitempty"`
	TagsAdded   []string `json:"tagsAdded,omitempty"`
	TagsRemoved []string `json:"tagsRemoved,omitempty"`
}

func (s *Sandbox) opBulkContactTags(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		Contacts      []string `json:"contacts"`
		Tags          []string `json:"tags"`
		LocationID    string   `json:"locationId"`
		RemoveAllTags *bool    `json:"removeAllTags"`
	}
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	add := r.PathValue("type") == "add" // the validator admits add and remove only
	removeAll := in.RemoveAllTags != nil && *in.RemoveAllTags
	var p problems
	p.add(required("locationId", in.LocationID)...)
	if len(in.Contacts) == 0 {
		p.add("contacts should not be empty")
	}
	if in.Tags == nil {
		p.add("tags must be an array")
	}
	if len(in.Tags) == 0 && !removeAll {
		p.add("tags should not be empty")
	}
	for i, t := range in.Tags {
		if strings.TrimSpace(t) == "" {
			p.add(fmt.Sprintf("tags.%d should not be empty", i))
		}
	}
	if add && removeAll {
		p.add("removeAllTags can only be used with the remove type")
	}
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	l, aerr := s.locationStore(c, in.LocationID)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	now := s.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	results := make([]tagResult, 0, len(in.Contacts))
	errs := 0
	for _, id := range in.Contacts {
		old, ok := l.contacts[id]
		if !ok {
			results = append(results, tagResult{ContactID: id, Message: "contact not found", Type: "error"})
			errs++
			continue
		}
		ct := *old
		res := tagResult{ContactID: id, Message: "Tags updated", Type: "success", OldTags: slices.Clone(old.Tags), TagsAdded: []string{}, TagsRemoved: []string{}}
		if add {
			ct.Tags = mergeTags(old.Tags, in.Tags)
			res.TagsAdded = slices.DeleteFunc(slices.Clone(ct.Tags), func(t string) bool { return slices.Contains(old.Tags, t) })
		} else {
			ct.Tags = slices.DeleteFunc(slices.Clone(old.Tags), func(t string) bool { return removeAll || containsFold(in.Tags, t) })
			res.TagsRemoved = slices.DeleteFunc(slices.Clone(old.Tags), func(t string) bool { return slices.Contains(ct.Tags, t) })
		}
		ct.updated = now
		finishContact(&ct)
		l.contacts[id] = &ct
		results = append(results, res)
	}
	// succeded says the bulk request was processed; each contact's outcome
	// is its line of responses, errors counted in errorCount (the
	// document's example answers succeded true beside lines of type error).
	writeJSON(w, http.StatusCreated, map[string]any{"succeded": true, "errorCount": errs, "responses": results})
}

func (s *Sandbox) opContactAppointments(w http.ResponseWriter, r *http.Request, c *call) {
	contactID := r.PathValue("contactId")
	l := s.tokenStore(c)
	l.mu.RLock()
	defer l.mu.RUnlock()
	if _, ok := l.contacts[contactID]; !ok {
		writeError(w, errNotFound("Contact not found"))
		return
	}
	events := []*Event{}
	for _, ev := range l.events {
		if ev.ContactID == contactID {
			events = append(events, ev)
		}
	}
	slices.SortFunc(events, func(a, b *Event) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	writeBody(w, http.StatusOK, marshal(map[string]any{"events": events}))
}

func (s *Sandbox) opContactsByBusiness(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var p problems
	p.add(required("locationId", q.Get("locationId"))...)
	limit, m1 := queryInt(q, "limit", 25, 1, 100)
	skip, m2 := queryInt(q, "skip", 0, 0, 1<<30)
	p.add(m1, m2)
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	l, aerr := s.locationStore(c, q.Get("locationId"))
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	businessID, needle := r.PathValue("businessId"), strings.ToLower(q.Get("query"))
	l.mu.RLock()
	defer l.mu.RUnlock()
	var hits []*Contact
	for _, ct := range l.contacts {
		if ct.BusinessID != businessID {
			continue
		}
		if needle != "" && !strings.Contains(ct.FullNameLowerCase, needle) && !strings.Contains(ct.EmailLowerCase, needle) && !strings.Contains(ct.Phone, needle) {
			continue
		}
		hits = append(hits, ct)
	}
	// Oldest first, id on ties: a stable order, so skip pages without a
	// gap or a repeat.
	slices.SortFunc(hits, func(a, b *Contact) int {
		if c := a.added.Compare(b.added); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	page := window(hits, skip, limit)
	if page == nil {
		page = []*Contact{}
	}
	writeBody(w, http.StatusOK, marshal(map[string]any{"contacts": page, "count": len(hits)}))
}

func (s *Sandbox) opTaskCompleted(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		Completed *bool `json:"completed"`
	}
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	if in.Completed == nil {
		writeError(w, errUnprocessable("completed must be a boolean value"))
		return
	}
	key, taskID := contactLinks(r.PathValue("contactId"), "tasks"), r.PathValue("taskId")
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	old, ok := l.doc(key, taskID)
	if !ok {
		writeError(w, errNotFound("Task not found"))
		return
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(old, &doc); err != nil {
		writeError(w, errBadRequest("stored task %s is not a JSON object", taskID))
		return
	}
	doc["completed"] = json.RawMessage(strconv.FormatBool(*in.Completed))
	raw := marshal(doc)
	l.coll(key, true).put(taskID, raw)
	writeBody(w, http.StatusOK, append(append([]byte(`{"task":`), raw...), '}'))
}

// opDuplicateContact finds the contact a new one with this email or phone
// (number) would duplicate. The sandbox's locations do not allow
// duplicates, so, as the document says of that setting, the unique
// identifiers decide: the email first (case-insensitively), then the
// phone. A search by neither is refused.
func (s *Sandbox) opDuplicateContact(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var p problems
	p.add(required("locationId", q.Get("locationId"))...)
	email, number := strings.TrimSpace(q.Get("email")), strings.TrimSpace(q.Get("number"))
	if email == "" && number == "" {
		p.add("email or number should not be empty")
	}
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	l, aerr := s.locationStore(c, q.Get("locationId"))
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	var found *Contact
	for _, match := range []func(*Contact) bool{
		func(ct *Contact) bool { return email != "" && strings.EqualFold(ct.Email, email) },
		func(ct *Contact) bool { return number != "" && ct.Phone == number },
	} {
		for _, ct := range l.contacts {
			if match(ct) && (found == nil || ct.ID < found.ID) {
				found = ct
			}
		}
		if found != nil {
			break
		}
	}
	writeBody(w, http.StatusOK, marshal(map[string]any{"contact": found}))
}
