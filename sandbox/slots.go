package sandbox

import "time"

// daySlots lists the slot starts a calendar's working hours offer on one
// calendar day of the location's time zone, before bookings are taken out.
// Hours are wall-clock times of that zone, so a day on which daylight
// saving time starts or ends still opens at the same local hour; its slots
// are just an hour further apart or closer in absolute time.
func daySlots(cal *Calendar, day time.Time, tz *time.Location) []time.Time {
	y, m, d := day.In(tz).Date()
	wd := int(time.Date(y, m, d, 12, 0, 0, 0, tz).Weekday())
	dur := time.Duration(cal.SlotDuration) * unitOf(cal.SlotDurationUnit)
	step := time.Duration(cal.SlotInterval) * unitOf(cal.SlotIntervalUnit)
	if dur <= 0 || step <= 0 {
		return nil
	}
	var out []time.Time
	for _, oh := range cal.OpenHours {
		open := false
		for _, x := range oh.DaysOfTheWeek {
			open = open || x == wd
		}
		if !open {
			continue
		}
		for _, h := range oh.Hours {
			start := time.Date(y, m, d, h.OpenHour, h.OpenMinute, 0, 0, tz)
			end := time.Date(y, m, d, h.CloseHour, h.CloseMinute, 0, 0, tz)
			for t := start; !t.Add(dur).After(end); t = t.Add(step) {
				out = append(out, t)
			}
		}
	}
	return out
}

func unitOf(u string) time.Duration {
	if u == "hours" {
		return time.Hour
	}
	return time.Minute
}
