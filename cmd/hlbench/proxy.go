package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

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
// hlgate's upstream client. With allow set (the quota-proxy mode) the proxy
// asks it for every call first and answers 429 when it refuses.
func newProxy(upstreamURL string, tokens map[string]string, allow func(ctx context.Context, location string) error) (http.Handler, *http.Transport, error) {
	target, err := url.Parse(upstreamURL)
	if err != nil {
		return nil, nil, fmt.Errorf("proxy upstream: %w", err)
	}
	tr := upstreamTransport()
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
			if allow != nil {
				if err := allow(r.Context(), r.PathValue("location")); err != nil {
					http.Error(w, "quota: "+err.Error(), http.StatusTooManyRequests)
					return
				}
			}
			// The transport may still be reading the request body (a last
			// read to see that it ends where Content-Length says) when
			// the answer's headers come back; without full duplex,
			// writing them makes the server drain and close that body,
			// the transport's read fails and it tears down the upstream
			// connection under the answer being copied.
			if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
				http.Error(w, "proxy: "+err.Error(), http.StatusInternalServerError)
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

// gcraQuota is the quota of the quota-proxy mode: one go-redis/redis_rate
// decision (GCRA, one Redis round trip running a script over one key) per
// call, per location, on the Redis of hlgate's stores (the stack lifts its
// limit as it lifts hlgate's). It is the least a facade sharing a quota across
// replicas must add to the bare proxy: what hlgate's exact quota (a
// sliding log, the daily count, queueing across replicas) costs beyond it
// is hlgate's own.
func gcraQuota(rdb *redis.Client, limit redis_rate.Limit) func(ctx context.Context, location string) error {
	lim := redis_rate.NewLimiter(rdb)
	return func(ctx context.Context, location string) error {
		res, err := lim.Allow(ctx, "hlbench:quota:{"+location+"}", limit)
		if err != nil {
			return err
		}
		if res.Allowed == 0 {
			return fmt.Errorf("refused, retry after %s", res.RetryAfter)
		}
		return nil
	}
}

// The bare gRPC proxy's service, declared by hand (there is no generated
// code for it): Get takes a contact id, Search HighLevel's own search body,
// and both answer HighLevel's body untouched, as bytes. The location rides
// in the "location" metadata.
const (
	bareProxyService = "hlbench.BareProxy"
	bareProxyGet     = "/" + bareProxyService + "/Get"
	bareProxySearch  = "/" + bareProxyService + "/Search"
)

// newGRPCProxy is the gRPC counterpart of newProxy, the least any gRPC
// facade over HighLevel must do: a grpc-go server with no interceptor that
// takes the call, picks the location's token, sends the upstream request
// with the Bearer token and Version header, and answers the upstream body
// as bytes. It authenticates no caller, decodes no JSON and keeps no quota:
// what hlgate's gRPC mode costs above it is the price of those, and what it
// costs above the HTTP proxy is gRPC's own (HTTP/2 framing, protobuf, the
// transport's goroutines), which no gRPC facade avoids.
func newGRPCProxy(upstreamURL string, tokens map[string]string) (*grpc.Server, *http.Transport) {
	tr := upstreamTransport()
	hc := &http.Client{Transport: tr}
	forward := func(ctx context.Context, method, path string, body []byte) (*wrapperspb.BytesValue, error) {
		loc := metadata.ValueFromIncomingContext(ctx, "location")
		if len(loc) != 1 {
			return nil, status.Error(codes.InvalidArgument, "want one location in the metadata")
		}
		tok, ok := tokens[loc[0]]
		if !ok {
			return nil, status.Error(codes.NotFound, "unknown location")
		}
		var r io.Reader
		if body != nil {
			r = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, upstreamURL+path, r)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Version", sandbox.VersionDefault)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, status.Error(codes.Unavailable, err.Error())
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, status.Error(codes.Unavailable, err.Error())
		}
		if resp.StatusCode != http.StatusOK {
			return nil, status.Errorf(codes.Unknown, "upstream status %d: %.200s", resp.StatusCode, b)
		}
		return &wrapperspb.BytesValue{Value: b}, nil
	}
	g := grpc.NewServer()
	g.RegisterService(&grpc.ServiceDesc{
		ServiceName: bareProxyService,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Get", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var in wrapperspb.StringValue
				if err := dec(&in); err != nil {
					return nil, err
				}
				return forward(ctx, http.MethodGet, "/contacts/"+url.PathEscape(in.GetValue()), nil)
			}},
			{MethodName: "Search", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var in wrapperspb.BytesValue
				if err := dec(&in); err != nil {
					return nil, err
				}
				return forward(ctx, http.MethodPost, "/contacts/search", in.GetValue())
			}},
		},
	}, struct{}{})
	return g, tr
}
