package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/speakeasy-api/openapi/overlay"
	"gopkg.in/yaml.v3"
)

// op is one row of the table, as render writes it.
type op struct {
	ID, Document, Method, Path, Version string
	Scopes                              []string
	Read, Safe                          bool
	Location, Company                   *field
	Paging                              string
	Pager                               *pager
	Bare                                bool
	MaxBytes                            int64 // x-hlgate.maxBytes: the most bytes of files a request carries or an answer of bytes holds
	Confirm                             string
	Exposed                             bool
	Declared                            bool
	RPC                                 *rpcSpec // x-hlgate.rpc: hand-written messages; nil for a generated RPC
	Excluded                            string
	Params                              []param
	Body                                *body
}

// param is one path or query parameter of a request.
type param struct {
	Name, In, Type string
	Required       bool
	Value, From    string // x-hlgate.fill: a fixed value, or the parameter whose value it copies
}

// pager is how an upstream-paged operation is paged (x-hlgate.paging as a
// mapping), as render writes it.
type pager struct {
	Size       field
	MaxSize    int
	Page       *field
	Offset     *field
	Cursor     []cursor
	MaxRecords int
	Items      string
	Total      string
}

// cursor is one request field of an upstream cursor and where the answer
// gives its next value.
type cursor struct {
	field
	From, FromLast string
}

// body is what the request body declares.
type body struct {
	ContentType string
	Required    bool
	Props       []string // top-level properties, allOf members merged, sorted
	RequiredOf  []string // the properties the schema requires, sorted
}

// field is where a request names a location or company.
type field struct{ In, Name string }

// document is one parsed apps/*.json, overlaid in place.
type document struct {
	name string // "contacts" for apps/contacts.json
	root *yaml.Node
}

var (
	methods     = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	pagings     = []string{"none", "page", "offset", "startAfter", "searchAfter", "client"}
	fieldPlaces = []string{"path", "query", "body"}
)

// build verifies the documents under dir against dir/SOURCE.md, applies the
// overlay and returns every operation of every document, sorted by ID.
func build(dir, overlayPath string) ([]op, error) {
	_, ops, err := buildAll(dir, overlayPath)
	return ops, err
}

// sources are the overlaid documents and the common schemas they share.
type sources struct {
	docs   []document
	common *yaml.Node // common/common-schemas.json
}

// buildAll is build, returning the overlaid documents too.
func buildAll(dir, overlayPath string) (sources, []op, error) {
	src, err := loadDocuments(dir)
	if err != nil {
		return src, nil, err
	}
	if err := applyOverlay(overlayPath, src.docs); err != nil {
		return src, nil, err
	}
	for _, d := range src.docs {
		declarePathParams(d)
	}
	ops, err := tableOf(src.docs)
	return src, ops, err
}

func tableOf(docs []document) ([]op, error) {
	var ops []op
	seen := map[string]string{} // operationId → document
	for _, d := range docs {
		dops, err := operations(d)
		if err != nil {
			return nil, err
		}
		for _, o := range dops {
			// The table is keyed by operationId alone (RPCs name it without a
			// document), so an id must be unique across all documents.
			if prev, dup := seen[o.ID]; dup {
				return nil, fmt.Errorf("operation %s: operationId declared by both %s and %s", o.ID, prev, d.name)
			}
			seen[o.ID] = d.name
			ops = append(ops, o)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].ID < ops[j].ID })
	return ops, nil
}

// loadDocuments checks that dir holds exactly the files SOURCE.md lists, each
// with its sha256, and parses the apps/*.json among them. A document is
// parsed only after its hash matched: the table must describe the published
// documents, not a copy someone touched up.
func loadDocuments(dir string) (sources, error) {
	var src sources
	sums, err := readSource(filepath.Join(dir, "SOURCE.md"))
	if err != nil {
		return src, err
	}
	var docs []document
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "SOURCE.md" {
			return nil
		}
		want, ok := sums[rel]
		if !ok {
			return fmt.Errorf("%s: not listed in SOURCE.md, so its origin is unrecorded", rel)
		}
		delete(sums, rel)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != want {
			return fmt.Errorf("%s: sha256 %x, but SOURCE.md lists %s: the documents are byte copies; put changes in the overlay", rel, got, want)
		}
		var root yaml.Node
		if err := yaml.Unmarshal(b, &root); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if rel == "common/common-schemas.json" {
			src.common = &root // referenced, not a source of operations
			return nil
		}
		if !strings.HasPrefix(rel, "apps/") || !strings.HasSuffix(rel, ".json") || strings.Count(rel, "/") != 1 {
			return fmt.Errorf("%s: neither apps/*.json nor common/common-schemas.json", rel)
		}
		docs = append(docs, document{name: strings.TrimSuffix(strings.TrimPrefix(rel, "apps/"), ".json"), root: &root})
		return nil
	})
	if err != nil {
		return src, err
	}
	if len(sums) > 0 {
		missing := make([]string, 0, len(sums))
		for f := range sums {
			missing = append(missing, f)
		}
		sort.Strings(missing)
		return src, fmt.Errorf("SOURCE.md lists files that are missing: %s", strings.Join(missing, ", "))
	}
	if len(docs) == 0 {
		return src, fmt.Errorf("%s: no apps/*.json documents", dir)
	}
	if src.common == nil {
		src.common = &yaml.Node{Kind: yaml.MappingNode}
	}
	src.docs = docs
	return src, nil
}

// declarePathParams declares, in place, each path parameter an operation's
// path template names but the document leaves undeclared (update-user's
// {userId}, get-message's {id}): a path parameter is always a required
// string, and OpenAPI tools refuse a template with an undeclared one. The
// declaration says it is hlgate's.
func declarePathParams(d document) {
	paths := get(docRoot(d.root), "paths")
	if paths == nil {
		return
	}
	for i := 0; i+1 < len(paths.Content); i += 2 {
		path, item := paths.Content[i].Value, paths.Content[i+1]
		for j := 0; j+1 < len(item.Content); j += 2 {
			if !slices.Contains(methods, item.Content[j].Value) {
				continue
			}
			n := item.Content[j+1]
			declared := map[string]bool{}
			for _, list := range []*yaml.Node{get(item, "parameters"), get(n, "parameters")} {
				for _, p := range seq(list) {
					if scalar(get(p, "in")) == "path" {
						declared[scalar(get(p, "name"))] = true
					}
				}
			}
			for _, name := range pathNames(path) {
				if declared[name] {
					continue
				}
				p := mapping()
				set(p, "name", str(name))
				set(p, "in", str("path"))
				set(p, "required", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
				set(p, "description", str("Named by the path; declared by hlgate (the document leaves it out)."))
				set(p, "schema", scalarMap("type", "string"))
				list := get(n, "parameters")
				if list == nil {
					list = &yaml.Node{Kind: yaml.SequenceNode}
					set(n, "parameters", list)
				}
				list.Content = append(list.Content, p)
			}
		}
	}
}

// pathNames are the {names} of a path template, in order.
func pathNames(path string) []string {
	var out []string
	for rest := path; ; {
		_, after, ok := strings.Cut(rest, "{")
		if !ok {
			return out
		}
		name, tail, ok := strings.Cut(after, "}")
		if !ok {
			return out
		}
		out = append(out, name)
		rest = tail
	}
}

// readSource reads SOURCE.md's file table: rows of five cells whose first
// cell is the path here and last the sha256.
func readSource(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		cells := strings.Split(strings.Trim(strings.TrimSpace(sc.Text()), "|"), "|")
		if len(cells) != 5 {
			continue
		}
		file, sum := strings.TrimSpace(cells[0]), strings.TrimSpace(cells[4])
		if !strings.HasSuffix(file, ".json") {
			continue // header and separator rows
		}
		if _, dup := sums[file]; dup {
			return nil, fmt.Errorf("SOURCE.md lists %s twice", file)
		}
		sums[file] = sum
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("%s: no file table", path)
	}
	return sums, nil
}

// applyOverlay applies each action of the overlay to every document, in
// order. One overlay serves all documents, and an action's target (usually
// an operation selected by its operationId) lives in one of them, so the
// action must select something in at least one document: a target that
// selects nothing anywhere is a stale correction or a typo, and an error.
func applyOverlay(path string, docs []document) error {
	ov, err := overlay.Parse(path)
	if err != nil {
		return fmt.Errorf("overlay: %w", err)
	}
	if err := ov.Validate(); err != nil {
		return fmt.Errorf("overlay %s: %w", path, err)
	}
	if len(ov.Actions) == 0 {
		return fmt.Errorf("overlay %s: no actions", path)
	}
	for i, action := range ov.Actions {
		name := fmt.Sprintf("overlay action %d (target %s)", i+1, action.Target)
		sel, err := ov.NewPath(action.Target, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		one := *ov
		one.Actions = []overlay.Action{action}
		matched := 0
		for _, d := range docs {
			n := len(sel.Query(d.root))
			if n == 0 {
				continue
			}
			matched += n
			if err := one.ApplyTo(d.root); err != nil {
				return fmt.Errorf("%s on %s: %w", name, d.name, err)
			}
		}
		if matched == 0 {
			return fmt.Errorf("%s targets nothing in any document", name)
		}
	}
	return nil
}

// meta is the x-hlgate extension of an operation.
type meta struct {
	Expose   bool      `yaml:"expose"`
	Access   string    `yaml:"access"`
	Safe     *bool     `yaml:"safe"`
	Location *placeOpt `yaml:"location"`
	Company  *placeOpt `yaml:"company"`
	Paging   pagingOpt `yaml:"paging"`
	Fill     yaml.Node `yaml:"fill"`
	Bare     bool      `yaml:"bare"`
	MaxBytes int64     `yaml:"maxBytes"`
	RPC      *rpcSpec  `yaml:"rpc"`
}

// rpcSpec is x-hlgate.rpc: the RPC of an exposed operation whose messages
// are written by hand (the existing API, whose names, paths and fields
// callers depend on). The generator writes the service; the messages stay
// in the product's hand-written file.
type rpcSpec struct {
	Name     string `yaml:"name"`     // the RPC's name
	Request  string `yaml:"request"`  // its hand-written request message
	Response string `yaml:"response"` // its hand-written response message
	HTTP     string `yaml:"http"`     // "<method> <path>" of its REST route
	Body     string `yaml:"body"`     // the REST route's body ("*" or a request field); "" for none
	// UpstreamBody is the request field sent upstream as the body when it
	// is not the REST body ((hlgate.v1.upstream).body).
	UpstreamBody string `yaml:"upstreamBody"`
	Doc          string `yaml:"doc"` // the RPC's doc comment
}

// pagingOpt is x-hlgate.paging: a style alone (none, client, or a style
// described but not yet served), or a mapping that declares the pager.
type pagingOpt struct {
	style string
	spec  *pagingSpec
}

// pagingSpec is the mapping form of x-hlgate.paging.
type pagingSpec struct {
	Style      string       `yaml:"style"`
	Size       *sizeSpec    `yaml:"size"`
	Page       *field       `yaml:"page"`
	Offset     *field       `yaml:"offset"`
	Cursor     []cursorSpec `yaml:"cursor"`
	MaxRecords int          `yaml:"maxRecords"`
	Items      string       `yaml:"items"`
	Total      string       `yaml:"total"`
}

// sizeSpec is where the page size goes and HighLevel's maximum.
type sizeSpec struct {
	In   string `yaml:"in"`
	Name string `yaml:"name"`
	Max  int    `yaml:"max"`
}

// cursorSpec is one cursor entry of x-hlgate.paging.
type cursorSpec struct {
	In       string `yaml:"in"`
	Name     string `yaml:"name"`
	From     string `yaml:"from"`
	FromLast string `yaml:"fromLast"`
}

// fillSpec is one entry of x-hlgate.fill.
type fillSpec struct {
	Value *string `yaml:"value"`
	From  string  `yaml:"from"`
}

// UnmarshalYAML accepts a style or the pager mapping, strictly.
func (p *pagingOpt) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		p.style = n.Value
		return nil
	}
	var s pagingSpec
	if err := strictDecode(n, &s); err != nil {
		return err
	}
	p.style, p.spec = s.Style, &s
	return nil
}

// strictDecode decodes n into v, refusing keys v does not declare (a
// custom UnmarshalYAML does not inherit the outer decoder's KnownFields).
func strictDecode(n *yaml.Node, v any) error {
	raw, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// placeOpt is a location or company declaration: a field, or "none" for a
// request that does not name one. "none" is explicit so that a missing
// declaration is an error, not a silent nil.
type placeOpt struct{ f *field }

// UnmarshalYAML accepts "none" or {in, name}.
func (p *placeOpt) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Value == "none" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want \"none\" or {in, name}", n.Line)
	}
	var f field
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1].Value
		switch k {
		case "in":
			f.In = v
		case "name":
			f.Name = v
		default:
			return fmt.Errorf("line %d: unknown key %q (want in, name)", n.Content[i].Line, k)
		}
	}
	if !slices.Contains(fieldPlaces, f.In) || f.Name == "" {
		return fmt.Errorf("line %d: want in: path|query|body and a name", n.Line)
	}
	p.f = &f
	return nil
}

// operations reads the rows of one overlaid document.
func operations(d document) ([]op, error) {
	root := d.root
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	var out []op
	paths := get(root, "paths")
	if paths == nil {
		return nil, fmt.Errorf("%s: no paths", d.name)
	}
	for i := 0; i+1 < len(paths.Content); i += 2 {
		path, item := paths.Content[i].Value, paths.Content[i+1]
		for j := 0; j+1 < len(item.Content); j += 2 {
			method := item.Content[j].Value
			if !slices.Contains(methods, method) {
				continue // parameters, summary, servers …
			}
			o, err := operation(d.name, root, path, method, item, item.Content[j+1])
			if err != nil {
				return nil, err
			}
			out = append(out, o)
		}
	}
	return out, nil
}

func operation(doc string, root *yaml.Node, path, method string, item, n *yaml.Node) (op, error) {
	id := scalar(get(n, "operationId"))
	if id == "" {
		return op{}, fmt.Errorf("%s: %s %s has no operationId", doc, strings.ToUpper(method), path)
	}
	fail := func(format string, args ...any) (op, error) {
		return op{}, fmt.Errorf("operation %s (%s %s %s): %s", id, doc, strings.ToUpper(method), path, fmt.Sprintf(format, args...))
	}
	o := op{ID: id, Document: doc, Method: strings.ToUpper(method), Path: path}
	params, err := parameters(root, item, n)
	if err != nil {
		return fail("%v", err)
	}
	for _, p := range params {
		in, name := scalar(get(p, "in")), scalar(get(p, "name"))
		if in == "path" || in == "query" {
			o.Params = append(o.Params, param{Name: name, In: in, Type: scalar(get(get(p, "schema"), "type")), Required: scalar(get(p, "required")) == "true" || in == "path"})
		}
		if in != "header" || name != "Version" {
			continue
		}
		schema := get(p, "schema")
		if enum := get(schema, "enum"); enum != nil && len(enum.Content) == 1 {
			o.Version = enum.Content[0].Value
		} else if def := scalar(get(schema, "default")); def != "" {
			o.Version = def
		} else {
			// The Version header is the one value the upstream chain cannot
			// guess; an operation that declares it without one value is a
			// document this generator does not understand yet.
			return fail("Version header declares no single value")
		}
	}
	if o.Body, err = requestBody(root, n); err != nil {
		return fail("%v", err)
	}
	if sec := get(n, "security"); sec != nil {
		for _, req := range sec.Content {
			for k := 1; k < len(req.Content); k += 2 {
				for _, s := range req.Content[k].Content {
					if !slices.Contains(o.Scopes, s.Value) {
						o.Scopes = append(o.Scopes, s.Value)
					}
				}
			}
		}
	}
	// Until the overlay says otherwise, only a GET is a read that may be
	// resent: a POST may be a search, but nobody has read it yet.
	o.Read = o.Method == "GET"
	o.Safe = o.Method == "GET"
	o.Excluded = scalar(get(n, "x-hlgate-exclude"))

	x := get(n, "x-hlgate")
	if x == nil {
		return o, nil
	}
	var m meta
	raw, err := yaml.Marshal(x)
	if err != nil {
		return fail("%v", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true) // a misspelled key must not pass as "not declared"
	if err := dec.Decode(&m); err != nil {
		return fail("x-hlgate: %v", err)
	}
	// x-hlgate declares how hlgate calls the operation: typed (expose) or,
	// declared alone, through the passthrough. Either way every key is
	// required, so a missing one is never read as a default.
	o.Declared = true
	if o.Excluded != "" {
		return fail("both declared (x-hlgate) and excluded (%q)", o.Excluded)
	}
	o.Exposed = m.Expose
	switch m.Access {
	case "read", "write":
		o.Read = m.Access == "read"
	case "":
		return fail("x-hlgate.access (read|write) is missing")
	default:
		return fail("x-hlgate.access %q: want read or write", m.Access)
	}
	if m.Safe != nil {
		o.Safe = *m.Safe
	} else {
		return fail("x-hlgate.safe (true|false) is missing")
	}
	if m.Paging.style != "" && !slices.Contains(pagings, m.Paging.style) {
		return fail("x-hlgate.paging %q: want one of %s", m.Paging.style, strings.Join(pagings, ", "))
	}
	if m.Paging.style == "" {
		return fail("x-hlgate.paging is missing")
	}
	o.Paging = m.Paging.style
	if m.Paging.spec != nil {
		if o.Pager, err = buildPager(root, params, n, m.Paging.spec); err != nil {
			return fail("x-hlgate.paging: %v", err)
		}
	}
	if o.Params, err = applyFill(o.Params, &m.Fill); err != nil {
		return fail("x-hlgate.fill: %v", err)
	}
	o.Bare = m.Bare
	// Files move whole through hlgate's memory: an operation that takes
	// files (a multipart body) or answers bytes declares how many.
	moves := o.Body != nil && o.Body.ContentType == "multipart/form-data" || binaryAnswer(n) != ""
	switch {
	case m.MaxBytes < 0:
		return fail("x-hlgate.maxBytes %d: want a positive number of bytes", m.MaxBytes)
	case moves && m.MaxBytes == 0:
		return fail("x-hlgate.maxBytes is missing: the operation takes files or answers bytes")
	case !moves && m.MaxBytes != 0:
		return fail("x-hlgate.maxBytes on an operation that neither takes files nor answers bytes")
	}
	o.MaxBytes = m.MaxBytes
	if m.RPC != nil {
		if !m.Expose {
			return fail("x-hlgate.rpc on an operation that is not exposed")
		}
		r := *m.RPC
		method, path, ok := strings.Cut(r.HTTP, " ")
		if r.Name == "" || r.Request == "" || r.Response == "" || r.Doc == "" || !ok || !slices.Contains(methods, method) || !strings.HasPrefix(path, "/v1/") {
			return fail("x-hlgate.rpc needs name, request, response, doc and http \"<method> /v1/…\"")
		}
		o.RPC = &r
	}
	if o.Confirm, err = confirmFlag(root, n); err != nil {
		return fail("%v", err)
	}
	if m.Location == nil {
		return fail("x-hlgate.location ({in, name} or none) is missing")
	}
	for _, pl := range []struct {
		what string
		opt  *placeOpt
		dst  **field
	}{{"location", m.Location, &o.Location}, {"company", m.Company, &o.Company}} {
		if pl.opt == nil || pl.opt.f == nil {
			continue
		}
		// The field must exist in the (overlaid) request, or caller auth
		// would be checking a field the upstream never receives.
		if err := hasField(root, params, n, *pl.opt.f); err != nil {
			return fail("x-hlgate.%s: %v", pl.what, err)
		}
		*pl.dst = pl.opt.f
	}
	return o, nil
}

// buildPager checks a pager declaration against the (overlaid) request and
// answer: every request name must exist, every answer key the document
// declares a schema for must be in it, and each style has what it needs.
func buildPager(root *yaml.Node, params []*yaml.Node, n *yaml.Node, s *pagingSpec) (*pager, error) {
	p := &pager{Page: s.Page, Offset: s.Offset, MaxRecords: s.MaxRecords, Items: s.Items, Total: s.Total}
	if s.Size == nil || s.Size.Max <= 0 {
		return nil, fmt.Errorf("size {in, name, max} with max > 0 is required")
	}
	p.Size, p.MaxSize = field{In: s.Size.In, Name: s.Size.Name}, s.Size.Max
	reqFields := []field{p.Size}
	need := func(what string, f *field, want bool) error {
		switch {
		case want && f == nil:
			return fmt.Errorf("style %s needs %s {in, name}", s.Style, what)
		case !want && f != nil:
			return fmt.Errorf("style %s takes no %s", s.Style, what)
		case f != nil:
			reqFields = append(reqFields, *f)
		}
		return nil
	}
	for _, c := range s.Cursor {
		if (c.From == "") == (c.FromLast == "") {
			return nil, fmt.Errorf("cursor %s: want exactly one of from (a path in the answer) and fromLast (a key of the last record)", c.Name)
		}
		p.Cursor = append(p.Cursor, cursor{field: field{In: c.In, Name: c.Name}, From: c.From, FromLast: c.FromLast})
		reqFields = append(reqFields, field{In: c.In, Name: c.Name})
	}
	var err error
	switch s.Style {
	case "page":
		err = errors.Join(need("page", s.Page, true), need("offset", s.Offset, false))
		if len(s.Cursor) > 0 {
			err = errors.Join(err, fmt.Errorf("style page takes no cursor"))
		}
	case "offset":
		err = errors.Join(need("page", s.Page, false), need("offset", s.Offset, true))
		if len(s.Cursor) > 0 {
			err = errors.Join(err, fmt.Errorf("style offset takes no cursor"))
		}
	case "startAfter", "searchAfter":
		// searchAfter may fall back to page numbers when a page carries no
		// cursor (contacts search, facts file §3).
		err = need("offset", s.Offset, false)
		if s.Page != nil {
			reqFields = append(reqFields, *s.Page)
		}
		if len(s.Cursor) == 0 {
			err = errors.Join(err, fmt.Errorf("style %s needs a cursor", s.Style))
		}
		for _, c := range s.Cursor {
			if s.Style == "startAfter" && c.From == "" || s.Style == "searchAfter" && c.FromLast == "" {
				err = errors.Join(err, fmt.Errorf("cursor %s: style startAfter reads the cursor from the answer (from), searchAfter from the last record (fromLast)", c.Name))
			}
		}
	default:
		return nil, fmt.Errorf("style %q: a pager is one of page, offset, startAfter, searchAfter", s.Style)
	}
	if err != nil {
		return nil, err
	}
	if s.MaxRecords < 0 || s.MaxRecords > 0 && s.Page == nil {
		return nil, fmt.Errorf("maxRecords bounds page numbers: it needs page, and is not negative")
	}
	for _, f := range reqFields {
		if f.In != "query" && f.In != "body" {
			return nil, fmt.Errorf("%s: want in: query|body", f.Name)
		}
		if err := hasField(root, params, n, f); err != nil {
			return nil, err
		}
	}
	if s.Items == "" {
		return nil, fmt.Errorf("items (the answer's key of the page's records) is required")
	}
	answer, err := answerSchema(root, n)
	if err != nil {
		return nil, err
	}
	paths := []string{s.Items, s.Total}
	for _, c := range s.Cursor {
		paths = append(paths, c.From)
	}
	for _, path := range paths {
		if path == "" {
			continue
		}
		if err := schemaPath(root, answer, path); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// confirmFlags are the spellings of the boolean by which HighLevel's
// documents confirm a change ("succeded" is theirs, beside "succeeded").
var confirmFlags = []string{"succeded", "succeeded"}

// confirmFlag is the boolean property of the operation's answer that
// confirms the change, or "" when it declares none.
func confirmFlag(root, n *yaml.Node) (string, error) {
	answer, err := answerSchema(root, n)
	if err != nil || answer == nil {
		return "", err
	}
	for _, name := range confirmFlags {
		s, err := propSchema(root, answer, name, 0)
		if err != nil {
			return "", err
		}
		if s != nil && scalar(get(s, "type")) == "boolean" {
			return name, nil
		}
	}
	return "", nil
}

// answerSchema is the schema of the operation's 200 (or 201) JSON answer,
// or nil when the document declares none.
func answerSchema(root, n *yaml.Node) (*yaml.Node, error) {
	for _, code := range []string{"200", "201"} {
		r, err := resolve(root, get(get(n, "responses"), code))
		if err != nil {
			return nil, err
		}
		if s := get(get(get(r, "content"), "application/json"), "schema"); s != nil {
			return s, nil
		}
	}
	return nil, nil
}

// schemaPath checks a dotted path of the answer against its schema, as far
// as the schema declares properties: a key the document declares nowhere
// cannot be checked and is accepted; a key beside declared ones that is not
// among them is an error (a typo, or a document that changed).
func schemaPath(root, s *yaml.Node, path string) error {
	for _, part := range strings.Split(path, ".") {
		props, req := map[string]bool{}, map[string]bool{}
		if err := schemaProps(root, s, props, req, 0); err != nil {
			return err
		}
		if len(props) == 0 {
			return nil
		}
		if !props[part] {
			return fmt.Errorf("the answer has no %q (in %q)", part, path)
		}
		next, err := propSchema(root, s, part, 0)
		if err != nil {
			return err
		}
		s = next
	}
	return nil
}

// propSchema is the schema of property name of s, through allOf.
func propSchema(root, s *yaml.Node, name string, depth int) (*yaml.Node, error) {
	if s == nil || depth > 16 {
		return nil, nil
	}
	s, err := resolve(root, s)
	if err != nil {
		return nil, err
	}
	if p := get(get(s, "properties"), name); p != nil {
		return p, nil
	}
	all := get(s, "allOf")
	if all == nil {
		return nil, nil
	}
	for _, sub := range all.Content {
		if p, err := propSchema(root, sub, name, depth+1); p != nil || err != nil {
			return p, err
		}
	}
	return nil, nil
}

// applyFill reads x-hlgate.fill, {param: {value: v} | {from: other}}: a
// query parameter hlgate always sends with a fixed value, or with the value
// another parameter is sent with. Both must be parameters of the request.
func applyFill(params []param, n *yaml.Node) ([]param, error) {
	if n.Kind == 0 {
		return params, nil
	}
	var fills map[string]fillSpec
	if err := strictDecode(n, &fills); err != nil {
		return nil, err
	}
	out := slices.Clone(params)
	index := func(name string) int {
		return slices.IndexFunc(out, func(p param) bool { return p.Name == name && p.In == "query" })
	}
	names := make([]string, 0, len(fills))
	for name := range fills {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f := fills[name]
		i := index(name)
		if i < 0 {
			return nil, fmt.Errorf("%s: the request has no query parameter %q", name, name)
		}
		switch {
		case f.Value != nil && f.From == "" && *f.Value != "":
			out[i].Value = *f.Value
		case f.Value == nil && f.From != "":
			if j := index(f.From); j < 0 || f.From == name {
				return nil, fmt.Errorf("%s: from %q is not another query parameter of the request", name, f.From)
			}
			if fills[f.From].From != "" || fills[f.From].Value != nil {
				return nil, fmt.Errorf("%s: from %q, which is filled itself", name, f.From)
			}
			out[i].From = f.From
		default:
			return nil, fmt.Errorf("%s: want exactly one of value (not empty) and from", name)
		}
	}
	return out, nil
}

// parameters returns the path item's and the operation's parameters, local
// references resolved; the operation's win on the same (in, name).
func parameters(root, item, n *yaml.Node) ([]*yaml.Node, error) {
	var out []*yaml.Node
	for _, list := range []*yaml.Node{get(item, "parameters"), get(n, "parameters")} {
		if list == nil {
			continue
		}
		for _, p := range list.Content {
			p, err := resolve(root, p)
			if err != nil {
				return nil, err
			}
			out = slices.DeleteFunc(out, func(q *yaml.Node) bool {
				return scalar(get(q, "in")) == scalar(get(p, "in")) && scalar(get(q, "name")) == scalar(get(p, "name"))
			})
			out = append(out, p)
		}
	}
	return out, nil
}

// requestBody reads the operation's request body: its media type (JSON when
// it declares several) and the top-level properties of its schema.
func requestBody(root, n *yaml.Node) (*body, error) {
	rb, err := resolve(root, get(n, "requestBody"))
	if err != nil || rb == nil {
		return nil, err
	}
	content := get(rb, "content")
	if content == nil || len(content.Content) < 2 {
		return nil, nil
	}
	ct, media := content.Content[0].Value, content.Content[1]
	if m := get(content, "application/json"); m != nil {
		ct, media = "application/json", m
	}
	b := &body{ContentType: ct, Required: scalar(get(rb, "required")) == "true"}
	props, req := map[string]bool{}, map[string]bool{}
	if err := schemaProps(root, get(media, "schema"), props, req, 0); err != nil {
		return nil, err
	}
	for k := range props {
		b.Props = append(b.Props, k)
	}
	for k := range req {
		b.RequiredOf = append(b.RequiredOf, k)
	}
	sort.Strings(b.Props)
	sort.Strings(b.RequiredOf)
	return b, nil
}

// schemaProps collects the top-level properties and required names of a
// schema, through allOf.
func schemaProps(root, s *yaml.Node, props, req map[string]bool, depth int) error {
	if s == nil || depth > 16 {
		return nil
	}
	s, err := resolve(root, s)
	if err != nil {
		return err
	}
	if ps := get(s, "properties"); ps != nil {
		for i := 0; i+1 < len(ps.Content); i += 2 {
			props[ps.Content[i].Value] = true
		}
	}
	if r := get(s, "required"); r != nil {
		for _, n := range r.Content {
			req[n.Value] = true
		}
	}
	if all := get(s, "allOf"); all != nil {
		for _, sub := range all.Content {
			if err := schemaProps(root, sub, props, req, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// hasField reports whether the request declares f: a parameter for path and
// query, a property of a request body schema (any media type) for body.
func hasField(root *yaml.Node, params []*yaml.Node, n *yaml.Node, f field) error {
	if f.In != "body" {
		for _, p := range params {
			if scalar(get(p, "in")) == f.In && scalar(get(p, "name")) == f.Name {
				return nil
			}
		}
		return fmt.Errorf("the request has no %s parameter %q", f.In, f.Name)
	}
	body, err := resolve(root, get(n, "requestBody"))
	if err != nil {
		return err
	}
	content := get(body, "content")
	if content == nil {
		return fmt.Errorf("the request has no body")
	}
	for i := 1; i < len(content.Content); i += 2 {
		ok, err := schemaHas(root, get(content.Content[i], "schema"), f.Name, 0)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("no request body schema has a property %q", f.Name)
}

func schemaHas(root, s *yaml.Node, name string, depth int) (bool, error) {
	if s == nil || depth > 16 {
		return false, nil
	}
	s, err := resolve(root, s)
	if err != nil {
		return false, err
	}
	if get(get(s, "properties"), name) != nil {
		return true, nil
	}
	if all := get(s, "allOf"); all != nil {
		for _, sub := range all.Content {
			if ok, err := schemaHas(root, sub, name, depth+1); ok || err != nil {
				return ok, err
			}
		}
	}
	return false, nil
}

// resolve follows a local $ref (#/components/…). References into other files
// are refused rather than guessed at: no exposed request uses one today.
func resolve(root, n *yaml.Node) (*yaml.Node, error) {
	for range 16 {
		ref := scalar(get(n, "$ref"))
		if ref == "" {
			return n, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return nil, fmt.Errorf("cannot follow $ref %q (only references within the document)", ref)
		}
		next := root
		for _, part := range strings.Split(ref[2:], "/") {
			part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
			next = get(next, part)
		}
		if next == nil {
			return nil, fmt.Errorf("$ref %q resolves to nothing", ref)
		}
		n = next
	}
	return nil, errors.New("$ref chain too long")
}

// get is the value of key in a mapping node, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
