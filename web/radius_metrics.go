package web

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/aaa"
)

// Audit actions of RADIUS dynamic authorisation (RFC 5176): a billing
// server ending or changing a call is audited as an administrator's kill
// is, the client's address standing for the actor.
const (
	AuditRadiusDisconnect = "radius disconnect"
	AuditRadiusCoA        = "radius coa"
)

// AuditCDRRetention is the audit action of a month of CDRs dropped because
// cdr.retention says so: records leaving the database are as much an
// administrator's act as a kill, only decided in the configuration.
const AuditCDRRetention = "cdr retention"

// WriteAudit appends e to the audit log in db, for what changes calls or
// records from outside the web UI (the RADIUS Disconnect/CoA listener, the
// CDR retention); the log's SQL stays here with the rest of it.
func WriteAudit(ctx context.Context, db *pgxpool.Pool, e AuditEntry) error {
	return (&store{db: db}).audit(ctx, e)
}

var descDynAuth = prometheus.NewDesc("tollgate_radius_dynauth_requests_total",
	"RADIUS Disconnect and CoA requests (RFC 5176) by result: disconnect and coa (authentic requests), ack, nak, and dropped ones: unknown_client, forged (wrong secret or Message-Authenticator), malformed; duplicate (answered again from the reply cache).",
	[]string{"result"}, nil)

// dynAuthCollector exports the listener's counters at scrape time.
type dynAuthCollector struct{ stats func() aaa.DynAuthStats }

func (c dynAuthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descDynAuth }

func (c dynAuthCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for result, n := range map[string]uint64{
		"disconnect": st.Disconnects, "coa": st.CoAs, "ack": st.ACKs, "nak": st.NAKs,
		"unknown_client": st.UnknownClients, "forged": st.Forged, "malformed": st.Malformed, "duplicate": st.Duplicates,
	} {
		ch <- prometheus.MustNewConstMetric(descDynAuth, prometheus.CounterValue, float64(n), result)
	}
}

var descRadProbe = prometheus.NewDesc("tollgate_radius_status_server",
	"What Status-Server probing (RFC 5997, radius.status_interval) knows of each RADIUS server: 1 for its current state (off, unknown, answering, silent, unsupported).",
	[]string{"server", "state"}, nil)

var descRadProbeRTT = prometheus.NewDesc("tollgate_radius_status_server_rtt_seconds",
	"Round trip of the last Status-Server a RADIUS server answered.", []string{"server"}, nil)

// radiusProbeCollector exports the servers' probe results at scrape time.
type radiusProbeCollector struct{ stats func() []aaa.ServerStats }

func (c radiusProbeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRadProbe
	ch <- descRadProbeRTT
}

func (c radiusProbeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.stats() {
		ch <- prometheus.MustNewConstMetric(descRadProbe, prometheus.GaugeValue, 1, st.Addr, st.Probe.String())
		if st.ProbeRTT > 0 {
			ch <- prometheus.MustNewConstMetric(descRadProbeRTT, prometheus.GaugeValue, st.ProbeRTT.Seconds(), st.Addr)
		}
	}
}
