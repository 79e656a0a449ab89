package relay

import (
	"net/netip"
	"time"

	"github.com/pion/rtp"
)

// Socket kinds of a leg.
const (
	kindRTP  = 0
	kindRTCP = 1
)

// updateWindow is how long after a U/L a latched leg may move to a new
// source address (section 3.3, UPDATE_WINDOW).
const updateWindow = int64(10 * time.Second)

// pipe is what one party sends to one of our sockets (RTP or RTCP) and where
// we send to that party: its remote address and the latching state, plus the
// counters of packets received from it.
type pipe struct {
	remote    netip.AddrPort // invalid until signalled or learned
	untrusted bool           // learned from media: signalling no longer overrides it
	latched   bool
	ssrcKnown bool
	ssrc      uint32
	seq       uint16

	npkts    uint64 // received from the party (session complete)
	nbytes   uint64
	nrelayed uint64
	ndropped uint64 // no destination known yet, or the send failed
	nignored uint64 // source refused by the latching rules
}

func (p *pipe) latch(h *rtp.Header, valid bool) {
	p.latched = true
	if valid {
		p.ssrcKnown = true
		p.ssrc = h.SSRC
		p.seq = h.SequenceNumber
	}
}

// leg is one side of a session: the RTP/RTCP port pair facing one party.
// legs[0] of a session faces the offerer (the party whose from-tag created
// it), legs[1] the answerer.
type leg struct {
	port    int        // local RTP port; 0 until allocated
	socks   [2]*msock  // nil until allocated
	fam     family     // of the local address the sockets are bound to
	bound   netip.Addr // the interface address they are bound to (l modifier); invalid: the family's media address
	pipes   [2]pipe
	rtpa    rtpStats // analysis of the RTP the party sends
	asym    bool     // signalled address is authoritative (modifier A)
	hold    bool     // last signalled address was 0.0.0.0
	updated int64    // relay clock of the last U/L that addressed this leg
	codecs  string   // payload types from the c modifier
	ptime   int      // z modifier, accepted and stored only
	formats formats  // payload formats from a T sub-command, for transcoding
	shape   shaping  // RTP options from an O sub-command, and their state
	rtt     rttState // round trip to the party, from the RTCP it sends (rtcp.go)
}

// setRemote applies an address from signalling (U/L). An address learned
// from media wins over signalling (section 3.3).
func (l *leg) setRemote(addr netip.AddrPort, now int64) {
	l.updated = now
	l.hold = false
	if l.shape.opts.symmetric {
		return // only the party's own media says where it is
	}
	for k := range l.pipes {
		p := &l.pipes[k]
		a := addr
		if k == kindRTCP {
			a = netip.AddrPortFrom(addr.Addr(), addr.Port()+1)
		}
		if l.asym {
			p.remote, p.untrusted, p.latched = a, false, true
			continue
		}
		if p.untrusted && p.remote.IsValid() {
			continue
		}
		p.remote = a
	}
}

// accept applies the latching rules of section 3.3 to a packet from src and
// reports whether it may be relayed.
func (l *leg) accept(kind int, src netip.AddrPort, h *rtp.Header, valid bool, now int64) bool {
	p := &l.pipes[kind]
	if l.asym && p.remote.IsValid() {
		return src.Addr() == p.remote.Addr()
	}
	switch {
	case !p.remote.IsValid():
		p.remote, p.untrusted = src, true
		if kind == kindRTP {
			q := &l.pipes[kindRTCP]
			if !q.remote.IsValid() || q.remote.Addr() != src.Addr() {
				q.remote, q.untrusted = netip.AddrPortFrom(src.Addr(), src.Port()+1), true
			}
		}
		p.latch(h, valid)
	case src == p.remote:
		if !p.latched || (valid && (!p.ssrcKnown || h.SSRC != p.ssrc)) {
			p.latch(h, valid)
		} else if valid {
			p.seq = h.SequenceNumber
		}
	case !p.latched:
		p.remote, p.untrusted = src, true
		p.latch(h, valid)
	default:
		inWindow := now-l.updated < updateWindow && (kind == kindRTCP || valid)
		sameStream := valid && p.ssrcKnown && h.SSRC == p.ssrc && seqNear(h.SequenceNumber, p.seq)
		if !inWindow && !sameStream {
			return false
		}
		p.remote, p.untrusted = src, true
		p.latch(h, valid)
	}
	return true
}

func seqNear(a, b uint16) bool {
	d := a - b
	return d <= seqNearness || -d <= seqNearness
}

func (l *leg) close(pool *portPool) {
	if l.port == 0 {
		return
	}
	for _, m := range l.socks {
		m.lp.remove(m)
	}
	pool.put(l.port)
	l.port = 0
	l.socks = [2]*msock{}
}

// legPort is the port a U or L reply names: its leg's port, the family
// of its local address, and the interface address it is bound to
// (invalid: the family's media address).
type legPort struct {
	port  int
	fam   family
	bound netip.Addr
}
