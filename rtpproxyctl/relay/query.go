package relay

import (
	"strconv"
	"strings"
	"time"
)

// maxReply is rtpproxy's reply buffer; G and Q replies beyond it fail.
const maxReply = 1024

// Tollgate's extension of Q: the UDP payload bytes received from each
// party, which rtpproxy does not count. A relay announces it by answering 1
// to "VF tollgate_nbytes". The name is not a date, so it cannot collide with
// a capability rtpproxy may add later, and rtpproxy answers 0 to it (VF is a
// string compare): a client only asks the counters of a relay that said 1,
// and a real rtpproxy, which would answer E62 to them, is never asked.
// Kamailio and OpenSIPS never send either name.
const (
	capBytes        = "tollgate_nbytes"
	counterBytesIna = "tg_nbytes_ina"
	counterBytesIno = "tg_nbytes_ino"
)

// The capability is registered here, beside the counters it announces,
// so that VF and Q cannot disagree.
func init() { features[capBytes] = true }

// queryCounters are the names Q accepts after a to-tag (section 2.8), and
// Tollgate's byte counters.
var queryCounters = map[string]bool{
	"ttl": true, "npkts_ina": true, "npkts_ino": true, "nrelayed": true, "ndropped": true,
	"rtpa_nsent": true, "rtpa_nrcvd": true, "rtpa_ndups": true, "rtpa_nlost": true, "rtpa_perrs": true,
	"longest_ipi": true, "rtpa_jlast": true, "rtpa_jmax": true, "rtpa_javg": true,
	counterBytesIna: true, counterBytesIno: true,
}

var defaultCounters = []string{"ttl", "npkts_ina", "npkts_ino", "nrelayed", "ndropped"}

func (r *Relay) cmdQuery(c command) (string, error) {
	verbose := false
	switch c.mods {
	case "":
	case "v", "V":
		verbose = true
	default:
		return "", eQMod
	}
	if len(c.args) < 2 || len(c.args) > 14 {
		return "", eNArgs
	}
	if err := checkSubs(c, false); err != nil {
		return "", err
	}
	callID, from, to := c.args[0], c.args[1], ""
	names := defaultCounters
	if len(c.args) > 2 {
		to = c.args[2]
		if len(c.args) > 3 {
			names = c.args[3:]
		}
	}
	r.mu.Lock()
	s, idx := r.findLocked(callID, from, to)
	r.mu.Unlock()
	if s == nil {
		return "", eNoSession
	}
	for _, n := range names {
		if !queryCounters[n] {
			return "", eBadCounter
		}
	}
	var b strings.Builder
	s.mu.Lock()
	for i, n := range names {
		if i > 0 {
			b.WriteByte(' ')
		}
		if verbose {
			b.WriteString(n + "=")
		}
		b.WriteString(s.counter(n, idx))
	}
	s.mu.Unlock()
	if b.Len() > maxReply {
		return "", eQTooBig
	}
	return r.runSubs(b.String(), c.subs, s, idx, updateCmd{callID: callID, from: from, to: to})
}

// counter formats one Q counter. "ina" is what the party named by the
// command's from-tag sent: leg idx faces it. As in rtpproxy (rpcpv1_query.c
// reads stream[idx] only), longest_ipi and the rtpa_* counters describe that
// party's stream alone: the other direction is queried with the tags
// swapped. longest_ipi is in seconds; the jitters are in RTP timestamp units,
// rtpproxy's unit (rtp_analyze.c), which a client turns into time with the
// codec's clock rate.
func (s *session) counter(name string, idx int) string {
	ina, ino := &s.legs[idx], &s.legs[1-idx]
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	a := &ina.rtpa
	switch name {
	case "ttl":
		return strconv.Itoa(s.ttl)
	case "npkts_ina":
		return u(ina.pipes[kindRTP].npkts)
	case "npkts_ino":
		return u(ino.pipes[kindRTP].npkts)
	case "nrelayed":
		return u(ina.pipes[kindRTP].nrelayed + ino.pipes[kindRTP].nrelayed)
	case "ndropped":
		p, q := &ina.pipes[kindRTP], &ino.pipes[kindRTP]
		return u(p.ndropped + p.nignored + q.ndropped + q.nignored)
	case "rtpa_nsent":
		return u(a.expected())
	case "rtpa_nrcvd":
		return u(a.prevRcvd + a.received)
	case "rtpa_ndups":
		return u(a.dups)
	case "rtpa_nlost":
		return u(a.lost())
	case "rtpa_perrs":
		return u(a.perrs)
	case "longest_ipi":
		return f(float64(a.longestIPI) / 1e9)
	case "rtpa_jlast":
		return f(a.jitter)
	case "rtpa_jmax":
		return f(a.jitterMax)
	case "rtpa_javg":
		return f(a.jitterMean())
	case counterBytesIna:
		return u(ina.pipes[kindRTP].nbytes)
	case counterBytesIno:
		return u(ino.pipes[kindRTP].nbytes)
	case counterRTTIna:
		return ina.rtt.counter()
	}
	return optCounter(name, ina, ino)
}

func (r *Relay) cmdStats(c command) (string, error) {
	verbose := false
	switch c.mods {
	case "":
	case "v", "V":
		verbose = true
	default:
		return "", eGMod
	}
	vals := r.statValues()
	var b strings.Builder
	for i, n := range c.args {
		v, ok := vals[n]
		if !ok {
			return "", eBadStat
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		if verbose {
			b.WriteString(n + "=")
		}
		b.WriteString(v)
	}
	if b.Len() > maxReply {
		return "", eGTooBig
	}
	return b.String(), nil
}

// statValues computes every G statistic (section 2.9). Players and the
// resizer do not exist here, so their counters stay 0.
func (r *Relay) statValues() map[string]string {
	st := r.Stats()
	r.mu.Lock()
	g := r.acc
	var sent, rcvd, dups, lost, perrs uint64
	for _, list := range r.sessions {
		for _, s := range list {
			s.mu.Lock()
			for i := range s.legs {
				a := &s.legs[i].rtpa
				sent += a.expected()
				rcvd += a.prevRcvd + a.received
				dups += a.dups
				lost += a.lost()
				perrs += a.perrs
			}
			s.mu.Unlock()
		}
	}
	r.mu.Unlock()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	return map[string]string{
		"nsess_created": u(g.created), "nsess_destroyed": u(g.destroyed), "nsess_timeout": u(g.timeouts),
		"nsess_complete": u(g.complete), "nsess_nortp": u(g.noRTP), "nsess_owrtp": u(g.oneWayRTP),
		"nsess_nortcp": u(g.noRTCP), "nsess_owrtcp": u(g.oneWayRTCP),
		"nplrs_created": "0", "nplrs_destroyed": "0",
		"npkts_rcvd": u(st.PacketsReceived), "npkts_played": "0", "npkts_relayed": u(st.PacketsRelayed),
		"npkts_resizer_in": "0", "npkts_resizer_out": "0", "npkts_resizer_discard": "0",
		"npkts_discard":  u(st.PacketsDiscarded),
		"total_duration": f(g.duration),
		"ncmds_rcvd":     u(r.cmds.rcvd.Load()), "ncmds_rcvd_ndups": u(r.cmds.dups.Load()),
		"ncmds_succd": u(r.cmds.succd.Load()), "ncmds_errs": u(r.cmds.errs.Load()),
		"ncmds_repld": u(r.cmds.repld.Load()),
		"rtpa_nsent":  u(g.rtpaSent + sent), "rtpa_nrcvd": u(g.rtpaRcvd + rcvd),
		"rtpa_ndups": u(g.rtpaDups + dups), "rtpa_nlost": u(g.rtpaLost + lost),
		"rtpa_perrs": u(g.rtpaPerrs + perrs),
		"pps_in":     f(st.PacketsPerSecond),
	}
}

func (r *Relay) cmdInfo(c command) (string, error) {
	if span(c.mods, 0, func(b byte) bool { return b == 'b' || b == 'B' || b == 'l' || b == 'L' }) != len(c.mods) {
		return "", eIMod
	}
	if len(c.args) != 0 {
		return "", eNArgs
	}
	st := r.Stats()
	var b strings.Builder
	b.WriteString("sessions created: " + strconv.FormatUint(st.SessionsCreated, 10))
	b.WriteString("\nactive sessions: " + strconv.Itoa(st.ActiveSessions))
	b.WriteString("\nactive streams: " + strconv.Itoa(st.ActiveStreams))
	b.WriteString("\npackets received: " + strconv.FormatUint(st.PacketsReceived, 10))
	b.WriteString("\npackets transmitted: " + strconv.FormatUint(st.PacketsRelayed, 10))
	if strings.ContainsAny(c.mods, "lL") {
		b.WriteString("\naverage load: " + strconv.FormatFloat(st.Load, 'f', 6, 64))
	}
	return b.String(), nil
}

// DirectionStats counts what one party sent through the relay.
type DirectionStats struct {
	Packets     uint64  // RTP packets received from the party
	Bytes       uint64  // their UDP payload bytes
	Relayed     uint64  // RTP packets forwarded to the other party
	Dropped     uint64  // not forwarded: no destination, refused by latching, send error
	Expected    uint64  // packets the sender sent, from RTP sequence numbers
	Lost        uint64  // Expected minus received (RFC 3550 A.3)
	JitterMs    float64 // last interarrival jitter (RFC 3550 A.8); 0 for dynamic payload types
	MaxJitterMs float64
	OnHold      bool // the party's last SDP put it on hold (0.0.0.0)
	// The RTP options' figures (O sub-command): the DTMF digits detected
	// in the party's telephone-events (the last 32), and the packets the
	// bandwidth limit and the DTMF filter dropped (part of Dropped).
	DTMF     string
	Limited  uint64
	Filtered uint64
	// RTCPPackets and RTCPRelayed are the RTCP packets received from the
	// party and forwarded; RTT the mean round trip to it measured from them
	// (rtcp.go), 0 before any.
	RTCPPackets, RTCPRelayed uint64
	RTT                      time.Duration
}

// SessionStats are the counters of one media session (one m= line), for
// the CDR.
type SessionStats struct {
	CallID       string
	FromTag      string // as stored: the creating U's from-tag, ;N included
	Complete     bool
	TTL          int            // seconds left before the media timeout
	FromOfferer  DirectionStats // what the party that sent the first U sent
	FromAnswerer DirectionStats
}

// SessionStats returns the counters of every media session of a dialog,
// matched as D matches (a bare tag covers all ;N media numbers); nil when
// none matches.
func (r *Relay) SessionStats(callID, fromTag, toTag string) []SessionStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []SessionStats
	for _, s := range r.sessions[callID] {
		if _, ok := s.matchesPrefix(fromTag, toTag); !ok {
			continue
		}
		s.mu.Lock()
		out = append(out, SessionStats{
			CallID: s.callID, FromTag: s.fromTag, Complete: s.complete, TTL: s.ttl,
			FromOfferer: s.legs[0].direction(), FromAnswerer: s.legs[1].direction(),
		})
		s.mu.Unlock()
	}
	return out
}

func (l *leg) direction() DirectionStats {
	p := &l.pipes[kindRTP]
	return DirectionStats{
		Packets: p.npkts, Bytes: p.nbytes, Relayed: p.nrelayed, Dropped: p.ndropped + p.nignored,
		Expected: l.rtpa.expected(), Lost: l.rtpa.lost(),
		JitterMs: l.rtpa.jitterMs(), MaxJitterMs: l.rtpa.jitterMaxMs(), OnHold: l.hold,
		DTMF: l.shape.dtmf.String(), Limited: l.shape.nlimited, Filtered: l.shape.nfiltered,
		RTCPPackets: l.pipes[kindRTCP].npkts, RTCPRelayed: l.pipes[kindRTCP].nrelayed, RTT: l.rtt.mean(),
	}
}
