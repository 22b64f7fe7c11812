package sandbox

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// seedBase is the fixed instant seeded records date from, so the same seed
// gives the same records whatever day the sandbox starts. Appointments are
// the exception: they are laid out from the current day, so free slots look
// alive in the demo.
var seedBase = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// gen is the deterministic generator of one location.
type gen struct{ r *rand.Rand }

// id returns a 20-character id shaped like upstream's.
func (g gen) id() string {
	var b [20]byte
	for i := range b {
		b[i] = idAlphabet[g.r.IntN(len(idAlphabet))]
	}
	return string(b[:])
}

func (g gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

var (
	firstNames = []string{"Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger", "Radia", "Tim", "Hedy", "John", "Katherine", "Donald", "Sophie", "Niklaus", "Joan", "Leslie"}
	lastNames  = []string{"Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen", "Dijkstra", "Perlman", "Berners-Lee", "Lamarr", "Backus", "Johnson", "Knuth", "Wilson", "Wirth", "Clarke", "Lamport"}
	cities     = []struct{ city, state, postal string }{{"Austin", "TX", "73301"}, {"Denver", "CO", "80202"}, {"Boston", "MA", "02108"}, {"Seattle", "WA", "98101"}, {"Miami", "FL", "33101"}, {"Chicago", "IL", "60601"}}
	tagPool    = []string{"lead", "customer", "vip", "newsletter", "webinar", "trial", "churned", "partner"}
	sources    = []string{"website", "referral", "facebook", "google ads", "import"}
	companies  = []string{"Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises"}
)

// seed (re)builds every location's data from the configured seed.
func (s *Sandbox) seed() {
	locs := map[string]*locStore{
		DemoLocationID:  s.seedLocation(DemoLocationID, 1, "Sandbox Demo Dental", "500 Main St, Austin, TX 73301, USA", "America/New_York", s.cfg.DemoContacts, 3, 300, 120),
		OtherLocationID: s.seedLocation(OtherLocationID, 2, "Sandbox Other Bakery", "12 Rue Cler, 75007 Paris, France", "Europe/Paris", 60, 1, 20, 10),
	}
	s.dataMu.Lock()
	s.locs, s.createdLocs = locs, nil
	s.dataMu.Unlock()
}

func (s *Sandbox) seedLocation(id string, ordinal int, name, address, tzName string, nContacts, nPipelines, nOpps, nOrders int) *locStore {
	tz, err := time.LoadLocation(tzName)
	if err != nil {
		tz = time.UTC // no tzdata on this system; the sandbox still works in UTC
	}
	var h uint64
	for _, c := range id {
		h = h*31 + uint64(c)
	}
	g := gen{r: rand.New(rand.NewPCG(s.cfg.Seed, h))}
	l := &locStore{
		id: id, companyID: DemoCompanyID, name: name, address: address, tz: tz,
		contacts: map[string]*Contact{}, opportunities: map[string]*Opportunity{},
		events: map[string]*Event{}, orders: map[string]*Order{}, transactions: map[string]*Transaction{},
		idSeq: g.r.Uint64(), fieldDefs: seedCustomFields(id, ordinal), docs: map[string]*collection{},
	}
	users := []string{DemoUserID, "SbxUserSecond0000002", "SbxUserThird00000003"}

	var contactIDs []string
	for i := range nContacts {
		fn, ln := g.pick(firstNames), g.pick(lastNames)
		c := cities[g.r.IntN(len(cities))]
		added := seedBase.Add(time.Duration(i) * 37 * time.Minute)
		ct := &Contact{
			ID: g.id(), LocationID: id, FirstName: fn, LastName: ln,
			Email:      fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(fn), strings.ToLower(strings.ReplaceAll(ln, "-", "")), i),
			Phone:      fmt.Sprintf("+1555%07d", i),
			Timezone:   tzName,
			Type:       []string{"lead", "customer"}[g.r.IntN(2)],
			Source:     g.pick(sources),
			AssignedTo: users[g.r.IntN(len(users))],
			City:       c.city, State: c.state, PostalCode: c.postal, Country: "US",
			CompanyName: g.pick(companies),
			Dnd:         g.r.IntN(20) == 0,
			added:       added, updated: added.Add(time.Duration(g.r.IntN(1000)) * time.Hour),
		}
		ntags := g.r.IntN(3)
		ct.Tags = []string{}
		for range ntags {
			t := g.pick(tagPool)
			if !containsFold(ct.Tags, t) {
				ct.Tags = append(ct.Tags, t)
			}
		}
		ct.CustomFields = []ContactCustomField{}
		for _, fv := range seedFieldValues(l.fieldDefs, "contact", i) {
			ct.CustomFields = append(ct.CustomFields, ContactCustomField{ID: fv.id, Value: fv.value})
		}
		finishContact(ct)
		l.contacts[ct.ID] = ct
		contactIDs = append(contactIDs, ct.ID)
	}

	stageNames := [][]string{
		{"New Lead", "Contacted", "Qualified", "Proposal Sent", "Won"},
		{"Inquiry", "Consultation Booked", "Treatment Plan", "Scheduled"},
		{"Prospect", "Demo", "Negotiation", "Closed"},
	}
	pipeNames := []string{"Sales Pipeline", "Patient Journey", "Partnerships"}
	var pipelines []*Pipeline
	for p := range nPipelines {
		pl := &Pipeline{ID: g.id(), Name: pipeNames[p%len(pipeNames)], LocationID: id, ShowInFunnel: true, ShowInPieChart: true}
		for i, sn := range stageNames[p%len(stageNames)] {
			pl.Stages = append(pl.Stages, PipelineStage{ID: g.id(), Name: sn, Position: i, ShowInFunnel: true, ShowInPieChart: true})
		}
		pipelines = append(pipelines, pl)
		l.coll(collPipelines, true).put(pl.ID, marshal(pl))
	}
	statuses := []string{"open", "open", "open", "won", "lost", "abandoned"}
	var prev time.Time
	for i := range nOpps {
		pl := pipelines[g.r.IntN(len(pipelines))]
		st := pl.Stages[g.r.IntN(len(pl.Stages))]
		ct := l.contacts[contactIDs[g.r.IntN(len(contactIDs))]]
		created := seedBase.Add(time.Duration(i) * 113 * time.Minute)
		if i%10 == 9 {
			created = prev // equal creation times exercise the cursor's id tie-break
		}
		prev = created
		o := &Opportunity{
			ID: g.id(), Name: fmt.Sprintf("%s – %s", ct.CompanyName, pl.Name), MonetaryValue: float64(100 * (1 + g.r.IntN(200))),
			PipelineID: pl.ID, PipelineStageID: st.ID, AssignedTo: users[g.r.IntN(len(users))], Status: g.pick(statuses),
			Source: ct.Source, ContactID: ct.ID, LocationID: id, CustomFields: []OpportunityCustomField{}, Followers: []string{},
			created: created,
		}
		for _, fv := range seedFieldValues(l.fieldDefs, "opportunity", i) {
			o.CustomFields = append(o.CustomFields, OpportunityCustomField{ID: fv.id, FieldValue: fv.value})
		}
		o.CreatedAt = fmtTime(created)
		o.UpdatedAt, o.LastStatusChangeAt, o.LastStageChangeAt = o.CreatedAt, o.CreatedAt, o.CreatedAt
		l.opportunities[o.ID] = o
	}

	// Two calendars with working hours (one for a small location).
	cals := []*Calendar{{
		ID: g.id(), LocationID: id, Name: "Sales Call", Slug: "sales-call", CalendarType: "round_robin", IsActive: true,
		TeamMembers:  []TeamMember{{UserID: users[0], Priority: 1, IsPrimary: true}, {UserID: users[1], Priority: 0.5}},
		SlotDuration: 30, SlotDurationUnit: "mins", SlotInterval: 30, SlotIntervalUnit: "mins", AppoinmentPerSlot: 1, AutoConfirm: true,
		OpenHours: []OpenHour{{DaysOfTheWeek: []int{1, 2, 3, 4, 5}, Hours: []Hour{{9, 0, 12, 0}, {13, 0, 17, 0}}}},
	}, {
		ID: g.id(), LocationID: id, Name: "Consultation", Slug: "consultation", CalendarType: "event", IsActive: true,
		TeamMembers:  []TeamMember{{UserID: users[2], Priority: 1, IsPrimary: true}},
		SlotDuration: 60, SlotDurationUnit: "mins", SlotInterval: 60, SlotIntervalUnit: "mins", AppoinmentPerSlot: 1, AutoConfirm: true,
		OpenHours: []OpenHour{{DaysOfTheWeek: []int{2, 4}, Hours: []Hour{{10, 0, 18, 0}}}, {DaysOfTheWeek: []int{6}, Hours: []Hour{{9, 0, 13, 0}}}},
	}}
	if nPipelines < 2 {
		cals = cals[:1]
	}
	for _, cal := range cals {
		l.coll(collCalendars, true).put(cal.ID, marshal(cal))
	}
	// Appointments from the current day on, on slot boundaries.
	today := s.now().In(tz)
	day0 := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, tz)
	for d := range 21 {
		day := day0.AddDate(0, 0, d)
		for _, cal := range cals {
			for _, sl := range daySlots(cal, day, tz) {
				if len(contactIDs) == 0 || g.r.IntN(5) != 0 { // no contacts to book for in a new location
					continue
				}
				ct := l.contacts[contactIDs[g.r.IntN(len(contactIDs))]]
				ev := &Event{
					ID: g.id(), Title: "Meeting with " + ct.FirstName + " " + ct.LastName, CalendarID: cal.ID, LocationID: id,
					ContactID: ct.ID, AppointmentStatus: "confirmed", AssignedUserID: cal.TeamMembers[0].UserID,
					start: sl, end: sl.Add(time.Duration(cal.SlotDuration) * time.Minute),
				}
				ev.Users = []string{ev.AssignedUserID}
				ev.StartTime, ev.EndTime = ev.start.Format(time.RFC3339), ev.end.Format(time.RFC3339)
				ev.DateAdded, ev.DateUpdated = fmtTime(day0.Add(-24*time.Hour)), fmtTime(day0.Add(-24*time.Hour))
				l.events[ev.ID] = ev
			}
		}
	}

	orderStatuses := []string{"completed", "completed", "completed", "pending", "refunded", "cancelled"}
	srcTypes := []string{"funnel", "website", "invoice", "payment_link", "manual"}
	for i := range nOrders {
		ct := l.contacts[contactIDs[g.r.IntN(len(contactIDs))]]
		created := seedBase.Add(time.Duration(i) * 7 * time.Hour)
		amount := float64(5 * (1 + g.r.IntN(100)))
		o := &Order{
			ID: g.id(), AltID: id, AltType: "location", ContactID: ct.ID, ContactName: ct.FirstName + " " + ct.LastName,
			ContactEmail: ct.Email, Currency: "USD", Amount: amount, Subtotal: amount, Status: g.pick(orderStatuses),
			LiveMode: g.r.IntN(4) != 0, TotalProducts: 1 + g.r.IntN(3), SourceType: g.pick(srcTypes),
			SourceName: "Spring Campaign", SourceID: g.id(), FulfillmentStatus: "unfulfilled", created: created,
		}
		switch o.Status {
		case "completed":
			o.PaymentStatus = "paid"
		case "refunded":
			o.PaymentStatus = "refunded"
		default:
			o.PaymentStatus = "unpaid"
		}
		o.CreatedAt, o.UpdatedAt = fmtTime(created), fmtTime(created.Add(time.Hour))
		o.Items = seedOrderItems(o, i)
		l.orders[o.ID] = o
		if o.PaymentStatus == "unpaid" {
			continue
		}
		ntx := 1 + g.r.IntN(2)
		for k := range ntx {
			tc := created.Add(time.Duration(k+1) * 10 * time.Minute)
			tx := &Transaction{
				ID: g.id(), AltID: id, AltType: "location", ContactID: ct.ID, ContactName: o.ContactName, ContactEmail: ct.Email,
				Currency: "USD", Amount: amount / float64(ntx), Status: "succeeded", LiveMode: o.LiveMode,
				EntityType: "order", EntityID: o.ID, EntitySourceType: o.SourceType, EntitySourceName: o.SourceName,
				EntitySourceID: o.SourceID, ChargeID: "ch_" + g.id(), PaymentProviderType: "stripe", created: tc,
			}
			if o.Status == "refunded" {
				tx.Status, tx.AmountRefunded = "refunded", tx.Amount
			}
			tx.CreatedAt, tx.UpdatedAt, tx.FulfilledAt = fmtTime(tc), fmtTime(tc), fmtTime(tc)
			l.transactions[tx.ID] = tx
		}
	}
	return l
}

// seedFieldValues gives the i-th seeded record of a model values for some
// of its custom fields (each field on every fourth record), typed as upstream
// answers them: strings, numbers, arrays of strings, and files as an object
// keyed by upload id (contacts) or an array of file objects (opportunities).
// It draws nothing from the generator, so the rest of the seed is the same
// with or without custom fields.
func seedFieldValues(defs []CustomFieldDef, model string, i int) []fieldValue {
	var out []fieldValue
	for _, d := range defs {
		if d.Model != model || (i+d.Position)%4 != 0 {
			continue
		}
		var v any
		switch d.DataType {
		case FieldText:
			v = fmt.Sprintf("%s %d", d.Name, i)
		case FieldNumerical:
			v = float64(i % 50)
		case FieldMonetory:
			v = float64(i) * 12.5
		case FieldCheckbox, FieldMultipleOptions:
			v = d.PicklistOptions[:1+i%len(d.PicklistOptions)]
		case FieldFileUpload:
			uuid := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			file := map[string]any{
				"meta": map[string]any{"fieldname": d.ID, "originalname": fmt.Sprintf("scan-%d.pdf", i), "encoding": "7bit",
					"mimetype": "application/pdf", "size": 1000 + i, "uuid": uuid},
				"url":        "https://services.leadconnectorhq.com/documents/download/sbx" + uuid[24:],
				"documentId": "sbx" + uuid[24:],
			}
			if model == "contact" {
				v = map[string]any{uuid: file}
			} else {
				v = []any{file}
			}
		}
		if b, msg := encodeValue(v); msg == "" {
			out = append(out, fieldValue{id: d.ID, value: b})
		}
	}
	return out
}

// finishContact derives the computed members of a contact from its inputs.
func finishContact(c *Contact) {
	c.Name = strings.TrimSpace(c.FirstName + " " + c.LastName)
	c.FirstNameLowerCase = strings.ToLower(c.FirstName)
	c.LastNameLowerCase = strings.ToLower(c.LastName)
	c.FullNameLowerCase = strings.ToLower(c.Name)
	c.EmailLowerCase = strings.ToLower(c.Email)
	c.DateAdded, c.DateUpdated = fmtTime(c.added), fmtTime(c.updated)
}

// fmtTime renders an instant the way upstream does: UTC, milliseconds, Z.
func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func containsFold(xs []string, x string) bool {
	for _, y := range xs {
		if strings.EqualFold(x, y) {
			return true
		}
	}
	return false
}

// loc returns a location's store.
func (s *Sandbox) loc(id string) (*locStore, bool) {
	s.dataMu.RLock()
	l, ok := s.locs[id]
	s.dataMu.RUnlock()
	return l, ok
}

// companyLocationIDs lists the demo company's locations, demo first, then
// those created at run time (POST /locations/), in order.
func (s *Sandbox) companyLocationIDs() []string {
	s.dataMu.RLock()
	defer s.dataMu.RUnlock()
	return append([]string{DemoLocationID, OtherLocationID}, s.createdLocs...)
}

// newID returns a fresh id for a record created at run time. It is
// deterministic for a given seed and sequence of writes. Callers hold l.mu.
func (l *locStore) newID() string {
	l.idSeq++
	g := gen{r: rand.New(rand.NewPCG(l.idSeq, 0x5bd1e995))}
	return g.id()
}
