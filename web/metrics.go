package web

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/rtpproxyctl/relay"
)

func newRegistry(node string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	nodeRegisterer(reg, node).MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// nodeRegisterer registers into reg with the constant label node=name, or
// as is without a name.
func nodeRegisterer(reg *prometheus.Registry, node string) prometheus.Registerer {
	if node == "" {
		return reg
	}
	return prometheus.WrapRegistererWith(prometheus.Labels{"node": node}, reg)
}

// collector reads the switch's own counters at scrape time, so the hot path
// pays nothing for metrics it already keeps.
type collector struct{ s *Server }

var (
	descActive    = prometheus.NewDesc("tollgate_calls_active", "Calls up now.", nil, nil)
	descStarted   = prometheus.NewDesc("tollgate_calls_started_total", "Calls admitted by the switch (INVITEs that became calls).", nil, nil)
	descAnswered  = prometheus.NewDesc("tollgate_calls_answered_total", "Calls answered: a gateway's 200 OK relayed to the caller.", nil, nil)
	descAttempts  = prometheus.NewDesc("tollgate_gateway_attempts_total", "Attempts toward gateways (several per call when it hunts) by how each ended: answered, busy, no_answer, rejected, unreachable, cancelled, or error (on our side).", []string{"outcome"}, nil)
	descOverload  = prometheus.NewDesc("tollgate_overload_refused_total", "INVITEs refused with 503 and Retry-After before becoming calls: the switch at limits.max_calls, or draining.", nil, nil)
	descMalformed = prometheus.NewDesc("tollgate_sip_malformed_requests_total", "SIP requests the front door checks answered with 4xx (or dropped) as malformed.", nil, nil)
	descLimit     = prometheus.NewDesc("tollgate_calls_refused_total", "Calls refused by a billing limit: account_calls, gateway_calls (an attempt skipped), call_rate or no_credit.", []string{"limit"}, nil)
	descEnded     = prometheus.NewDesc("tollgate_calls_ended_total", "Calls ended, whatever the cause.", nil, nil)
	descRecErr    = prometheus.NewDesc("tollgate_cdr_write_errors_total", "Failed hand-overs of a call record to the spool (a full disk): an alarm.", nil, nil)
	descRecHeld   = prometheus.NewDesc("tollgate_cdr_records_held", "Call records held in memory until the spool takes them.", nil, nil)
	descCPS       = prometheus.NewDesc("tollgate_calls_per_second", "Calls started per second over the last sampling step (5s); prefer rate(tollgate_calls_started_total) in queries.", nil, nil)
	descSpool     = prometheus.NewDesc("tollgate_cdr_spool_depth", "CDRs in the local spool not yet shipped.", nil, nil)
	descSpoolB    = prometheus.NewDesc("tollgate_cdr_spool_bytes", "Bytes of spool segment files on disk.", nil, nil)
	descSpoolAge  = prometheus.NewDesc("tollgate_cdr_spool_oldest_unshipped_timestamp_seconds", "Append time of the oldest unshipped CDR; 0 when none.", nil, nil)
	descSpoolSt   = prometheus.NewDesc("tollgate_cdr_spool_state", "1 for the CDR spool's state: ready (reserve in place), on_reserve (disk full: new calls refused unless cdr.no_space is accept), full (records held in memory).", []string{"state"}, nil)
	descSpoolFree = prometheus.NewDesc("tollgate_cdr_spool_free_bytes", "Bytes free on the spool's file system, its reserve not counted.", nil, nil)
	descNoSpace   = prometheus.NewDesc("tollgate_cdr_no_space_refused_total", "New calls refused with 503 because their record could not have been made durable (spool not ready).", nil, nil)
	descShipSt    = prometheus.NewDesc("tollgate_cdr_store_state", "1 for the state of the CDR store (PostgreSQL, or the CSV files): ok, slow (a write in progress for longer than 5s), failing (unreachable or refusing).", []string{"state"}, nil)
	descShipW     = prometheus.NewDesc("tollgate_cdr_store_write_seconds", "Duration of the last write to the CDR store, or of the one in progress so far.", nil, nil)
	descAcctQ     = prometheus.NewDesc("tollgate_radius_acct_queue_depth", "RADIUS accounting records no server has answered yet, waiting in the durable queue.", nil, nil)
	descAcctQAge  = prometheus.NewDesc("tollgate_radius_acct_queue_oldest_timestamp_seconds", "When the oldest queued accounting record was made; 0 when none.", nil, nil)
	descRadReq    = prometheus.NewDesc("tollgate_radius_requests_total", "RADIUS requests sent, by server.", []string{"server"}, nil)
	descRadTO     = prometheus.NewDesc("tollgate_radius_timeouts_total", "RADIUS requests no try of which was answered, by server.", []string{"server"}, nil)
	descRadLat    = prometheus.NewDesc("tollgate_radius_latency_seconds", "Mean RADIUS answer latency, by server.", []string{"server"}, nil)
	descGwUp      = prometheus.NewDesc("tollgate_gateway_up", "1 while a probed gateway answers its OPTIONS, 0 once two in a row went unanswered (the hunt skips it).", []string{"gateway", "transport"}, nil)
	descGwActive  = prometheus.NewDesc("tollgate_gateway_calls", "Attempts in progress and calls connected through a gateway with max_calls or max_cps.", []string{"gateway", "transport"}, nil)
	descGwSkipped = prometheus.NewDesc("tollgate_gateway_skipped_total", "Attempts the hunt did not make because the gateway was at max_calls (capacity) or above max_cps (rate).", []string{"gateway", "transport", "reason"}, nil)
	descRadUp     = prometheus.NewDesc("tollgate_radius_server_up", "1 when the RADIUS server is in service.", []string{"server"}, nil)
	descRelayUp   = prometheus.NewDesc("tollgate_media_relay_up", "1 when the rtpproxy relay answers and takes calls.", []string{"mode", "relay"}, nil)
	descRelaySess = prometheus.NewDesc("tollgate_builtin_relay_sessions", "Sessions open in the built-in relay.", nil, nil)
	descRelayPkt  = prometheus.NewDesc("tollgate_builtin_relay_packets_total", "Packets through the built-in relay by result.", []string{"result"}, nil)
	descRegs      = prometheus.NewDesc("tollgate_registrations", "Registrations (bindings) held by the registration cache or the local registrar, as of the last sweep (at most 1 s old).", nil, nil)
	descRegREG    = prometheus.NewDesc("tollgate_register_requests_total", "REGISTERs by what became of them: relayed (to the upstream registrar), cached (answered by the cache), limited (refused by a registration limit).", []string{"result"}, nil)
	descClientTx  = prometheus.NewDesc("tollgate_sip_client_transactions", "SIP client transactions the switch holds: requests awaiting their final response, and rejected INVITEs kept for Timer D to ACK retransmissions.", nil, nil)
	descNATKa     = prometheus.NewDesc("tollgate_nat_keepalives_total", "OPTIONS keepalives sent over registered clients' flows.", nil, nil)
	descDeadFlow  = prometheus.NewDesc("tollgate_registration_dead_flows_total", "Registrations dropped because a NAT keepalive went unanswered.", nil, nil)
	descRelayXc   = prometheus.NewDesc("tollgate_builtin_relay_transcoder_packets_total", "RTP packets through the built-in relay's transcoder by encoding: in (received in it, converted or renumbered), out (sent in it), discarded (the receiving party did not list it).", []string{"codec", "direction"}, nil)
	descRelayConv = prometheus.NewDesc("tollgate_builtin_relay_transcoder_streams", "Streams the built-in relay converts now, by audio encoding: reading (decoding it) and writing (encoding it), SEMS's P-Transcoder-Stats-In/Out.", []string{"codec", "direction"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descActive, descStarted, descAnswered, descAttempts, descOverload, descMalformed, descLimit, descEnded, descRecErr, descRecHeld, descCPS, descSpool,
		descSpoolB, descSpoolAge, descSpoolSt, descSpoolFree, descNoSpace, descShipSt, descShipW, descAcctQ, descAcctQAge, descRadReq, descRadTO, descRadLat, descRadUp, descRelayUp, descRelaySess, descRelayPkt, descRelayXc, descRelayConv, descGwUp,
		descRegs, descRegREG, descNATKa, descDeadFlow, descClientTx} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	st := s.sw.Stats()
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	gauge(descActive, float64(s.sw.ActiveCalls()))
	gauge(descClientTx, float64(s.sw.ClientTransactions()))
	counter(descStarted, float64(st.CallsStarted.Load()))
	counter(descAnswered, float64(st.CallsAnswered.Load()))
	for _, a := range gatewayAttempts(st) {
		counter(descAttempts, float64(a.Attempts), a.Outcome)
	}
	for _, g := range s.sw.GatewayHealth() {
		gauge(descGwUp, boolFloat(g.Up), g.Address, g.Transport)
	}
	for _, g := range s.sw.GatewayLoads() {
		gauge(descGwActive, float64(g.Active), g.Address, g.Transport)
		counter(descGwSkipped, float64(g.SkippedFull), g.Address, g.Transport, "capacity")
		counter(descGwSkipped, float64(g.SkippedRate), g.Address, g.Transport, "rate")
	}
	counter(descOverload, float64(st.Refused.Load()))
	counter(descMalformed, float64(st.Malformed.Load()))
	for _, l := range s.limitRefusals() {
		counter(descLimit, float64(l.Calls), l.Limit)
	}
	counter(descEnded, float64(st.CallsEnded.Load()))
	gauge(descRegs, float64(st.Registrations.Load()))
	counter(descRegREG, float64(st.RegistersRelayed.Load()), "relayed")
	counter(descRegREG, float64(st.RegistersCached.Load()), "cached")
	counter(descRegREG, float64(st.RegistersLimited.Load()), "limited")
	counter(descNATKa, float64(st.NATKeepalives.Load()))
	counter(descDeadFlow, float64(st.DeadFlows.Load()))
	counter(descRecErr, float64(st.RecordErrors.Load()))
	gauge(descRecHeld, float64(st.RecordsPending.Load()))
	gauge(descCPS, s.series.last().CPS)
	if s.opt.Spool != nil {
		sp := s.opt.Spool()
		gauge(descSpool, float64(sp.Depth))
		gauge(descSpoolB, float64(sp.Bytes))
		var oldest float64
		if !sp.OldestUnshipped.IsZero() {
			oldest = float64(sp.OldestUnshipped.UnixNano()) / 1e9
		}
		gauge(descSpoolAge, oldest)
		for _, state := range []cdr.SpoolState{cdr.SpoolReady, cdr.SpoolOnReserve, cdr.SpoolFull} {
			gauge(descSpoolSt, boolFloat(sp.State == state), strings.ReplaceAll(state.String(), " ", "_"))
		}
		gauge(descSpoolFree, float64(sp.FreeBytes))
	}
	counter(descNoSpace, float64(st.RefusedNoSpace.Load()))
	if s.opt.Shipper != nil {
		sh := s.opt.Shipper()
		for _, state := range []cdr.ShipState{cdr.ShipOK, cdr.ShipSlow, cdr.ShipFailing} {
			gauge(descShipSt, boolFloat(sh.State == state), state.String())
		}
		gauge(descShipW, sh.LastWrite.Seconds())
	}
	if s.opt.AcctQueue != nil {
		q := s.opt.AcctQueue()
		gauge(descAcctQ, float64(q.Depth))
		var oldest float64
		if !q.Oldest.IsZero() {
			oldest = float64(q.Oldest.UnixNano()) / 1e9
		}
		gauge(descAcctQAge, oldest)
	}
	if s.opt.Radius != nil {
		for _, r := range s.opt.Radius() {
			counter(descRadReq, float64(r.Requests), r.Addr)
			counter(descRadTO, float64(r.Timeouts), r.Addr)
			gauge(descRadLat, r.MeanLatency.Seconds(), r.Addr)
			gauge(descRadUp, boolFloat(r.Up), r.Addr)
		}
	}
	if s.opt.Relays != nil {
		for mode, rs := range s.opt.Relays() {
			for _, r := range rs {
				gauge(descRelayUp, boolFloat(r.InUse), mode, r.Address)
			}
		}
	}
	if s.opt.Builtin != nil {
		collectBuiltin(ch, s.opt.Builtin())
	}
}

// collectBuiltin reports the built-in relay's counters.
func collectBuiltin(ch chan<- prometheus.Metric, b relay.Stats) {
	ch <- prometheus.MustNewConstMetric(descRelaySess, prometheus.GaugeValue, float64(b.ActiveSessions))
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	counter(descRelayPkt, b.PacketsRelayed, "relayed")
	counter(descRelayPkt, b.PacketsDropped, "dropped")
	counter(descRelayPkt, b.PacketsDiscarded, "discarded")
	for _, x := range b.Transcoder {
		counter(descRelayXc, x.In, x.Codec, "in")
		counter(descRelayXc, x.Out, x.Codec, "out")
		counter(descRelayXc, x.Discarded, x.Codec, "discarded")
		if x.Codec == "PCMU" || x.Codec == "PCMA" || x.Codec == "G722" {
			ch <- prometheus.MustNewConstMetric(descRelayConv, prometheus.GaugeValue, float64(x.Reading), x.Codec, "reading")
			ch <- prometheus.MustNewConstMetric(descRelayConv, prometheus.GaugeValue, float64(x.Writing), x.Codec, "writing")
		}
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metricsHandler serves /metrics to loopback peers without credentials —
// the default listen address is loopback, and a local agent or Prometheus
// needs no secret to read traffic counters (they hold no secrets) — and to
// anyone else with an API token. A request that a local reverse proxy
// forwarded (Forwarded / X-Forwarded-For) is not treated as loopback.
func (s *Server) metricsHandler() http.Handler {
	prom := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{ErrorLog: nil})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.metricsAllowed(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate"`)
			s.fail(w, r, http.StatusUnauthorized, "metrics need an API token from a non-loopback address")
			return
		}
		prom.ServeHTTP(w, r)
	})
}

func (s *Server) metricsAllowed(r *http.Request) bool {
	forwarded := r.Header.Get("Forwarded") != "" || r.Header.Get("X-Forwarded-For") != ""
	if ip, err := netip.ParseAddr(clientIP(r)); err == nil && ip.IsLoopback() && !forwarded {
		return true
	}
	secret, ok := bearer(r.Header.Get("Authorization"))
	if !ok || s.store == nil {
		return false
	}
	_, err := s.store.userByToken(r.Context(), secret)
	return err == nil
}
