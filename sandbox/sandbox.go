package sandbox

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Identities of the seeded demo tenant. They are constants so tests, the demo
// and the token manager can name them without asking the sandbox.
const (
	// DefaultAppID is the marketplace app id of the default app: a 24-hex
	// Mongo-style id, as upstream app ids are.
	DefaultAppID = "6650a1b2c3d4e5f607182930"
	// DefaultClientID is the default app's OAuth client id, shaped like
	// upstream's `<appId>-<suffix>` so code that derives the app id from the
	// client id (the part before the first "-") works against the sandbox.
	DefaultClientID = DefaultAppID + "-sbxdemo1"
	// DefaultClientSecret is the default app's client secret. It is public on
	// purpose: the sandbox holds no real data.
	DefaultClientSecret = "sbx-demo-secret-9f3c2a7e41d84b6c"
	// DemoCompanyID is the agency (company) that owns both seeded locations.
	DemoCompanyID = "SbxDemoCompany000001"
	// DemoLocationID is the richly seeded demo sub-account.
	DemoLocationID = "SbxDemoLocation00001"
	// OtherLocationID is a second, smaller sub-account of the same company,
	// present so isolation tests have someone else's data to fail to reach.
	OtherLocationID = "SbxOtherLocation0002"
	// DemoUserID is the user who "installs" the app in the consent flow.
	DemoUserID = "SbxDemoUser000000001"
)

// Version header values required by the upstream products.
const (
	// VersionDefault is the Version header of every product but calendars.
	VersionDefault = "2021-07-28"
	// VersionCalendars is the Version header of the calendars product.
	VersionCalendars = "2021-04-15"
)

// Config tunes a Sandbox. The zero value is usable: every zero field takes the
// default documented beside it, which matches upstream.
type Config struct {
	// AccessTokenTTL is the lifetime of issued access tokens (default
	// 86399 s, upstream's expires_in). Tests shorten it to watch tokens expire.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the lifetime of an unused refresh token (default one
	// year, as documented upstream).
	RefreshTokenTTL time.Duration
	// CodeTTL is the lifetime of an authorization code (default 5 minutes).
	CodeTTL time.Duration
	// RateLimit is the most requests accepted per key in any RateWindow
	// (default 100).
	RateLimit int
	// RateWindow is the sliding window of RateLimit (default 10 s).
	RateWindow time.Duration
	// DailyLimit is the most requests accepted per key per UTC day (default
	// 200,000).
	DailyLimit int
	// QuotaOff disables the 429s of the window and the daily counter. The
	// headers, counters and recorded arrivals stay, so a benchmark can still
	// check that a client never exceeded the window on its own.
	QuotaOff bool
	// RevokeAccessOnRefresh makes a refresh grant also revoke every access
	// token issued earlier to the same installation. Upstream documents no
	// such revocation, so it is off by default; tests of 401-driven refresh
	// turn it on.
	RevokeAccessOnRefresh bool
	// MaxArrivals bounds the arrivals kept per quota key (default 1,000,000),
	// so a long benchmark cannot grow memory without bound. The oldest are
	// dropped first; counters are never dropped.
	MaxArrivals int
	// Now is the clock (default time.Now). Tests of the daily reset or of
	// expiry move it by hand.
	Now func() time.Time
	// Seed drives the deterministic data generator and the fault dice
	// (default 1). The same seed yields the same ids and records.
	Seed uint64
	// DemoContacts is how many contacts the demo location gets (default
	// 1,200; at least 1,000 are promised to the demo).
	DemoContacts int
	// WebhookURL, when set, is where the sandbox posts the webhooks of its
	// writes (webhooks.go); SetWebhookURL changes it later.
	WebhookURL string
	// WebhookKey signs them; nil derives one from Seed.
	WebhookKey ed25519.PrivateKey
	// RedirectURIs lists the redirect URIs registered for the default app.
	// Empty means any absolute http or https URI is accepted, so the demo
	// works whatever port hlgate listens on.
	RedirectURIs []string
}

func (c Config) withDefaults() Config {
	if c.AccessTokenTTL <= 0 {
		c.AccessTokenTTL = 86399 * time.Second
	}
	if c.RefreshTokenTTL <= 0 {
		c.RefreshTokenTTL = 365 * 24 * time.Hour
	}
	if c.CodeTTL <= 0 {
		c.CodeTTL = 5 * time.Minute
	}
	if c.RateLimit <= 0 {
		c.RateLimit = 100
	}
	if c.RateWindow <= 0 {
		c.RateWindow = 10 * time.Second
	}
	if c.DailyLimit <= 0 {
		c.DailyLimit = 200000
	}
	if c.MaxArrivals <= 0 {
		c.MaxArrivals = 1000000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.DemoContacts <= 0 {
		c.DemoContacts = 1200
	}
	return c
}

// DefaultConfig returns the configuration `hlgate sandbox` starts with: the
// upstream's documented values.
func DefaultConfig() Config { return Config{}.withDefaults() }

// Sandbox is the fake HighLevel V2 API. It is an http.Handler serving the
// upstream operations of api/openapi.yaml, the OAuth endpoints, the consent
// page and the admin API under /_sandbox/. Every method is safe for
// concurrent use.
type Sandbox struct {
	cfg       Config
	mux       *http.ServeMux
	routes    []*route
	engineOps []string // operationIds served by the engine
	// engineColl is the collection template each engine operation works on.
	engineColl map[string]string
	router     *resourceRouter

	auth  *authState
	quota *quotaState

	faults   atomic.Pointer[Faults]
	faultMu  sync.Mutex // guards dice and the forced counters' decrement
	dice     *rand.Rand
	forced   forcedCounters
	tokenLag atomic.Int64 // nanoseconds of latency on /oauth/token

	dataMu sync.RWMutex // guards the locations map itself, not its stores
	// createdLocs are the locations created at run time, in order.
	createdLocs []string
	locs        map[string]*locStore

	companyName string

	hooks *hookSender // webhooks.go
}

// New builds a Sandbox seeded with the demo tenant. The route table is read
// from the embedded api/openapi.yaml; New panics only if that embedded
// document and the sandbox's handlers disagree, which is a build defect that
// the package's tests catch first.
func New(cfg Config) *Sandbox {
	cfg = cfg.withDefaults()
	s := &Sandbox{
		cfg:         cfg,
		dice:        rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		companyName: "Sandbox Demo Agency",
	}
	s.faults.Store(&Faults{})
	s.hooks = newHookSender(cfg.Seed, cfg.WebhookKey, cfg.WebhookURL)
	s.auth = newAuthState(cfg)
	s.quota = newQuotaState(cfg)
	s.seed()
	if err := s.buildMux(); err != nil {
		panic(fmt.Sprintf("sandbox: route table: %v", err))
	}
	return s
}

// Config returns the effective configuration, defaults filled in.
func (s *Sandbox) Config() Config { return s.cfg }

// ServeHTTP serves one request.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

func (s *Sandbox) now() time.Time { return s.cfg.Now() }

// Reset returns the sandbox to its freshly built state: data reseeded from
// the same seed, every code, token and refresh token forgotten (registered
// apps and Private Integration Tokens are kept), quota counters, arrivals,
// stats and faults cleared.
func (s *Sandbox) Reset() {
	s.faultMu.Lock()
	s.dice = rand.New(rand.NewPCG(s.cfg.Seed, s.cfg.Seed^0x9e3779b97f4a7c15))
	s.forced = forcedCounters{}
	s.faultMu.Unlock()
	s.faults.Store(&Faults{})
	s.tokenLag.Store(0)
	s.auth.reset()
	s.quota.reset()
	s.seed()
}

// DemoCredentials describes how to reach the demo tenant, for `hlgate
// sandbox` to print at start.
func DemoCredentials(baseURL string) string {
	return fmt.Sprintf(`HighLevel sandbox listening on %[1]s
  client id:      %[2]s
  client secret:  %[3]s
  company id:     %[4]s
  demo location:  %[5]s
  other location: %[6]s
  consent page:   %[1]s/oauth/chooselocation?response_type=code&client_id=%[2]s&redirect_uri=<your callback>&scope=<scopes>
  token endpoint: %[1]s/oauth/token
  admin API:      %[1]s/_sandbox/ (faults, stats, codes, reset)
`, baseURL, DefaultClientID, DefaultClientSecret, DemoCompanyID, DemoLocationID, OtherLocationID)
}
