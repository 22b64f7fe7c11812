package server

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hlgate/hlgate/gen/highlevel"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/jsonproto"
)

// HighLevel returns every calendar of a location, and every event of a
// window, at once (reference facts §7: no paging); hlgate pages those lists
// itself, at most 100 calendars or 500 events a page.
const (
	calendarsMaxPageSize = 100
	eventsMaxPageSize    = 500
)

type calendarsService struct {
	hlgatev1.UnimplementedCalendarsServiceServer
	s *Server
}

// keyCursor is the position sealed in a calendars or events page token:
// the sort key of the last record returned. A key rather than an offset,
// because HighLevel's full list is read again for every page and may have
// gained or lost records in between; a key keeps the walk from repeating
// or skipping the records that did not change.
type keyCursor struct {
	StartMs int64  `json:"t,omitempty"` // events: start of the last event, epoch ms
	ID      string `json:"i"`
}

// Windows. The proto promises half-open windows [start_time, end_time)
// for free slots and events alike, so that adjacent windows hand out every
// slot and every event start once. HighLevel's documents do not say which
// ends of startDate/endDate and startTime/endTime are inclusive; their
// examples end on the last millisecond of a day, which reads as inclusive
// (see sandbox opListEvents). hlgate therefore sends the window unchanged
// and drops what HighLevel returns outside it: the answer is the same under
// either reading.

func (c *calendarsService) GetFreeSlots(ctx context.Context, req *hlgatev1.GetFreeSlotsRequest) (*hlgatev1.GetFreeSlotsResponse, error) {
	var v violations
	v.id("location_id", req.GetLocationId())
	v.id("calendar_id", req.GetCalendarId())
	from := v.timestamp("start_time", req.GetStartTime())
	to := v.timestamp("end_time", req.GetEndTime())
	if !from.IsZero() && !to.IsZero() {
		switch {
		case !to.After(from):
			v.add("end_time", "must be after start_time")
		case to.Sub(from) > maxFreeSlotsRange:
			v.add("end_time", "must be at most 31 days after start_time (HighLevel's limit)")
		}
	}
	v.timeZone("time_zone", req.GetTimeZone())
	for i, u := range req.GetUserIds() {
		v.id("user_ids["+strconv.Itoa(i)+"]", u)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	params := &highlevel.GetSlotsParams{
		StartDate: from.UnixMilli(), EndDate: to.UnixMilli(), Timezone: optStr(req.GetTimeZone()),
	}
	if len(req.GetUserIds()) > 0 {
		users := slices.Clone(req.GetUserIds())
		params.UserIds = &users
	}
	resp, err := c.s.hl.GetSlotsWithResponse(upstreamCtx(ctx, req.GetLocationId()), req.GetCalendarId(), params)
	if err != nil {
		return nil, err
	}
	if resp.JSON200 == nil {
		return nil, errMissingBody
	}
	days, err := freeSlotsFromHL(*resp.JSON200)
	if err != nil {
		return nil, fmt.Errorf("calendar %s: %w", req.GetCalendarId(), err)
	}
	return &hlgatev1.GetFreeSlotsResponse{Days: slotsInWindow(days, from, to)}, nil
}

func (c *calendarsService) ListEvents(ctx context.Context, req *hlgatev1.ListEventsRequest) (*hlgatev1.ListEventsResponse, error) {
	size, err := pageSize(req.GetPageSize(), defaultPageSize, eventsMaxPageSize)
	if err != nil {
		return nil, err
	}
	var v violations
	v.id("location_id", req.GetLocationId())
	from := v.timestamp("start_time", req.GetStartTime())
	to := v.timestamp("end_time", req.GetEndTime())
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		v.add("end_time", "must be after start_time")
	}
	params := &highlevel.GetCalendarEventsParams{
		LocationID: req.GetLocationId(),
		StartTime:  strconv.FormatInt(from.UnixMilli(), 10),
		EndTime:    strconv.FormatInt(to.UnixMilli(), 10),
	}
	switch o := req.GetOwner().(type) {
	case *hlgatev1.ListEventsRequest_CalendarId:
		v.id("calendar_id", o.CalendarId)
		params.CalendarID = &o.CalendarId
	case *hlgatev1.ListEventsRequest_UserId:
		v.id("user_id", o.UserId)
		params.UserID = &o.UserId
	case *hlgatev1.ListEventsRequest_GroupId:
		v.id("group_id", o.GroupId)
		params.GroupID = &o.GroupId
	default:
		v.add("calendar_id", "one of calendar_id, user_id or group_id is required")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	var cur keyCursor
	if req.GetPageToken() != "" {
		if err := c.s.pages.open(hlgatev1.CalendarsService_ListEvents_FullMethodName, req.GetPageToken(), req, &cur); err != nil {
			return nil, err
		}
	}
	// The events are decoded without loss, like GetAppointment's answer;
	// only the window and the order are hlgate's.
	raw, err := readUpstream(c.s.hl.GetCalendarEvents(upstreamCtx(ctx, req.GetLocationId()), params))
	if err != nil {
		return nil, err
	}
	obj, err := answerObject(raw)
	if err != nil {
		return nil, fmt.Errorf("decode HighLevel's answer to get-calendar-events: %w", err)
	}
	var all hlgatev1.ListEventsResponse
	c.s.countUnmapped(ctx, jsonproto.DecodeMap(obj, &all))
	m := all.ProtoReflect()
	if err := checkItemsLocation(req.GetLocationId(), m.Get(m.Descriptor().Fields().ByName("events")).List()); err != nil {
		return nil, err
	}
	events := slices.DeleteFunc(all.GetEvents(), func(a *hlgatev1.Appointment) bool { return !eventInWindow(a, from, to) })
	// The proto promises start-time order; ids break ties so that the
	// order, and with it the page key, is total.
	key := func(a *hlgatev1.Appointment) keyCursor {
		return keyCursor{StartMs: a.GetStartTime().AsTime().UnixMilli(), ID: a.GetId()}
	}
	cmpKey := func(a, b keyCursor) int {
		if a.StartMs != b.StartMs {
			if a.StartMs < b.StartMs {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	}
	slices.SortFunc(events, func(a, b *hlgatev1.Appointment) int { return cmpKey(key(a), key(b)) })
	start := 0
	if cur.ID != "" {
		start = len(events)
		for i, e := range events {
			if cmpKey(key(e), cur) > 0 {
				start = i
				break
			}
		}
	}
	end := min(start+size, len(events))
	out := &hlgatev1.ListEventsResponse{Events: events[start:end]}
	if end < len(events) && end > start {
		tok, err := c.s.pages.seal(hlgatev1.CalendarsService_ListEvents_FullMethodName, req, key(events[end-1]))
		if err != nil {
			return nil, err
		}
		out.NextPageToken = tok
	}
	return out, nil
}
