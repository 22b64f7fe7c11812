package sandbox_test

import (
	"net/http"

	"github.com/hlgate/hlgate/sandbox"
)

// customProviderCases drives the custom payment provider of the token's app
// in its location: created (once), its keys connected, read, one mode
// disconnected (once), its capabilities set, deleted.
func (cf *conformance) customProviderCases(L, loc string) {
	q := "?locationId=" + L
	provider := map[string]any{"name": "Sandbox Pay", "description": "Payments by the sandbox", "paymentsUrl": "https://pay.example.com",
		"queryUrl": "https://pay.example.com/query", "imageUrl": "https://pay.example.com/logo.png", "supportsSubscriptionSchedule": true}
	cf.run(confCase{name: "connect without provider", method: http.MethodPost, path: "/payments/custom-provider/connect" + q, token: loc, status: 404,
		json: map[string]any{"live": map[string]any{"apiKey": "k", "publishableKey": "p"}, "test": map[string]any{"apiKey": "k", "publishableKey": "p"}}})
	cf.run(confCase{name: "create custom provider", method: http.MethodPost, path: "/payments/custom-provider/provider" + q, token: loc, status: 200, json: provider})
	cf.run(confCase{name: "create custom provider again", method: http.MethodPost, path: "/payments/custom-provider/provider" + q, token: loc, status: 400, json: provider})
	cf.run(confCase{name: "create custom provider other location", method: http.MethodPost, path: "/payments/custom-provider/provider?locationId=" + sandbox.OtherLocationID, token: loc, status: 403, json: provider})
	cf.run(confCase{name: "connect custom provider", method: http.MethodPost, path: "/payments/custom-provider/connect" + q, token: loc, status: 200,
		json: map[string]any{"live": map[string]any{"apiKey": "live-k", "publishableKey": "live-p"}, "test": map[string]any{"apiKey": "test-k", "publishableKey": "test-p"}}})
	got := cf.run(confCase{name: "fetch custom provider", method: http.MethodGet, path: "/payments/custom-provider/connect" + q, token: loc, status: 200})
	if str(got, "paymentProvider", "live", "apiKey") != "live-k" {
		cf.t.Errorf("fetched custom provider = %v, want its live keys", got)
	}
	cf.run(confCase{name: "disconnect test keys", method: http.MethodPost, path: "/payments/custom-provider/disconnect" + q, token: loc, status: 200, json: map[string]any{"liveMode": false}})
	cf.run(confCase{name: "disconnect test keys again", method: http.MethodPost, path: "/payments/custom-provider/disconnect" + q, token: loc, status: 400, json: map[string]any{"liveMode": false}})
	cf.run(confCase{name: "capabilities", method: http.MethodPut, path: "/payments/custom-provider/capabilities", token: loc, status: 200,
		json: map[string]any{"supportsSubscriptionSchedules": false, "locationId": L}})
	cf.run(confCase{name: "capabilities by company", method: http.MethodPut, path: "/payments/custom-provider/capabilities", token: loc, status: 422,
		json: map[string]any{"supportsSubscriptionSchedules": false, "companyId": sandbox.DemoCompanyID}})
	cf.run(confCase{name: "delete custom provider", method: http.MethodDelete, path: "/payments/custom-provider/provider" + q, token: loc, status: 200})
	cf.run(confCase{name: "fetch deleted custom provider", method: http.MethodGet, path: "/payments/custom-provider/connect" + q, token: loc, status: 404})
}
