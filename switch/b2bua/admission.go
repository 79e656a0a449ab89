package b2bua

import (
	"net/netip"
	"strconv"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// Admission is whether the switch takes new calls. A dispatcher in front
// learns it from the switch's answer to its OPTIONS probes, and stops
// sending new calls to a node that does not take them.
type Admission int32

const (
	// Admitting: new calls are taken.
	Admitting Admission = iota
	// Draining: an operator took the node out of service (SIGUSR1); new
	// calls get 503, calls up carry on, and SIGUSR2 brings it back.
	Draining
	// ShuttingDown: the process is stopping; new calls get 503 for good.
	ShuttingDown
)

func (a Admission) String() string {
	switch a {
	case Admitting:
		return "admitting"
	case Draining:
		return "draining"
	case ShuttingDown:
		return "shutting down"
	}
	return "admission(" + strconv.Itoa(int(a)) + ")"
}

// Admission says whether the switch takes new calls now.
func (s *Switch) Admission() Admission { return Admission(s.admission.Load()) }

// Drain stops taking new calls and keeps those up; Resume takes them again.
// Neither undoes a shutdown.
func (s *Switch) Drain() { s.admission.CompareAndSwap(int32(Admitting), int32(Draining)) }

// Resume: see Drain.
func (s *Switch) Resume() { s.admission.CompareAndSwap(int32(Draining), int32(Admitting)) }

// refusal is the reason phrase of a 503 to a new call or an OPTIONS probe
// when the switch would refuse a call now, "" when it would take one: not
// admitting, at limits.max_calls, or unable to make records durable.
func (s *Switch) refusal() string {
	switch s.Admission() {
	case Draining:
		return "Draining"
	case ShuttingDown:
		return "Shutting Down"
	}
	if limit := int64(s.Config().Limits.MaxCalls); limit > 0 && s.active.Load() >= limit {
		return "Too Many Calls"
	}
	if !s.recordsDurable() {
		return "Call Records Not Durable"
	}
	return ""
}

// onOptions answers an out-of-dialog OPTIONS — a dispatcher's probe — 200
// when a call sent now would be taken and 503 when it would be refused, so
// that the dispatcher routes new calls to other nodes before any is lost.
func (s *Switch) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if reason := s.refusal(); reason != "" {
		ra := int(s.Config().Limits.RetryAfter.Seconds())
		s.reply(req, tx, 503, reason, sip.NewHeader("Retry-After", strconv.Itoa(ra)))
		return
	}
	s.reply(req, tx, 200, "OK", append([]sip.Header{allowHeader, sip.NewHeader("Accept", "application/sdp")},
		s.transcoderStatsHeaders()...)...)
}

// Front proxies name the caller in these headers (Kamailio:
// append_hf("X-Orig-IP: $si\r\n") and so on; docs/cluster.md).
const (
	hdrOrigIP   = "X-Orig-IP"
	hdrOrigPort = "X-Orig-Port"
)

// callerAddr is the caller's address: the request's source, or, when that
// source is a trusted front proxy (cluster.trusted_proxies) and names the
// caller in X-Orig-IP (and X-Orig-Port), the address it names. IP
// authorisation, limits, $si/$sp and the CDR all read it. From any other
// source the headers are ignored: anyone can write them. Responses and
// in-dialog requests still go to the proxy, by Via and Record-Route.
func (s *Switch) callerAddr(req *sip.Request) (host string, port int) {
	host, port = splitHostPort(req.Source())
	trusted := s.Config().Cluster.TrustedProxies()
	if len(trusted) == 0 {
		return host, port
	}
	src, err := netip.ParseAddr(host)
	if err != nil || !inPrefixes(src.Unmap(), trusted) {
		return host, port
	}
	h := req.GetHeader(hdrOrigIP)
	if h == nil {
		return host, port
	}
	orig, err := netip.ParseAddr(h.Value())
	if err != nil {
		return host, port
	}
	origPort := 0
	if p := req.GetHeader(hdrOrigPort); p != nil {
		if n, err := strconv.Atoi(p.Value()); err == nil && n > 0 && n < 65536 {
			origPort = n
		}
	}
	return orig.Unmap().String(), origPort
}

// recordsDurable: cdr.no_space is accept, or the spool can take records.
func (s *Switch) recordsDurable() bool {
	return s.gate == nil || s.Config().CDR.NoSpace != config.NoSpaceRefuse || s.gate.RecordsDurable()
}

// callerAddrPort is the caller's address as callerAddr established it.
func (c *Call) callerAddrPort() netip.AddrPort {
	a, err := netip.ParseAddr(c.srcIP)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, uint16(c.srcPort))
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
