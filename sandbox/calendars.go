package sandbox

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// maxFreeSlotRange is upstream's limit on a free-slots query.
const maxFreeSlotRange = 31 * 24 * time.Hour

// calendar decodes a calendar of the location's engine collection (GET
// /calendars/{calendarId} is served by the engine), or nil when there is
// none or its document does not decode. Callers hold l.mu.
func (l *locStore) calendar(id string) *Calendar {
	d, ok := l.doc(collCalendars, id)
	if !ok {
		return nil
	}
	var cal Calendar
	if json.Unmarshal(d, &cal) != nil {
		return nil
	}
	return &cal
}

// opListCalendars filters the stored calendar documents by groupId and
// answers them as stored.
func (s *Sandbox) opListCalendars(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var p problems
	p.add(required("locationId", q.Get("locationId"))...)
	showDrafted := true
	if q.Get("showDrafted") != "" {
		v, m := queryBool(q, "showDrafted")
		p.add(m)
		showDrafted = v
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
	docs := l.coll(collCalendars, false).list()
	l.mu.RUnlock()
	out := []json.RawMessage{}
	for _, d := range docs {
		var cal struct {
			GroupID string `json:"groupId"`
			// IsDraft is not a member of the document's Calendar; a
			// document put by a test may carry it.
			IsDraft bool `json:"isDraft"`
		}
		if json.Unmarshal(d, &cal) != nil {
			continue
		}
		if (q.Get("groupId") != "" && cal.GroupID != q.Get("groupId")) || (!showDrafted && cal.IsDraft) {
			continue
		}
		out = append(out, d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"calendars": out})
}

// freeSlots lists the free slot starts of a calendar in [from, to]: the
// working hours' slots, in the location's zone, that start no earlier than
// now and overlap no live appointment of the calendar (one appointment per
// slot). skip is an event not to count (the one being moved). Callers hold
// l.mu.
//
// Both ends are inclusive: a slot starting exactly at endDate is free in
// the window. The document (api/highlevel calendars.json, GET
// /calendars/{calendarId}/free-slots) does not say which ends count; its
// examples end a window on the last millisecond of a day (endDate
// 1601490599999 is 23:59:59.999 at +05:30), which reads as an inclusive
// end. Of the two readings this is also the stricter one for a client: a
// client that promises a half-open window must drop the slot at the end
// itself, and a client that forgets to fails against the sandbox.
func (l *locStore) freeSlots(cal *Calendar, from, to, now time.Time, skip string) []time.Time {
	dur := time.Duration(cal.SlotDuration) * unitOf(cal.SlotDurationUnit)
	var booked []*Event
	for _, ev := range l.events {
		if ev.CalendarID == cal.ID && ev.ID != skip && ev.AppointmentStatus != "cancelled" && ev.AppointmentStatus != "invalid" &&
			ev.end.After(from) && ev.start.Before(to.Add(dur)) {
			booked = append(booked, ev)
		}
	}
	var out []time.Time
	// Walk the location's calendar days that can hold a slot of the range.
	first := from.In(l.tz)
	day := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, l.tz)
	for ; !day.After(to); day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, l.tz) {
		for _, t := range daySlots(cal, day, l.tz) {
			if t.Before(from) || t.After(to) || t.Before(now) {
				continue
			}
			end := t.Add(dur)
			if slices.ContainsFunc(booked, func(ev *Event) bool { return ev.start.Before(end) && ev.end.After(t) }) {
				continue
			}
			out = append(out, t)
		}
	}
	return out
}

func (s *Sandbox) opGetFreeSlots(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var p problems
	from, m1 := queryMillis(q, "startDate")
	to, m2 := queryMillis(q, "endDate")
	p.add(m1, m2)
	if m1 == "" && m2 == "" {
		switch {
		case to.Before(from):
			p.add("endDate must not be before startDate")
		case to.Sub(from) > maxFreeSlotRange:
			p.add("The date range between startDate and endDate cannot be more than 31 days")
		}
	}
	var out *time.Location
	if tz := q.Get("timezone"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			p.add("timezone must be a valid IANA time zone")
		}
		out = loc
	}
	if aerr := p.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	l.mu.RLock()
	cal := l.calendar(r.PathValue("calendarId"))
	if cal == nil {
		l.mu.RUnlock()
		writeError(w, errNotFound("Calendar not found"))
		return
	}
	users := append(q["userIds"], q["userId"]...)
	for _, u := range users {
		if u != "" && !slices.ContainsFunc(cal.TeamMembers, func(m TeamMember) bool { return m.UserID == u }) {
			l.mu.RUnlock()
			writeError(w, errUnprocessable("userId "+u+" is not a team member of this calendar"))
			return
		}
	}
	if out == nil {
		out = l.tz
	}
	slots := l.freeSlots(cal, from, to, s.now(), "")
	l.mu.RUnlock()
	days := map[string]map[string][]string{}
	for _, t := range slots {
		lt := t.In(out)
		k := lt.Format("2006-01-02")
		if days[k] == nil {
			days[k] = map[string][]string{"slots": {}}
		}
		days[k]["slots"] = append(days[k]["slots"], lt.Format(time.RFC3339))
	}
	writeJSON(w, http.StatusOK, days)
}

// opListEvents lists the events that touch the closed window [startTime,
// endTime]: an event is listed when it starts at or before endTime and ends
// at or after startTime, so an event starting exactly at endTime, or ending
// exactly at startTime, is in. The document (GET /calendars/events) says
// neither which ends count nor whether an event must start in the window or
// only overlap it; its example window ends on the last millisecond of a day
// (endTime 1680978599999 is 23:59:59.999 at +05:30), as the free-slots one
// does, so both read the same way here: inclusive at both ends, and the
// widest overlap. That is the stricter reading for a client, which must
// drop what lies outside the window it promised; the sandbox hands it every
// boundary case to drop.
func (s *Sandbox) opListEvents(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var p problems
	p.add(required("locationId", q.Get("locationId"))...)
	from, m1 := queryMillis(q, "startTime")
	to, m2 := queryMillis(q, "endTime")
	p.add(m1, m2)
	if q.Get("calendarId") == "" && q.Get("userId") == "" && q.Get("groupId") == "" {
		p.add("one of calendarId, userId or groupId should not be empty")
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
	if id := q.Get("calendarId"); id != "" && l.calendar(id) == nil {
		l.mu.RUnlock()
		writeError(w, errNotFound("Calendar not found"))
		return
	}
	out := []*Event{}
	groupOf := map[string]string{} // calendar id → group id, decoded once per calendar
	inGroup := func(calID string) bool {
		g, ok := groupOf[calID]
		if !ok {
			if cal := l.calendar(calID); cal != nil {
				g = cal.GroupID
			}
			groupOf[calID] = g
		}
		return g == q.Get("groupId")
	}
	for _, ev := range l.events {
		switch {
		case q.Get("calendarId") != "" && ev.CalendarID != q.Get("calendarId"),
			q.Get("userId") != "" && ev.AssignedUserID != q.Get("userId"),
			q.Get("groupId") != "" && !inGroup(ev.CalendarID),
			ev.start.After(to) || ev.end.Before(from):
			continue
		}
		out = append(out, ev)
	}
	slices.SortFunc(out, func(a, b *Event) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	b := marshal(map[string]any{"events": out})
	l.mu.RUnlock()
	writeBody(w, http.StatusOK, b)
}

// appointmentInput is the union of CreateAppointmentRequest and
// UpdateAppointmentRequest.
type appointmentInput struct {
	Title                    *string `json:"title"`
	MeetingLocationType      *string `json:"meetingLocationType"`
	MeetingLocationID        *string `json:"meetingLocationId"`
	OverrideLocationConfig   *bool   `json:"overrideLocationConfig"`
	AppointmentStatus        *string `json:"appointmentStatus"`
	AssignedUserID           *string `json:"assignedUserId"`
	Description              *string `json:"description"`
	Address                  *string `json:"address"`
	IgnoreDateRange          *bool   `json:"ignoreDateRange"`
	ToNotify                 *bool   `json:"toNotify"`
	IgnoreFreeSlotValidation *bool   `json:"ignoreFreeSlotValidation"`
	Rrule                    *string `json:"rrule"`
	CalendarID               *string `json:"calendarId"`
	LocationID               *string `json:"locationId"`
	ContactID                *string `json:"contactId"`
	StartTime                *string `json:"startTime"`
	EndTime                  *string `json:"endTime"`
}

var (
	appointmentStatuses  = []string{"new", "confirmed", "cancelled", "showed", "noshow", "invalid"}
	meetingLocationTypes = []string{"custom", "zoom", "gmeet", "phone", "address", "ms_teams", "google"}
)

func (in *appointmentInput) validate(create bool) problems {
	var p problems
	str := func(x *string) string {
		if x == nil {
			return ""
		}
		return *x
	}
	if create {
		p.add(required("calendarId", str(in.CalendarID), "locationId", str(in.LocationID), "contactId", str(in.ContactID), "startTime", str(in.StartTime))...)
	} else {
		if in.LocationID != nil {
			p.add("property locationId should not exist")
		}
		if in.ContactID != nil {
			p.add("property contactId should not exist")
		}
	}
	for name, v := range map[string]*string{"startTime": in.StartTime, "endTime": in.EndTime} {
		if v != nil && *v != "" {
			if _, err := time.Parse(time.RFC3339, *v); err != nil {
				p.add(name + " must be an ISO 8601 date-time with a UTC offset")
			}
		}
	}
	if in.AppointmentStatus != nil && !slices.Contains(appointmentStatuses, *in.AppointmentStatus) {
		p.add("appointmentStatus must be one of the following values: " + strings.Join(appointmentStatuses, ", "))
	}
	if in.MeetingLocationType != nil && !slices.Contains(meetingLocationTypes, *in.MeetingLocationType) {
		p.add("meetingLocationType must be one of the following values: " + strings.Join(meetingLocationTypes, ", "))
	}
	return p
}

// place applies the time, calendar and user members to ev and checks the
// slot, unless the request waives free-slot validation. Callers hold l.mu
// for writing.
func (l *locStore) place(ev *Event, in *appointmentInput, now time.Time) *apiError {
	if in.CalendarID != nil {
		ev.CalendarID = *in.CalendarID
	}
	cal := l.calendar(ev.CalendarID)
	if cal == nil {
		return errBadRequest("Calendar %s not found", ev.CalendarID)
	}
	dur := time.Duration(cal.SlotDuration) * unitOf(cal.SlotDurationUnit)
	if in.StartTime != nil {
		ev.start, _ = time.Parse(time.RFC3339, *in.StartTime)
		if in.EndTime == nil {
			ev.end = ev.start.Add(dur)
		}
	}
	if in.EndTime != nil {
		ev.end, _ = time.Parse(time.RFC3339, *in.EndTime)
	}
	if !ev.end.After(ev.start) {
		return errBadRequest("endTime must be after startTime")
	}
	if in.AssignedUserID != nil {
		ev.AssignedUserID = *in.AssignedUserID
	}
	if ev.AssignedUserID == "" {
		ev.AssignedUserID = cal.TeamMembers[0].UserID
	}
	if !slices.ContainsFunc(cal.TeamMembers, func(m TeamMember) bool { return m.UserID == ev.AssignedUserID }) {
		return errBadRequest("assignedUserId %s is not a team member of calendar %s", ev.AssignedUserID, cal.ID)
	}
	ev.Users = []string{ev.AssignedUserID}
	if in.IgnoreFreeSlotValidation == nil || !*in.IgnoreFreeSlotValidation {
		slots := l.freeSlots(cal, ev.start, ev.start, now, ev.ID)
		if len(slots) != 1 || !slots[0].Equal(ev.start) || !ev.end.Equal(ev.start.Add(dur)) {
			return errBadRequest("The slot you have selected is no longer available.")
		}
	}
	ev.StartTime, ev.EndTime = ev.start.In(l.tz).Format(time.RFC3339), ev.end.In(l.tz).Format(time.RFC3339)
	return nil
}

func (ev *Event) applyText(in *appointmentInput) {
	if in.Title != nil {
		ev.Title = *in.Title
	}
	if in.AppointmentStatus != nil {
		ev.AppointmentStatus = *in.AppointmentStatus
	}
	if in.Address != nil {
		ev.Address = *in.Address
	}
	if in.Description != nil {
		ev.Description = *in.Description
	}
	if in.MeetingLocationType != nil {
		ev.MeetingLocation = *in.MeetingLocationType
	}
	if in.Rrule != nil {
		ev.Rrule = *in.Rrule
		ev.IsRecurring = *in.Rrule != ""
	}
}

// appointmentView is the flat Appointment answer of create and update.
func appointmentView(ev *Event) map[string]any {
	mlt := ev.MeetingLocation
	if mlt == "" {
		mlt = "default"
	}
	m := map[string]any{
		"id": ev.ID, "calendarId": ev.CalendarID, "locationId": ev.LocationID, "contactId": ev.ContactID,
		"startTime": ev.StartTime, "endTime": ev.EndTime, "title": ev.Title, "meetingLocationType": mlt,
		"appointmentStatus": ev.AppointmentStatus, "assignedUserId": ev.AssignedUserID, "isRecurring": ev.IsRecurring,
	}
	if ev.Address != "" {
		m["address"] = ev.Address
	}
	if ev.Rrule != "" {
		m["rrule"] = ev.Rrule
	}
	return m
}

func (s *Sandbox) opCreateAppointment(w http.ResponseWriter, r *http.Request, c *call) {
	var in appointmentInput
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := in.validate(true).err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	l, aerr := s.locationStore(c, *in.LocationID)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	now := s.now()
	l.mu.Lock()
	ct, ok := l.contacts[*in.ContactID]
	if !ok {
		l.mu.Unlock()
		writeError(w, errBadRequest("Contact %s not found", *in.ContactID))
		return
	}
	ev := &Event{LocationID: l.id, ContactID: ct.ID, Title: "Appointment with " + ct.Name, AppointmentStatus: "confirmed",
		DateAdded: fmtTime(now), DateUpdated: fmtTime(now)}
	if cal := l.calendar(*in.CalendarID); cal != nil && !cal.AutoConfirm {
		ev.AppointmentStatus = "new"
	}
	if aerr := l.place(ev, &in, now); aerr != nil {
		l.mu.Unlock()
		writeError(w, aerr)
		return
	}
	ev.applyText(&in)
	ev.ID = l.newID()
	l.events[ev.ID] = ev
	b := marshal(appointmentView(ev))
	l.mu.Unlock()
	writeBody(w, http.StatusOK, b)
}

func (s *Sandbox) opGetAppointment(w http.ResponseWriter, r *http.Request, c *call) {
	l := s.tokenStore(c)
	l.mu.RLock()
	ev, ok := l.events[r.PathValue("eventId")]
	var b []byte
	if ok {
		b = marshal(map[string]any{"event": ev})
	}
	l.mu.RUnlock()
	if !ok {
		writeError(w, errNotFound("Appointment not found"))
		return
	}
	writeBody(w, http.StatusOK, b)
}

func (s *Sandbox) opUpdateAppointment(w http.ResponseWriter, r *http.Request, c *call) {
	var in appointmentInput
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := in.validate(false).err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	now := s.now()
	l.mu.Lock()
	old, ok := l.events[r.PathValue("eventId")]
	if !ok {
		l.mu.Unlock()
		writeError(w, errNotFound("Appointment not found"))
		return
	}
	ev := *old
	if in.StartTime != nil || in.EndTime != nil || in.CalendarID != nil || in.AssignedUserID != nil {
		if aerr := l.place(&ev, &in, now); aerr != nil {
			l.mu.Unlock()
			writeError(w, aerr)
			return
		}
	}
	ev.applyText(&in)
	ev.DateUpdated = fmtTime(now)
	l.events[ev.ID] = &ev
	b := marshal(appointmentView(&ev))
	l.mu.Unlock()
	writeBody(w, http.StatusOK, b)
}

func (s *Sandbox) opDeleteEvent(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct{}
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	l.mu.Lock()
	_, ok := l.events[r.PathValue("eventId")]
	delete(l.events, r.PathValue("eventId"))
	l.mu.Unlock()
	if !ok {
		writeError(w, errNotFound("Event not found"))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"succeeded": true})
}
