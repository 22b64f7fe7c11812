package sandbox_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/hlgate/hlgate/sandbox"
)

// formPart is one part of a multipart body a test builds.
type formPart struct {
	name, filename, contentType string
	data                        []byte
}

// multipartBody encodes parts as multipart/form-data.
func multipartBody(parts ...formPart) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		if p.filename == "" {
			_ = w.WriteField(p.name, string(p.data))
			continue
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+p.name+`"; filename="`+p.filename+`"`)
		h.Set("Content-Type", p.contentType)
		pw, _ := w.CreatePart(h)
		_, _ = pw.Write(p.data)
	}
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

func text(name, v string) formPart { return formPart{name: name, data: []byte(v)} }

// filesConformance runs the operations that move files: the attachments'
// and custom fields' multipart uploads with their bounds, the signed upload
// (initiate, PUT, complete), and a call message's recording and
// transcription.
func (cf *conformance) filesConformance(L, loc string, clock *fakeClock) {
	t := cf.t
	t.Helper()
	ct := cf.run(confCase{name: "files contact", method: "POST", path: "/contacts/", token: loc, status: 201,
		json: map[string]any{"locationId": L, "firstName": "Files", "email": "files@example.com"}})
	contactID := str(ct, "contact", "id")
	conv := cf.run(confCase{name: "files conversation", method: "POST", path: "/conversations/", token: loc, status: 201,
		json: map[string]any{"locationId": L, "contactId": contactID}})
	convID := str(conv, "conversation", "id")

	// The direct upload.
	form := func(files ...formPart) []formPart {
		return append([]formPart{text("conversationId", convID), text("contactId", contactID), text("locationId", L),
			text("attachmentUrls", "https://example.com/a.png")}, files...)
	}
	png := formPart{name: "fileAttachment", filename: "photo.png", contentType: "image/png", data: []byte("\x89PNG\r\n\x1a\nconformance")}
	body, ctype := multipartBody(form(png, formPart{name: "fileAttachment", filename: "notes.txt", contentType: "text/plain", data: []byte("hello")})...)
	up := cf.run(confCase{name: "upload attachments", method: "POST", path: "/conversations/messages/upload", token: loc, status: 200, raw: body, ctype: ctype})
	got := cf.get(str(up, "uploadedFiles", "photo.png"))
	if got != string(png.data) {
		t.Errorf("the uploaded photo's URL serves %q, want %q", got, png.data)
	}
	body, ctype = multipartBody(form()...)
	cf.run(confCase{name: "upload without a file", method: "POST", path: "/conversations/messages/upload", token: loc, status: 422, badRequest: true, raw: body, ctype: ctype})
	body, ctype = multipartBody(text("conversationId", convID), text("locationId", L), text("attachmentUrls", "x"), png)
	cf.run(confCase{name: "upload without a contact", method: "POST", path: "/conversations/messages/upload", token: loc, status: 422, badRequest: true, raw: body, ctype: ctype})
	body, ctype = multipartBody(form(png, text("color", "red"))...)
	cf.run(confCase{name: "upload an undeclared part", method: "POST", path: "/conversations/messages/upload", token: loc, status: 422, badRequest: true, raw: body, ctype: ctype})
	body, ctype = multipartBody(form(formPart{name: "fileAttachment", filename: "run.exe", contentType: "application/octet-stream", data: []byte("MZ")})...)
	cf.run(confCase{name: "upload a type not allowed", method: "POST", path: "/conversations/messages/upload", token: loc, status: 415, raw: body, ctype: ctype})
	big := formPart{name: "fileAttachment", filename: "big.zip", contentType: "application/zip", data: bytes.Repeat([]byte{'z'}, 5<<20+1)}
	body, ctype = multipartBody(form(big)...)
	cf.run(confCase{name: "upload above 5 MiB", method: "POST", path: "/conversations/messages/upload", token: loc, status: 413, raw: body, ctype: ctype})
	body, ctype = multipartBody(form(png, text("isGroupSms", "true"), formPart{name: "fileAttachment", filename: "b.png", contentType: "image/png", data: []byte("b")})...)
	cf.run(confCase{name: "group upload of two files", method: "POST", path: "/conversations/messages/upload", token: loc, status: 400, raw: body, ctype: ctype})
	body, ctype = multipartBody(form(png, text("isGroupSms", "true"))...)
	cf.run(confCase{name: "group upload", method: "POST", path: "/conversations/messages/upload", token: loc, status: 200, raw: body, ctype: ctype})
	body, ctype = multipartBody(text("conversationId", convID), text("contactId", contactID), text("locationId", sandbox.OtherLocationID), text("attachmentUrls", "x"), png)
	cf.run(confCase{name: "upload to another location", method: "POST", path: "/conversations/messages/upload", token: loc, status: 403, raw: body, ctype: ctype})

	// The custom fields' upload.
	csv := formPart{name: "file", filename: "FileName.csv", contentType: "text/csv", data: []byte("a,b\n1,2\n")}
	body, ctype = multipartBody(text("id", "FieldConformance0001"), text("maxFiles", "1"), csv)
	cfUp := cf.run(confCase{name: "upload custom field file", method: "POST", path: "/locations/" + L + "/customFields/upload", token: loc, status: 200, raw: body, ctype: ctype})
	if got := cf.get(str(cfUp, "meta", 0, "url")); got != string(csv.data) {
		t.Errorf("the custom field file's URL serves %q, want %q", got, csv.data)
	}
	body, ctype = multipartBody(text("maxFiles", "1"), csv, formPart{name: "file", filename: "b.csv", contentType: "text/csv", data: []byte("b")})
	cf.run(confCase{name: "upload more than maxFiles", method: "POST", path: "/locations/" + L + "/customFields/upload", token: loc, status: 400, raw: body, ctype: ctype})
	body, ctype = multipartBody(text("id", "x"))
	cf.run(confCase{name: "upload custom field without a file", method: "POST", path: "/locations/" + L + "/customFields/upload", token: loc, status: 422, badRequest: true, raw: body, ctype: ctype})

	// The signed upload.
	initiate := map[string]any{"locationId": L, "conversationId": convID, "filename": "video.mp4", "contentType": "video/mp4", "channel": "SMS", "fileSize": 11}
	init := cf.run(confCase{name: "initiate upload", method: "POST", path: "/conversations/messages/upload/initiate", token: loc, status: 200, json: initiate})
	complete := map[string]any{"uploadId": str(init, "uploadId"), "filePath": str(init, "filePath"), "locationId": L, "conversationId": convID, "filename": "video.mp4"}
	cf.run(confCase{name: "complete before the PUT", method: "POST", path: "/conversations/messages/upload/complete", token: loc, status: 404, json: complete})
	if code := cf.put(str(init, "uploadUrl"), "video/quicktime", "mp4 bytes!!"); code != http.StatusForbidden {
		t.Errorf("a PUT of another media type than the signed one answered %d, want 403", code)
	}
	if code := cf.put(strings.Replace(str(init, "uploadUrl"), "signature=", "signature=0", 1), "video/mp4", "mp4 bytes!!"); code != http.StatusForbidden {
		t.Errorf("a PUT with a forged signature answered %d, want 403", code)
	}
	if code := cf.put(str(init, "uploadUrl"), "video/mp4", "mp4 bytes!!"); code != http.StatusOK {
		t.Fatalf("the signed PUT answered %d", code)
	}
	done := cf.run(confCase{name: "complete upload", method: "POST", path: "/conversations/messages/upload/complete", token: loc, status: 200, json: complete})
	if got := cf.get(str(done, "uploadedFiles", "video.mp4")); got != "mp4 bytes!!" {
		t.Errorf("the completed upload's URL serves %q", got)
	}
	cf.run(confCase{name: "complete upload again", method: "POST", path: "/conversations/messages/upload/complete", token: loc, status: 404, json: complete})
	initiate["fileSize"] = 5<<20 + 1
	cf.run(confCase{name: "initiate above the channel's bound", method: "POST", path: "/conversations/messages/upload/initiate", token: loc, status: 413, json: initiate})
	initiate["channel"] = "WHATSAPP"
	late := cf.run(confCase{name: "initiate whatsapp", method: "POST", path: "/conversations/messages/upload/initiate", token: loc, status: 200, json: initiate})
	clock.Add(15 * time.Minute)
	if code := cf.put(str(late, "uploadUrl"), "video/mp4", "late"); code != http.StatusForbidden {
		t.Errorf("a PUT after the URL expired answered %d, want 403", code)
	}
	delete(initiate, "channel")
	cf.run(confCase{name: "initiate without a channel", method: "POST", path: "/conversations/messages/upload/initiate", token: loc, status: 422, badRequest: true, json: initiate})

	// A call's recording and transcription.
	callMsg := cf.run(confCase{name: "files call", method: "POST", path: "/conversations/messages/outbound", token: loc, status: 200,
		json: map[string]any{"type": "Call", "conversationId": convID, "conversationProviderId": "ProviderConformance1",
			"call": map[string]any{"to": "+15550000001", "from": "+15550000002", "status": "completed"}}})
	callID := str(callMsg, "messageId")
	sms := cf.run(confCase{name: "files sms", method: "POST", path: "/conversations/messages", token: loc, status: 200,
		json: map[string]any{"type": "SMS", "contactId": contactID, "message": "no recording", "status": "delivered", "subType": "SMS", "toNumber": "+15550000003"}})
	smsID := str(sms, "messageId")
	wav := cf.run(confCase{name: "recording", method: "GET", path: "/conversations/messages/" + callID + "/locations/" + L + "/recording", token: loc, status: 200})
	if b := wav[answerBytes].(string); !strings.HasPrefix(b, "RIFF") || !strings.Contains(b[:16], "WAVE") {
		t.Errorf("the recording is not a WAV: %q…", b[:min(16, len(b))])
	}
	cf.run(confCase{name: "recording of an sms", method: "GET", path: "/conversations/messages/" + smsID + "/locations/" + L + "/recording", token: loc, status: 404})
	cf.run(confCase{name: "recording of another location", method: "GET", path: "/conversations/messages/" + callID + "/locations/" + sandbox.OtherLocationID + "/recording", token: loc, status: 403})
	tr := cf.run(confCase{name: "transcription", method: "GET", path: "/conversations/locations/" + L + "/messages/" + callID + "/transcription", token: loc, status: 200})
	cf.run(confCase{name: "transcription of an sms", method: "GET", path: "/conversations/locations/" + L + "/messages/" + smsID + "/transcription", token: loc, status: 404})
	txt := cf.run(confCase{name: "transcription download", method: "GET", path: "/conversations/locations/" + L + "/messages/" + callID + "/transcription/download", token: loc, status: 200})
	if !strings.Contains(txt[answerBytes].(string), str(tr, "transcript")) {
		t.Errorf("the transcription's text %q does not hold its sentence %q", txt[answerBytes], str(tr, "transcript"))
	}
	cf.run(confCase{name: "transcription download of an sms", method: "GET", path: "/conversations/locations/" + L + "/messages/" + smsID + "/transcription/download", token: loc, status: 404})
}

// get reads a URL the sandbox serves outside the API (a stored file).
func (cf *conformance) get(u string) string {
	cf.t.Helper()
	if !strings.HasPrefix(u, cf.e.srv.URL+"/_storage/") {
		cf.t.Fatalf("file URL %q is not the sandbox's storage", u)
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	resp, body := cf.e.do(req)
	if resp.StatusCode != http.StatusOK {
		cf.t.Fatalf("GET %s answered %d %s", u, resp.StatusCode, body)
	}
	return string(body)
}

// put sends bytes to a signed upload URL, without the API's token.
func (cf *conformance) put(u, contentType, data string) int {
	cf.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, u, strings.NewReader(data))
	req.Header.Set("Content-Type", contentType)
	resp, _ := cf.e.do(req)
	return resp.StatusCode
}
