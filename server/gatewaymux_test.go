package server

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/hlgate/hlgate/gen/genservices"
	"github.com/hlgate/hlgate/sandbox"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func TestRouteKey(t *testing.T) {
	for path, want := range map[string]routeKey{
		"/v1/locations/L1/contacts/c1":                  {"locations", "contacts", true},
		"/v1/locations/L1/contacts:search":              {"locations", "contacts", true},
		"/v1/locations/{location_id}/contacts:search":   {"locations", "contacts", true},
		"/v1/locations/L1":                              {"locations", "", true},
		"/v1/locations/L1/":                             {"locations", "", true},
		"/v1/locations":                                 {"locations", "", false},
		"/v1/companies/C1/locations:search":             {"companies", "locations", true},
		"/v1/tokens:import":                             {"tokens", "", false},
		"/v1/tokens/L1":                                 {"tokens", "", false},
		"/v1/subscriptions/s/events:stream":             {"subscriptions", "", false},
		"/v1/conversations/locations/L1/messages/m/rec": {"conversations", "", false},
		"/v1/locations/a%2Fb/contacts/c1":               {"locations", "contacts", true},
		"/v1/":                                          {"", "", false},
	} {
		if got, ok := routeKeyOf(path); !ok || got != want {
			t.Errorf("routeKeyOf(%q) = %+v, %v; want %+v", path, got, ok, want)
		}
	}
	for _, path := range []string{"/v1", "/v2/x", "", "v1/x"} {
		if got, ok := routeKeyOf(path); ok {
			t.Errorf("routeKeyOf(%q) = %+v, want none: not under /v1/", path, got)
		}
	}
	for _, tmpl := range []string{
		"/v1/{collection}/x",
		"/v1/locations/{location_id}/{collection}",
		"/v1/locations/{name=locations/*}/contacts",
		"/v2/contacts",
	} {
		if g, err := templateGroup(tmpl); err == nil {
			t.Errorf("templateGroup(%q) = %+v, want an error: its calls could fall in another group", tmpl, g)
		}
	}
	if g, err := templateGroup("/v1/locations/{location_id}/contacts/{contact_id}"); err != nil || g != (routeKey{"locations", "contacts", true}) {
		t.Errorf("templateGroup of GetContact's route = %+v, %v", g, err)
	}
}

// TestEveryRouteReachesItsService sends a request to every REST route of
// every service through the grouped gateway, with made-up ids: each must
// reach its RPC (any answer but the gateway's ROUTE_NOT_FOUND and
// METHOD_NOT_ALLOWED), so no route is lost to the grouping.
func TestEveryRouteReachesItsService(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys(), noInstall: true})
	services := append([]gatewayService(nil), gatewayRegistrations...)
	for _, gs := range genservices.Services {
		services = append(services, gatewayService{desc: gs.File.Services().ByName(protoreflect.FullName(gs.Desc.ServiceName).Name())})
	}
	vars := regexp.MustCompile(`\{[^}]*\}`)
	routes := 0
	for _, gs := range services {
		methods := gs.desc.Methods()
		for i := 0; i < methods.Len(); i++ {
			md := methods.Get(i)
			if md.IsStreamingServer() {
				continue // a stream stays open; its route is served by the same mux
			}
			rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
			for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				method, tmpl := httpRoute(r)
				if tmpl == "" {
					continue
				}
				routes++
				path := vars.ReplaceAllString(tmpl, "x1")
				var body *strings.Reader
				if method != http.MethodGet && method != http.MethodDelete {
					body = strings.NewReader(`{}`)
				}
				var code int
				var b []byte
				if body != nil {
					code, _, b = h.rest(method, path, adminKey, body)
				} else {
					code, _, b = h.rest(method, path, adminKey, nil)
				}
				if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
					if reason := errorInfo(restStatus(t, b)).GetReason(); reason == ReasonRouteNotFound || reason == ReasonMethodNotAllowed {
						t.Errorf("%s %s (%s): %s", method, path, md.FullName(), reason)
					}
				}
			}
		}
	}
	if routes < 200 {
		t.Fatalf("walked %d routes, want every service's (over 200)", routes)
	}
}
