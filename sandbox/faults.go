package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Faults are the misbehaviours injected into resource calls (not into the
// OAuth token endpoint, whose latency is set by SetTokenLatency, nor the
// admin API). The zero value injects nothing. Rates are probabilities in
// [0, 1] drawn from the sandbox's seeded dice. In the admin API's JSON,
// durations are integers of nanoseconds.
type Faults struct {
	// Latency delays every resource call.
	Latency time.Duration `json:"latency"`
	// SpikeRate is the share of calls delayed by SpikeLatency on top.
	SpikeRate    float64       `json:"spikeRate"`
	SpikeLatency time.Duration `json:"spikeLatency"`
	// ErrorRate is the share of calls answered with ErrorStatus (default
	// 500) before reaching the pipeline.
	ErrorRate   float64 `json:"errorRate"`
	ErrorStatus int     `json:"errorStatus"`
	// DropRate is the share of calls whose connection is closed without any
	// answer.
	DropRate float64 `json:"dropRate"`
	// Force401 answers the next N calls 401 "access token is invalid".
	Force401 int `json:"force401"`
	// Force429 answers the next N calls 429 with a Retry-After of
	// RetryAfter (default 1 s, rounded up to whole seconds).
	Force429   int           `json:"force429"`
	RetryAfter time.Duration `json:"retryAfter"`
}

type forcedCounters struct{ n401, n429 int }

// SetFaults replaces the injected faults. Force401 and Force429 restart
// their countdown.
func (s *Sandbox) SetFaults(f Faults) error {
	for name, r := range map[string]float64{"spikeRate": f.SpikeRate, "errorRate": f.ErrorRate, "dropRate": f.DropRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("set faults: %s %v is outside [0, 1]", name, r)
		}
	}
	if f.Latency < 0 || f.SpikeLatency < 0 || f.RetryAfter < 0 || f.Force401 < 0 || f.Force429 < 0 {
		return fmt.Errorf("set faults: durations and counts must not be negative")
	}
	if f.ErrorStatus == 0 {
		f.ErrorStatus = http.StatusInternalServerError
	}
	if f.ErrorStatus < 500 || f.ErrorStatus > 599 {
		return fmt.Errorf("set faults: errorStatus %d is not a 5xx", f.ErrorStatus)
	}
	if f.RetryAfter == 0 {
		f.RetryAfter = time.Second
	}
	s.faultMu.Lock()
	s.forced = forcedCounters{n401: f.Force401, n429: f.Force429}
	s.faultMu.Unlock()
	s.faults.Store(&f)
	return nil
}

// active reports whether any fault is configured; false skips the fault
// dice entirely (the hot path). It is read from the same pointer as the
// faults themselves, so a SetFaults racing a Reset cannot leave faults
// stored but switched off.
func (f *Faults) active() bool {
	return f.Latency > 0 || (f.SpikeRate > 0 && f.SpikeLatency > 0) || f.ErrorRate > 0 ||
		f.DropRate > 0 || f.Force401 > 0 || f.Force429 > 0
}

// CurrentFaults returns the faults in force, with the forced counts that
// remain.
func (s *Sandbox) CurrentFaults() Faults {
	f := *s.faults.Load()
	s.faultMu.Lock()
	f.Force401, f.Force429 = s.forced.n401, s.forced.n429
	s.faultMu.Unlock()
	return f
}

// applyFaults injects the configured faults; it reports whether it
// answered (or dropped) the request.
func (s *Sandbox) applyFaults(w http.ResponseWriter, r *http.Request) bool {
	f := s.faults.Load()
	if !f.active() {
		return false
	}
	s.faultMu.Lock()
	spike := f.SpikeRate > 0 && s.dice.Float64() < f.SpikeRate
	fail := f.ErrorRate > 0 && s.dice.Float64() < f.ErrorRate
	drop := f.DropRate > 0 && s.dice.Float64() < f.DropRate
	force401 := s.forced.n401 > 0
	if force401 {
		s.forced.n401--
	}
	force429 := !force401 && s.forced.n429 > 0
	if force429 {
		s.forced.n429--
	}
	s.faultMu.Unlock()

	delay := f.Latency
	if spike {
		delay += f.SpikeLatency
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	switch {
	case drop:
		dropConnection(w)
	case force401:
		writeError(w, errUnauthorized(msgTokenInvalid))
	case force429:
		s.quota.served429.Add(1)
		secs := int64((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		writeError(w, errTooMany())
	case fail:
		writeJSON(w, f.ErrorStatus, map[string]any{"statusCode": f.ErrorStatus, "message": http.StatusText(f.ErrorStatus)})
	default:
		return false
	}
	return true
}

// dropConnection closes the client's connection without an answer. When
// the connection cannot be hijacked (HTTP/2), it aborts the handler, which
// net/http turns into a stream reset.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close() // the point is to vanish; a close error changes nothing
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// ---- admin API ----

func (s *Sandbox) registerAdmin(mux *http.ServeMux) {
	mux.HandleFunc("GET /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.CurrentFaults())
	})
	mux.HandleFunc("PUT /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if err := decodeAdmin(r, &f); err != nil {
			writeError(w, errBadRequest("%v", err))
			return
		}
		if err := s.SetFaults(f); err != nil {
			writeError(w, errBadRequest("%v", err))
			return
		}
		writeJSON(w, http.StatusOK, s.CurrentFaults())
	})
	mux.HandleFunc("PUT /_sandbox/token-latency", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Latency time.Duration `json:"latency"`
		}
		if err := decodeAdmin(r, &body); err != nil || body.Latency < 0 {
			writeError(w, errBadRequest("body must be {\"latency\": <nanoseconds ≥ 0>}"))
			return
		}
		s.SetTokenLatency(body.Latency)
		writeJSON(w, http.StatusOK, body)
	})
	mux.HandleFunc("POST /_sandbox/expire", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Subject string `json:"subject"`
		}
		if err := decodeAdmin(r, &body); err != nil || body.Subject == "" {
			writeError(w, errBadRequest("body must be {\"subject\": \"<location or company id>\"}"))
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"expired": s.ExpireAccessTokens(body.Subject)})
	})
	mux.HandleFunc("POST /_sandbox/codes", func(w http.ResponseWriter, r *http.Request) {
		var req CodeRequest
		if err := decodeAdmin(r, &req); err != nil {
			writeError(w, errBadRequest("%v", err))
			return
		}
		code, err := s.MintCode(req)
		if err != nil {
			writeError(w, errBadRequest("%v", err))
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"code": code})
	})
	mux.HandleFunc("POST /_sandbox/pits", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Subject string   `json:"subject"`
			Scopes  []string `json:"scopes"`
		}
		if err := decodeAdmin(r, &body); err != nil {
			writeError(w, errBadRequest("%v", err))
			return
		}
		tok, err := s.AddPIT(body.Subject, body.Scopes...)
		if err != nil {
			writeError(w, errBadRequest("%v", err))
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"token": tok})
	})
	mux.HandleFunc("POST /_sandbox/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sandbox/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("GET /_sandbox/arrivals", func(w http.ResponseWriter, r *http.Request) {
		app, res := r.URL.Query().Get("app"), r.URL.Query().Get("resource")
		if app == "" || res == "" {
			writeError(w, errBadRequest("query must name app and resource"))
			return
		}
		a := s.Arrivals(QuotaKey{App: app, Resource: res})
		if a == nil {
			a = []Arrival{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"arrivals": a})
	})
}

func decodeAdmin(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode admin request: %w", err)
	}
	return nil
}
