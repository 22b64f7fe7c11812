package sandbox

import (
	"encoding/json"
	"net/http"
	"slices"
)

// Calendar operations that change or read a document the engine stores
// (a group, a schedule) rather than a collection of their own: the engine
// cannot serve them, so they are written here over the engine's documents.

const (
	collGroups    = "/calendars/groups"
	collSchedules = "/calendars/schedules"
)

// opGroupStatus answers PUT /calendars/groups/{groupId}/status: the group's
// isActive is set.
func (s *Sandbox) opGroupStatus(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		IsActive *bool `json:"isActive"`
	}
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	if in.IsActive == nil {
		writeError(w, errUnprocessable("isActive must be a boolean value"))
		return
	}
	_, aerr := s.editDoc(c, collGroups, r.PathValue("groupId"), "Group", func(_ *locStore, doc map[string]any) *apiError {
		doc["isActive"] = *in.IsActive
		return nil
	})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}

// opValidateGroupSlug answers POST /calendars/groups/validate-slug: a slug
// is available when no group of the location has it.
func (s *Sandbox) opValidateGroupSlug(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		LocationID string `json:"locationId"`
		Slug       string `json:"slug"`
	}
	if aerr := decodeBody(r, &in); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := c.ownLocation(in.LocationID); aerr != nil {
		writeError(w, aerr)
		return
	}
	l := s.tokenStore(c)
	l.mu.RLock()
	groups := l.coll(collGroups, false).list()
	l.mu.RUnlock()
	available := true
	for _, g := range groups {
		var doc struct {
			Slug string `json:"slug"`
		}
		if json.Unmarshal(g, &doc) == nil && doc.Slug == in.Slug {
			available = false
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"available": available})
}

// scheduleCalendar answers PUT and DELETE
// /calendars/schedules/{id}/associations/{calendarId}: the calendar joins
// (add) or leaves the schedule's calendarIds. Both must exist; adding a
// calendar twice, or removing one the schedule does not have, is refused
// (the document does not say; the stricter reading).
func scheduleCalendar(add bool) handlerFunc {
	return func(s *Sandbox, w http.ResponseWriter, r *http.Request, c *call) {
		calendarID := r.PathValue("calendarId")
		_, aerr := s.editDoc(c, collSchedules, r.PathValue("id"), "Schedule", func(l *locStore, doc map[string]any) *apiError {
			if _, ok := l.doc(collCalendars, calendarID); !ok {
				return errNotFound("Calendar not found")
			}
			var ids []string
			if raw, ok := doc["calendarIds"].([]any); ok {
				for _, v := range raw {
					if id, ok := v.(string); ok {
						ids = append(ids, id)
					}
				}
			}
			has := slices.Contains(ids, calendarID)
			switch {
			case add && has:
				return errBadRequest("Calendar is already associated with the schedule")
			case !add && !has:
				return errNotFound("Calendar is not associated with the schedule")
			case add:
				ids = append(ids, calendarID)
			default:
				ids = slices.DeleteFunc(ids, func(id string) bool { return id == calendarID })
			}
			doc["calendarIds"] = ids
			return nil
		})
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"success": true})
	}
}
