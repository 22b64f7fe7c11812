package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// The ways of making the same upstream call: directly, through the bare
// reverse proxy (the baseline the facade is held to), with Redis stores
// through the bare proxy keeping a shared quota in Redis (what a quota
// across replicas costs any facade, for reference), through a bare gRPC
// proxy (what gRPC itself costs, for reference), and through hlgate's
// gRPC and REST sides.
const (
	modeDirect     = "direct"
	modeProxy      = "proxy"
	modeQuotaProxy = "quota-proxy"
	modeGRPCProxy  = "gRPC-proxy"
	modeGRPC       = "gRPC"
	modeREST       = "REST"
)

// The two operations: a read by id and a search page.
const (
	opGet    = "get"
	opSearch = "search"
)

// searchPage is the page size of the search operation.
const searchPage = 20

// modes are measured in this order at every concurrency, one right after
// the other, so each shares the load of its neighbours.
var modes = []string{modeDirect, modeProxy, modeQuotaProxy, modeGRPCProxy, modeGRPC, modeREST}

// serves says whether the stack has mode: the quota proxy keeps its quota
// in Redis, so it runs with Redis stores only.
func (s *stack) serves(mode string) bool {
	return mode != modeQuotaProxy || s.quotaURL != ""
}

// caller is one load-generating client: call makes one operation; worker and
// n pick the contact, so concurrent workers read different records.
type caller func(ctx context.Context, worker, n int) error

// clients holds one client per mode for a stack: an HTTP transport for the
// direct calls, one for each proxy's, one for the REST calls, and one gRPC
// connection each to hlgate and to the bare gRPC proxy (HTTP/2 multiplexes
// every worker's calls over it, as a gRPC client normally does).
type clients struct {
	st       *stack
	ids      []string // contact ids the get operation cycles through
	direct   *http.Client
	proxy    *http.Client
	quota    *http.Client
	rest     *http.Client
	conn     *grpc.ClientConn
	contacts hlgatev1.ContactsServiceClient
	authCtx  func(context.Context) context.Context
	bare     *grpc.ClientConn
	bareCtx  func(context.Context) context.Context
}

func newClients(st *stack) (*clients, error) {
	conn, err := grpc.NewClient(st.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("gRPC client: %w", err)
	}
	bare, err := grpc.NewClient(st.bareAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("bare gRPC proxy client: %w", err)
	}
	// Enough idle connections that every worker keeps its own keep-alive
	// connection at the highest concurrency.
	tr := func() *http.Client {
		return &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}}
	}
	return &clients{
		st: st, direct: tr(), proxy: tr(), quota: tr(), rest: tr(), conn: conn,
		contacts: hlgatev1.NewContactsServiceClient(conn),
		authCtx: func(ctx context.Context) context.Context {
			return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+callerKey)
		},
		bare: bare,
		bareCtx: func(ctx context.Context) context.Context {
			return metadata.AppendToOutgoingContext(ctx, "location", sandbox.DemoLocationID)
		},
	}, nil
}

func (c *clients) close() {
	c.direct.CloseIdleConnections()
	c.proxy.CloseIdleConnections()
	c.quota.CloseIdleConnections()
	c.rest.CloseIdleConnections()
	_ = c.conn.Close()
	_ = c.bare.Close()
}

// caller returns the function that makes op in mode. Each checks the status
// and that the answer is the one asked for, reading the whole body, but
// decodes no JSON into structs: the clients' own decoding is not what is
// measured (verify decodes every mode's answer once, in full).
func (c *clients) caller(mode, op string) (caller, error) {
	ids := c.ids
	id := func(worker, n int) string { return ids[(worker*7+n)%len(ids)] }
	loc := sandbox.DemoLocationID
	switch mode + "/" + op {
	case modeDirect + "/" + opGet:
		return func(ctx context.Context, w, n int) error {
			cid := id(w, n)
			_, err := c.do(ctx, c.direct, http.MethodGet, c.st.sandboxURL+"/contacts/"+cid, nil, c.directHeaders, []byte(cid))
			return err
		}, nil
	case modeDirect + "/" + opSearch:
		body := []byte(fmt.Sprintf(`{"locationId":%q,"pageLimit":%d,"page":1}`, loc, searchPage))
		return func(ctx context.Context, _, _ int) error {
			_, err := c.do(ctx, c.direct, http.MethodPost, c.st.sandboxURL+"/contacts/search", body, c.directHeaders, []byte(`"contacts"`))
			return err
		}, nil
	case modeProxy + "/" + opGet, modeQuotaProxy + "/" + opGet:
		hc, base := c.proxyOf(mode)
		return func(ctx context.Context, w, n int) error {
			cid := id(w, n)
			_, err := c.do(ctx, hc, http.MethodGet, base+"/v1/locations/"+loc+"/contacts/"+cid, nil, c.restHeaders, []byte(cid))
			return err
		}, nil
	case modeProxy + "/" + opSearch, modeQuotaProxy + "/" + opSearch:
		// The proxy translates no body: its caller sends HighLevel's.
		hc, base := c.proxyOf(mode)
		body := []byte(fmt.Sprintf(`{"locationId":%q,"pageLimit":%d,"page":1}`, loc, searchPage))
		return func(ctx context.Context, _, _ int) error {
			_, err := c.do(ctx, hc, http.MethodPost, base+"/v1/locations/"+loc+"/contacts:search", body, c.restHeaders, []byte(`"contacts"`))
			return err
		}, nil
	case modeREST + "/" + opGet:
		return func(ctx context.Context, w, n int) error {
			cid := id(w, n)
			_, err := c.do(ctx, c.rest, http.MethodGet, c.st.httpURL+"/v1/locations/"+loc+"/contacts/"+cid, nil, c.restHeaders, []byte(cid))
			return err
		}, nil
	case modeREST + "/" + opSearch:
		body := []byte(fmt.Sprintf(`{"pageSize":%d}`, searchPage))
		return func(ctx context.Context, _, _ int) error {
			_, err := c.do(ctx, c.rest, http.MethodPost, c.st.httpURL+"/v1/locations/"+loc+"/contacts:search", body, c.restHeaders, []byte(`"contacts"`))
			return err
		}, nil
	case modeGRPCProxy + "/" + opGet:
		return func(ctx context.Context, w, n int) error {
			cid := id(w, n)
			_, err := c.bareCall(ctx, bareProxyGet, wrapperspb.String(cid), []byte(cid))
			return err
		}, nil
	case modeGRPCProxy + "/" + opSearch:
		body := wrapperspb.Bytes([]byte(fmt.Sprintf(`{"locationId":%q,"pageLimit":%d,"page":1}`, loc, searchPage)))
		return func(ctx context.Context, _, _ int) error {
			_, err := c.bareCall(ctx, bareProxySearch, body, []byte(`"contacts"`))
			return err
		}, nil
	case modeGRPC + "/" + opGet:
		return func(ctx context.Context, w, n int) error {
			cid := id(w, n)
			return c.grpcCall(ctx, hlgatev1.ContactsService_GetContact_FullMethodName,
				&hlgatev1.GetContactRequest{LocationId: loc, ContactId: cid}, []byte(cid), 1)
		}, nil
	case modeGRPC + "/" + opSearch:
		req := &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: searchPage}
		return func(ctx context.Context, _, _ int) error {
			// Every contact of the page names its location.
			return c.grpcCall(ctx, hlgatev1.ContactsService_SearchContacts_FullMethodName, req, []byte(loc), searchPage)
		}, nil
	}
	return nil, fmt.Errorf("unknown mode/op %s/%s", mode, op)
}

// proxyOf is the client and address of a proxy mode: each proxy has its
// own client, as each facade has its own callers.
func (c *clients) proxyOf(mode string) (*http.Client, string) {
	if mode == modeQuotaProxy {
		return c.quota, c.st.quotaURL
	}
	return c.proxy, c.st.proxyURL
}

// directHeaders are what a direct caller of HighLevel sends: the location's
// access token and the product's Version.
func (c *clients) directHeaders(h http.Header) {
	h.Set("Authorization", "Bearer "+c.st.token)
	h.Set("Version", sandbox.VersionDefault)
	h.Set("Accept", "application/json")
}

// restHeaders are what a caller of hlgate's REST gateway sends: its API key.
func (c *clients) restHeaders(h http.Header) {
	h.Set("Authorization", "Bearer "+callerKey)
	h.Set("Accept", "application/json")
}

// do sends one request, reads the whole answer, and fails unless it is a 200
// holding want.
func (c *clients) do(ctx context.Context, hc *http.Client, method, url string, body []byte, headers func(http.Header), want []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, err
	}
	headers(req.Header)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: status %d: %.200s", method, req.URL.Path, resp.StatusCode, b)
	}
	if !bytes.Contains(b, want) {
		return nil, fmt.Errorf("%s %s: answer lacks %s", method, req.URL.Path, want)
	}
	return b, nil
}

// grpcCall makes one call of hlgate's gRPC server and fails unless its
// answer holds want at least n times. It takes the answer as its protobuf
// bytes, as the HTTP callers take theirs, without decoding it into
// messages: a caller's own decoding is not what is measured (verify
// decodes each mode's answer in full, once).
func (c *clients) grpcCall(ctx context.Context, method string, in proto.Message, want []byte, n int) error {
	var out rawAnswer
	if err := c.conn.Invoke(c.authCtx(ctx), method, in, &out, grpc.ForceCodecV2(rawCodec{})); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if got := bytes.Count(out, want); got < n {
		return fmt.Errorf("%s: answer holds %s %d times, want %d", method, want, got, n)
	}
	return nil
}

// rawAnswer is an answer's protobuf encoding, as received.
type rawAnswer []byte

// rawCodec is grpc-go's protobuf codec for requests and, for a rawAnswer,
// keeps the answer's bytes instead of decoding them. Named "proto", it is
// the content subtype the server speaks.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot encode %T", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	out, ok := v.(*rawAnswer)
	if !ok {
		return fmt.Errorf("rawCodec: cannot decode into %T", v)
	}
	*out = data.Materialize()
	return nil
}

// bareCall makes one call of the bare gRPC proxy and fails unless its
// answer holds want.
func (c *clients) bareCall(ctx context.Context, method string, in proto.Message, want []byte) ([]byte, error) {
	var out wrapperspb.BytesValue
	if err := c.bare.Invoke(c.bareCtx(ctx), method, in, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	if !bytes.Contains(out.GetValue(), want) {
		return nil, fmt.Errorf("%s: answer lacks %s", method, want)
	}
	return out.GetValue(), nil
}

// loadContactIDs reads the first page of the demo location's contacts
// directly; the get operation cycles through them.
func (c *clients) loadContactIDs(ctx context.Context) error {
	body := []byte(fmt.Sprintf(`{"locationId":%q,"pageLimit":100,"page":1}`, sandbox.DemoLocationID))
	b, err := c.do(ctx, c.direct, http.MethodPost, c.st.sandboxURL+"/contacts/search", body, c.directHeaders, []byte(`"contacts"`))
	if err != nil {
		return fmt.Errorf("list contacts: %w", err)
	}
	var page struct {
		Contacts []struct {
			ID string `json:"id"`
		} `json:"contacts"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return fmt.Errorf("list contacts: %w", err)
	}
	for _, ct := range page.Contacts {
		c.ids = append(c.ids, ct.ID)
	}
	if len(c.ids) < searchPage {
		return fmt.Errorf("list contacts: %d contacts, want at least %d", len(c.ids), searchPage)
	}
	return nil
}

// verify makes each operation once in every mode, decodes the answers in
// full and fails unless all modes return the same records, so the
// benchmark compares the same work.
func (c *clients) verify(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cid := c.ids[0]
	loc := sandbox.DemoLocationID
	highLevelSearch := []byte(fmt.Sprintf(`{"locationId":%q,"pageLimit":%d,"page":1}`, loc, searchPage))

	type contact struct {
		ID         string `json:"id"`
		LocationID string `json:"locationId"`
		Email      string `json:"email"`
	}
	// The modes that answer HighLevel's JSON, each asked for the contact
	// and for the page.
	type jsonMode struct {
		name        string
		get, search func() ([]byte, error)
	}
	jsonModes := []jsonMode{{
		name: modeDirect,
		get: func() ([]byte, error) {
			return c.do(ctx, c.direct, http.MethodGet, c.st.sandboxURL+"/contacts/"+cid, nil, c.directHeaders, []byte(cid))
		},
		search: func() ([]byte, error) {
			return c.do(ctx, c.direct, http.MethodPost, c.st.sandboxURL+"/contacts/search", highLevelSearch, c.directHeaders, []byte(`"contacts"`))
		},
	}}
	for _, mode := range []string{modeProxy, modeQuotaProxy} {
		if !c.st.serves(mode) {
			continue
		}
		hc, base := c.proxyOf(mode)
		jsonModes = append(jsonModes, jsonMode{
			name: mode,
			get: func() ([]byte, error) {
				return c.do(ctx, hc, http.MethodGet, base+"/v1/locations/"+loc+"/contacts/"+cid, nil, c.restHeaders, []byte(cid))
			},
			search: func() ([]byte, error) {
				return c.do(ctx, hc, http.MethodPost, base+"/v1/locations/"+loc+"/contacts:search", highLevelSearch, c.restHeaders, []byte(`"contacts"`))
			},
		})
	}
	jsonModes = append(jsonModes, jsonMode{
		name: modeGRPCProxy,
		get:  func() ([]byte, error) { return c.bareCall(ctx, bareProxyGet, wrapperspb.String(cid), []byte(cid)) },
		search: func() ([]byte, error) {
			return c.bareCall(ctx, bareProxySearch, wrapperspb.Bytes(highLevelSearch), []byte(`"contacts"`))
		},
	}, jsonMode{
		name: modeREST,
		get: func() ([]byte, error) {
			return c.do(ctx, c.rest, http.MethodGet, c.st.httpURL+"/v1/locations/"+loc+"/contacts/"+cid, nil, c.restHeaders, []byte(cid))
		},
		search: func() ([]byte, error) {
			return c.do(ctx, c.rest, http.MethodPost, c.st.httpURL+"/v1/locations/"+loc+"/contacts:search",
				[]byte(fmt.Sprintf(`{"pageSize":%d}`, searchPage)), c.restHeaders, []byte(`"contacts"`))
		},
	})

	g, err := c.contacts.GetContact(c.authCtx(ctx), &hlgatev1.GetContactRequest{LocationId: loc, ContactId: cid})
	if err != nil {
		return fmt.Errorf("gRPC get: %w", err)
	}
	want := contact{ID: g.GetContact().GetId(), LocationID: g.GetContact().GetLocationId(), Email: g.GetContact().GetEmail()}
	if want.ID != cid {
		return fmt.Errorf("gRPC get %s answered contact %+v", cid, want)
	}
	s, err := c.contacts.SearchContacts(c.authCtx(ctx), &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: searchPage})
	if err != nil {
		return fmt.Errorf("gRPC search: %w", err)
	}
	var wantIDs []string
	for _, ct := range s.GetContacts() {
		wantIDs = append(wantIDs, ct.GetId())
	}
	if len(wantIDs) != searchPage {
		return fmt.Errorf("gRPC search answered %d contacts, want %d", len(wantIDs), searchPage)
	}

	for _, m := range jsonModes {
		b, err := m.get()
		if err != nil {
			return fmt.Errorf("%s get: %w", m.name, err)
		}
		var one struct {
			Contact contact `json:"contact"`
		}
		if err := json.Unmarshal(b, &one); err != nil {
			return fmt.Errorf("%s get: %w", m.name, err)
		}
		if one.Contact != want {
			return fmt.Errorf("get %s differs: %s %+v, gRPC %+v", cid, m.name, one.Contact, want)
		}
		if b, err = m.search(); err != nil {
			return fmt.Errorf("%s search: %w", m.name, err)
		}
		var page struct {
			Contacts []contact `json:"contacts"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return fmt.Errorf("%s search: %w", m.name, err)
		}
		ids := make([]string, 0, len(page.Contacts))
		for _, ct := range page.Contacts {
			ids = append(ids, ct.ID)
		}
		if !slices.Equal(ids, wantIDs) {
			return fmt.Errorf("search pages differ: %s [%s], gRPC [%s]", m.name, strings.Join(ids, " "), strings.Join(wantIDs, " "))
		}
	}
	return nil
}
