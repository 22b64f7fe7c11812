package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/hlgate/hlgate/gen/optable"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/upstream"
)

// The passthrough (UpstreamService.Call) is the escape hatch for the
// operations no typed RPC serves: the caller builds the request, and hlgate
// governs it as it governs a typed call:
//
//   - the request is matched against the operation table by method and path
//     template; a matched row decides the Version header, retry safety, the
//     access a key needs and where the request names its location or
//     company. Without a row, the request's version is sent, only a GET is
//     resent and only a GET is a read;
//   - caller auth (rules.go): the subject and every location or company the
//     request names must be allowed by the key (passthroughNames), and only
//     a read needs no more than a read key (passthroughReads);
//   - the call spends the subject's token and quota through the same chain
//     (s.send), and the chain's errors (quota, token, transport) map to gRPC
//     codes in toStatus as for every RPC;
//   - an answer HighLevel gave, 2xx or not, is the response: its status, its
//     JSON body and its rate-limit headers. The caller of an escape hatch
//     wants HighLevel's word, not hlgate's reading of it.
//
// What the request's content means is HighLevel's to judge: hlgate checks
// what it governs (method, path shape, subject, version, JSON, size, the
// locations named), not the operation's parameters, since the documents are
// often wrong exactly where a caller needs the escape hatch.

// ReasonAnswerTooLarge is ErrorInfo's reason when HighLevel's answer is larger
// than a response hlgate may send.
const ReasonAnswerTooLarge = "UPSTREAM_ANSWER_TOO_LARGE"

// maxPassthroughURL bounds the path and query of one passthrough call; HTTP
// servers commonly refuse longer request lines.
const maxPassthroughURL = 8 << 10

// passthroughMethods are the methods the passthrough sends.
var passthroughMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// segmentPattern is what one path segment may hold: RFC 3986's unreserved
// characters and the sub-delimiters that mean nothing to a path, with no
// percent-encoding, so the path HighLevel routes is the path hlgate checked.
var segmentPattern = regexp.MustCompile(`^[A-Za-z0-9._~!$&'()*+,;=:@-]+$`)

// versionPattern is what a Version header may be ("2021-07-28", "v3").
var versionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)

// passRoute is one row of the table, its path template split in segments.
type passRoute struct {
	row  *optable.Op
	segs []string
}

// passRoutes are the table's rows by method, for matching a passthrough
// path.
var passRoutes = func() map[string][]passRoute {
	out := map[string][]passRoute{}
	for i := range optable.Ops {
		row := &optable.Ops[i]
		out[row.Method] = append(out[row.Method], passRoute{row: row, segs: strings.Split(row.Path, "/")})
	}
	return out
}()

// matchOperation finds the row of method and path: every literal segment
// equal, each {param} one non-empty segment. Where several match
// (/contacts/search and /contacts/{contactId}), the one whose first
// differing segment is literal wins, as HighLevel's router prefers. It also
// returns the path parameters by name.
func matchOperation(method, path string) (*optable.Op, map[string]string) {
	segs := strings.Split(path, "/")
	var best *passRoute
	for i := range passRoutes[method] {
		r := &passRoutes[method][i]
		if len(r.segs) != len(segs) || !templateMatches(r.segs, segs) {
			continue
		}
		if best == nil || moreLiteral(r.segs, best.segs) {
			best = r
		}
	}
	if best == nil {
		return nil, nil
	}
	params := map[string]string{}
	for i, s := range best.segs {
		if isParam(s) {
			params[s[1:len(s)-1]] = segs[i]
		}
	}
	return best.row, params
}

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

func templateMatches(tmpl, segs []string) bool {
	for i, t := range tmpl {
		if isParam(t) {
			if segs[i] == "" {
				return false
			}
		} else if t != segs[i] {
			return false
		}
	}
	return true
}

// moreLiteral reports whether template a is literal at the first segment
// where a and b differ in kind.
func moreLiteral(a, b []string) bool {
	for i := range a {
		if pa, pb := isParam(a[i]), isParam(b[i]); pa != pb {
			return !pa
		}
	}
	return false
}

// named is a location or company a passthrough request names, and where.
type named struct {
	field   string // "path", "query.locationId", "body.companyId"
	company bool
	value   string
}

// locationNames are the query and body members that name a location
// wherever they appear (the sandbox engine's isLocationName): altId is the
// location's id in payments, unless altType says company.
var locationNames = []string{"locationId", "location_id", "altId"}

// passthroughNames lists every location and company a request names,
// valid or not: the matched row's declared location and company fields, the
// path segment after "locations" or "companies" when no row matches, and the
// query's and the top-level body's locationId, location_id, altId and
// companyId. Caller auth checks the key allows each; the handler checks a
// location subject is the only location named.
func passthroughNames(req *hlgatev1.CallRequest) []named {
	var out []named
	add := func(field string, company bool, value string) {
		if value != "" && !slices.Contains(out, named{field, company, value}) {
			out = append(out, named{field, company, value})
		}
	}
	path := req.GetPath()
	row, params := matchOperation(req.GetMethod(), path)
	if row != nil {
		for _, name := range slices.Sorted(maps.Keys(params)) {
			val := params[name]
			switch {
			case row.Location != nil && row.Location.In == "path" && row.Location.Name == name, name == "locationId":
				add("path", false, val)
			case row.Company != nil && row.Company.In == "path" && row.Company.Name == name, name == "companyId":
				add("path", true, val)
			}
		}
	} else {
		segs := strings.Split(path, "/")
		for i := 1; i < len(segs); i++ {
			switch segs[i-1] {
			case "locations":
				add("path", false, segs[i])
			case "companies":
				add("path", true, segs[i])
			}
		}
	}
	declared := func(f *optable.Field, in string) string {
		if f != nil && f.In == in {
			return f.Name
		}
		return ""
	}
	isLocation := func(name, in string, altCompany bool) (bool, bool) {
		switch {
		case name == "":
			return false, false // refused by the handler as a nameless parameter
		case name == "altId" && altCompany:
			return false, true
		case slices.Contains(locationNames, name) || name == declared(locationField(row), in):
			return true, false
		}
		return false, name == "companyId" || name == declared(companyField(row), in)
	}
	altCompany := false
	for _, q := range req.GetQuery() {
		if q.GetName() == "altType" && q.GetValue() == "company" {
			altCompany = true
		}
	}
	for _, q := range req.GetQuery() {
		loc, comp := isLocation(q.GetName(), "query", altCompany)
		if loc || comp {
			add("query."+q.GetName(), comp, q.GetValue())
		}
	}
	if obj := req.GetBody().GetStructValue(); obj != nil {
		fields := obj.GetFields()
		bodyAltCompany := fields["altType"].GetStringValue() == "company"
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			loc, comp := isLocation(k, "body", bodyAltCompany)
			if loc || comp {
				add("body."+k, comp, valueText(fields[k]))
			}
		}
	}
	return out
}

// locationField is the row's declared location field, nil without a row.
func locationField(row *optable.Op) *optable.Field {
	if row == nil {
		return nil
	}
	return row.Location
}

// companyField is the row's declared company field, nil without a row.
func companyField(row *optable.Op) *optable.Field {
	if row == nil {
		return nil
	}
	return row.Company
}

// valueText is a body member as text: a string as it is, anything else as
// its JSON, so a number cannot pass for an id the key allows.
func valueText(v *structpb.Value) string {
	if s, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		return s.StringValue
	}
	b, _ := protojson.Marshal(v)
	return string(b)
}

// passthroughReads reports whether a request only reads: one whose row the
// table marks as a read (a GET, or a search that is a POST), or a GET that
// matches no row. Caller auth
// asks a read key of nothing more.
func passthroughReads(req *hlgatev1.CallRequest) bool {
	if row, _ := matchOperation(req.GetMethod(), req.GetPath()); row != nil {
		return row.Read
	}
	return req.GetMethod() == http.MethodGet
}

// passCall is a checked passthrough request.
type passCall struct {
	subject string
	row     *optable.Op // nil when the path matches no operation
	op      upstream.Operation
	req     upstreamRequest
}

// preparePassthrough checks a request and builds what is sent, or returns
// INVALID_ARGUMENT naming every bad field.
func preparePassthrough(in *hlgatev1.CallRequest) (*passCall, error) {
	var v violations
	pc := &passCall{}
	method, path := in.GetMethod(), in.GetPath()
	switch {
	case method == "":
		v.add("method", "is required")
	case !slices.Contains(passthroughMethods, method):
		v.add("method", "must be one of %s, not %q", strings.Join(passthroughMethods, ", "), method)
	}
	pathOK := checkPassthroughPath(path, &v)

	var subjectField string
	switch s := in.GetSubject().(type) {
	case *hlgatev1.CallRequest_LocationId:
		subjectField, pc.subject = "location_id", s.LocationId
	case *hlgatev1.CallRequest_CompanyId:
		subjectField, pc.subject = "company_id", s.CompanyId
	}
	if subjectField == "" {
		v.add("location_id or company_id", "is required: the call spends that location's or company's token and quota")
	} else {
		v.id(subjectField, pc.subject)
	}

	if pathOK && method != "" {
		pc.row, _ = matchOperation(method, path)
	}
	version := in.GetVersion()
	switch {
	case pc.row != nil && version != "" && version != pc.row.Version:
		v.add("version", "%s is operation %s, whose Version is %q: leave version empty", path, pc.row.ID, pc.row.Version)
	case pc.row != nil:
		version = pc.row.Version
	case version == "":
		v.add("version", "is required: %s %s matches no operation hlgate knows, so the Version header must be given", method, path)
	case !versionPattern.MatchString(version):
		v.add("version", "must be a Version header value such as 2021-07-28 (letters, digits, '.', '_', '-'; at most 32)")
	}
	safe := method == http.MethodGet
	if pc.row != nil {
		safe = pc.row.Safe
		pc.op.ID = pc.row.ID
	}
	pc.op.Version, pc.op.Safe = version, safe

	query := url.Values{}
	for i, q := range in.GetQuery() {
		if q.GetName() == "" {
			v.add(fmt.Sprintf("query[%d].name", i), "is required")
			continue
		}
		query[q.GetName()] = append(query[q.GetName()], q.GetValue())
	}
	if len(path)+len(query.Encode()) > maxPassthroughURL {
		v.add("query", "path and query are longer than %d bytes", maxPassthroughURL)
	}

	body, hasBody := in.GetBody(), in.GetBody() != nil
	switch {
	case !hasBody:
	case method == http.MethodGet:
		v.add("body", "a GET takes no body")
	case pc.row != nil && pc.row.Body == nil:
		v.add("body", "operation %s takes no body", pc.row.ID)
	case pc.row != nil && pc.row.Body.ContentType != "application/json":
		v.add("body", "operation %s takes %s; the passthrough sends JSON only", pc.row.ID, pc.row.Body.ContentType)
	case body.GetStructValue() == nil && body.GetListValue() == nil:
		v.add("body", "must be a JSON object or array")
	default:
		b, err := protojson.Marshal(body)
		if err != nil {
			v.add("body", "is not valid JSON: %v", err)
		}
		pc.req.body, pc.req.contentType = b, "application/json"
	}

	// The token spent is the subject's: a location subject may name no
	// other location, a company subject no other company.
	if subjectField != "" {
		for _, n := range passthroughNames(in) {
			switch {
			case subjectField == "location_id" && !n.company && n.value != pc.subject:
				v.add(n.field, "names location %s, but the call's subject is location %s (location_id); the call spends its subject's token, so name that location as location_id", n.value, pc.subject)
			case subjectField == "company_id" && n.company && n.value != pc.subject:
				v.add(n.field, "names company %s, but the call's subject is company %s (company_id)", n.value, pc.subject)
			}
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	pc.req.method, pc.req.path, pc.req.query = method, path, query
	return pc, nil
}

// checkPassthroughPath checks the path's shape and reports whether it is
// well formed.
func checkPassthroughPath(path string, v *violations) bool {
	n := len(*v)
	switch {
	case path == "":
		v.add("path", "is required")
	case !strings.HasPrefix(path, "/"):
		v.add("path", "must begin with \"/\": a path on HighLevel's API, without scheme or host")
	case strings.ContainsAny(path, "?#"):
		v.add("path", "must not hold a query or fragment: put query parameters in query")
	case strings.Contains(path, "%"):
		v.add("path", "must not be percent-encoded: every segment is letters, digits or -._~!$&'()*+,;=:@")
	case path == "/oauth" || strings.HasPrefix(path, "/oauth/"):
		v.add("path", "OAuth operations issue and redeem tokens, which never reach a caller: use TokensService")
	default:
		segs := strings.Split(path[1:], "/")
		for i, s := range segs {
			switch {
			case s == "" && i == len(segs)-1 && i > 0:
				// A trailing slash is a path of its own upstream (POST /contacts/).
			case s == "":
				v.add("path", "has an empty segment")
			case s == "." || s == "..":
				v.add("path", "must not hold %q segments", s)
			case !segmentPattern.MatchString(s):
				v.add("path", "segment %q holds characters other than letters, digits or -._~!$&'()*+,;=:@", s)
			default:
				continue
			}
			break
		}
	}
	return len(*v) == n
}

// upstreamService serves UpstreamService.
type upstreamService struct {
	hlgatev1.UnimplementedUpstreamServiceServer
	s *Server
}

// Call is the passthrough.
func (u *upstreamService) Call(ctx context.Context, in *hlgatev1.CallRequest) (*hlgatev1.CallResponse, error) {
	return u.s.passthrough(ctx, in)
}

func (s *Server) passthrough(ctx context.Context, in *hlgatev1.CallRequest) (*hlgatev1.CallResponse, error) {
	pc, err := preparePassthrough(in)
	if err != nil {
		return nil, err
	}
	// The operation names the Version and retry safety for the chain; set
	// always, so an unmatched PUT or DELETE is not resent (the chain's own
	// default by method would resend them).
	op := pc.op
	ctx = upstream.WithOperation(upstreamCtx(ctx, pc.subject), &op)
	resp, err := s.send(ctx, &pc.req)
	var ue *upstream.Error
	switch {
	case errors.As(err, &ue) && ue.Status != 0:
		return s.passthroughAnswer(pc, ue.Status, ue.Header, ue.Body)
	case errors.Is(err, upstream.ErrRequestTooLarge):
		var v violations
		v.add("body", "is larger than HighLevel takes")
		return nil, v.err()
	case err != nil:
		return nil, err
	}
	defer resp.Body.Close()
	limit := int64(s.cfg.MaxMessageBytes)
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if errors.Is(err, upstream.ErrResponseTooLarge) || int64(len(b)) > limit {
		return nil, answerTooLarge(pc, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("read HighLevel's answer: %w", err)
	}
	return s.passthroughAnswer(pc, resp.StatusCode, resp.Header, b)
}

// passthroughAnswer is HighLevel's answer as the response.
func (s *Server) passthroughAnswer(pc *passCall, status int, h http.Header, b []byte) (*hlgatev1.CallResponse, error) {
	out := &hlgatev1.CallResponse{Status: int32(status), Body: answerValue(b), Headers: rateLimitHeaders(h)}
	if pc.row != nil {
		out.OperationId = pc.row.ID
	}
	if proto.Size(out) > s.cfg.MaxMessageBytes {
		return nil, answerTooLarge(pc, int64(s.cfg.MaxMessageBytes))
	}
	return out, nil
}

func answerTooLarge(pc *passCall, limit int64) error {
	msg := fmt.Sprintf("HighLevel's answer is larger than the %d bytes a response may hold: ask for less (a smaller limit, a narrower filter)", limit)
	if !pc.op.Safe {
		msg += "; HighLevel may have acted on the request"
	}
	return statusError(codes.ResourceExhausted, msg, ReasonAnswerTooLarge)
}

// answerValue is an answer body as a Value: its JSON, whatever its type;
// a body that is not JSON (a proxy's error page) as a string of its text;
// nil for no body.
func answerValue(b []byte) *structpb.Value {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if json.Valid(b) {
		v := &structpb.Value{}
		if err := protojson.Unmarshal(b, v); err == nil {
			return v
		}
	}
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	return structpb.NewStringValue(string(b))
}

// rateLimitHeaders are the answer's x-ratelimit-* headers and Retry-After,
// by lower-case name, several values joined by ", ".
func rateLimitHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k, vs := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-ratelimit-") || lk == "retry-after" {
			out[lk] = strings.Join(vs, ", ")
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// passthroughRule is UpstreamService.Call's caller rule: the subject field
// it names, a write key unless the request only reads, and every location
// or company the request names checked against the key too.
func passthroughRule() *rule {
	return &rule{
		access:   AccessWrite,
		subjects: []string{"location_id", "company_id"},
		readIf: func(m proto.Message) bool {
			req, ok := m.(*hlgatev1.CallRequest)
			return ok && passthroughReads(req)
		},
		alsoNamed: func(m proto.Message) []named {
			req, ok := m.(*hlgatev1.CallRequest)
			if !ok {
				return nil
			}
			return passthroughNames(req)
		},
	}
}
