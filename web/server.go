// Package web is Tollgate's admin UI, JSON API and Prometheus endpoint: a
// chi router serving server-rendered pages (templates and assets embedded in
// the binary), /api/v1 for machines with API tokens, and /metrics. Users,
// sessions, API tokens and the audit log live in PostgreSQL.
package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/billing"
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/cluster"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/routing"
	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/rtpproxyctl/relay"
	"github.com/tollgate/tollgate/subscriber"
	"github.com/tollgate/tollgate/switch/b2bua"
)

// Switch is what the UI reads from and does to the running switch;
// *b2bua.Switch satisfies it.
type Switch interface {
	Snapshot() []b2bua.CallInfo
	Hangup(id string) error
	// CallDTMF asks the call's media relay for the DTMF digits it
	// detected (a profile's rtprelay_dtmf_detection).
	CallDTMF(ctx context.Context, id string) (rtpproxyctl.DTMF, error)
	ActiveCalls() int64
	// ClientTransactions is how many SIP client transactions are under
	// way or completed (switch/clienttx).
	ClientTransactions() int
	Stats() *b2bua.Stats
	Config() *config.Config
	GatewayHealth() []b2bua.GatewayHealth
	// GatewayLoads reports the gateways with max_calls or max_cps: calls
	// up on each and the attempts the hunt skipped.
	GatewayLoads() []b2bua.GatewayLoad
	// CallDetail is one call up now, legs, timers and profile included.
	CallDetail(id string) (b2bua.CallDetail, bool)
	// Registrations and Unregister show and remove the bindings of the
	// registration cache or the local registrar.
	Registrations() []b2bua.RegistrationInfo
	Unregister(id string) error
}

// Options are the server's collaborators. Only Switch is required.
type Options struct {
	Log    *slog.Logger
	Switch Switch
	// DB holds users, sessions, the audit log and the CDRs. Without it every
	// page but /healthz and /metrics says that the UI needs a database.
	DB *pgxpool.Pool
	// Reload loads the configuration file again and applies it, as SIGHUP
	// does; nil hides the reload button.
	Reload func() error
	// Spool reports the CDR spool, for health and metrics.
	Spool func() cdr.SpoolStats
	// Shipper reports how the CDR store (PostgreSQL, or the CSV files)
	// answers, for health and metrics.
	Shipper func() cdr.ShipperStats
	// AcctQueue reports the RADIUS accounting records waiting for a
	// server, when accounting is in use.
	AcctQueue func() aaa.QueueStats
	// Radius reports the RADIUS servers' counters, when RADIUS is in use.
	Radius func() []aaa.ServerStats
	// DynAuth reports the RADIUS Disconnect/CoA listener, when it runs.
	DynAuth func() aaa.DynAuthStats
	// Relays reports the rtpproxy relays of each media mode in use.
	Relays func() map[string][]rtpproxyctl.RelayStatus
	// Builtin reports the built-in relay, when one runs.
	Builtin func() relay.Stats
	// LimitRefusals reports how many calls each billing limit refused
	// (billing.Limits.Refused); nil leaves them out of /metrics and the
	// dashboard.
	LimitRefusals func() map[billing.Kind]uint64
	// BodyTimeout is how long a request may take to send its body once its
	// headers are in; default 10 s.
	BodyTimeout time.Duration
	// TotalsTimeout bounds the totals of a CDR search (default 15 s). A
	// search by time, one account or one route is summed from the
	// statistics rollups in milliseconds; one filtered on anything else (a
	// gateway, a number prefix, a code) aggregates every matching CDR, which
	// over a year at 100 million calls takes minutes: past the bound it is
	// cancelled and the operator told how to narrow it, rather than a
	// request and a PostgreSQL backend held without end.
	TotalsTimeout time.Duration
	// Web is the web section of the configuration (cookies, lifetimes).
	Web config.Web
	// Registry receives the metrics; default a new registry with the Go
	// runtime and process collectors.
	Registry *prometheus.Registry
	// Node is cluster.node, a constant label "node" on every metric so that
	// the series of several Tollgates stay apart wherever they are gathered;
	// no label when empty.
	Node string
	// Cluster shows the calls and health of every node of a cluster and
	// kills a call on any of them (*cluster.Peers satisfies it); nil on a
	// single server, whose pages show its own calls.
	Cluster Cluster
}

// Cluster is the UI's view of the other nodes.
type Cluster interface {
	Node() string
	// List returns every node's health and its calls matching q, at most
	// limit per node.
	List(ctx context.Context, q string, limit int) ([]cluster.Node, error)
	Kill(ctx context.Context, node, id string) error
}

// Server is the web server's handler and its background state.
type Server struct {
	opt     Options
	log     *slog.Logger
	sw      Switch
	db      *pgxpool.Pool
	store   *store
	routing *routing.Store
	// subscribers are the local registrar's accounts in the database.
	subscribers *subscriber.Store
	sessions    *scs.SessionManager
	pgstore     *pgxstore.PostgresStore
	throttle    *throttle
	series      *series
	pages       *pages
	handler     http.Handler
	registry    *prometheus.Registry
}

// New builds the server. Call Run to sample statistics and Close at the end.
func New(o Options) (*Server, error) {
	if o.Switch == nil {
		return nil, errors.New("web: no switch")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Web.SessionLifetime == 0 {
		o.Web.SessionLifetime = 12 * time.Hour
	}
	if o.BodyTimeout == 0 {
		o.BodyTimeout = 10 * time.Second
	}
	if o.TotalsTimeout == 0 {
		o.TotalsTimeout = 15 * time.Second
	}
	if o.Web.IdleTimeout == 0 {
		o.Web.IdleTimeout = time.Hour
	}
	pages, err := loadPages()
	if err != nil {
		return nil, err
	}
	s := &Server{
		opt: o, log: o.Log.With("component", "web"), sw: o.Switch, db: o.DB,
		throttle: newThrottle(), series: newSeries(), pages: pages,
	}
	s.sessions = scs.New()
	s.sessions.Lifetime = o.Web.SessionLifetime
	s.sessions.IdleTimeout = o.Web.IdleTimeout
	s.sessions.Cookie.Name = "tollgate_session"
	s.sessions.Cookie.HttpOnly = true
	s.sessions.Cookie.SameSite = http.SameSiteLaxMode
	s.sessions.Cookie.Secure = !o.Web.InsecureCookies
	s.sessions.Cookie.Persist = false
	s.sessions.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		s.log.Error("session store", "error", err)
		http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
	}
	if o.DB != nil {
		s.store = &store{db: o.DB}
		s.routing = routing.NewStore(o.DB)
		s.subscribers = subscriber.NewStore(o.DB)
		s.pgstore = pgxstore.NewWithCleanupInterval(o.DB, 10*time.Minute)
		s.sessions.Store = s.pgstore
	}
	s.registry = o.Registry
	if s.registry == nil {
		s.registry = newRegistry(o.Node)
	}
	reg := nodeRegisterer(s.registry, o.Node)
	if err := reg.Register(&collector{s: s}); err != nil {
		return nil, fmt.Errorf("web: metrics: %w", err)
	}
	if o.DynAuth != nil {
		if err := reg.Register(dynAuthCollector{stats: o.DynAuth}); err != nil {
			return nil, fmt.Errorf("web: metrics: %w", err)
		}
	}
	if o.Radius != nil {
		if err := reg.Register(radiusProbeCollector{stats: o.Radius}); err != nil {
			return nil, fmt.Errorf("web: metrics: %w", err)
		}
	}
	s.handler = s.routes()
	return s, nil
}

// Handler is the whole web server as one http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Run samples the switch's counters for the live charts until ctx is done.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	s.sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.sample(now)
		}
	}
}

func (s *Server) sample(now time.Time) {
	st := s.sw.Stats()
	s.series.add(now, s.sw.ActiveCalls(), st.CallsStarted.Load(), st.CallsAnswered.Load())
}

// Close stops the session store's cleanup.
func (s *Server) Close() {
	if s.pgstore != nil {
		s.pgstore.StopCleanup()
	}
}

// Listen opens the web server's socket, with TLS when cert and key are set.
// It is separate from Serve so that an address that cannot be bound, or a
// certificate that does not load, fails the start of the whole process
// (systemd then shows the unit failed) rather than a background goroutine.
func Listen(addr, cert, key string) (net.Listener, error) {
	var tc *tls.Config
	if cert != "" {
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("web: TLS: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{kp}, NextProtos: []string{"h2", "http/1.1"}}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("web: listen %s: %w", addr, err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	return ln, nil
}

// Serve serves h on ln (from Listen) until ctx is done, then shuts down
// gracefully.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout or WriteTimeout: net/http cancels a handler's
		// context when the connection's read deadline passes, and a CSV
		// export of millions of CDRs streams for longer than any fixed
		// limit. Bodies get their own deadline (bodyDeadline).
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
