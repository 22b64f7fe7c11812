package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/hlgate/hlgate/gen/optable"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/jsonproto"
	"github.com/hlgate/hlgate/upstream"
)

// Operations that move files, served by the generic path:
//
//   - a multipart/form-data body is the request's fields encoded as a form:
//     each hlgate.v1.File field a file part (its filename and media type in
//     the part's headers), every other field a text part named by its
//     upstream name, a list one part per value. The files of one request
//     are bounded together by the row's MaxBytes (x-hlgate.maxBytes): above
//     it the request is INVALID_ARGUMENT naming the file field, and nothing
//     is sent;
//   - an answer of bytes (the RPC answers google.api.HttpBody) is read up to
//     the row's MaxBytes, never truncated: a longer answer is an error. Its
//     Content-Type is the HttpBody's, and HighLevel's Content-Disposition
//     is sent as the response header "content-disposition", which the
//     gateway writes as that HTTP header.
//
// gRPC's message bounds, and the REST body bound of the uploads' routes
// only, are raised to let the largest of these through (fileBodyBytes,
// maxFileBytes, boundUploads).

// formMediaType is the media type of a body of form fields and files.
const formMediaType = "multipart/form-data"

// fileOverhead is what a request or answer that moves files holds beside
// them: form fields, part headers, the message's other fields.
const fileOverhead = 1 << 20

// dispositionHeader is the response header that carries HighLevel's
// Content-Disposition of an answer of bytes.
const dispositionHeader = "content-disposition"

// fileBodyBytes is the bound of an operation's upstream request and answer
// bodies when it moves files, 0 otherwise (the chain's bounds hold).
func fileBodyBytes(row *optable.Op) int64 {
	if row.MaxBytes == 0 {
		return 0
	}
	return row.MaxBytes + fileOverhead
}

// maxFileBytes is the largest bound of the exposed operations that move
// files: what a gRPC message must be allowed to hold, either way; uploads
// only, what a REST body must (as base64, which JSON's bytes are).
func maxFileBytes() (message, restBody int64) {
	for i := range optable.Ops {
		op := &optable.Ops[i]
		if !op.Exposed || op.MaxBytes == 0 {
			continue
		}
		message = max(message, op.MaxBytes+fileOverhead)
		if op.Body != nil && op.Body.ContentType == formMediaType {
			restBody = max(restBody, int64(base64.StdEncoding.EncodedLen(int(op.MaxBytes)))+fileOverhead)
		}
	}
	return message, restBody
}

// messageBytes is the gRPC transport's bound of a message in either
// direction: the configured one, raised for the operations that move files.
// Each method's own bound (messageLimit) is checked by the interceptor.
func (s *Server) messageBytes() int {
	m, _ := maxFileBytes()
	return max(s.cfg.MaxMessageBytes, int(m))
}

// messageLimit is the bound of one method's messages, either way: the
// configured one, raised only for an operation that moves files (its
// MaxBytes and the message's overhead).
func (s *Server) messageLimit(r *rule) int {
	if r.op != nil && r.op.MaxBodyBytes > 0 {
		return max(s.cfg.MaxMessageBytes, int(r.op.MaxBodyBytes+fileOverhead))
	}
	return s.cfg.MaxMessageBytes
}

// restUploadBytes is the REST body bound of the uploads' routes: the
// configured one, raised to the largest upload as base64.
func (s *Server) restUploadBytes() int64 {
	_, b := maxFileBytes()
	return max(s.cfg.HTTP.MaxBodyBytes, b)
}

// boundUploads sends the requests of the uploads' REST routes to uploads
// (the raised bound) and every other one to rest (the configured bound).
func boundUploads(rest, uploads http.Handler) http.Handler {
	type route struct {
		method string
		segs   []string
	}
	var routes []route
	for _, f := range forwards {
		if !f.form || f.restRoute == nil {
			continue
		}
		method, pattern := "POST", f.restRoute.GetPost()
		if pattern == "" {
			method, pattern = "PUT", f.restRoute.GetPut()
		}
		if pattern != "" {
			routes = append(routes, route{method, strings.Split(strings.Trim(pattern, "/"), "/")})
		}
	}
	matches := func(rt route, method string, segs []string) bool {
		if method != rt.method || len(segs) != len(rt.segs) {
			return false
		}
		for i, p := range rt.segs {
			if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
				if segs[i] == "" {
					return false
				}
			} else if p != segs[i] {
				return false
			}
		}
		return true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Uploads are POST or PUT: other calls are not split into
		// segments at all, and these are split once for every route.
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
			for _, rt := range routes {
				if matches(rt, r.Method, segs) {
					uploads.ServeHTTP(w, r)
					return
				}
			}
		}
		rest.ServeHTTP(w, r)
	})
}

// LoopbackDialOption lets the REST gateway's connection to the gRPC server
// receive and send the largest message the server does (a recording).
func (s *Server) LoopbackDialOption() grpc.DialOption {
	n := s.messageBytes()
	return grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(n), grpc.MaxCallSendMsgSize(n))
}

// isFile reports a field of hlgate.v1.File.
func isFile(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() == (&hlgatev1.File{}).ProtoReflect().Descriptor().FullName()
}

// answersBytes reports an RPC that answers google.api.HttpBody.
func answersBytes(out protoreflect.MessageDescriptor) bool {
	return out.FullName() == (&httpbody.HttpBody{}).ProtoReflect().Descriptor().FullName()
}

// checkFormFields refuses at start a form field that a form cannot carry:
// a form part is a file or a text.
func checkFormFields(fields []protoreflect.FieldDescriptor) error {
	for _, fd := range fields {
		if fd.IsMap() || fd.Kind() == protoreflect.MessageKind && !isFile(fd) {
			return fmt.Errorf("request field %s cannot be a part of a multipart/form-data body (only files and texts are)", fd.Name())
		}
	}
	return nil
}

// encodeForm writes the request's form: its files and text fields, or the
// violations that keep it from being sent.
func (f *forward) encodeForm(m protoreflect.Message, v *violations) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	var total int64
	over := ""
	for _, fd := range f.bodyTop {
		if !m.Has(fd) {
			continue
		}
		name, field := jsonproto.WriteKey(fd), string(fd.Name())
		val := m.Get(fd)
		if isFile(fd) {
			var files []protoreflect.Message
			if fd.IsList() {
				for i := 0; i < val.List().Len(); i++ {
					files = append(files, val.List().Get(i).Message())
				}
			} else {
				files = append(files, val.Message())
			}
			for i, fm := range files {
				at := field
				if fd.IsList() {
					at = fmt.Sprintf("%s[%d]", field, i)
				}
				file := fm.Interface().(*hlgatev1.File)
				total += int64(len(file.GetContent()))
				if total > f.row.MaxBytes && over == "" {
					over = at
				}
				if over != "" {
					continue // the bound is reported once; nothing more is encoded
				}
				if err := writeFilePart(w, name, file); err != nil {
					v.add(at, "%v", err)
				}
			}
			continue
		}
		enc, err := encodeField(m, fd)
		if err != nil {
			v.add(field, "%v", err)
			continue
		}
		texts, ok := enc.([]any)
		if !ok {
			texts = []any{enc}
		}
		for _, t := range texts {
			if err := w.WriteField(name, paramText(t)); err != nil {
				v.add(field, "%v", err)
			}
		}
	}
	if over != "" {
		v.add(over, "the request's files total %d bytes, more than the %d bytes HighLevel takes in one upload", total, f.row.MaxBytes)
	}
	if err := w.Close(); err != nil {
		v.add("body", "%v", err)
	}
	return buf.Bytes(), w.FormDataContentType()
}

// writeFilePart writes one file part, or says what keeps it from being one.
func writeFilePart(w *multipart.Writer, name string, file *hlgatev1.File) error {
	switch {
	case file.GetFilename() == "":
		return errors.New("filename is required")
	case strings.ContainsAny(file.GetFilename(), "\r\n/\\"):
		return fmt.Errorf("filename %q must be a file's name, without line breaks or directories", file.GetFilename())
	case len(file.GetContent()) == 0:
		return errors.New("content is required: a file of no bytes uploads nothing")
	}
	ct := file.GetContentType()
	if ct == "" {
		ct = "application/octet-stream"
	} else if mt, _, err := mime.ParseMediaType(ct); err != nil || !strings.Contains(mt, "/") {
		return fmt.Errorf("content_type %q is not a media type", ct)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": name, "filename": file.GetFilename()}))
	h.Set("Content-Type", ct)
	pw, err := w.CreatePart(h)
	if err != nil {
		return err
	}
	_, err = pw.Write(file.GetContent())
	return err
}

// answerBytes reads an answer of bytes into an HttpBody, up to the row's
// bound, and sends its Content-Disposition as a response header.
func (f *forward) answerBytes(ctx context.Context, resp *http.Response, err error) (proto.Message, error) {
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	limit := f.row.MaxBytes
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if errors.Is(err, upstream.ErrResponseTooLarge) || int64(len(b)) > limit {
		return nil, statusError(codes.ResourceExhausted, fmt.Sprintf("HighLevel's answer to %s is larger than the %d bytes hlgate carries; nothing of it is answered", f.row.ID, limit), ReasonAnswerTooLarge)
	}
	if err != nil {
		return nil, fmt.Errorf("read HighLevel's answer: %w", err)
	}
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	if d := resp.Header.Get("Content-Disposition"); d != "" {
		if err := grpc.SetHeader(ctx, metadata.Pairs(dispositionHeader, d)); err != nil {
			logFrom(ctx).Debug("content-disposition not sent", "err", err)
		}
	}
	return &httpbody.HttpBody{ContentType: ct, Data: b}, nil
}

// outgoingHeader writes the gRPC response headers the gateway passes on as
// HTTP headers of their own name (an answer's Content-Disposition), and
// every other one as Grpc-Metadata-<key>, the gateway's default.
func outgoingHeader(key string) (string, bool) {
	if strings.EqualFold(key, dispositionHeader) {
		return "Content-Disposition", true
	}
	return "Grpc-Metadata-" + key, true
}
