package tokenstore

import "sync/atomic"

// Refresh outcomes reported to Metrics.RefreshOutcome. The set is fixed so it
// can be a bounded Prometheus label.
const (
	OutcomeRefreshed    = "refreshed"     // this replica spent the refresh token and got a new pair
	OutcomeAdopted      = "adopted"       // another replica had refreshed; the stored pair was used
	OutcomeInvalidGrant = "invalid_grant" // upstream rejected the stored refresh token; subject marked needs_reauth
	OutcomeError        = "error"         // the grant call or the store failed; nothing was spent
	OutcomeWaitTimeout  = "wait_timeout"  // another replica held the lock longer than the wait patience
)

// Loss reasons reported to Metrics.PairDropped.
const (
	DropSuperseded = "superseded" // a newer record (a new install or import) replaced the one refreshed
	DropShutdown   = "shutdown"   // the process stopped before the new pair could be written
)

// Metrics receives the manager's events; the server wires it to Prometheus
// (hlgate_token_*). Implementations must be safe for concurrent use.
type Metrics interface {
	// RefreshOutcome counts one refresh attempt by outcome (Outcome*).
	RefreshOutcome(outcome string)
	// PersistFailed counts failed writes of a refreshed pair; the pair is kept
	// in memory, served, and the write retried.
	PersistFailed()
	// Unpersisted reports how many subjects currently hold a refreshed pair
	// that exists only in this process's memory.
	Unpersisted(n int)
	// PairDropped counts refreshed pairs given up (Drop*). DropShutdown means
	// a refresh token was lost: that subject will need re-authorization.
	PairDropped(reason string)
}

type noMetrics struct{}

func (noMetrics) RefreshOutcome(string) {}
func (noMetrics) PersistFailed()        {}
func (noMetrics) Unpersisted(int)       {}
func (noMetrics) PairDropped(string)    {}

// Counters is a Metrics that only counts, for tests and for callers that
// read the numbers themselves.
type Counters struct {
	Refreshed, Adopted, InvalidGrant, Errors, WaitTimeouts atomic.Int64
	PersistFailures                                        atomic.Int64
	UnpersistedNow                                         atomic.Int64
	Superseded, ShutdownLost                               atomic.Int64
}

var _ Metrics = (*Counters)(nil)

// RefreshOutcome implements Metrics.
func (c *Counters) RefreshOutcome(outcome string) {
	switch outcome {
	case OutcomeRefreshed:
		c.Refreshed.Add(1)
	case OutcomeAdopted:
		c.Adopted.Add(1)
	case OutcomeInvalidGrant:
		c.InvalidGrant.Add(1)
	case OutcomeError:
		c.Errors.Add(1)
	case OutcomeWaitTimeout:
		c.WaitTimeouts.Add(1)
	}
}

// PersistFailed implements Metrics.
func (c *Counters) PersistFailed() { c.PersistFailures.Add(1) }

// Unpersisted implements Metrics.
func (c *Counters) Unpersisted(n int) { c.UnpersistedNow.Store(int64(n)) }

// PairDropped implements Metrics.
func (c *Counters) PairDropped(reason string) {
	switch reason {
	case DropSuperseded:
		c.Superseded.Add(1)
	case DropShutdown:
		c.ShutdownLost.Add(1)
	}
}
