package sandbox

import "net/http"

// opGetLocation answers GET /locations/{locationId}: the location itself,
// from what the sandbox knows of it. A location token reads its own
// location only; a company token reads its company's.
func (s *Sandbox) opGetLocation(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("locationId")
	l, ok := s.loc(id)
	switch {
	case !ok:
		writeError(w, errNotFound("Location not found"))
		return
	case c.tok.kind == UserLocation:
		if err := c.ownLocation(id); err != nil {
			writeError(w, err)
			return
		}
	case l.companyID != c.tok.companyID:
		writeError(w, errForbidden(msgLocation))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"location": l.locationJSON()})
}
