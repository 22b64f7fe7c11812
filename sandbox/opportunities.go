package sandbox

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// locationStore returns the store of a location named by the request,
// which must be the token's own (403 otherwise, whether it exists or not).
func (s *Sandbox) locationStore(c *call, id string) (*locStore, *apiError) {
	if aerr := c.ownLocation(id); aerr != nil {
		return nil, aerr
	}
	l, ok := s.loc(id)
	if !ok {
		return nil, errForbidden(msgLocation)
	}
	return l, nil
}

// tokenStore returns the store of the token's own location: operations
// addressed by a record id look there only, so another location's ids are
// simply not found.
func (s *Sandbox) tokenStore(c *call) *locStore {
	l, _ := s.loc(c.tok.locationID)
	return l
}

// pipeline decodes a pipeline of the location's engine collection (GET
// /opportunities/pipelines is served by the engine), or nil. Callers hold
// l.mu.
func (l *locStore) pipeline(id string) *Pipeline {
	d, ok := l.doc(collPipelines, id)
	if !ok {
		return nil
	}
	var pl Pipeline
	if json.Unmarshal(d, &pl) != nil {
		return nil
	}
	return &pl
}

var oppStatuses = []string{"open", "won", "lost", "abandoned"}

// withContact returns a copy of an opportunity with its contact summary.
// Callers hold l.mu.
func (l *locStore) withContact(o *Opportunity) *Opportunity {
	cp := *o
	if ct, ok := l.contacts[o.ContactID]; ok {
		cp.Contact = &OpportunityContact{ID: ct.ID, Name: ct.Name, CompanyName: ct.CompanyName, Email: ct.Email, Phone: ct.Phone, Tags: ct.Tags}
	}
	return &cp
}

// oppBefore is the search order: newest first, id descending on ties; a
// cursor (startAfter, startAfterId) names the last item already seen.
func oppBefore(a, b *Opportunity) int {
	if c := b.created.Compare(a.created); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

func (s *Sandbox) opSearchOpportunities(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var p problems
	p.add(required("location_id", q.Get("location_id"))...)
	limit, m1 := queryInt(q, "limit", 20, 1, 100)
	page, m2 := queryInt(q, "page", 1, 1, 1<<30)
	getTasks, m3 := queryBool(q, "getTasks")
	getNotes, m4 := queryBool(q, "getNotes")
	getEvents, m5 := queryBool(q, "getCalendarEvents")
	p.add(m1, m2, m3, m4, m5)
	status := q.Get("status")
	if status != "" && status != "all" && !slices.Contains(oppStatuses, status) {
		p.add("status must be one of the following values: open, won, lost, abandoned, all")
	}
	order := q.Get("order")
	if order != "" && order != "added_desc" && order != "added_asc" {
		p.add("order must be one of the following values: added_desc, added_asc")
	}
	var from, to time.Time
	if v := q.Get("date"); v != "" {
		t, err := time.Parse("01-02-2006", v)
		if err != nil {
			p.add("date must be a date in mm-dd-yyyy format")
		}
		from = t
	}
	if v := q.Get("endDate"); v != "" {
		t, err := time.Parse("01-02-2006", v)
		if err != nil {
			p.add("endDate must be a date in mm-dd-yyyy format")
		}
		to = t.AddDate(0, 0, 1)
	}
	var curAt time.Time
	curID := q.Get("startAfterId")
	if v := q.Get("startAfter"); v != "" || curID != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || curID == "" {
			p.add("startAfter (epoch milliseconds) and startAfterId must be sent together")
		}
		curAt = time.UnixMilli(ms)
	}
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	l, aerr := s.locationStore(c, q.Get("location_id"))
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	needle := strings.ToLower(q.Get("q"))
	l.mu.RLock()
	var hits []*Opportunity
	for _, o := range l.opportunities {
		switch {
		case q.Get("pipeline_id") != "" && o.PipelineID != q.Get("pipeline_id"),
			q.Get("pipeline_stage_id") != "" && o.PipelineStageID != q.Get("pipeline_stage_id"),
			q.Get("contact_id") != "" && o.ContactID != q.Get("contact_id"),
			q.Get("assigned_to") != "" && o.AssignedTo != q.Get("assigned_to"),
			q.Get("id") != "" && o.ID != q.Get("id"),
			q.Get("campaignId") != "", // no seeded opportunity comes from a campaign
			status != "" && status != "all" && o.Status != status,
			!from.IsZero() && o.created.Before(from),
			!to.IsZero() && !o.created.Before(to):
			continue
		}
		ct := l.contacts[o.ContactID]
		if country := q.Get("country"); country != "" && (ct == nil || !strings.EqualFold(ct.Country, country)) {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(o.Name), needle) &&
			(ct == nil || (!strings.Contains(ct.FullNameLowerCase, needle) && !strings.Contains(ct.EmailLowerCase, needle))) {
			continue
		}
		hits = append(hits, o)
	}
	cmpFn := oppBefore
	if order == "added_asc" {
		cmpFn = func(a, b *Opportunity) int { return -oppBefore(a, b) }
	}
	slices.SortFunc(hits, cmpFn)
	total := len(hits)
	start := (page - 1) * limit
	if curID != "" {
		cur := &Opportunity{ID: curID, created: curAt}
		start, _ = slices.BinarySearchFunc(hits, cur, func(o, cur *Opportunity) int {
			if cmpFn(o, cur) <= 0 {
				return -1
			}
			return 1
		})
	}
	pageHits := window(hits, start, limit)
	out := make([]*Opportunity, len(pageHits))
	for i, o := range pageHits {
		cp := l.withContact(o)
		if getTasks {
			cp.Tasks = []any{}
		}
		if getNotes {
			cp.Notes = []any{}
		}
		if getEvents {
			cp.CalendarEvents = []any{}
		}
		out[i] = cp
	}
	meta := map[string]any{"total": total, "currentPage": page}
	if page > 1 {
		meta["prevPage"] = page - 1
	}
	if start+len(pageHits) < total && len(pageHits) > 0 {
		last := pageHits[len(pageHits)-1]
		meta["startAfterId"] = last.ID
		meta["startAfter"] = last.created.UnixMilli()
		meta["nextPage"] = page + 1
		next := r.URL.Query()
		next.Set("startAfterId", last.ID)
		next.Set("startAfter", strconv.FormatInt(last.created.UnixMilli(), 10))
		next.Set("page", strconv.Itoa(page+1))
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		meta["nextPageUrl"] = scheme + "://" + r.Host + r.URL.Path + "?" + next.Encode()
	}
	b := marshal(map[string]any{"opportunities": out, "meta": meta, "aggregations": map[string]any{}})
	l.mu.RUnlock()
	writeBody(w, http.StatusOK, b)
}

func (s *Sandbox) opGetOpportunity(w http.ResponseWriter, r *http.Request, c *call) {
	l := s.tokenStore(c)
	l.mu.RLock()
	o, ok := l.opportunities[r.PathValue("id")]
	var b []byte
	if ok {
		b = marshal(map[string]any{"opportunity": l.withContact(o)})
	}
	l.mu.RUnlock()
	if !ok {
		writeError(w, errNotFound("Opportunity not found"))
		return
	}
	writeBody(w, http.StatusOK, b)
}

type oppInput struct {
	PipelineID      *string            `json:"pipelineId"`
	LocationID      *string            `json:"locationId"`
	Name            *string            `json:"name"`
	PipelineStageID *string            `json:"pipelineStageId"`
	Status          *string            `json:"status"`
	ContactID       *string            `json:"contactId"`
	MonetaryValue   *float64           `json:"monetaryValue"`
	AssignedTo      *string            `json:"assignedTo"`
	CustomFields    []customFieldWrite `json:"customFields"`
	// LostReasonID comes only from PUT /opportunities/{id}/status; the
	// create and update bodies do not take it.
	LostReasonID *string `json:"-"`
}

// checkStatus refuses "all", which the document's enum lists but which is
// a search filter, not a state an opportunity can be in.
func checkStatus(st *string, p *problems) {
	if st != nil && !slices.Contains(oppStatuses, *st) {
		p.add("status must be one of the following values: open, won, lost, abandoned")
	}
}

// applyOpp writes the sent members and the checked custom field values
// onto o, checking references against the location's pipelines and
// contacts. Callers hold l.mu for writing.
func (l *locStore) applyOpp(o *Opportunity, in *oppInput, fields []fieldValue, now time.Time) *apiError {
	if in.PipelineID != nil {
		o.PipelineID = *in.PipelineID
	}
	pl := l.pipeline(o.PipelineID)
	if pl == nil {
		return errBadRequest("Pipeline %s not found", o.PipelineID)
	}
	switch {
	case in.PipelineStageID != nil:
		if o.PipelineStageID != *in.PipelineStageID {
			o.LastStageChangeAt = fmtTime(now)
		}
		o.PipelineStageID = *in.PipelineStageID
	case in.PipelineID != nil && !slices.ContainsFunc(pl.Stages, func(st PipelineStage) bool { return st.ID == o.PipelineStageID }):
		o.PipelineStageID = pl.Stages[0].ID
	case o.PipelineStageID == "":
		o.PipelineStageID = pl.Stages[0].ID
	}
	if !slices.ContainsFunc(pl.Stages, func(st PipelineStage) bool { return st.ID == o.PipelineStageID }) {
		return errBadRequest("Pipeline stage %s is not a stage of pipeline %s", o.PipelineStageID, pl.ID)
	}
	if in.ContactID != nil {
		if _, ok := l.contacts[*in.ContactID]; !ok {
			return errBadRequest("Contact %s not found", *in.ContactID)
		}
		o.ContactID = *in.ContactID
	}
	if in.Name != nil {
		o.Name = *in.Name
	}
	if in.Status != nil && *in.Status != "lost" {
		// A lost reason describes a lost opportunity only (assumption: the
		// reference does not say; leaving a stale reason is the laxer reading).
		o.LostReasonID = ""
	}
	if in.LostReasonID != nil {
		o.LostReasonID = *in.LostReasonID
	}
	if in.Status != nil && *in.Status != o.Status {
		o.Status = *in.Status
		o.LastStatusChangeAt = fmtTime(now)
	}
	if in.MonetaryValue != nil {
		o.MonetaryValue = *in.MonetaryValue
	}
	if in.AssignedTo != nil {
		o.AssignedTo = *in.AssignedTo
	}
	for _, cf := range fields {
		i := slices.IndexFunc(o.CustomFields, func(x OpportunityCustomField) bool { return x.ID == cf.id })
		if i >= 0 {
			o.CustomFields[i].FieldValue = cf.value
		} else {
			o.CustomFields = append(o.CustomFields, OpportunityCustomField{ID: cf.id, FieldValue: cf.value})
		}
	}
	o.UpdatedAt = fmtTime(now)
	return nil
}

// duplicateOpp reports another open opportunity of the same contact in the
// same pipeline: upstream refuses those unless the location allows
// duplicates, which the sandbox's locations do not.
func (l *locStore) duplicateOpp(o *Opportunity) bool {
	for _, x := range l.opportunities {
		if x.ID != o.ID && x.ContactID == o.ContactID && x.PipelineID == o.PipelineID && x.Status == "open" && o.Status == "open" {
			return true
		}
	}
	return false
}

func (s *Sandbox) opCreateOpportunity(w http.ResponseWriter, r *http.Request, c *call) {
	var in oppInput
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	var p problems
	str := func(x *string) string {
		if x == nil {
			return ""
		}
		return *x
	}
	p.add(required("pipelineId", str(in.PipelineID), "locationId", str(in.LocationID), "name", str(in.Name),
		"status", str(in.Status), "contactId", str(in.ContactID))...)
	checkStatus(in.Status, &p)
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	l, aerr := s.locationStore(c, *in.LocationID)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	fields := l.resolveCustomFields("opportunity", in.CustomFields, &p)
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	now := s.now()
	l.mu.Lock()
	o := &Opportunity{LocationID: l.id, CustomFields: []OpportunityCustomField{}, Followers: []string{}, created: now,
		CreatedAt: fmtTime(now), LastStatusChangeAt: fmtTime(now), LastStageChangeAt: fmtTime(now)}
	if aerr := l.applyOpp(o, &in, fields, now); aerr != nil {
		l.mu.Unlock()
		writeError(w, aerr)
		return
	}
	if l.duplicateOpp(o) {
		l.mu.Unlock()
		writeError(w, errBadRequest("Can not create duplicate opportunity for the contact."))
		return
	}
	o.ID = l.newID()
	l.opportunities[o.ID] = o
	b := marshal(map[string]any{"opportunity": l.withContact(o)})
	l.mu.Unlock()
	writeBody(w, http.StatusCreated, b)
}

func (s *Sandbox) opUpdateOpportunity(w http.ResponseWriter, r *http.Request, c *call) {
	var in oppInput
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	var p problems
	if in.LocationID != nil {
		p.add("property locationId should not exist")
	}
	if in.ContactID != nil {
		p.add("property contactId should not exist")
	}
	checkStatus(in.Status, &p)
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	s.updateOpportunity(w, r, c, &in, false)
}

func (s *Sandbox) updateOpportunity(w http.ResponseWriter, r *http.Request, c *call, in *oppInput, statusOnly bool) {
	l := s.tokenStore(c)
	var p problems
	fields := l.resolveCustomFields("opportunity", in.CustomFields, &p)
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	now := s.now()
	l.mu.Lock()
	old, ok := l.opportunities[r.PathValue("id")]
	if !ok {
		l.mu.Unlock()
		writeError(w, errNotFound("Opportunity not found"))
		return
	}
	o := *old
	o.CustomFields = slices.Clone(old.CustomFields)
	if aerr := l.applyOpp(&o, in, fields, now); aerr != nil {
		l.mu.Unlock()
		writeError(w, aerr)
		return
	}
	if l.duplicateOpp(&o) {
		l.mu.Unlock()
		writeError(w, errBadRequest("Can not create duplicate opportunity for the contact."))
		return
	}
	l.opportunities[o.ID] = &o
	var b []byte
	if statusOnly {
		b = marshal(map[string]any{"succeded": true})
	} else {
		b = marshal(map[string]any{"opportunity": l.withContact(&o)})
	}
	l.mu.Unlock()
	writeBody(w, http.StatusOK, b)
}

func (s *Sandbox) opUpdateOpportunityStatus(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		Status       *string `json:"status"`
		LostReasonID *string `json:"lostReasonId"`
	}
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	var p problems
	if in.Status == nil || *in.Status == "" {
		p.add("status should not be empty")
	}
	checkStatus(in.Status, &p)
	if in.LostReasonID != nil && (in.Status == nil || *in.Status != "lost") {
		p.add("lostReasonId is allowed only with status lost")
	}
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	s.updateOpportunity(w, r, c, &oppInput{Status: in.Status, LostReasonID: in.LostReasonID}, true)
}

func (s *Sandbox) opDeleteOpportunity(w http.ResponseWriter, r *http.Request, c *call) {
	l := s.tokenStore(c)
	l.mu.Lock()
	_, ok := l.opportunities[r.PathValue("id")]
	delete(l.opportunities, r.PathValue("id"))
	l.mu.Unlock()
	if !ok {
		writeError(w, errNotFound("Opportunity not found"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"succeded": true})
}
