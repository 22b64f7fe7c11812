package sandbox_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/hlgate/hlgate/sandbox"
)

// TestConcurrentUse mixes writes and reads on both locations with token
// expiry, refreshes and stats reads, for the race detector to inspect; every
// answer must still be one the operation can give.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{QuotaOff: true})
	var wg sync.WaitGroup
	for g := range 6 {
		loc := sandbox.DemoLocationID
		if g%2 == 1 {
			loc = sandbox.OtherLocationID
		}
		tp := e.token(sandbox.CodeRequest{LocationID: loc})
		wg.Go(func() {
			tok := tp.AccessToken
			for i := range 15 {
				resp, body := e.call("POST", "/contacts/", tok, sandbox.VersionDefault, map[string]any{
					"locationId": loc, "email": fmt.Sprintf("c%d.%d@example.com", g, i), "tags": []string{"x"}})
				switch resp.StatusCode {
				case http.StatusCreated:
					var c struct{ Contact struct{ ID string } }
					mustJSON(t, body, &c)
					e.call("POST", "/contacts/"+c.Contact.ID+"/tags", tok, sandbox.VersionDefault, map[string]any{"tags": []string{"y"}})
					e.call("PUT", "/contacts/"+c.Contact.ID, tok, sandbox.VersionDefault, map[string]any{"city": "Rome"})
				case http.StatusUnauthorized: // expired by the other goroutine: refresh and go on
					status, np := e.refresh(tp.RefreshToken)
					if status != http.StatusOK {
						t.Errorf("refresh: %d", status)
						return
					}
					tp, tok = np, np.AccessToken
				default:
					t.Errorf("create: %d %s", resp.StatusCode, body)
					return
				}
				e.call("POST", "/contacts/search", tok, sandbox.VersionDefault, map[string]any{"locationId": loc, "pageLimit": 20, "query": "example"})
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			e.sb.ExpireAccessTokens(sandbox.OtherLocationID)
			_ = e.sb.Stats()
			_ = e.sb.Arrivals(sandbox.LocationKey(sandbox.DemoLocationID))
		}
	})
	wg.Wait()
	resp, body := e.call("POST", "/contacts/search", e.token(sandbox.CodeRequest{}).AccessToken, sandbox.VersionDefault,
		map[string]any{"locationId": sandbox.DemoLocationID, "pageLimit": 1, "filters": []any{map[string]any{"field": "city", "operator": "eq", "value": "Rome"}}})
	var r searchResult
	mustJSON(t, body, &r)
	if resp.StatusCode != 200 || r.Total != 45 {
		t.Errorf("contacts updated concurrently in the demo location: %d (total %d), want 45", resp.StatusCode, r.Total)
	}
}
