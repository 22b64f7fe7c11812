package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// The opportunity upsert, followers and the POST search.

// upsertOppInput is UpsertOpportunityDto.
type upsertOppInput struct {
	ID                   *string  `json:"id"`
	PipelineID           string   `json:"pipelineId"`
	LocationID           string   `json:"locationId"`
	Followers            []string `json:"followers"`
	IsRemoveAllFollowers *bool    `json:"isRemoveAllFollowers"`
	FollowersActionType  string   `json:"followersActionType"`
	Name                 *string  `json:"name"`
	Status               *string  `json:"status"`
	PipelineStageID      *string  `json:"pipelineStageId"`
	MonetaryValue        *float64 `json:"monetaryValue"`
	AssignedTo           *string  `json:"assignedTo"`
	LostReasonID         *string  `json:"lostReasonId"`
}

// opUpsertOpportunity matches by id, the only key UpsertOpportunityDto
// declares (it names no contact): with an id it updates that opportunity
// (404 when the location has none by that id, rather than creating one
// under the caller's id), without one it creates an opportunity in
// pipelineId, which needs a name as POST /opportunities/ does. The
// followers are added or removed by followersActionType, after all are
// removed when isRemoveAllFollowers is set.
func (s *Sandbox) opUpsertOpportunity(w http.ResponseWriter, r *http.Request, c *call) {
	var in upsertOppInput
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	var p problems
	p.add(required("pipelineId", in.PipelineID, "locationId", in.LocationID, "followersActionType", in.FollowersActionType)...)
	if in.Followers == nil {
		p.add("followers must be an array")
	}
	if in.IsRemoveAllFollowers == nil {
		p.add("isRemoveAllFollowers must be a boolean value")
	}
	for i, f := range in.Followers {
		if strings.TrimSpace(f) == "" {
			p.add(fmt.Sprintf("followers.%d should not be empty", i))
		}
	}
	checkStatus(in.Status, &p)
	if in.ID != nil && *in.ID == "" {
		p.add("id should not be empty")
	}
	if in.ID == nil && (in.Name == nil || *in.Name == "") {
		p.add("name should not be empty")
	}
	if in.LostReasonID != nil && (in.Status == nil || *in.Status != "lost") {
		p.add("lostReasonId is allowed only with status lost")
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
	var o Opportunity
	isNew := in.ID == nil
	if isNew {
		o = Opportunity{LocationID: l.id, Status: "open", CustomFields: []OpportunityCustomField{}, Followers: []string{}, created: now,
			CreatedAt: fmtTime(now), LastStatusChangeAt: fmtTime(now), LastStageChangeAt: fmtTime(now)}
	} else {
		old, ok := l.opportunities[*in.ID]
		if !ok {
			writeError(w, errNotFound("Opportunity not found"))
			return
		}
		o = *old
		o.CustomFields = slices.Clone(old.CustomFields)
	}
	pin := oppInput{PipelineID: &in.PipelineID, Name: in.Name, PipelineStageID: in.PipelineStageID, Status: in.Status,
		MonetaryValue: in.MonetaryValue, AssignedTo: in.AssignedTo, LostReasonID: in.LostReasonID}
	if aerr := l.applyOpp(&o, &pin, nil, now); aerr != nil {
		writeError(w, aerr)
		return
	}
	if *in.IsRemoveAllFollowers {
		o.Followers = []string{}
	}
	o.Followers, _ = changeFollowers(o.Followers, in.Followers, in.FollowersActionType == "add")
	if o.ContactID != "" && l.duplicateOpp(&o) {
		writeError(w, errBadRequest("Can not create duplicate opportunity for the contact."))
		return
	}
	if isNew {
		o.ID = l.newID()
	}
	l.opportunities[o.ID] = &o
	writeBody(w, http.StatusOK, marshal(map[string]any{"opportunity": l.withContact(&o), "new": isNew}))
}

func opportunityFollowers(add bool) handlerFunc {
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
		all := false
		if !add {
			var m string
			all, m = queryBool(r.URL.Query(), "isRemoveAllFollowers")
			if m != "" {
				writeError(w, errUnprocessable(m))
				return
			}
		}
		l := s.tokenStore(c)
		l.mu.Lock()
		defer l.mu.Unlock()
		old, ok := l.opportunities[r.PathValue("id")]
		if !ok {
			writeError(w, errNotFound("Opportunity not found"))
			return
		}
		o := *old
		sent := in.Followers
		if all {
			sent = old.Followers
		}
		var changed []string
		o.Followers, changed = changeFollowers(old.Followers, sent, add)
		o.UpdatedAt = fmtTime(s.now())
		l.opportunities[o.ID] = &o
		followersAnswer(w, o.Followers, changed, add)
	}
}

// opSearchOpportunitiesAdvanced is POST /opportunities/search, paged by
// page number and limit (at most 100, the GET search's maximum: the
// document gives none), newest first as the GET search. page and
// searchAfter are two paging modes; the sandbox takes page only and refuses
// both together.
func (s *Sandbox) opSearchOpportunitiesAdvanced(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		LocationID        string   `json:"locationId"`
		Query             *string  `json:"query"`
		Limit             *float64 `json:"limit"`
		Page              *float64 `json:"page"`
		SearchAfter       []string `json:"searchAfter"`
		AdditionalDetails *struct {
			Notes               bool `json:"notes"`
			Tasks               bool `json:"tasks"`
			CalendarEvents      bool `json:"calendarEvents"`
			UnReadConversations bool `json:"unReadConversations"`
		} `json:"additionalDetails"`
	}
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	var p problems
	p.add(required("locationId", in.LocationID)...)
	whole := func(x *float64, name string, lo, hi int) int {
		if x == nil || *x != float64(int(*x)) || int(*x) < lo || int(*x) > hi {
			p.add(fmt.Sprintf("%s must be an integer between %d and %d", name, lo, hi))
			return 0
		}
		return int(*x)
	}
	limit := whole(in.Limit, "limit", 1, 100)
	page := whole(in.Page, "page", 1, 1<<30)
	if in.Query == nil {
		p.add("query must be a string")
	}
	if in.AdditionalDetails == nil {
		p.add("additionalDetails should not be empty")
	}
	if len(in.SearchAfter) > 0 {
		p.add("searchAfter cannot be sent with page")
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
	needle := strings.ToLower(*in.Query)
	l.mu.RLock()
	defer l.mu.RUnlock()
	var hits []*Opportunity
	for _, o := range l.opportunities {
		ct := l.contacts[o.ContactID]
		if needle != "" && !strings.Contains(strings.ToLower(o.Name), needle) &&
			(ct == nil || (!strings.Contains(ct.FullNameLowerCase, needle) && !strings.Contains(ct.EmailLowerCase, needle))) {
			continue
		}
		hits = append(hits, o)
	}
	slices.SortFunc(hits, oppBefore)
	pageHits := window(hits, (page-1)*limit, limit)
	out := make([]*Opportunity, len(pageHits))
	for i, o := range pageHits {
		cp := l.withContact(o)
		if in.AdditionalDetails.Tasks {
			cp.Tasks = []any{}
		}
		if in.AdditionalDetails.Notes {
			cp.Notes = []any{}
		}
		if in.AdditionalDetails.CalendarEvents {
			cp.CalendarEvents = []any{}
		}
		out[i] = cp
	}
	writeBody(w, http.StatusOK, marshal(map[string]any{"opportunities": out, "total": len(hits), "aggregations": map[string]any{}}))
}
