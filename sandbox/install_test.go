package sandbox_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/hlgate/hlgate/sandbox"
)

// TestInstallWalksTheCodeFlow installs through a minimal app: its install
// page redirects to the consent page, and its callback exchanges the code.
func TestInstallWalksTheCodeFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{})
	var got tokenPair
	app := http.NewServeMux()
	var appURL string
	app.HandleFunc("GET /install", func(w http.ResponseWriter, r *http.Request) {
		q := url.Values{"response_type": {"code"}, "client_id": {sandbox.DefaultClientID},
			"redirect_uri": {appURL + "/callback"}, "scope": {"contacts.readonly"}, "state": {"st"}}
		http.Redirect(w, r, e.srv.URL+"/oauth/chooselocation?"+q.Encode(), http.StatusFound)
	})
	app.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("state") != "st" {
			http.Error(w, "state lost", http.StatusBadRequest)
			return
		}
		resp, body := e.postForm("/oauth/token", url.Values{"client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret},
			"grant_type": {"authorization_code"}, "code": {r.URL.Query().Get("code")}, "redirect_uri": {appURL + "/callback"}}, nil)
		if resp.StatusCode != http.StatusOK {
			http.Error(w, string(body), http.StatusBadGateway)
			return
		}
		mustJSON(t, body, &got)
	})
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	appURL = srv.URL

	if err := sandbox.Install(context.Background(), http.DefaultClient, srv.URL+"/install", "location:"+sandbox.OtherLocationID); err != nil {
		t.Fatalf("Install: %v", err)
	}
	if got.LocationID != sandbox.OtherLocationID || got.AccessToken == "" || e.sb.Stats().CodeGrants != 1 {
		t.Errorf("token %+v, stats %+v", got, e.sb.Stats())
	}
	if err := sandbox.Install(context.Background(), http.DefaultClient, srv.URL+"/install", "location:Nowhere"); err == nil {
		t.Error("Install accepted an account the consent page does not offer")
	}
}
