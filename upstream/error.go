package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrRequestTooLarge: a request body is above Config.MaxRequestBytes; it is
// never sent. It is the caller's doing (too many or too large values), so
// the server maps it to INVALID_ARGUMENT.
var ErrRequestTooLarge = errors.New("upstream: request body too large")

// Error is HighLevel's final answer to a call that did not succeed, or the
// lack of one. It is the only error type the server maps for upstream
// failures.
type Error struct {
	// Status is HighLevel's HTTP status; 0 when no response arrived (the
	// connection failed).
	Status int
	// Message is HighLevel's message (several 422 messages joined by "; "),
	// safe to show to a caller: it never contains a token.
	Message string
	// Messages are the individual messages of a 422 body.
	Messages []string
	// RetryAfter is how long HighLevel asked callers to wait, from
	// Retry-After or, on 429, X-RateLimit-Interval-Milliseconds; 0 when it
	// said nothing.
	RetryAfter time.Duration
	// TraceID is HighLevel's trace id, for support tickets.
	TraceID string
	// Method and Path name the upstream operation (no query: it may carry
	// personal data).
	Method, Path string
	// Body is HighLevel's answer as it arrived, at most maxErrorBody bytes
	// (nil when no response arrived), and Header its headers: the
	// passthrough answers a caller with HighLevel's own answer, not only
	// the message read from it. Neither is put in Error's text or logs.
	Body   []byte
	Header http.Header

	err error // the transport error when Status is 0
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("upstream %s %s: no response: %v", e.Method, e.Path, e.err)
	}
	return fmt.Sprintf("upstream %s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// Unwrap returns the transport error of a call that got no response.
func (e *Error) Unwrap() error { return e.err }

func connError(req *http.Request, err error) *Error {
	return &Error{Method: req.Method, Path: req.URL.Path, Message: "HighLevel could not be reached", err: err, RetryAfter: time.Second}
}

// errorBody covers HighLevel's error shapes (reference common-schemas.json):
// 400 {statusCode, message}, 401 {statusCode, message, error}, 422
// {statusCode, message: [string], error}.
type errorBody struct {
	Message json.RawMessage `json:"message"`
	Error   string          `json:"error"`
	TraceID string          `json:"traceId"`
}

// maxErrorBody bounds how much of a non-2xx answer is read: HighLevel's
// error bodies are a status, a message and a trace id.
const maxErrorBody = 64 << 10

// errorFrom reads (and closes) a non-2xx response into an *Error.
func errorFrom(req *http.Request, resp *http.Response) *Error {
	defer resp.Body.Close()
	e := &Error{Status: resp.StatusCode, Method: req.Method, Path: req.URL.Path, Header: resp.Header}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e.Body = raw
	var b errorBody
	if json.Unmarshal(raw, &b) == nil {
		var one string
		if json.Unmarshal(b.Message, &one) == nil {
			e.Message = one
		} else if json.Unmarshal(b.Message, &e.Messages) == nil {
			e.Message = strings.Join(e.Messages, "; ")
		}
		if e.Message == "" {
			e.Message = b.Error
		}
		e.TraceID = b.TraceID
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	e.RetryAfter = retryAfter(resp)
	return e
}

// retryAfter reads Retry-After (seconds or an HTTP date); on a 429 without
// it, the rate-limit interval HighLevel reports.
func retryAfter(resp *http.Response) time.Duration {
	if v := resp.Header.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			if d := time.Until(t); d > 0 {
				return d
			}
			return 0
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if ms, err := strconv.Atoi(resp.Header.Get("X-RateLimit-Interval-Milliseconds")); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
		return time.Second
	}
	if resp.StatusCode >= 500 {
		return time.Second
	}
	return 0
}
