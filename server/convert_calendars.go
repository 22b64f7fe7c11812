package server

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hlgate/hlgate/gen/highlevel"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// maxFreeSlotsRange is HighLevel's limit on a free-slots window (reference
// facts §5: "Date range cannot be more than 31 days"); hlgate refuses a
// longer window itself instead of spending a quota slot on a 400.
const maxFreeSlotsRange = 31 * 24 * time.Hour

// freeSlotsFromHL turns HighLevel's object keyed by day into days in date
// order, each with its slot starts in time order. A key that is not a
// "YYYY-MM-DD" day (such as a traceId some responses carry) is not a day
// and is skipped; a slot that is not a time is an error, because dropping
// it would hide a free slot from the caller.
func freeSlotsFromHL(r map[string]highlevel.SlotsSchema) ([]*hlgatev1.FreeSlotDay, error) {
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
