package server

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hlgate/hlgate/gen/highlevel"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// maxFreeSlotsRange is HighLevel's limit on a free-slots window (reference
// facts §5: "Date range cannot be more than 31 days"); hlgate refuses a
// longer window itself instead of spending a quota slot on a 400.
const maxFreeSlotsRange = 31 * 24 * time.Hour

// appointmentStatuses maps HighLevel's appointmentStatus strings. "active"
// and "completed" appear in responses only; appointmentStatusWritable says
// which a write may send (api/openapi.yaml CreateAppointmentRequest).
var appointmentStatuses = map[string]hlgatev1.AppointmentStatus{
	"new":       hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_NEW,
	"confirmed": hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_CONFIRMED,
	"cancelled": hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED,
	"showed":    hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_SHOWED,
	"noshow":    hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_NOSHOW,
	"invalid":   hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_INVALID,
	"active":    hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_ACTIVE,
	"completed": hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_COMPLETED,
}

var appointmentStatusWritable = map[hlgatev1.AppointmentStatus]string{
	hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_NEW:       "new",
	hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_CONFIRMED: "confirmed",
	hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED: "cancelled",
	hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_SHOWED:    "showed",
	hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_NOSHOW:    "noshow",
	hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_INVALID:   "invalid",
}

var meetingLocationTypes = map[string]hlgatev1.MeetingLocationType{
	"custom":   hlgatev1.MeetingLocationType_MEETING_LOCATION_TYPE_CUSTOM,
	"zoom":     hlgatev1.MeetingLocationType_MEETING_LOCATION_TYPE_ZOOM,
	"gmeet":    hlgatev1.MeetingLocationType_MEETING_LOCATION_TYPE_GMEET,
	"phone":    hlgatev1.MeetingLocationType_MEETING_LOCATION_TYPE_PHONE,
	"address":  hlgatev1.MeetingLocationType_MEETING_LOCATION_TYPE_ADDRESS,
	"ms_teams": hlgatev1.MeetingLocationType_MEETING_LOCATION_TYPE_MS_TEAMS,
	"google":   hlgatev1.MeetingLocationType_MEETING_LOCATION_TYPE_GOOGLE,
}

func meetingLocationTypeToHL(t hlgatev1.MeetingLocationType) (string, bool) {
	for s, v := range meetingLocationTypes {
		if v == t {
			return s, true
		}
	}
	return "", false
}

// appointmentFromEvent converts a calendar event (GET
// /calendars/events/appointments/{eventId}, GET /calendars/events).
func appointmentFromEvent(e *highlevel.CalendarEvent) *hlgatev1.Appointment {
	if e == nil {
		return nil
	}
	out := &hlgatev1.Appointment{
		Id:                e.ID,
		LocationId:        e.LocationID,
		CalendarId:        e.CalendarID,
		ContactId:         e.ContactID,
		GroupId:           e.GroupID,
		Title:             e.Title,
		AppointmentStatus: appointmentStatuses[e.AppointmentStatus],
		AssignedUserId:    e.AssignedUserID,
		Users:             e.Users,
		Notes:             str(e.Notes),
		Description:       str(e.Description),
		Address:           str(e.Address),
		IsRecurring:       boolean(e.IsRecurring),
		Rrule:             str(e.Rrule),
		StartTime:         upstreamTime(e.StartTime),
		EndTime:           upstreamTime(e.EndTime),
		DateAdded:         upstreamTime(e.DateAdded),
		DateUpdated:       upstreamTime(e.DateUpdated),
		MasterEventId:     str(e.MasterEventID),
		AssignedResources: strs(e.AssignedResources),
	}
	if e.CreatedBy != nil {
		out.CreatedBy = &hlgatev1.EventCreator{UserId: str(e.CreatedBy.UserID), Source: e.CreatedBy.Source}
	}
	return out
}

// appointmentFromHL converts the flat appointment that create and update
// return (reference facts §5: not wrapped, fewer members than an event).
// HighLevel answers meetingLocationType "default" when none was chosen; it
// is not a type a caller can send, so it reads as unspecified.
func appointmentFromHL(a *highlevel.Appointment) *hlgatev1.Appointment {
	if a == nil {
		return nil
	}
	out := &hlgatev1.Appointment{
		Id:             a.ID,
		LocationId:     a.LocationID,
		CalendarId:     a.CalendarID,
		ContactId:      a.ContactID,
		Title:          str(a.Title),
		AssignedUserId: str(a.AssignedUserID),
		Address:        str(a.Address),
		IsRecurring:    boolean(a.IsRecurring),
		Rrule:          str(a.Rrule),
		StartTime:      upstreamTimePtr(a.StartTime),
		EndTime:        upstreamTimePtr(a.EndTime),
	}
	if a.AppointmentStatus != nil {
		out.AppointmentStatus = appointmentStatuses[string(*a.AppointmentStatus)]
	}
	if a.MeetingLocationType != nil {
		out.MeetingLocationType = meetingLocationTypes[*a.MeetingLocationType]
	}
	return out
}

// freeSlotsFromHL turns HighLevel's object keyed by day into days in date
// order, each with its slot starts in time order. A key that is not a
// "YYYY-MM-DD" day (such as a traceId some responses carry) is not a day
// and is skipped; a slot that is not a time is an error, because dropping
// it would hide a free slot from the caller.
func freeSlotsFromHL(r highlevel.FreeSlotsResult) ([]*hlgatev1.FreeSlotDay, error) {
	days := make([]string, 0, len(r))
	for k := range r {
		if _, err := time.Parse(time.DateOnly, k); err == nil {
			days = append(days, k)
		}
	}
	slices.Sort(days)
	out := make([]*hlgatev1.FreeSlotDay, 0, len(days))
	for _, d := range days {
		day := &hlgatev1.FreeSlotDay{Date: d, Slots: make([]*timestamppb.Timestamp, 0, len(r[d].Slots))}
		for _, s := range r[d].Slots {
			ts := upstreamTime(s)
			if ts == nil {
				return nil, fmt.Errorf("free slot %q of %s is not a time", s, d)
			}
			day.Slots = append(day.Slots, ts)
		}
		slices.SortFunc(day.Slots, func(a, b *timestamppb.Timestamp) int { return a.AsTime().Compare(b.AsTime()) })
		if len(day.Slots) > 0 {
			out = append(out, day)
		}
	}
	return out, nil
}

// slotsInWindow keeps the slots that start in the half-open window [from,
// to) and the days that still have one: HighLevel may also return the slot
// starting exactly at endDate (see GetFreeSlots).
func slotsInWindow(days []*hlgatev1.FreeSlotDay, from, to time.Time) []*hlgatev1.FreeSlotDay {
	out := days[:0]
	for _, d := range days {
		d.Slots = slices.DeleteFunc(d.Slots, func(s *timestamppb.Timestamp) bool {
			at := s.AsTime()
			return at.Before(from) || !at.Before(to)
		})
		if len(d.Slots) > 0 {
			out = append(out, d)
		}
	}
	return out
}

// eventInWindow reports whether an event overlaps the half-open window
// [from, to): it starts before to and ends after from, or, having no
// length, starts at from. A time HighLevel sent in a form hlgate cannot read
// (nil here) does not exclude the event, so no event is lost to it.
func eventInWindow(a *hlgatev1.Appointment, from, to time.Time) bool {
	start, end := a.GetStartTime(), a.GetEndTime()
	if start != nil && !start.AsTime().Before(to) {
		return false
	}
	if end != nil && !end.AsTime().After(from) {
		return start != nil && start.AsTime().Equal(from) && end.AsTime().Equal(from)
	}
	return true
}

// appointmentBody is the union of HighLevel's create and update appointment
// bodies; the setters fill it and it is transcoded into either.
type appointmentBody struct {
	CalendarID               *string `json:"calendarId,omitempty"`
	LocationID               *string `json:"locationId,omitempty"`
	ContactID                *string `json:"contactId,omitempty"`
	StartTime                *string `json:"startTime,omitempty"`
	EndTime                  *string `json:"endTime,omitempty"`
	Title                    *string `json:"title,omitempty"`
	AppointmentStatus        *string `json:"appointmentStatus,omitempty"`
	AssignedUserID           *string `json:"assignedUserId,omitempty"`
	Description              *string `json:"description,omitempty"`
	Address                  *string `json:"address,omitempty"`
	MeetingLocationType      *string `json:"meetingLocationType,omitempty"`
	MeetingLocationID        *string `json:"meetingLocationId,omitempty"`
	Rrule                    *string `json:"rrule,omitempty"`
	IgnoreDateRange          *bool   `json:"ignoreDateRange,omitempty"`
	IgnoreFreeSlotValidation *bool   `json:"ignoreFreeSlotValidation,omitempty"`
	ToNotify                 *bool   `json:"toNotify,omitempty"`
	OverrideLocationConfig   *bool   `json:"overrideLocationConfig,omitempty"`
}

type appointmentSetter func(a *hlgatev1.Appointment, b *appointmentBody, v *violations)

// appointmentSetters write one hlgate.v1 Appointment field into the body,
// checking it; these are the paths UpdateAppointment supports.
var appointmentSetters = map[string]appointmentSetter{
	"calendar_id": func(a *hlgatev1.Appointment, b *appointmentBody, v *violations) {
		v.id("appointment.calendar_id", a.GetCalendarId())
		b.CalendarID = &a.CalendarId
	},
	"title":       func(a *hlgatev1.Appointment, b *appointmentBody, _ *violations) { b.Title = &a.Title },
	"description": func(a *hlgatev1.Appointment, b *appointmentBody, _ *violations) { b.Description = &a.Description },
	"address":     func(a *hlgatev1.Appointment, b *appointmentBody, _ *violations) { b.Address = &a.Address },
	"rrule": func(a *hlgatev1.Appointment, b *appointmentBody, v *violations) {
		if a.GetRrule() != "" && !strings.HasPrefix(a.GetRrule(), "RRULE:") {
			v.add("appointment.rrule", "must be an RFC 5545 rule such as RRULE:FREQ=DAILY;COUNT=5")
		}
		b.Rrule = &a.Rrule
	},
	"meeting_location_id": func(a *hlgatev1.Appointment, b *appointmentBody, _ *violations) {
		b.MeetingLocationID = &a.MeetingLocationId
	},
	"assigned_user_id": func(a *hlgatev1.Appointment, b *appointmentBody, v *violations) {
		v.id("appointment.assigned_user_id", a.GetAssignedUserId())
		b.AssignedUserID = &a.AssignedUserId
	},
	"appointment_status": func(a *hlgatev1.Appointment, b *appointmentBody, v *violations) {
		s, ok := appointmentStatusWritable[a.GetAppointmentStatus()]
		if !ok {
			v.add("appointment.appointment_status", "must be NEW, CONFIRMED, CANCELLED, SHOWED, NOSHOW or INVALID (HighLevel sets ACTIVE and COMPLETED itself)")
			return
		}
		b.AppointmentStatus = &s
	},
	"meeting_location_type": func(a *hlgatev1.Appointment, b *appointmentBody, v *violations) {
		s, ok := meetingLocationTypeToHL(a.GetMeetingLocationType())
		if !ok {
			v.add("appointment.meeting_location_type", "must be a meeting location type (CUSTOM, ZOOM, GMEET, PHONE, ADDRESS, MS_TEAMS or GOOGLE)")
			return
		}
		b.MeetingLocationType = &s
	},
	"start_time": func(a *hlgatev1.Appointment, b *appointmentBody, v *violations) {
		if !wholeSecond(v, "appointment.start_time", a.GetStartTime()) {
			return
		}
		s := rfc3339(a.GetStartTime())
		b.StartTime = &s
	},
	"end_time": func(a *hlgatev1.Appointment, b *appointmentBody, v *violations) {
		if !wholeSecond(v, "appointment.end_time", a.GetEndTime()) {
			return
		}
		s := rfc3339(a.GetEndTime())
		b.EndTime = &s
	},
}

// wholeSecond checks a required appointment time. HighLevel's write bodies
// take ISO-8601 times to the second, so a fraction would be cut off
// silently; it is refused instead.
func wholeSecond(v *violations, field string, ts *timestamppb.Timestamp) bool {
	if v.timestamp(field, ts).IsZero() {
		return false
	}
	if ts.GetNanos() != 0 {
		v.add(field, "must be a whole second (HighLevel takes appointment times to the second)")
		return false
	}
	return true
}

// appointmentOutputOnly are Appointment fields HighLevel sets; a write
// ignores them.
var appointmentOutputOnly = map[string]bool{
	"id": true, "location_id": true, "group_id": true, "users": true, "notes": true, "is_recurring": true,
	"date_added": true, "date_updated": true, "master_event_id": true, "assigned_resources": true, "created_by": true,
}

// appointmentWriteBody validates a's fields named by paths and builds the
// body. explicit is true when paths come from a caller's update_mask; then
// every path must be a supported one. create allows contact_id, which only
// a create may set.
func appointmentWriteBody(a *hlgatev1.Appointment, paths []string, explicit, create bool, v *violations) appointmentBody {
	var b appointmentBody
	if a == nil {
		v.add("appointment", "is required")
		return b
	}
	for _, p := range paths {
		p = strings.TrimSpace(p)
		set, ok := appointmentSetters[p]
		switch {
		case ok:
			set(a, &b, v)
		case p == "contact_id" && create:
			v.id("appointment.contact_id", a.GetContactId())
			b.ContactID = &a.ContactId
		case p == "contact_id" && explicit:
			v.add("update_mask", "%q cannot be changed: HighLevel cannot move an appointment to another contact", p)
		case p == "contact_id":
			// An update without a mask writes the supported fields that
			// are set; contact_id, read back from GetAppointment, is not one.
		case appointmentOutputOnly[p]:
			// Output-only fields are ignored, named in a mask or not.
		default:
			v.add("update_mask", "%q is not an appointment field that can be written", p)
		}
	}
	if b.StartTime != nil && b.EndTime != nil && !a.GetEndTime().AsTime().After(a.GetStartTime().AsTime()) {
		v.add("appointment.end_time", "must be after start_time")
	}
	return b
}

// setFlag sets an optional upstream flag only when the caller set it.
func setFlag(dst **bool, src *bool) {
	if src != nil {
		x := *src
		*dst = &x
	}
}
