package sandbox

import (
	"fmt"
	"net/http"
	"strings"
)

// resourceRouter finds the operation a resource request calls among the
// documents' path templates. The documents' paths overlap where ServeMux
// refuses them (GET /calendars/schedules/{id} and GET
// /calendars/{calendarId}/free-slots both match
// /calendars/schedules/free-slots), so the sandbox matches them itself:
// segment by segment, the template with a literal segment where the other
// has a parameter wins, leftmost first. A trailing slash is part of a
// template (POST /contacts/ is not POST /contacts).
type resourceRouter struct {
	byMethod map[string][]pathRoute
}

// pathRoute is one template and its route.
type pathRoute struct {
	segs []string
	rt   *route
}

func newResourceRouter() *resourceRouter {
	return &resourceRouter{byMethod: map[string][]pathRoute{}}
}

func splitPath(p string) []string { return strings.Split(strings.TrimPrefix(p, "/"), "/") }

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

// add registers rt; the same method and template twice is an error.
func (rr *resourceRouter) add(rt *route) error {
	segs := splitPath(rt.path)
	for _, o := range rr.byMethod[rt.method] {
		if o.rt.path == rt.path {
			return fmt.Errorf("%s %s is declared by %s and %s", rt.method, rt.path, o.rt.operationID, rt.operationID)
		}
	}
	rr.byMethod[rt.method] = append(rr.byMethod[rt.method], pathRoute{segs: segs, rt: rt})
	return nil
}

// find returns the route of a request and its path parameters; known says
// whether another method serves the path (so the answer is 405, not 404).
func (rr *resourceRouter) find(method, path string) (rt *route, params map[string]string, known bool) {
	segs := splitPath(path)
	var best *pathRoute
	for m, routes := range rr.byMethod {
		for i := range routes {
			pr := &routes[i]
			if !matches(pr.segs, segs) {
				continue
			}
			if m != method {
				known = true
				continue
			}
			if best == nil || moreSpecific(pr.segs, best.segs) {
				best = pr
			}
		}
	}
	if best == nil {
		return nil, nil, known
	}
	params = map[string]string{}
	for i, s := range best.segs {
		if isParam(s) {
			params[s[1:len(s)-1]] = segs[i]
		}
	}
	return best.rt, params, true
}

func matches(tmpl, segs []string) bool {
	if len(tmpl) != len(segs) {
		return false
	}
	for i, t := range tmpl {
		if isParam(t) {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if t != segs[i] {
			return false
		}
	}
	return true
}

// moreSpecific reports whether template a wins over b for a path both
// match: at the first segment where one is literal and the other a
// parameter, the literal wins.
func moreSpecific(a, b []string) bool {
	for i := range a {
		if pa, pb := isParam(a[i]), isParam(b[i]); pa != pb {
			return !pa
		}
	}
	return false
}

// serveRouted serves a resource request through the router: HighLevel's
// 404 for a path no operation has, 405 for a method the path lacks.
func (s *Sandbox) serveRouted(w http.ResponseWriter, r *http.Request) {
	rt, params, known := s.router.find(r.Method, r.URL.Path)
	switch {
	case rt != nil:
		for k, v := range params {
			r.SetPathValue(k, v)
		}
		s.serveResource(rt, w, r)
	case known:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"statusCode": http.StatusMethodNotAllowed, "message": "Cannot " + r.Method + " " + r.URL.Path})
	default:
		writeError(w, errNotFound("Cannot %s %s", r.Method, r.URL.Path))
	}
}
