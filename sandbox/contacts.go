package sandbox

import (
	"cmp"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"
)

type inboundDnd struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// contactInput is the union of CreateContactRequest, UpdateContactRequest
// and UpsertContactRequest; which members an operation admits is checked by
// the handler. A JSON null reads as "not sent".
type contactInput struct {
	FirstName                   *string               `json:"firstName"`
	LastName                    *string               `json:"lastName"`
	Name                        *string               `json:"name"`
	Email                       *string               `json:"email"`
	LocationID                  *string               `json:"locationId"`
	Gender                      *string               `json:"gender"`
	Phone                       *string               `json:"phone"`
	Address1                    *string               `json:"address1"`
	City                        *string               `json:"city"`
	State                       *string               `json:"state"`
	PostalCode                  *string               `json:"postalCode"`
	Website                     *string               `json:"website"`
	Timezone                    *string               `json:"timezone"`
	Dnd                         *bool                 `json:"dnd"`
	DndSettings                 map[string]DndSetting `json:"dndSettings"`
	InboundDndSettings          map[string]inboundDnd `json:"inboundDndSettings"`
	Tags                        []string              `json:"tags"`
	CustomFields                []customFieldWrite    `json:"customFields"`
	Source                      *string               `json:"source"`
	DateOfBirth                 *string               `json:"dateOfBirth"`
	Country                     *string               `json:"country"`
	CompanyName                 *string               `json:"companyName"`
	AssignedTo                  *string               `json:"assignedTo"`
	CreateNewIfDuplicateAllowed *bool                 `json:"createNewIfDuplicateAllowed"`
}

var dndChannels = []string{"Call", "Email", "SMS", "WhatsApp", "GMB", "FB"}

// validate checks the members' values; op is "create", "update" or
// "upsert", which decides the members admitted.
func (in *contactInput) validate(op string) problems {
	var p problems
	if op == "update" {
		if in.LocationID != nil {
			p.add("property locationId should not exist")
		}
		if in.Gender != nil {
			p.add("property gender should not exist")
		}
		if in.CompanyName != nil {
			p.add("property companyName should not exist")
		}
	} else if in.LocationID == nil || *in.LocationID == "" {
		p.add("locationId should not be empty")
	}
	if op != "upsert" && in.CreateNewIfDuplicateAllowed != nil {
		p.add("property createNewIfDuplicateAllowed should not exist")
	}
	if in.Email != nil && *in.Email != "" {
		if a, err := mail.ParseAddress(*in.Email); err != nil || a.Address != *in.Email {
			p.add("email must be an email")
		}
	}
	for ch, d := range in.DndSettings {
		if !slices.Contains(dndChannels, ch) {
			p.add(fmt.Sprintf("property dndSettings.%s should not exist", ch))
		}
		if !slices.Contains([]string{"active", "inactive", "permanent"}, d.Status) {
			p.add(fmt.Sprintf("dndSettings.%s.status must be one of the following values: active, inactive, permanent", ch))
		}
	}
	for ch, d := range in.InboundDndSettings {
		if ch != "all" {
			p.add(fmt.Sprintf("property inboundDndSettings.%s should not exist", ch))
		}
		if d.Status != "active" && d.Status != "inactive" {
			p.add("inboundDndSettings.all.status must be one of the following values: active, inactive")
		}
	}
	for i, t := range in.Tags {
		if strings.TrimSpace(t) == "" {
			p.add(fmt.Sprintf("tags.%d should not be empty", i))
		}
	}
	return p
}

// fields checks the write's custom fields against the location's contact
// definitions (see resolveCustomFields), refusing the write when any is
// unknown or of the wrong type.
func (in *contactInput) fields(l *locStore) ([]fieldValue, *apiError) {
	var p problems
	fs := l.resolveCustomFields("contact", in.CustomFields, &p)
	return fs, p.err()
}

// apply copies the sent members, and the checked custom field values, onto
// a contact.
func (in *contactInput) apply(c *Contact, fields []fieldValue) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&c.FirstName, in.FirstName)
	set(&c.LastName, in.LastName)
	if in.Name != nil && in.FirstName == nil && in.LastName == nil {
		first, last, _ := strings.Cut(strings.TrimSpace(*in.Name), " ")
		c.FirstName, c.LastName = first, strings.TrimSpace(last)
	}
	set(&c.Email, in.Email)
	set(&c.Phone, in.Phone)
	set(&c.Address1, in.Address1)
	set(&c.City, in.City)
	set(&c.State, in.State)
	set(&c.PostalCode, in.PostalCode)
	set(&c.Website, in.Website)
	set(&c.Timezone, in.Timezone)
	set(&c.Source, in.Source)
	set(&c.DateOfBirth, in.DateOfBirth)
	set(&c.Country, in.Country)
	set(&c.CompanyName, in.CompanyName)
	set(&c.AssignedTo, in.AssignedTo)
	set(&c.Gender, in.Gender)
	if in.Dnd != nil {
		c.Dnd = *in.Dnd
	}
	if in.DndSettings != nil {
		c.DndSettings = in.DndSettings
	}
	if in.Tags != nil {
		c.Tags = mergeTags(nil, in.Tags)
	}
	for _, cf := range fields {
		i := slices.IndexFunc(c.CustomFields, func(x ContactCustomField) bool { return x.ID == cf.id })
		if i >= 0 {
			c.CustomFields[i].Value = cf.value
		} else {
			c.CustomFields = append(c.CustomFields, ContactCustomField{ID: cf.id, Value: cf.value})
		}
	}
}

// mergeTags adds tags, trimmed and lower-cased as upstream stores them,
// without duplicates.
func mergeTags(have, add []string) []string {
	out := append([]string{}, have...)
	for _, t := range add {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// duplicateOf finds another contact of the location with the same email
// or phone: upstream refuses duplicated contacts by default. Callers hold
// l.mu.
func (l *locStore) duplicateOf(c *Contact) (*Contact, string) {
	for _, o := range l.contacts {
		if o.ID == c.ID {
			continue
		}
		if c.Email != "" && strings.EqualFold(o.Email, c.Email) {
			return o, "email"
		}
		if c.Phone != "" && o.Phone == c.Phone {
			return o, "phone"
		}
	}
	return nil, ""
}

func errDuplicate(o *Contact, field string) *apiError {
	return errBadRequest("This location does not allow duplicated contacts. (contactId %s, matching %s)", o.ID, field)
}

func (s *Sandbox) opGetContact(w http.ResponseWriter, r *http.Request, c *call) {
	l := s.tokenStore(c)
	l.mu.RLock()
	ct, ok := l.contacts[r.PathValue("contactId")]
	var b []byte
	if ok {
		b = marshal(struct {
			Contact *Contact `json:"contact"`
		}{ct})
	}
	l.mu.RUnlock()
	if !ok {
		writeError(w, errNotFound("Contact not found"))
		return
	}
	writeBody(w, http.StatusOK, b)
}

func (s *Sandbox) opCreateContact(w http.ResponseWriter, r *http.Request, c *call) {
	var in contactInput
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := in.validate("create").err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	l, aerr := s.locationStore(c, *in.LocationID)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	fields, aerr := in.fields(l)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	now := s.now()
	l.mu.Lock()
	ct := &Contact{LocationID: l.id, Type: "lead", Tags: []string{}, CustomFields: []ContactCustomField{}, added: now, updated: now}
	in.apply(ct, fields)
	finishContact(ct)
	if o, field := l.duplicateOf(ct); o != nil {
		l.mu.Unlock()
		writeError(w, errDuplicate(o, field))
		return
	}
	ct.ID = l.newID()
	l.contacts[ct.ID] = ct
	b := marshal(map[string]any{"contact": ct})
	l.mu.Unlock()
	writeBody(w, http.StatusCreated, b)
}

func (s *Sandbox) opUpdateContact(w http.ResponseWriter, r *http.Request, c *call) {
	var in contactInput
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := in.validate("update").err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	fields, aerr := in.fields(l)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	l.mu.Lock()
	old, ok := l.contacts[r.PathValue("contactId")]
	if !ok {
		l.mu.Unlock()
		writeError(w, errNotFound("Contact not found"))
		return
	}
	ct := *old // write a copy, so a refused update changes nothing
	ct.Tags = slices.Clone(old.Tags)
	ct.CustomFields = slices.Clone(old.CustomFields)
	in.apply(&ct, fields)
	ct.updated = s.now()
	finishContact(&ct)
	if o, field := l.duplicateOf(&ct); o != nil {
		l.mu.Unlock()
		writeError(w, errDuplicate(o, field))
		return
	}
	l.contacts[ct.ID] = &ct
	b := marshal(map[string]any{"succeded": true, "contact": &ct})
	l.mu.Unlock()
	writeBody(w, http.StatusOK, b)
}

func (s *Sandbox) opDeleteContact(w http.ResponseWriter, r *http.Request, c *call) {
	l := s.tokenStore(c)
	l.mu.Lock()
	_, ok := l.contacts[r.PathValue("contactId")]
	delete(l.contacts, r.PathValue("contactId"))
	l.mu.Unlock()
	if !ok {
		writeError(w, errNotFound("Contact not found"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"succeded": true})
}

// opUpsertContact updates the contact matching the email, else the phone
// (the location's default duplicate rule), or creates one.
func (s *Sandbox) opUpsertContact(w http.ResponseWriter, r *http.Request, c *call) {
	var in contactInput
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := in.validate("upsert").err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	l, aerr := s.locationStore(c, *in.LocationID)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	fields, aerr := in.fields(l)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	now := s.now()
	l.mu.Lock()
	probe := &Contact{}
	if in.Email != nil {
		probe.Email = *in.Email
	}
	if in.Phone != nil {
		probe.Phone = *in.Phone
	}
	// The email decides first, the phone only when no contact has the
	// email: one pass that took whichever matched first would depend on
	// map order.
	var match *Contact
	if probe.Email != "" {
		match, _ = l.duplicateOf(&Contact{Email: probe.Email})
	}
	if match == nil && probe.Phone != "" {
		match, _ = l.duplicateOf(&Contact{Phone: probe.Phone})
	}
	isNew := match == nil
	var ct Contact
	if isNew {
		ct = Contact{LocationID: l.id, Type: "lead", Tags: []string{}, CustomFields: []ContactCustomField{}, added: now}
	} else {
		ct = *match
		ct.Tags, ct.CustomFields = slices.Clone(match.Tags), slices.Clone(match.CustomFields)
	}
	in.apply(&ct, fields)
	ct.updated = now
	finishContact(&ct)
	if o, field := l.duplicateOf(&ct); o != nil {
		l.mu.Unlock()
		writeError(w, errDuplicate(o, field))
		return
	}
	if isNew {
		ct.ID = l.newID()
	}
	l.contacts[ct.ID] = &ct
	b := marshal(map[string]any{"new": isNew, "contact": &ct, "traceId": newSecret("")})
	l.mu.Unlock()
	writeBody(w, http.StatusOK, b)
}

type tagsInput struct {
	Tags []string `json:"tags"`
}

func contactTags(add bool) handlerFunc {
	return func(s *Sandbox, w http.ResponseWriter, r *http.Request, c *call) {
		var in tagsInput
		if aerr := decodeBody(r, &in); aerr != nil {
			writeError(w, aerr)
			return
		}
		if in.Tags == nil {
			writeError(w, errUnprocessable("tags should not be empty", "tags must be an array"))
			return
		}
		for i, t := range in.Tags {
			if strings.TrimSpace(t) == "" {
				writeError(w, errUnprocessable(fmt.Sprintf("tags.%d should not be empty", i)))
				return
			}
		}
		l := s.tokenStore(c)
		l.mu.Lock()
		old, ok := l.contacts[r.PathValue("contactId")]
		if !ok {
			l.mu.Unlock()
			writeError(w, errNotFound("Contact not found"))
			return
		}
		ct := *old
		if add {
			ct.Tags = mergeTags(old.Tags, in.Tags)
		} else {
			ct.Tags = slices.DeleteFunc(slices.Clone(old.Tags), func(t string) bool { return containsFold(in.Tags, t) })
		}
		ct.updated = s.now()
		finishContact(&ct)
		l.contacts[ct.ID] = &ct
		b := marshal(map[string]any{"tags": ct.Tags})
		l.mu.Unlock()
		status := http.StatusOK
		if add {
			status = http.StatusCreated
		}
		writeBody(w, status, b)
	}
}

// ---- search ----

type searchFilter struct {
	Field    string         `json:"field,omitempty"`
	Operator string         `json:"operator,omitempty"`
	Value    any            `json:"value,omitempty"`
	Group    string         `json:"group,omitempty"`
	Filters  []searchFilter `json:"filters,omitempty"`
}

type searchSort struct {
	Field     string `json:"field"`
	Direction string `json:"direction"`
}

type searchInput struct {
	LocationID  *string        `json:"locationId"`
	PageLimit   *int           `json:"pageLimit"`
	Page        *int           `json:"page"`
	SearchAfter []any          `json:"searchAfter"`
	Filters     []searchFilter `json:"filters"`
	Sort        []searchSort   `json:"sort"`
	Query       *string        `json:"query"`
}

// contactField reads a filterable or sortable member: a string, a time or
// a list of strings (tags), or false when the field is unknown.
func contactField(c *Contact, field string) (any, bool) {
	switch field {
	case "id":
		return c.ID, true
	case "firstName", "firstNameLowerCase":
		return c.FirstNameLowerCase, true
	case "lastName", "lastNameLowerCase":
		return c.LastNameLowerCase, true
	case "name", "fullNameLowerCase":
		return c.FullNameLowerCase, true
	case "email":
		return c.EmailLowerCase, true
	case "phone":
		return c.Phone, true
	case "companyName":
		return strings.ToLower(c.CompanyName), true
	case "city":
		return strings.ToLower(c.City), true
	case "state":
		return strings.ToLower(c.State), true
	case "country":
		return strings.ToLower(c.Country), true
	case "postalCode":
		return c.PostalCode, true
	case "source":
		return strings.ToLower(c.Source), true
	case "type":
		return c.Type, true
	case "assignedTo":
		return c.AssignedTo, true
	case "website":
		return strings.ToLower(c.Website), true
	case "address", "address1":
		return strings.ToLower(c.Address1), true
	case "timezone":
		return c.Timezone, true
	case "businessId":
		return c.BusinessID, true
	case "dnd":
		return c.Dnd, true
	case "tags":
		return c.Tags, true
	case "dateAdded":
		return c.added, true
	case "dateUpdated":
		return c.updated, true
	}
	return nil, false
}

var contactSortFields = []string{"dateAdded", "dateUpdated", "firstNameLowerCase", "lastNameLowerCase", "fullNameLowerCase", "email", "companyName", "id"}

// checkFilters validates a filter tree; path names the position for the
// message.
func checkFilters(fs []searchFilter, path string, p *problems) {
	probe := &Contact{}
	for i, f := range fs {
		at := fmt.Sprintf("%s.%d", path, i)
		if f.Group != "" {
			if f.Group != "AND" && f.Group != "OR" {
				p.add(at + ".group must be one of the following values: AND, OR")
			}
			if f.Field != "" || f.Operator != "" {
				p.add(at + " must be either a group or a field filter")
			}
			if len(f.Filters) == 0 {
				p.add(at + ".filters should not be empty")
			}
			checkFilters(f.Filters, at+".filters", p)
			continue
		}
		v, ok := contactField(probe, f.Field)
		if !ok {
			p.add(fmt.Sprintf("%s.field %q is not a searchable field", at, f.Field))
			continue
		}
		switch f.Operator {
		case "exists", "not_exists":
		case "eq", "not_eq", "contains", "not_contains":
			if f.Value == nil {
				p.add(at + ".value should not be empty")
			}
			if _, isTime := v.(time.Time); isTime && (f.Operator == "contains" || f.Operator == "not_contains") {
				p.add(fmt.Sprintf("%s.operator %s does not apply to %s", at, f.Operator, f.Field))
			}
		case "range":
			if _, isTime := v.(time.Time); !isTime {
				p.add(fmt.Sprintf("%s.operator range applies to dateAdded and dateUpdated only", at))
				continue
			}
			m, ok := f.Value.(map[string]any)
			if !ok || len(m) == 0 {
				p.add(at + ".value must be an object of gt, gte, lt, lte")
				continue
			}
			for k, x := range m {
				if !slices.Contains([]string{"gt", "gte", "lt", "lte"}, k) {
					p.add(fmt.Sprintf("%s.value.%s should not exist", at, k))
				} else if _, ok := toTime(x); !ok {
					p.add(fmt.Sprintf("%s.value.%s must be epoch milliseconds or an ISO 8601 date", at, k))
				}
			}
		default:
			p.add(at + ".operator must be one of the following values: eq, not_eq, contains, not_contains, exists, not_exists, range")
		}
	}
}

func toTime(x any) (time.Time, bool) {
	switch v := x.(type) {
	case float64:
		return time.UnixMilli(int64(v)), true
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

func valueStrings(x any) []string {
	switch v := x.(type) {
	case string:
		return []string{strings.ToLower(v)}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, valueStrings(e)...)
		}
		return out
	case bool, float64:
		return []string{strings.ToLower(fmt.Sprint(v))}
	}
	return nil
}

// matchAll applies a list of filters joined by AND (or OR for an OR group).
func matchAll(c *Contact, fs []searchFilter, or bool) bool {
	if len(fs) == 0 {
		return true
	}
	for _, f := range fs {
		ok := matchOne(c, f)
		if or && ok {
			return true
		}
		if !or && !ok {
			return false
		}
	}
	return !or
}

func matchOne(c *Contact, f searchFilter) bool {
	if f.Group != "" {
		return matchAll(c, f.Filters, f.Group == "OR")
	}
	v, _ := contactField(c, f.Field)
	var have []string
	switch x := v.(type) {
	case string:
		if x != "" {
			have = []string{strings.ToLower(x)}
		}
	case []string:
		for _, t := range x {
			have = append(have, strings.ToLower(t))
		}
	case bool:
		have = []string{fmt.Sprint(x)}
	case time.Time:
		if f.Operator == "range" {
			m, _ := f.Value.(map[string]any)
			for k, bound := range m {
				b, _ := toTime(bound)
				switch k {
				case "gt":
					if !x.After(b) {
						return false
					}
				case "gte":
					if x.Before(b) {
						return false
					}
				case "lt":
					if !x.Before(b) {
						return false
					}
				case "lte":
					if x.After(b) {
						return false
					}
				}
			}
			return true
		}
		have = []string{fmt.Sprint(x.UnixMilli())}
		if t, ok := toTime(f.Value); ok && f.Operator != "exists" && f.Operator != "not_exists" {
			eq := t.Equal(x)
			return eq == (f.Operator == "eq")
		}
	}
	want := valueStrings(f.Value)
	switch f.Operator {
	case "exists":
		return len(have) > 0
	case "not_exists":
		return len(have) == 0
	case "eq", "not_eq":
		hit := false
		for _, h := range have {
			hit = hit || slices.Contains(want, h)
		}
		return hit == (f.Operator == "eq")
	case "contains", "not_contains":
		hit := false
		for _, h := range have {
			for _, w := range want {
				hit = hit || strings.Contains(h, w)
			}
		}
		return hit == (f.Operator == "contains")
	}
	return false
}

// sortKey is a contact's position in a search's order: the sort fields'
// values then the id, which makes the order total and the cursor exact.
func sortKey(c *Contact, sorts []searchSort) []any {
	out := make([]any, 0, len(sorts)+1)
	for _, s := range sorts {
		v, _ := contactField(c, s.Field)
		if t, ok := v.(time.Time); ok {
			out = append(out, float64(t.UnixMilli()))
		} else {
			out = append(out, v)
		}
	}
	return append(out, c.ID)
}

// compareKeys orders two sort keys under the sort's directions (the id
// tie-break is ascending).
func compareKeys(a, b []any, sorts []searchSort) int {
	for i := range a {
		var d int
		switch x := a[i].(type) {
		case float64:
			y, _ := b[i].(float64)
			d = cmp.Compare(x, y)
		case string:
			y, _ := b[i].(string)
			d = cmp.Compare(x, y)
		}
		if i < len(sorts) && sorts[i].Direction == "desc" {
			d = -d
		}
		if d != 0 {
			return d
		}
	}
	return 0
}

// maxSearchWindow is how deep page-based contact search can reach; beyond
// it upstream requires searchAfter.
const maxSearchWindow = 10000

func (s *Sandbox) opSearchContacts(w http.ResponseWriter, r *http.Request, c *call) {
	var in searchInput
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	var p problems
	if in.LocationID == nil || *in.LocationID == "" {
		p.add("locationId should not be empty")
	}
	if in.PageLimit == nil {
		p.add("pageLimit should not be empty")
	} else if *in.PageLimit < 1 || *in.PageLimit > 500 {
		p.add("pageLimit must not be less than 1 and not greater than 500")
	}
	if in.Page != nil && *in.Page < 1 {
		p.add("page must not be less than 1")
	}
	if in.Page != nil && in.SearchAfter != nil {
		p.add("page and searchAfter cannot be used together")
	}
	if in.Query != nil && len([]rune(*in.Query)) > 75 {
		p.add("query must be shorter than or equal to 75 characters")
	}
	for i, so := range in.Sort {
		if !slices.Contains(contactSortFields, so.Field) {
			p.add(fmt.Sprintf("sort.%d.field must be one of the following values: %s", i, strings.Join(contactSortFields, ", ")))
		}
		if so.Direction != "asc" && so.Direction != "desc" {
			p.add(fmt.Sprintf("sort.%d.direction must be one of the following values: asc, desc", i))
		}
	}
	checkFilters(in.Filters, "filters", &p)
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	sorts := in.Sort
	if len(sorts) == 0 {
		sorts = []searchSort{{Field: "dateAdded", Direction: "desc"}}
	}
	if in.SearchAfter != nil {
		if len(in.SearchAfter) != len(sorts)+1 {
			writeError(w, errUnprocessable(fmt.Sprintf("searchAfter must hold %d values: the sort values and the id of the last contact", len(sorts)+1)))
			return
		}
		for i, v := range in.SearchAfter {
			switch v.(type) {
			case string, float64:
			default:
				writeError(w, errUnprocessable(fmt.Sprintf("searchAfter.%d must be a string or a number", i)))
				return
			}
		}
	}
	limit, page := *in.PageLimit, 1
	if in.Page != nil {
		page = *in.Page
	}
	if in.SearchAfter == nil && page*limit > maxSearchWindow {
		writeError(w, errBadRequest("page-based search reaches %d contacts at most; use searchAfter beyond that", maxSearchWindow))
		return
	}
	l, aerr := s.locationStore(c, *in.LocationID)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	query := ""
	if in.Query != nil {
		query = strings.ToLower(strings.TrimSpace(*in.Query))
	}

	type hit struct {
		c   *Contact
		key []any
	}
	l.mu.RLock()
	hits := make([]hit, 0, len(l.contacts))
	for _, ct := range l.contacts {
		if query != "" && !strings.Contains(ct.FullNameLowerCase, query) && !strings.Contains(ct.EmailLowerCase, query) &&
			!strings.Contains(ct.Phone, query) && !strings.Contains(strings.ToLower(ct.CompanyName), query) {
			continue
		}
		if !matchAll(ct, in.Filters, false) {
			continue
		}
		hits = append(hits, hit{ct, sortKey(ct, sorts)})
	}
	slices.SortFunc(hits, func(a, b hit) int { return compareKeys(a.key, b.key, sorts) })
	total := len(hits)
	start := (page - 1) * limit
	if in.SearchAfter != nil {
		start, _ = slices.BinarySearchFunc(hits, in.SearchAfter, func(h hit, cur []any) int {
			if compareKeys(h.key, cur, sorts) <= 0 {
				return -1
			}
			return 1
		})
	}
	pageHits := window(hits, start, limit)
	type searched struct {
		*Contact
		SearchAfter []any `json:"searchAfter"`
	}
	out := make([]searched, len(pageHits))
	for i, h := range pageHits {
		out[i] = searched{h.c, h.key}
	}
	b := marshal(map[string]any{"contacts": out, "total": total})
	l.mu.RUnlock()
	writeBody(w, http.StatusOK, b)
}

// opListContacts answers the deprecated GET /contacts/: the location's
// contacts by id, limit at a time (at most 100) after startAfterId, those
// whose name, email, phone or company contain query; count is the number
// that match. hlgate declares it for its passthrough only.
func (s *Sandbox) opListContacts(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	limit, err := intParam(q, "limit", 20, 1, 100)
	if err != nil {
		writeError(w, errUnprocessable(err.Error()))
		return
	}
	l, aerr := s.locationStore(c, q.Get("locationId"))
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	query := strings.ToLower(strings.TrimSpace(q.Get("query")))
	l.mu.RLock()
	defer l.mu.RUnlock()
	var hits []*Contact
	for _, ct := range l.contacts {
		if query == "" || strings.Contains(ct.FullNameLowerCase, query) || strings.Contains(ct.EmailLowerCase, query) ||
			strings.Contains(ct.Phone, query) || strings.Contains(strings.ToLower(ct.CompanyName), query) {
			hits = append(hits, ct)
		}
	}
	slices.SortFunc(hits, func(a, b *Contact) int { return strings.Compare(a.ID, b.ID) })
	start := 0
	if after := q.Get("startAfterId"); after != "" {
		start, _ = slices.BinarySearchFunc(hits, after, func(ct *Contact, id string) int {
			if ct.ID <= id {
				return -1
			}
			return 1
		})
	}
	writeBody(w, http.StatusOK, marshal(map[string]any{"contacts": window(hits, start, limit), "count": len(hits)}))
}
