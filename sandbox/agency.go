package sandbox

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The agency's operations on its locations, with a company token: search,
// create and change. A location created here is a location like the
// seeded ones (no records yet): a token minted for it works at once.

// agencyCall checks that a company token calls for its own company: the
// company the request names must be the token's.
func agencyCall(c *call, companyID string) *apiError {
	if c.tok.kind != UserCompany {
		return errUnauthorized(msgKind)
	}
	if companyID != c.tok.companyID {
		return errForbidden("The token does not have access to this company.")
	}
	return nil
}

// locationJSON is a location as the locations document answers it
// (GetLocationSchema, CreateLocationSuccessfulResponseDto).
func (l *locStore) locationJSON() map[string]any {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return map[string]any{"id": l.id, "companyId": l.companyID, "name": l.name, "address": l.address, "timezone": l.tz.String()}
}

// opSearchLocations answers GET /locations/search: the company's locations,
// in creation order (order=desc reverses it), skip and limit applied, or
// the one whose email is given. A location token reads only its own.
func (s *Sandbox) opSearchLocations(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	skip, e1 := intParam(q, "skip", 0, 0, 1<<30)
	limit, e2 := intParam(q, "limit", 10, 1, 1000)
	if err := errors.Join(e1, e2); err != nil {
		writeError(w, errUnprocessable(err.Error()))
		return
	}
	var ids []string
	switch c.tok.kind {
	case UserCompany:
		if aerr := agencyCall(c, q.Get("companyId")); q.Get("companyId") != "" && aerr != nil {
			writeError(w, aerr)
			return
		}
		ids = s.companyLocationIDs()
	default:
		ids = []string{c.tok.locationID}
	}
	if q.Get("order") == "desc" {
		slices.Reverse(ids)
	}
	out := []map[string]any{}
	for _, id := range ids {
		if l, ok := s.loc(id); ok && l.companyID == c.tok.companyID {
			if e := q.Get("email"); e != "" {
				continue // the sandbox's locations have no email: none matches
			}
			out = append(out, l.locationJSON())
		}
	}
	out = out[min(skip, len(out)):]
	out = out[:min(limit, len(out))]
	writeJSON(w, http.StatusOK, map[string]any{"locations": out})
}

// locationInput is what a create or an update of a location sets.
type locationInput struct {
	Name      *string `json:"name"`
	CompanyID string  `json:"companyId"`
	Address   *string `json:"address"`
	Timezone  *string `json:"timezone"`
}

// decodeLocation reads a create's or an update's body: the members the
// sandbox keeps; the document's others are accepted and not stored.
func decodeLocation(r *http.Request, c *call) (*locationInput, *apiError) {
	var raw map[string]any
	if aerr := decodeBody(r, &raw); aerr != nil {
		return nil, aerr
	}
	in := &locationInput{}
	in.CompanyID, _ = raw["companyId"].(string)
	if aerr := agencyCall(c, in.CompanyID); aerr != nil {
		return nil, aerr
	}
	for k, dst := range map[string]**string{"name": &in.Name, "address": &in.Address, "timezone": &in.Timezone} {
		if v, ok := raw[k].(string); ok {
			*dst = &v
		}
	}
	if in.Timezone != nil {
		if _, err := time.LoadLocation(*in.Timezone); err != nil {
			return nil, errUnprocessable("timezone must be an IANA time zone")
		}
	}
	return in, nil
}

// opCreateLocation answers POST /locations/: a new location of the
// company, without records.
func (s *Sandbox) opCreateLocation(w http.ResponseWriter, r *http.Request, c *call) {
	in, aerr := decodeLocation(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		writeError(w, errUnprocessable("name should not be empty"))
		return
	}
	tz := "UTC"
	if in.Timezone != nil {
		tz = *in.Timezone
	}
	s.dataMu.Lock()
	n := len(s.createdLocs) + 1
	s.dataMu.Unlock()
	id := fmt.Sprintf("SbxLocation%09d", n)
	l := s.seedLocation(id, 2+n, strings.TrimSpace(*in.Name), deref(in.Address), tz, 0, 0, 0, 0)
	s.dataMu.Lock()
	s.locs[id] = l
	s.createdLocs = append(s.createdLocs, id)
	s.dataMu.Unlock()
	writeJSON(w, http.StatusOK, l.locationJSON())
}

// opPutLocation answers PUT /locations/{locationId}: the company's
// location gets the sent name and address (its time zone stays).
func (s *Sandbox) opPutLocation(w http.ResponseWriter, r *http.Request, c *call) {
	in, aerr := decodeLocation(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	l, ok := s.loc(r.PathValue("locationId"))
	if !ok || l.companyID != in.CompanyID {
		writeError(w, errNotFound("Location not found"))
		return
	}
	if in.Timezone != nil && *in.Timezone != l.tz.String() {
		// Slots and events read a location's zone without a lock: the
		// sandbox keeps it fixed once the location exists.
		writeError(w, errUnprocessable("the sandbox does not change a location's timezone"))
		return
	}
	l.mu.Lock() // name, address and tz are read under mu (locationJSON, label)
	if in.Name != nil {
		l.name = *in.Name
	}
	if in.Address != nil {
		l.address = *in.Address
	}
	l.mu.Unlock()
	writeJSON(w, http.StatusOK, l.locationJSON())
}

// label is the location's name and address, which an agency may change.
func (l *locStore) label() (name, address string) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.name, l.address
}
