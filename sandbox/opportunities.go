package sandbox

import (
	"net/http"
)

// locationStore returns the store of a location named by the request,
// which must be the token's own (403 otherwise, whether it exists or not).
func (s *Sandbox) locationStore(c *call, id string) (*locStore, *apiError) {
	if aerr := c.ownLocation(id); aerr != nil {
		return nil, aerr
	}
	l, ok := s.loc(id)
	if !ok {
		return nil, errForbidden(msgLocation)
	}
	return l, nil
}

// tokenStore returns the store of the token's own location: operations
// addressed by a record id look there only, so another location's ids are
// simply not found.
func (s *Sandbox) tokenStore(c *call) *locStore {
	l, _ := s.loc(c.tok.locationID)
	return l
}

func (s *Sandbox) opListPipelines(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.URL.Query().Get("locationId")
	if id == "" {
		writeError(w, errUnprocessable("locationId should not be empty"))
		return
	}
	l, aerr := s.locationStore(c, id)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"pipelines": l.pipelines})
}
