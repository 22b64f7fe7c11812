package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// apiError is an upstream-shaped error answer. Its JSON follows
// common-schemas.json: 400 {statusCode, message}, 401 {statusCode, message,
// error}, 422 {statusCode, message:[string], error}.
type apiError struct {
	status   int
	message  string
	messages []string // 422 carries a list of messages
	errName  string   // the "error" member; empty omits it
	// oauthErr is the RFC 6749 error code of the token endpoint
	// (invalid_grant, invalid_client, ...); empty omits it.
	oauthErr string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.message) }

func (e *apiError) body() any {
	m := map[string]any{"statusCode": e.status}
	switch {
	case e.messages != nil:
		m["message"] = e.messages
	default:
		m["message"] = e.message
	}
	if e.errName != "" {
		m["error"] = e.errName
	}
	if e.oauthErr != "" {
		// The token endpoint answers in both shapes at once: the
		// upstream's {statusCode, message} and OAuth's {error,
		// error_description}, so either kind of client can read it.
		m["error"] = e.oauthErr
		m["error_description"] = e.message
	}
	return m
}

func errBadRequest(format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, message: fmt.Sprintf(format, a...)}
}

func errUnprocessable(msgs ...string) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, messages: msgs, errName: "Unprocessable Entity"}
}

func errUnauthorized(msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, message: msg, errName: "Unauthorized"}
}

func errForbidden(msg string) *apiError {
	return &apiError{status: http.StatusForbidden, message: msg, errName: "Forbidden"}
}

func errNotFound(format string, a ...any) *apiError {
	return &apiError{status: http.StatusNotFound, message: fmt.Sprintf(format, a...), errName: "Not Found"}
}

func errTooMany() *apiError {
	return &apiError{status: http.StatusTooManyRequests, message: "Too Many Requests", errName: "Too Many Requests"}
}

// Messages of the authentication failures. They are the upstream's where the
// reference quotes one.
const (
	msgTokenInvalid = "Invalid token: access token is invalid"
	msgTokenExpired = "Invalid token: access token is expired"
	msgScope        = "The token is not authorized for this scope."
	msgKind         = "This authClass type is not allowed to access this scope. Please reach out to the Platform team to get it added."
	msgLocation     = "The token does not have access to this location."
)

// marshal encodes a response body. Handlers call it while they hold a
// store's read lock and write the bytes after releasing it, so a slow
// client never holds a lock.
func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the sandbox's own types are encoded here; a failure is a
		// defect, reported as an upstream-shaped 500 by writeBody.
		return nil
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeBody(w, status, marshal(v))
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	if b == nil {
		b = []byte(`{"statusCode":500,"message":"sandbox: encode response"}`)
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(b) + 1)}
	w.WriteHeader(status)
	b = append(b, '\n')
	_, _ = w.Write(b) // a write error means the client went away; nothing to do
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, e.body())
}
