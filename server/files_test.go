package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// attachmentBound is upload-file-attachments' x-hlgate.maxBytes: 5 MiB.
const attachmentBound = 5 << 20

// filesSetup is a harness and a conversation of a contact of the demo
// location, for the files' tests.
func filesSetup(t *testing.T) (h *harness, svc hlgatev1.ConversationsServiceClient, contact, conv string) {
	t.Helper()
	h = newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true, Now: frozenClock(conversationsClock)}})
	svc = hlgatev1.NewConversationsServiceClient(h.conn)
	ctx := h.ctx("")
	found, err := h.contacts.SearchContacts(ctx, &hlgatev1.SearchContactsRequest{LocationId: sandbox.DemoLocationID, PageSize: 1})
	if err != nil || len(found.GetContacts()) != 1 {
		t.Fatalf("a contact: %v, %v", found, err)
	}
	contact = found.GetContacts()[0].GetId()
	created, err := svc.CreateConversation(ctx, &hlgatev1.CreateConversationRequest{LocationId: sandbox.DemoLocationID, ContactId: proto.String(contact)})
	if err != nil {
		t.Fatalf("CreateConversation: %v", err)
	}
	return h, svc, contact, created.GetConversation().GetId()
}

// fetch reads a file URL the sandbox answered, and its Content-Type.
func fetch(t *testing.T, h *harness, u string) (string, string) {
	t.Helper()
	if !strings.HasPrefix(u, h.sbURL+"/_storage/") {
		t.Fatalf("file URL %q is not the sandbox's storage (%s)", u, h.sbURL)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", u, resp.StatusCode, b)
	}
	return string(b), resp.Header.Get("Content-Type")
}

// filesREST calls the gateway with a JSON body.
func filesREST(t *testing.T, h *harness, method, path string, body any) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	return h.rest(method, path, "", r)
}

// Attachments are uploaded over gRPC and REST as multipart forms the sandbox
// checks against the document, and their URLs serve the bytes with their
// media type. The bound is the row's 5 MiB of files together: exactly that
// much goes through both transports (gRPC's message bound and the REST
// body bound let it), one byte more is INVALID_ARGUMENT naming the field
// (400 over REST) and reaches nothing, and a message beyond even the raised
// gRPC bound is refused by gRPC itself.
func TestUploadFileAttachments(t *testing.T) {
	t.Parallel()
	h, svc, contact, conv := filesSetup(t)
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	req := func(files ...*hlgatev1.File) *hlgatev1.UploadFileAttachmentsRequest {
		return &hlgatev1.UploadFileAttachmentsRequest{LocationId: loc, ConversationId: proto.String(conv), ContactId: proto.String(contact),
			AttachmentUrls: []string{"https://example.com/earlier.png"}, FileAttachment: files}
	}
	photo := &hlgatev1.File{Filename: "photo.png", ContentType: "image/png", Content: []byte("\x89PNG\r\n\x1a\nphoto")}
	notes := &hlgatev1.File{Filename: "notes.txt", ContentType: "text/plain", Content: []byte("call back at 5")}
	got, err := svc.UploadFileAttachments(ctx, req(photo, notes))
	if err != nil {
		t.Fatalf("UploadFileAttachments: %v", err)
	}
	for _, f := range []*hlgatev1.File{photo, notes} {
		body, ct := fetch(t, h, got.GetUploadedFiles().GetFields()[f.Filename].GetStringValue())
		if body != string(f.Content) || ct != f.ContentType {
			t.Errorf("%s is served as %q (%s), want %q (%s)", f.Filename, body, ct, f.Content, f.ContentType)
		}
	}

	// REST: the file's content is base64, as proto3's JSON has bytes.
	code, _, ans := filesREST(t, h, http.MethodPost, "/v1/locations/"+loc+"/conversations/messages/upload", map[string]any{
		"conversationId": conv, "contactId": contact, "attachmentUrls": []string{"https://example.com/earlier.png"},
		"fileAttachment": []any{map[string]any{"filename": "scan.pdf", "contentType": "application/pdf", "content": base64.StdEncoding.EncodeToString([]byte("%PDF-1.7 scan"))}},
	})
	var viaREST struct{ UploadedFiles map[string]string }
	if code != http.StatusOK || json.Unmarshal(ans, &viaREST) != nil {
		t.Fatalf("POST upload = %d %s", code, ans)
	}
	if body, ct := fetch(t, h, viaREST.UploadedFiles["scan.pdf"]); body != "%PDF-1.7 scan" || ct != "application/pdf" {
		t.Errorf("scan.pdf is served as %q (%s)", body, ct)
	}

	// The sandbox's own refusals come back as HighLevel's.
	if _, err := svc.UploadFileAttachments(ctx, req(&hlgatev1.File{Filename: "run.exe", Content: []byte("MZ")})); status.Code(err) == codes.OK || !strings.Contains(err.Error(), "415") && !strings.Contains(err.Error(), "allowed types") {
		t.Errorf("an .exe: %v, want HighLevel's 415", err)
	}

	// The bound, exactly: 5 MiB in two files goes through both transports.
	half := attachmentBound / 2
	maximal := req(&hlgatev1.File{Filename: "a.zip", ContentType: "application/zip", Content: bytes.Repeat([]byte{'a'}, half)},
		&hlgatev1.File{Filename: "b.zip", ContentType: "application/zip", Content: bytes.Repeat([]byte{'b'}, attachmentBound-half)})
	if _, err := svc.UploadFileAttachments(ctx, maximal); err != nil {
		t.Fatalf("an upload of exactly 5 MiB over gRPC: %v", err)
	}
	code, _, ans = filesREST(t, h, http.MethodPost, "/v1/locations/"+loc+"/conversations/messages/upload", map[string]any{
		"conversationId": conv, "contactId": contact, "attachmentUrls": []string{"x"},
		"fileAttachment": []any{map[string]any{"filename": "max.zip", "content": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'m'}, attachmentBound))}},
	})
	if code != http.StatusOK {
		t.Fatalf("an upload of exactly 5 MiB over REST = %d %s", code, ans)
	}

	// One byte more reaches nothing.
	sent := h.hits.get("POST /conversations/messages/upload")
	maximal.FileAttachment[1].Content = append(maximal.FileAttachment[1].Content, 'b')
	_, err = svc.UploadFileAttachments(ctx, maximal)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "file_attachment[1]") {
		t.Errorf("5 MiB and a byte over gRPC: %v, want INVALID_ARGUMENT naming file_attachment[1]", err)
	}
	code, _, ans = filesREST(t, h, http.MethodPost, "/v1/locations/"+loc+"/conversations/messages/upload", map[string]any{
		"conversationId": conv, "contactId": contact, "attachmentUrls": []string{"x"},
		"fileAttachment": []any{map[string]any{"filename": "over.zip", "content": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'o'}, attachmentBound+1))}},
	})
	if code != http.StatusBadRequest || !strings.Contains(string(ans), "file_attachment[0]") {
		t.Errorf("5 MiB and a byte over REST = %d %s, want 400 naming file_attachment[0]", code, ans)
	}
	// A file without a name, or without bytes, is refused too.
	for _, f := range []*hlgatev1.File{{Content: []byte("x")}, {Filename: "empty.txt"}} {
		if _, err := svc.UploadFileAttachments(ctx, req(f)); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "file_attachment") {
			t.Errorf("file %v: %v, want INVALID_ARGUMENT naming file_attachment", f, err)
		}
	}
	// A message beyond even the raised bound: gRPC refuses it whole.
	huge := req(&hlgatev1.File{Filename: "huge.zip", Content: bytes.Repeat([]byte{'h'}, h.srv.messageBytes()+1)})
	if _, err := svc.UploadFileAttachments(ctx, huge); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a message above the gRPC bound: %v, want RESOURCE_EXHAUSTED", err)
	}
	// A REST body beyond the uploads' raised bound is 413 before it is read.
	code, _, ans = h.rest(http.MethodPost, "/v1/locations/"+loc+"/conversations/messages/upload", "", bytes.NewReader(bytes.Repeat([]byte(" "), int(h.srv.restUploadBytes())+1)))
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("a REST body above the uploads' bound = %d %.200s, want 413", code, ans)
	}
	if n := h.hits.get("POST /conversations/messages/upload"); n != sent {
		t.Errorf("refused uploads reached the sandbox %d times", n-sent)
	}
}

// A custom field's files are uploaded over gRPC and REST; maxFiles bounds
// them in the sandbox.
func TestUploadFileCustomFields(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	svc := hlgatev1.NewLocationsServiceClient(h.conn)
	csv := &hlgatev1.File{Filename: "FileName.csv", ContentType: "text/csv", Content: []byte("a,b\n1,2\n")}
	got, err := svc.UploadFileCustomFields(ctx, &hlgatev1.UploadFileCustomFieldsRequest{LocationId: loc, Id: proto.String("FieldFiles0000000001"), MaxFiles: proto.String("1"), File: []*hlgatev1.File{csv}})
	if err != nil {
		t.Fatalf("UploadFileCustomFields: %v", err)
	}
	if body, ct := fetch(t, h, got.GetUploadedFiles().GetFields()["FileName.csv"].GetStringValue()); body != string(csv.Content) || ct != "text/csv" {
		t.Errorf("the file is served as %q (%s)", body, ct)
	}
	if len(got.GetMeta()) != 1 || got.GetMeta()[0].GetSize() != float64(len(csv.Content)) || got.GetMeta()[0].GetOriginalname() != "FileName.csv" {
		t.Errorf("meta = %v", got.GetMeta())
	}
	two := &hlgatev1.UploadFileCustomFieldsRequest{LocationId: loc, MaxFiles: proto.String("1"), File: []*hlgatev1.File{csv, {Filename: "b.csv", Content: []byte("b")}}}
	if _, err := svc.UploadFileCustomFields(ctx, two); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "maxFiles") {
		t.Errorf("two files with maxFiles 1: %v, want HighLevel's refusal", err)
	}
	if _, err := svc.UploadFileCustomFields(ctx, &hlgatev1.UploadFileCustomFieldsRequest{LocationId: loc}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "file") {
		t.Errorf("no file: %v, want INVALID_ARGUMENT naming file", err)
	}
	code, _, ans := filesREST(t, h, http.MethodPost, "/v1/locations/"+loc+"/customFields/upload", map[string]any{
		"file": []any{map[string]any{"filename": "r.txt", "contentType": "text/plain", "content": base64.StdEncoding.EncodeToString([]byte("rest"))}},
	})
	var viaREST struct{ UploadedFiles map[string]string }
	if code != http.StatusOK || json.Unmarshal(ans, &viaREST) != nil {
		t.Fatalf("POST customFields/upload = %d %s", code, ans)
	}
	if body, _ := fetch(t, h, viaREST.UploadedFiles["r.txt"]); body != "rest" {
		t.Errorf("r.txt is served as %q", body)
	}
}

// A call message's recording and transcription come over gRPC as bytes with
// their media type and Content-Disposition (a response header), and over
// REST as the bytes themselves with both headers; the transcription's JSON
// too. A message without a recording is NOT_FOUND, and a recording above
// the row's bound is an error, never a truncated file.
func TestMessageRecordingAndTranscription(t *testing.T) {
	t.Parallel()
	h, svc, _, conv := filesSetup(t)
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	call, err := svc.AddAnOutboundMessage(ctx, &hlgatev1.AddAnOutboundMessageRequest{LocationId: loc, Type: proto.String("Call"),
		ConversationId: proto.String(conv), ConversationProviderId: proto.String("ProviderFiles0000001")})
	if err != nil {
		t.Fatalf("AddAnOutboundMessage: %v", err)
	}
	id := call.GetMessageId()

	var hdr metadata.MD
	wav, err := svc.GetMessageRecording(ctx, &hlgatev1.GetMessageRecordingRequest{LocationId: loc, MessageId: id}, grpc.Header(&hdr))
	if err != nil {
		t.Fatalf("GetMessageRecording: %v", err)
	}
	if wav.GetContentType() != "audio/x-wav" || !bytes.HasPrefix(wav.GetData(), []byte("RIFF")) || len(wav.GetData()) != 44+8000*2 {
		t.Errorf("recording: %s of %d bytes, want a 1 s WAV", wav.GetContentType(), len(wav.GetData()))
	}
	if d := hdr.Get("content-disposition"); len(d) != 1 || d[0] != "attachment; filename=audio.wav" {
		t.Errorf("content-disposition header = %q", d)
	}
	code, rh, body := h.rest(http.MethodGet, "/v1/conversations/messages/"+id+"/locations/"+loc+"/recording", "", nil)
	if code != http.StatusOK || rh.Get("Content-Type") != "audio/x-wav" || rh.Get("Content-Disposition") != "attachment; filename=audio.wav" || !bytes.Equal(body, wav.GetData()) {
		t.Errorf("GET recording = %d %s %q, %d bytes (gRPC: %d)", code, rh.Get("Content-Type"), rh.Get("Content-Disposition"), len(body), len(wav.GetData()))
	}

	tr, err := svc.GetMessageTranscription(ctx, &hlgatev1.GetMessageTranscriptionRequest{LocationId: loc, MessageId: id})
	if err != nil || tr.GetTranscript() == "" || tr.GetEndTime() != 1000 || tr.GetSentenceIndex() != 1 {
		t.Fatalf("GetMessageTranscription = %v, %v", tr, err)
	}
	code, _, body = h.rest(http.MethodGet, "/v1/conversations/locations/"+loc+"/messages/"+id+"/transcription", "", nil)
	var viaREST struct{ Transcript string }
	if code != http.StatusOK || json.Unmarshal(body, &viaREST) != nil || viaREST.Transcript != tr.GetTranscript() {
		t.Errorf("GET transcription = %d %s", code, body)
	}
	hdr = nil
	txt, err := svc.DownloadMessageTranscription(ctx, &hlgatev1.DownloadMessageTranscriptionRequest{LocationId: loc, MessageId: id}, grpc.Header(&hdr))
	if err != nil || txt.GetContentType() != "text/plain" || !strings.Contains(string(txt.GetData()), tr.GetTranscript()) {
		t.Fatalf("DownloadMessageTranscription = %v, %v", txt, err)
	}
	if d := hdr.Get("content-disposition"); len(d) != 1 || d[0] != `attachment; filename="transcription.txt"` {
		t.Errorf("content-disposition header = %q", d)
	}
	code, rh, body = h.rest(http.MethodGet, "/v1/conversations/locations/"+loc+"/messages/"+id+"/transcription/download", "", nil)
	if code != http.StatusOK || rh.Get("Content-Type") != "text/plain" || rh.Get("Content-Disposition") != `attachment; filename="transcription.txt"` || !bytes.Equal(body, txt.GetData()) {
		t.Errorf("GET transcription/download = %d %s %q %q", code, rh.Get("Content-Type"), rh.Get("Content-Disposition"), body)
	}

	// A text message has no recording, nor has a message that is not.
	sms, _ := json.Marshal(map[string]any{"id": "TextMessage000000001", "locationId": loc, "conversationId": conv, "messageType": "TYPE_SMS", "type": 2,
		"direction": "outbound", "dateAdded": "2026-04-14T15:07:00.000Z", "body": "hi"})
	if err := h.sb.PutDocument(loc, "/conversations/messages", sms); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetMessageTranscription(ctx, &hlgatev1.GetMessageTranscriptionRequest{LocationId: loc, MessageId: "TextMessage000000001"}); status.Code(err) != codes.NotFound {
		t.Errorf("a text message's transcription: %v, want NOT_FOUND", err)
	}
	if _, err := svc.GetMessageRecording(ctx, &hlgatev1.GetMessageRecordingRequest{LocationId: loc, MessageId: "NoSuchMessage0000001"}); status.Code(err) != codes.NotFound {
		t.Errorf("an unknown message's recording: %v, want NOT_FOUND", err)
	}
	if code, _, body := h.rest(http.MethodGet, "/v1/conversations/locations/"+loc+"/messages/NoSuchMessage0000001/transcription/download", "", nil); code != http.StatusNotFound {
		t.Errorf("an unknown message's transcription over REST = %d %s, want 404", code, body)
	}

	// A recording above the 16 MiB bound (a call of 1,100 s is 17.6 MB).
	long := map[string]any{"id": "LongCall000000000001", "locationId": loc, "conversationId": conv, "messageType": "TYPE_CALL", "type": 1,
		"direction": "outbound", "dateAdded": "2026-04-14T15:07:00.000Z", "meta": map[string]any{"callDuration": 1100}}
	b, _ := json.Marshal(long)
	if err := h.sb.PutDocument(loc, "/conversations/messages", b); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetMessageRecording(ctx, &hlgatev1.GetMessageRecordingRequest{LocationId: loc, MessageId: "LongCall000000000001"}); status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "16777216") {
		t.Errorf("a recording above the bound: %v, want RESOURCE_EXHAUSTED naming the bound", err)
	}
}

// The signed upload: initiate over gRPC, PUT the bytes to the URL the
// sandbox signed, complete; complete before the bytes are there is
// NOT_FOUND. The same over REST.
func TestSignedFileUpload(t *testing.T) {
	t.Parallel()
	h, svc, _, conv := filesSetup(t)
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	put := func(u, ct, data string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, u, strings.NewReader(data))
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	init, err := svc.InitiateFileUpload(ctx, &hlgatev1.InitiateFileUploadRequest{LocationId: loc, ConversationId: proto.String(conv),
		Filename: proto.String("video.mp4"), ContentType: proto.String("video/mp4"), Channel: proto.String("WHATSAPP"), FileSize: proto.Float64(12)})
	if err != nil {
		t.Fatalf("InitiateFileUpload: %v", err)
	}
	if init.GetMaxFileSize() != 100<<20 || init.GetExpiresAt() != float64(conversationsClock.Add(15*60e9).UnixMilli()) {
		t.Errorf("initiate: max %v, expires %v", init.GetMaxFileSize(), init.GetExpiresAt())
	}
	complete := &hlgatev1.CompleteFileUploadRequest{LocationId: loc, UploadId: proto.String(init.GetUploadId()), FilePath: proto.String(init.GetFilePath()),
		ConversationId: proto.String(conv), Filename: proto.String("video.mp4")}
	if _, err := svc.CompleteFileUpload(ctx, complete); status.Code(err) != codes.NotFound {
		t.Errorf("complete before the PUT: %v, want NOT_FOUND", err)
	}
	if code := put(init.GetUploadUrl(), "video/mp4", "twelve bytes"); code != http.StatusOK {
		t.Fatalf("PUT to the signed URL = %d", code)
	}
	done, err := svc.CompleteFileUpload(ctx, complete)
	if err != nil {
		t.Fatalf("CompleteFileUpload: %v", err)
	}
	if body, ct := fetch(t, h, done.GetUploadedFiles().GetFields()["video.mp4"].GetStringValue()); body != "twelve bytes" || ct != "video/mp4" {
		t.Errorf("the completed file is served as %q (%s)", body, ct)
	}
	if done.GetMetadata().GetFields()["size"].GetNumberValue() != 12 {
		t.Errorf("metadata = %v", done.GetMetadata())
	}

	code, _, ans := filesREST(t, h, http.MethodPost, "/v1/locations/"+loc+"/conversations/messages/upload/initiate", map[string]any{
		"conversationId": conv, "filename": "clip.mp3", "contentType": "audio/mpeg", "channel": "SMS"})
	var viaREST struct{ UploadURL, UploadID, FilePath string }
	if code != http.StatusOK || json.Unmarshal(ans, &viaREST) != nil || viaREST.UploadURL == "" {
		t.Fatalf("POST initiate = %d %s", code, ans)
	}
	if code := put(viaREST.UploadURL, "audio/mpeg", "ID3 clip"); code != http.StatusOK {
		t.Fatalf("PUT to the REST-initiated URL = %d", code)
	}
	code, _, ans = filesREST(t, h, http.MethodPost, "/v1/locations/"+loc+"/conversations/messages/upload/complete", map[string]any{
		"uploadId": viaREST.UploadID, "filePath": viaREST.FilePath, "conversationId": conv, "filename": "clip.mp3"})
	var completed struct{ UploadedFiles map[string]string }
	if code != http.StatusOK || json.Unmarshal(ans, &completed) != nil {
		t.Fatalf("POST complete = %d %s", code, ans)
	}
	if body, _ := fetch(t, h, completed.UploadedFiles["clip.mp3"]); body != "ID3 clip" {
		t.Errorf("clip.mp3 is served as %q", body)
	}
}
