package sandbox

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// Files: the uploads and the answers of bytes.
//
//   - A multipart upload (a conversation's attachments, a custom field's
//     files) is read with a bound: the files of one request at most
//     uploadBytes together (413 above it, nothing stored), each text part
//     at most formTextBytes. The form is then checked against the
//     operation's schema as strictly as a JSON body: every required part, no
//     part the schema does not declare, a file only where it declares bytes.
//     An attachment whose extension is not one of the document's list is
//     415.
//   - A signed upload: initiate-file-upload hands out a URL of the
//     sandbox's own storage route (/_storage/<filePath>), not under the
//     API's auth but HMAC-signed over the method, path, upload, media type
//     and expiry (15 minutes, on the sandbox clock); the PUT of the bytes is
//     refused when the signature, the expiry, the media type or the size
//     does not hold; complete-file-upload answers 404 "File not found in
//     storage" until the bytes are there.
//   - Every stored file is served by GET /_storage/<filePath>, which is what
//     the answers' URLs name.
//   - A call message (a messageType of callTypes) has a recording, a WAV of
//     silence as long as its meta.callDuration (1 s without one), and a
//     transcription of one sentence over it; any other message has neither
//     (404).
//
// Files are kept as documents of the location's collections storageColl and
// uploadsColl, so Reset forgets them with the rest of the location's data.

// Engine-free collections of the files a location stores and of its
// initiated uploads.
const (
	storageColl = "/_storage"
	uploadsColl = "/_uploads"
)

// uploadBytes bounds the files of one multipart upload together: the
// document's 5MB for channels other than WhatsApp (initiate-file-upload's
// channel), a MiB as its WhatsApp example (104857600 for 100MB) counts it.
const uploadBytes = 5 << 20

// whatsappBytes is a signed upload's bound for the WHATSAPP channel.
const whatsappBytes = 100 << 20

// formTextBytes bounds one text part of a form.
const formTextBytes = 64 << 10

// signedUploadTTL is how long a signed upload URL is valid (the document's
// "valid for 15 minutes").
const signedUploadTTL = 15 * time.Minute

// attachmentTypes are the extensions upload-file-attachments allows (its
// description's list).
var attachmentTypes = []string{"jpg", "jpeg", "png", "mp4", "mpeg", "zip", "rar", "pdf", "doc", "docx", "txt", "mp3", "wav"}

// callTypes are the message types that carry a recording.
var callTypes = []string{"TYPE_CALL", "TYPE_IVR_CALL", "TYPE_CAMPAIGN_CALL", "TYPE_CAMPAIGN_MANUAL_CALL", "TYPE_CUSTOM_CALL", "TYPE_CAMPAIGN_VOICEMAIL"}

// storedFile is a document of storageColl.
type storedFile struct {
	ContentType string `json:"contentType"`
	Data        []byte `json:"data"`
	UploadID    string `json:"uploadId,omitempty"`
}

// pendingUpload is a document of uploadsColl: what initiate-file-upload
// signed.
type pendingUpload struct {
	UploadID       string `json:"uploadId"`
	FilePath       string `json:"filePath"`
	ConversationID string `json:"conversationId"`
	Filename       string `json:"filename"`
	ContentType    string `json:"contentType"`
	MaxFileSize    int64  `json:"maxFileSize"`
	ExpiresAt      int64  `json:"expiresAt"` // Unix milliseconds
}

// formFile is one file part of a form.
type formFile struct {
	part, filename, contentType string
	data                        []byte
}

// form is a multipart body, read.
type form struct {
	texts map[string][]string
	files []formFile
}

// readForm reads a multipart/form-data body with its bounds: at most limit
// bytes of files together (413 beyond), formTextBytes per text part.
func readForm(w http.ResponseWriter, r *http.Request, limit int64) (*form, *apiError) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, errBadRequest("Content-Type must be multipart/form-data with a boundary")
	}
	// The whole body: the files, plus headers and text parts around them.
	body := http.MaxBytesReader(w, r.Body, limit+1<<20)
	mr := multipart.NewReader(body, params["boundary"])
	f := &form{texts: map[string][]string{}}
	var total int64
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, formError(err, limit)
		}
		name := p.FormName()
		if name == "" {
			return nil, errBadRequest("a form part has no name")
		}
		if p.FileName() == "" {
			b, err := io.ReadAll(io.LimitReader(p, formTextBytes+1))
			if err != nil {
				return nil, formError(err, limit)
			}
			if len(b) > formTextBytes {
				return nil, errBadRequest("form field %s is longer than %d bytes", name, formTextBytes)
			}
			f.texts[name] = append(f.texts[name], string(b))
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p, limit-total+1))
		if err != nil {
			return nil, formError(err, limit)
		}
		total += int64(len(b))
		if total > limit {
			return nil, tooLarge(limit)
		}
		ct := p.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/octet-stream"
		}
		f.files = append(f.files, formFile{part: name, filename: p.FileName(), contentType: ct, data: b})
	}
	return f, nil
}

// formError answers a body that could not be read: too large, or not a
// form.
func formError(err error, limit int64) *apiError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(limit)
	}
	return errBadRequest("the multipart body could not be read: %v", err)
}

// tooLarge is the 413 of an upload above its bound, in the shape of the
// document's UploadFilesErrorResponseDto.
func tooLarge(limit int64) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, message: fmt.Sprintf("Failed to upload the files: they exceed %d bytes", limit)}
}

// writeUploadError answers an upload's error: its 413 and 415 in the
// document's UploadFilesErrorResponseDto ({status, message}), any other
// as every error is.
func writeUploadError(w http.ResponseWriter, e *apiError) {
	if e.status == http.StatusRequestEntityTooLarge || e.status == http.StatusUnsupportedMediaType {
		w.Header().Set("Connection", "close") // the rest of a refused body is not read
		writeJSON(w, e.status, map[string]any{"status": e.status, "message": e.message})
		return
	}
	writeError(w, e)
}

// check validates a form against the operation's multipart schema: the
// parts it declares, texts where it declares texts and files where it
// declares bytes, one value unless it declares an array, and its required
// and typed members (422, as for a JSON body).
func (f *form) check(c *call) *apiError {
	op := c.rt.v.route.Operation
	mt := op.RequestBody.Value.Content.Get("multipart/form-data")
	schema := mt.Schema.Value
	obj := map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(f.texts)) {
		ps := schema.Properties[name]
		if ps == nil {
			return errUnprocessable(fmt.Sprintf("property %s should not exist", name))
		}
		vals := f.texts[name]
		if binarySchema(ps.Value) || ps.Value.Type.Is("array") && ps.Value.Items != nil && binarySchema(ps.Value.Items.Value) {
			return errUnprocessable(fmt.Sprintf("%s must be a file", name))
		}
		if ps.Value.Type.Is("array") {
			list := make([]any, len(vals))
			for i, v := range vals {
				list[i] = v
			}
			obj[name] = list
			continue
		}
		if len(vals) > 1 {
			return errUnprocessable(fmt.Sprintf("%s must be one value", name))
		}
		obj[name] = vals[0]
	}
	files := map[string][]any{}
	for _, ff := range f.files {
		ps := schema.Properties[ff.part]
		if ps == nil {
			return errUnprocessable(fmt.Sprintf("property %s should not exist", ff.part))
		}
		if !binarySchema(ps.Value) && !(ps.Value.Type.Is("array") && ps.Value.Items != nil && binarySchema(ps.Value.Items.Value)) {
			return errUnprocessable(fmt.Sprintf("%s must be a text, not a file", ff.part))
		}
		if _, ok := obj[ff.part]; ok {
			return errUnprocessable(fmt.Sprintf("%s must be files only", ff.part))
		}
		files[ff.part] = append(files[ff.part], ff.filename)
	}
	for name, names := range files {
		if schema.Properties[name].Value.Type.Is("array") {
			obj[name] = names
			continue
		}
		if len(names) > 1 {
			return errUnprocessable(fmt.Sprintf("%s must be one file", name))
		}
		obj[name] = names[0]
	}
	if err := schema.VisitJSON(obj, openapi3.MultiErrors()); err != nil {
		return errUnprocessable(schemaProblems(err, "")...)
	}
	return nil
}

// binarySchema reports a schema of bytes (a file part).
func binarySchema(s *openapi3.Schema) bool {
	return s != nil && s.Type.Is("string") && s.Format == "binary"
}

// text is a form's one value of a text part, "" when absent.
func (f *form) text(name string) string {
	if v := f.texts[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// storageURL is the URL the sandbox serves a stored file at, on the host the
// request reached.
func storageURL(r *http.Request, filePath string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/_storage/" + filePath
}

// storeFile keeps a file's bytes under its path. Callers hold l.mu for
// writing.
func (l *locStore) storeFile(filePath string, f storedFile) {
	l.coll(storageColl, true).put(filePath, marshal(f))
}

// extension is a file name's extension, lower-cased, without its dot.
func extension(name string) string {
	return strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
}

// opUploadAttachments answers POST /conversations/messages/upload: files
// for a conversation of the location's, stored and answered by name with
// their URLs.
func (s *Sandbox) opUploadAttachments(w http.ResponseWriter, r *http.Request, c *call) {
	f, aerr := readForm(w, r, uploadBytes)
	if aerr == nil {
		aerr = f.check(c)
	}
	if aerr == nil {
		aerr = c.ownLocation(f.text("locationId"))
	}
	if aerr != nil {
		writeUploadError(w, aerr)
		return
	}
	group := f.text("isGroupSms")
	switch {
	case group != "" && group != "true" && group != "false":
		writeError(w, errUnprocessable("isGroupSms must be true or false"))
		return
	case group == "true" && len(f.files) > 1:
		writeError(w, errBadRequest("A group SMS upload takes one file, not %d", len(f.files)))
		return
	}
	seen := map[string]bool{}
	for _, ff := range f.files {
		if !slices.Contains(attachmentTypes, extension(ff.filename)) {
			writeUploadError(w, &apiError{status: http.StatusUnsupportedMediaType,
				message: fmt.Sprintf("Failed to upload the files: %s is not one of the allowed types (%s)", ff.filename, strings.ToUpper(strings.Join(attachmentTypes, ", ")))})
			return
		}
		if seen[ff.filename] {
			writeError(w, errBadRequest("Two files are named %s", ff.filename))
			return
		}
		seen[ff.filename] = true
	}
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	conv, ok := l.getDoc(collConversations, f.text("conversationId"))
	if !ok {
		writeError(w, errBadRequest("Conversation not found"))
		return
	}
	if conv["contactId"] != f.text("contactId") {
		writeError(w, errBadRequest("The conversation is not the contact's"))
		return
	}
	urls := map[string]any{}
	var sids []any
	for _, ff := range f.files {
		key := fmt.Sprintf("location/%s/conversations/%s/%s.%s", l.id, conv["id"], l.newID(), extension(ff.filename))
		l.storeFile(key, storedFile{ContentType: ff.contentType, Data: ff.data})
		urls[ff.filename] = storageURL(r, key)
		sids = append(sids, "ME"+hex.EncodeToString([]byte(l.newID()))[:32])
	}
	out := map[string]any{"uploadedFiles": urls}
	if group == "true" {
		out["twilioMediaSids"] = sids
	}
	writeJSON(w, http.StatusOK, out)
}

// opUploadCustomFieldFiles answers POST /locations/{locationId}/customFields/upload:
// files for a file custom field, at most maxFiles of them when it is given.
func (s *Sandbox) opUploadCustomFieldFiles(w http.ResponseWriter, r *http.Request, c *call) {
	if aerr := c.ownLocation(r.PathValue("locationId")); aerr != nil {
		writeError(w, aerr)
		return
	}
	f, aerr := readForm(w, r, uploadBytes)
	if aerr == nil {
		aerr = f.check(c)
	}
	if aerr != nil {
		writeUploadError(w, aerr)
		return
	}
	if m := f.text("maxFiles"); m != "" {
		n, err := strconv.Atoi(m)
		switch {
		case err != nil || n < 1:
			writeError(w, errUnprocessable("maxFiles must be a positive whole number"))
			return
		case len(f.files) > n:
			writeError(w, errBadRequest("%d files are more than maxFiles (%d)", len(f.files), n))
			return
		}
	}
	owner := f.text("id")
	if owner == "" {
		owner = "files"
	} else if strings.ContainsAny(owner, "/\\ ") {
		writeError(w, errUnprocessable("id must be an id"))
		return
	}
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	urls := map[string]any{}
	meta := []any{}
	for _, ff := range f.files {
		if _, dup := urls[ff.filename]; dup {
			writeError(w, errBadRequest("Two files are named %s", ff.filename))
			return
		}
		key := fmt.Sprintf("location/%s/custom-Field/%s/%s", l.id, owner, l.newID())
		if ext := extension(ff.filename); ext != "" {
			key += "." + ext
		}
		l.storeFile(key, storedFile{ContentType: ff.contentType, Data: ff.data})
		u := storageURL(r, key)
		urls[ff.filename] = u
		meta = append(meta, map[string]any{"fieldname": ff.part, "originalname": ff.filename, "encoding": "7bit",
			"mimetype": ff.contentType, "size": len(ff.data), "url": u})
	}
	writeJSON(w, http.StatusOK, map[string]any{"uploadedFiles": urls, "meta": meta})
}

// storageKey is the key that signs the sandbox's upload URLs: fixed per
// seed, so a restarted sandbox keeps honouring them.
func (s *Sandbox) storageKey() []byte {
	h := sha256.Sum256([]byte("hlgate sandbox storage " + strconv.FormatUint(s.cfg.Seed, 10) + " " + DefaultClientSecret))
	return h[:]
}

// uploadSignature signs a PUT of one upload.
func (s *Sandbox) uploadSignature(filePath, uploadID, contentType string, expires int64) string {
	m := hmac.New(sha256.New, s.storageKey())
	fmt.Fprintf(m, "PUT\n/_storage/%s\n%s\n%s\n%d", filePath, uploadID, contentType, expires)
	return hex.EncodeToString(m.Sum(nil))
}

// opInitiateUpload answers POST /conversations/messages/upload/initiate: a
// signed URL of the sandbox's storage to PUT one file to.
func (s *Sandbox) opInitiateUpload(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := strictBody(r, c)
	if aerr == nil {
		aerr = c.ownLocation(body["locationId"].(string))
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	filename, contentType := body["filename"].(string), body["contentType"].(string)
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || !strings.Contains(mt, "/") {
		writeError(w, errUnprocessable("contentType must be a media type"))
		return
	}
	if filename == "" || strings.ContainsAny(filename, "/\\\r\n") {
		writeError(w, errUnprocessable("filename must be a file's name"))
		return
	}
	limit := int64(uploadBytes)
	if body["channel"] == "WHATSAPP" {
		limit = whatsappBytes
	}
	if size, ok := body["fileSize"].(float64); ok {
		if size < 0 || size != float64(int64(size)) {
			writeError(w, errUnprocessable("fileSize must be a whole number of bytes"))
			return
		}
		if int64(size) > limit {
			writeUploadError(w, &apiError{status: http.StatusRequestEntityTooLarge, message: fmt.Sprintf("File size %d exceeds the %d bytes allowed for the channel", int64(size), limit)})
			return
		}
	}
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	conv, ok := l.getDoc(collConversations, body["conversationId"].(string))
	if !ok {
		writeError(w, errBadRequest("Conversation not found"))
		return
	}
	id := l.newID()
	uploadID := fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16])
	key := fmt.Sprintf("location/%s/conversations/%s/%s", l.id, conv["id"], id)
	if ext := extension(filename); ext != "" {
		key += "." + ext
	}
	expires := s.now().Add(signedUploadTTL).UnixMilli()
	up := pendingUpload{UploadID: uploadID, FilePath: key, ConversationID: conv["id"].(string), Filename: filename,
		ContentType: contentType, MaxFileSize: limit, ExpiresAt: expires}
	l.coll(uploadsColl, true).put(uploadID, marshal(up))
	q := url.Values{"uploadId": {uploadID}, "expires": {strconv.FormatInt(expires, 10)},
		"signature": {s.uploadSignature(key, uploadID, contentType, expires)}}
	writeJSON(w, http.StatusOK, map[string]any{"uploadUrl": storageURL(r, key) + "?" + q.Encode(), "uploadId": uploadID,
		"filePath": key, "expiresAt": expires, "maxFileSize": limit})
}

// pending finds an initiated upload. Callers hold l.mu.
func (l *locStore) pending(uploadID string) (pendingUpload, bool) {
	var up pendingUpload
	d, ok := l.doc(uploadsColl, uploadID)
	if !ok || json.Unmarshal(d, &up) != nil {
		return up, false
	}
	return up, true
}

// opCompleteUpload answers POST /conversations/messages/upload/complete:
// the URL of a file PUT to its signed URL, or 404 while there is none.
func (s *Sandbox) opCompleteUpload(w http.ResponseWriter, r *http.Request, c *call) {
	body, aerr := strictBody(r, c)
	if aerr == nil {
		aerr = c.ownLocation(body["locationId"].(string))
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	notFound := errNotFound("File not found in storage - upload may have failed or URL expired")
	l := s.tokenStore(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	up, ok := l.pending(body["uploadId"].(string))
	if !ok || up.FilePath != body["filePath"] || up.ConversationID != body["conversationId"] {
		writeError(w, notFound)
		return
	}
	var f storedFile
	d, ok := l.doc(storageColl, up.FilePath)
	if !ok || json.Unmarshal(d, &f) != nil || f.UploadID != up.UploadID {
		writeError(w, notFound)
		return
	}
	l.coll(uploadsColl, false).remove(up.UploadID)
	writeJSON(w, http.StatusOK, map[string]any{
		"uploadedFiles": map[string]any{body["filename"].(string): storageURL(r, up.FilePath)},
		"metadata":      map[string]any{"size": len(f.Data), "contentType": f.ContentType},
	})
}

// storageLocation is the location a storage path is under
// (location/<id>/…).
func (s *Sandbox) storageLocation(filePath string) (*locStore, bool) {
	rest, ok := strings.CutPrefix(filePath, "location/")
	if !ok {
		return nil, false
	}
	id, _, _ := strings.Cut(rest, "/")
	return s.loc(id)
}

// storageError answers a storage request in GCS's manner: a status and a
// short text.
func storageError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// handlePutStorage takes the bytes of a signed upload.
func (s *Sandbox) handlePutStorage(w http.ResponseWriter, r *http.Request) {
	filePath := r.PathValue("path")
	q := r.URL.Query()
	expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	l, ok := s.storageLocation(filePath)
	if err != nil || !ok || !hmac.Equal([]byte(q.Get("signature")), []byte(s.uploadSignature(filePath, q.Get("uploadId"), r.Header.Get("Content-Type"), expires))) {
		storageError(w, http.StatusForbidden, "SignatureDoesNotMatch: the request's signature, upload or Content-Type is not the signed one")
		return
	}
	if s.now().UnixMilli() >= expires {
		storageError(w, http.StatusForbidden, "ExpiredToken: the signed URL has expired")
		return
	}
	l.mu.RLock()
	up, ok := l.pending(q.Get("uploadId"))
	l.mu.RUnlock()
	if !ok || up.FilePath != filePath {
		storageError(w, http.StatusNotFound, "NoSuchUpload: the upload is not pending")
		return
	}
	if r.ContentLength > up.MaxFileSize {
		w.Header().Set("Connection", "close")
		storageError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("EntityTooLarge: the file exceeds %d bytes", up.MaxFileSize))
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, up.MaxFileSize))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		storageError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("EntityTooLarge: the file exceeds %d bytes", up.MaxFileSize))
		return
	case err != nil:
		storageError(w, http.StatusBadRequest, "the body could not be read")
		return
	case len(b) == 0:
		storageError(w, http.StatusBadRequest, "the body is empty")
		return
	}
	l.mu.Lock()
	l.storeFile(filePath, storedFile{ContentType: up.ContentType, Data: b, UploadID: up.UploadID})
	l.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// handleGetStorage serves a stored file.
func (s *Sandbox) handleGetStorage(w http.ResponseWriter, r *http.Request) {
	filePath := r.PathValue("path")
	l, ok := s.storageLocation(filePath)
	if !ok {
		storageError(w, http.StatusNotFound, "NoSuchKey")
		return
	}
	l.mu.RLock()
	d, ok := l.doc(storageColl, filePath)
	l.mu.RUnlock()
	var f storedFile
	if !ok || json.Unmarshal(d, &f) != nil {
		storageError(w, http.StatusNotFound, "NoSuchKey")
		return
	}
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.Data)))
	_, _ = w.Write(f.Data)
}

// registerStorage serves the storage routes, outside the API's auth.
func (s *Sandbox) registerStorage(mux *http.ServeMux) {
	mux.HandleFunc("PUT /_storage/{path...}", s.handlePutStorage)
	mux.HandleFunc("GET /_storage/{path...}", s.handleGetStorage)
}

// callMessage finds a call message of the location, which has a recording,
// and its length in seconds; 404 for another location's or a message
// without a recording.
func (s *Sandbox) callMessage(r *http.Request, c *call) (float64, *apiError) {
	if aerr := c.ownLocation(r.PathValue("locationId")); aerr != nil {
		return 0, aerr
	}
	l := s.tokenStore(c)
	l.mu.RLock()
	msg, ok := l.getDoc(collMessages, r.PathValue("messageId"))
	l.mu.RUnlock()
	if !ok {
		return 0, errNotFound("Message not found")
	}
	if t, _ := msg["messageType"].(string); !slices.Contains(callTypes, t) {
		return 0, errNotFound("Recording not found for the message")
	}
	secs := 1.0
	if meta, ok := msg["meta"].(map[string]any); ok {
		if d, ok := meta["callDuration"].(float64); ok && d > 0 {
			secs = min(d, 4*3600)
		}
	}
	return secs, nil
}

// Recording format: 8 kHz, 16-bit, mono PCM.
const (
	recordingRate  = 8000
	recordingBytes = 2
)

// opGetRecording answers GET
// /conversations/messages/{messageId}/locations/{locationId}/recording: the
// call's recording, a WAV of silence as long as the call.
func (s *Sandbox) opGetRecording(w http.ResponseWriter, r *http.Request, c *call) {
	secs, aerr := s.callMessage(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	n := int(secs * recordingRate * recordingBytes)
	var hdr bytes.Buffer
	hdr.WriteString("RIFF")
	_ = binary.Write(&hdr, binary.LittleEndian, uint32(36+n))
	hdr.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(recordingRate),
		uint32(recordingRate * recordingBytes), uint16(recordingBytes), uint16(8 * recordingBytes)} {
		_ = binary.Write(&hdr, binary.LittleEndian, v) // PCM, mono, rate, byte rate, block align, bits
	}
	hdr.WriteString("data")
	_ = binary.Write(&hdr, binary.LittleEndian, uint32(n))
	h := w.Header()
	h.Set("Content-Type", "audio/x-wav")
	h.Set("Content-Disposition", "attachment; filename=audio.wav")
	h.Set("Content-Length", strconv.Itoa(hdr.Len()+n))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(hdr.Bytes())
	silence := make([]byte, 32<<10)
	for n > 0 {
		k := min(n, len(silence))
		if _, err := w.Write(silence[:k]); err != nil {
			return
		}
		n -= k
	}
}

// transcriptText is what every recording says.
const transcriptText = "This call may be recorded for quality assurance purposes."

// opGetTranscription answers GET
// /conversations/locations/{locationId}/messages/{messageId}/transcription:
// the recording's one sentence.
func (s *Sandbox) opGetTranscription(w http.ResponseWriter, r *http.Request, c *call) {
	secs, aerr := s.callMessage(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"mediaChannel": 1, "sentenceIndex": 1, "startTime": 0,
		"endTime": int64(secs * 1000), "transcript": transcriptText, "confidence": 0.9})
}

// opDownloadTranscription answers GET
// /conversations/locations/{locationId}/messages/{messageId}/transcription/download:
// the transcription as text.
func (s *Sandbox) opDownloadTranscription(w http.ResponseWriter, r *http.Request, c *call) {
	secs, aerr := s.callMessage(r, c)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	text := fmt.Sprintf("[00:00:00 - %s] Channel 1: %s\n", (time.Duration(secs*1000) * time.Millisecond).Truncate(time.Second), transcriptText)
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Disposition", `attachment; filename="transcription.txt"`)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, text)
}
