package main

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/hlgate/hlgate/sandbox"
)

// The bare proxy's routes: the same paths as hlgate's REST gateway, each
// mapped onto the upstream path it stands for.
const (
	proxyGetRoute    = "GET /v1/locations/{location}/contacts/{id}"
	proxySearchRoute = "POST /v1/locations/{location}/contacts:search"
)

// newProxy is the baseline of the proxy mode: the least any REST facade over
// HighLevel must do, written with net/http/httputil. It routes the call by
// its path, sets the location's Bearer token and the Version header, and
// proxies the request (body untouched: the caller already sends HighLevel's
// own body) and the answer (status, headers and body untouched) to the
// upstream. It authenticates no caller, validates nothing, converts
// nothing, keeps no quota and logs nothing: whatever hlgate costs above it
// is the price of those.
//
// upstreamURL is the sandbox; tokens maps a location to its access token
// (read once at start: a proxy holds its tokens in memory, as hlgate's token
// manager does between refreshes). Its transport has the settings of
// hlgate's upstream client.
func newProxy(upstreamURL string, tokens map[string]string) (http.Handler, *http.Transport, error) {
	target, err := url.Parse(upstreamURL)
	if err != nil {
		return nil, nil, fmt.Errorf("proxy upstream: %w", err)
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	route := func(upstreamPath func(*http.Request) string) http.Handler {
		rp := &httputil.ReverseProxy{
			Transport: tr,
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.URL.Path, pr.Out.URL.RawPath = upstreamPath(pr.In), ""
				pr.Out.Header.Set("Authorization", "Bearer "+tokens[pr.In.PathValue("location")])
				pr.Out.Header.Set("Version", sandbox.VersionDefault)
			},
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := tokens[r.PathValue("location")]; !ok {
				http.Error(w, "unknown location", http.StatusNotFound)
				return
			}
			rp.ServeHTTP(w, r)
		})
	}
	mux := http.NewServeMux()
	mux.Handle(proxyGetRoute, route(func(r *http.Request) string { return "/contacts/" + r.PathValue("id") }))
	mux.Handle(proxySearchRoute, route(func(*http.Request) string { return "/contacts/search" }))
	return mux, tr, nil
}
