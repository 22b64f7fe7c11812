package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// gatewayService is one service's REST handlers and its descriptor, whose
// google.api.http rules say which paths it serves.
type gatewayService struct {
	desc     protoreflect.ServiceDescriptor
	register func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
}

// routeGroups serves the REST gateway through one grpc-gateway mux per
// route group (see routeKey) instead of one for every service. A
// grpc-gateway mux tries the patterns of its method one by one, with two
// allocations per pattern tried, so with every product on one mux a call
// paid for the hundreds of routes registered before its own; here it pays
// for its group's (at most a few dozen). A path whose group no route has
// goes to the mux of every service, so its 404 or 405 is the gateway's
// own, as before.
type routeGroups struct {
	groups map[routeKey]http.Handler
	all    http.Handler
}

func (g *routeGroups) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The gateway splits the path as sent (with %2F in a segment), so the
	// group is read from the same form.
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	if k, ok := routeKeyOf(path); ok {
		if h, ok := g.groups[k]; ok {
			h.ServeHTTP(w, r)
			return
		}
	}
	g.all.ServeHTTP(w, r)
}

// routeKey is the part of a path (a request's or a route template's)
// that tells the products apart: the first segment after /v1/ ("tokens"
// for /v1/tokens:import), and for a path under one location or company
// (under) the collection after it ("contacts" for
// /v1/locations/{location_id}/contacts/{contact_id} and
// /v1/locations/{location_id}/contacts:search; none for
// /v1/locations/{location_id}). A custom verb is not part of it. Its
// strings are cut from the path, so reading it allocates nothing.
type routeKey struct {
	top, coll string
	under     bool
}

// routeKeyOf is the routeKey of a path, false for one outside /v1/.
func routeKeyOf(path string) (routeKey, bool) {
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return routeKey{}, false
	}
	var k routeKey
	seg, rest, more := strings.Cut(rest, "/")
	k.top, _, _ = strings.Cut(seg, ":")
	if more && (k.top == "locations" || k.top == "companies") {
		k.under = true
		if _, rest, more = strings.Cut(rest, "/"); more { // past the id
			seg, _, _ = strings.Cut(rest, "/")
			k.coll, _, _ = strings.Cut(seg, ":")
		}
	}
	return k, true
}

// newRouteGroups registers every service on the mux of each group its
// routes fall in and on one mux of all of them. newMux makes a mux with the
// gateway's options. It fails when a route's group is not literal in its
// template (a variable or wildcard where the group is read), since the
// dispatch could then send its calls elsewhere.
func newRouteGroups(ctx context.Context, services []gatewayService, conn *grpc.ClientConn, newMux func() *runtime.ServeMux) (*routeGroups, error) {
	all := newMux()
	members := map[routeKey][]int{}
	for i, gs := range services {
		if err := gs.register(ctx, all, conn); err != nil {
			return nil, fmt.Errorf("register gateway handler of %s: %w", gs.desc.FullName(), err)
		}
		seen := map[routeKey]bool{}
		methods := gs.desc.Methods()
		for j := 0; j < methods.Len(); j++ {
			for _, tmpl := range httpTemplates(methods.Get(j)) {
				group, err := templateGroup(tmpl)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", methods.Get(j).FullName(), err)
				}
				if !seen[group] {
					seen[group] = true
					members[group] = append(members[group], i)
				}
			}
		}
	}
	g := &routeGroups{groups: make(map[routeKey]http.Handler, len(members)), all: all}
	for group, idx := range members {
		mux := newMux()
		for _, i := range idx {
			if err := services[i].register(ctx, mux, conn); err != nil {
				return nil, fmt.Errorf("register gateway handler of %s: %w", services[i].desc.FullName(), err)
			}
		}
		g.groups[group] = mux
	}
	return g, nil
}

// templateGroup is the routeKey of a route template, refused when a
// segment it reads is not literal (or a variable may span segments), since
// requests of that route could then fall in another group.
func templateGroup(tmpl string) (routeKey, error) {
	segs := strings.SplitN(strings.TrimPrefix(tmpl, "/"), "/", 5)
	literal := func(i int) bool { return i >= len(segs) || !strings.ContainsAny(segs[i], "{}*=") }
	if len(segs) < 2 || segs[0] != "v1" || !literal(1) {
		return routeKey{}, fmt.Errorf("route %s: want /v1/ and a literal segment after it", tmpl)
	}
	if top, _, _ := strings.Cut(segs[1], ":"); top == "locations" || top == "companies" {
		if len(segs) > 2 && strings.ContainsAny(segs[2], "*=") || !literal(3) {
			return routeKey{}, fmt.Errorf("route %s: want one segment for the %s and a literal collection after it", tmpl, strings.TrimSuffix(top, "s"))
		}
	}
	k, _ := routeKeyOf(tmpl)
	return k, nil
}

// httpTemplates lists the path templates of a method's google.api.http
// rule and its additional bindings.
func httpTemplates(md protoreflect.MethodDescriptor) []string {
	rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	if rule == nil {
		return nil
	}
	var out []string
	for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
		if _, tmpl := httpRoute(r); tmpl != "" {
			out = append(out, tmpl)
		}
	}
	return out
}

// httpRoute is a google.api.http rule's HTTP method and path template.
func httpRoute(r *annotations.HttpRule) (method, template string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete
	case *annotations.HttpRule_Custom:
		return p.Custom.GetKind(), p.Custom.GetPath()
	}
	return "", ""
}
