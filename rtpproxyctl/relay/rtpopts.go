package relay

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/rtp"
)

// RTP options: what the SEMS SBC's call profiles set per call with
// rtprelay_dtmf_filtering, rtprelay_dtmf_detection,
// rtprelay_force_symmetric_rtp, rtprelay_transparent_ssrc and
// rtprelay_transparent_seqno, plus a bandwidth limit per stream. A
// controller sets them per party with Tollgate's O sub-command after U or
// L (as T sets its formats):
//
//	U callid addr port ftag [ttag] && O dtmf_filter te=101 max_pkt_rate=60
//	L callid addr port ftag ttag && O dtmf_detect rewrite_ssrc rewrite_seqno
//
// O names the options of the party whose SDP the U or L carries; Or those
// of the other party. Each applies to the RTP that party sends:
//
//   - dtmf_filter: its RFC 4733 telephone-event packets are not relayed
//     (counted as dropped, and hidden from the receiver's sequence numbers,
//     since nothing was lost);
//   - dtmf_detect: the digits of its telephone-events are kept (the Q
//     counter tg_dtmf_ina / tg_dtmf_ino, SessionStats) and logged;
//   - te=PT: the payload type of its telephone-events, when no T gave it;
//   - symmetric: the party is sent media only where its own media comes
//     from, whatever its SDP says, and followed wherever it moves (NAT);
//   - rewrite_ssrc, rewrite_seqno: the SSRC becomes one the relay chose for
//     the stream, the sequence numbers one continuous count, so that the
//     receiver sees one stream across the sender's restarts and changes;
//     by default both cross as sent (transparent);
//   - max_pkt_rate=N, max_byte_rate=N: at most N RTP packets, or N bytes of
//     UDP payload, per second, with a burst of one second's worth; the
//     excess is dropped and counted (tg_nlimited_ina).
//
// A repeated O replaces the party's options. A malformed O (unknown name,
// a number that is not positive, te outside 0-127) fails the command with
// E3. The relay announces the sub-command with "VF tollgate_rtpopts".
const capRTPOpts = "tollgate_rtpopts"

// The Q counters of the options, per party as tg_nbytes_ina: the digits
// detected ("-" for none, the last 32 kept), and the packets the bandwidth
// limit and the DTMF filter dropped.
const (
	counterDTMFIna     = "tg_dtmf_ina"
	counterDTMFIno     = "tg_dtmf_ino"
	counterLimitedIna  = "tg_nlimited_ina"
	counterLimitedIno  = "tg_nlimited_ino"
	counterFilteredIna = "tg_nfiltered_ina"
	counterFilteredIno = "tg_nfiltered_ino"
)

func init() {
	features[capRTPOpts] = true
	for _, n := range []string{counterDTMFIna, counterDTMFIno, counterLimitedIna, counterLimitedIno, counterFilteredIna, counterFilteredIno} {
		queryCounters[n] = true
	}
}

// optCounter formats one of the options' Q counters for the party facing
// leg ina, the other facing ino; "" for another name.
func optCounter(name string, ina, ino *leg) string {
	l := ina
	if strings.HasSuffix(name, "_ino") {
		l = ino
	}
	switch name {
	case counterDTMFIna, counterDTMFIno:
		if d := l.shape.dtmf.String(); d != "" {
			return d
		}
		return "-"
	case counterLimitedIna, counterLimitedIno:
		return strconv.FormatUint(l.shape.nlimited, 10)
	case counterFilteredIna, counterFilteredIno:
		return strconv.FormatUint(l.shape.nfiltered, 10)
	}
	return ""
}

// rtpOpts are one party's options from an O sub-command.
type rtpOpts struct {
	dtmfFilter   bool
	dtmfDetect   bool
	dtmfNotify   bool
	symmetric    bool
	rewriteSSRC  bool
	rewriteSeqno bool
	eventPT      int // -1: not given
	maxPktRate   int64
	maxByteRate  int64
}

// parseRTPOpts reads the arguments of O.
func parseRTPOpts(args []string) (rtpOpts, bool) {
	o := rtpOpts{eventPT: -1}
	for _, a := range args {
		name, val, hasVal := strings.Cut(a, "=")
		switch {
		case !hasVal && name == "dtmf_filter":
			o.dtmfFilter = true
		case !hasVal && name == "dtmf_detect":
			o.dtmfDetect = true
		case !hasVal && name == "dtmf_notify":
			o.dtmfNotify = true
		case !hasVal && name == "symmetric":
			o.symmetric = true
		case !hasVal && name == "rewrite_ssrc":
			o.rewriteSSRC = true
		case !hasVal && name == "rewrite_seqno":
			o.rewriteSeqno = true
		case hasVal && name == "te":
			pt, err := strconv.Atoi(val)
			if err != nil || pt < 0 || pt > 127 {
				return o, false
			}
			o.eventPT = pt
		case hasVal && (name == "max_pkt_rate" || name == "max_byte_rate"):
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 1 || n > maxRate {
				return o, false
			}
			if name == "max_pkt_rate" {
				o.maxPktRate = n
			} else {
				o.maxByteRate = n
			}
		default:
			return o, false
		}
	}
	return o, true
}

// maxRate bounds a rate so that a bucket of one second of it, in units of
// 1/1e9, fits an int64 many times over.
const maxRate = 1 << 30

// shaping is the state the options keep for the RTP one party sends. It
// lives in the party's leg, guarded by the session's mu, and holds no
// pointer, so that the packet path allocates nothing.
type shaping struct {
	opts rtpOpts
	// The token buckets, in packets (bytes) × 1e9, refilled at the rate per
	// nanosecond of the relay clock, holding at most one second's worth.
	pktTokens, byteTokens int64
	filled                int64 // relay clock of the last refill
	nlimited              uint64
	nfiltered             uint64
	// seqShift hides the events filtered out from the receiver's
	// sequence numbers; outSSRC and outSeq are the rewritten stream's.
	seqShift uint16
	outSSRC  uint32
	outSeq   uint16
	dtmf     dtmfLog
	// out is the stream as last relayed, inj the digits the relay sends
	// into it (dtmf.go).
	out outStream
	inj injection
}

// dtmfLog keeps the digits detected in one party's telephone-events: the
// count, and the last len(digits) of them in a ring.
type dtmfLog struct {
	digits  [32]byte
	n       uint64 // digits detected
	logged  uint64 // of which the relay has logged
	lastTS  uint32 // RTP timestamp of the event being sent: one per digit
	started bool
	told    eventTold // dtmf_notify: the last event told, by its timestamp
	toldTS  uint32
}

// String is the digits kept, oldest first.
func (d *dtmfLog) String() string {
	k := min(d.n, uint64(len(d.digits)))
	b := make([]byte, 0, k)
	for i := d.n - k; i < d.n; i++ {
		b = append(b, d.digits[i%uint64(len(d.digits))])
	}
	return string(b)
}

// logDTMF logs the digits detected since the last call, once a second
// from the sweep: the packet path does not log, since logging allocates.
// s.mu is held.
func (s *session) logDTMF() {
	for i := range s.legs {
		d := &s.legs[i].shape.dtmf
		if d.n == d.logged {
			continue
		}
		s.r.log.Info("relay: DTMF detected", "call_id", s.callID, "tag", s.fromTag, "party", partyNames[i],
			"digits", d.String(), "new", d.n-d.logged)
		d.logged = d.n
	}
}

// partyNames name the parties legs[0] and legs[1] face.
var partyNames = [2]string{"offerer", "answerer"}

// eventDigits maps RFC 4733's DTMF event codes (0-15) to their digits.
const eventDigits = "0123456789*#ABCD"

// setOpts applies an O sub-command to leg i. s.mu is held.
func (s *session) setOpts(i int, o rtpOpts, now int64) {
	sh := &s.legs[i].shape
	if o.rewriteSSRC && !sh.opts.rewriteSSRC {
		sh.outSSRC = rand.Uint32()
	}
	if o.rewriteSeqno && !sh.opts.rewriteSeqno {
		sh.outSeq = uint16(rand.Uint32())
	}
	sh.opts = o
	sh.pktTokens, sh.byteTokens, sh.filled = o.maxPktRate*1e9, o.maxByteRate*1e9, now
	if o.symmetric {
		// Forget where signalling said the party is: until it sends, it
		// is sent nothing.
		for k := range s.legs[i].pipes {
			if p := &s.legs[i].pipes[k]; !p.untrusted {
				p.remote, p.latched = netip.AddrPort{}, false
			}
		}
	}
}

// eventPT is the payload type of the telephone-events the party facing
// leg x sends: the O sub-command's te=, else its T formats'; -1 when
// neither tells.
func (s *session) eventPT(x int) int {
	l := &s.legs[x]
	if l.shape.opts.eventPT >= 0 {
		return l.shape.opts.eventPT
	}
	if l.formats.known {
		return l.formats.ptOf[encEvent]
	}
	return -1
}

// admit applies the options of the party facing leg x to an RTP packet it
// sent (h parsed from it when valid), before any conversion: the
// bandwidth limit, then DTMF detection and filtering. It reports whether
// the packet goes on. s.mu is held.
func (s *session) admit(x int, pkt []byte, h *rtp.Header, valid bool, now int64) bool {
	sh := &s.legs[x].shape
	o := &sh.opts
	if o.maxPktRate > 0 || o.maxByteRate > 0 {
		elapsed := min(now-sh.filled, 1e9)
		sh.filled = now
		if o.maxPktRate > 0 {
			sh.pktTokens = min(sh.pktTokens+elapsed*o.maxPktRate, o.maxPktRate*1e9)
		}
		if o.maxByteRate > 0 {
			sh.byteTokens = min(sh.byteTokens+elapsed*o.maxByteRate, o.maxByteRate*1e9)
		}
		if (o.maxPktRate > 0 && sh.pktTokens < 1e9) || (o.maxByteRate > 0 && sh.byteTokens < int64(len(pkt))*1e9) {
			sh.nlimited++
			return false
		}
		if o.maxPktRate > 0 {
			sh.pktTokens -= 1e9
		}
		if o.maxByteRate > 0 {
			sh.byteTokens -= int64(len(pkt)) * 1e9
		}
	}
	if !valid || (!o.dtmfDetect && !o.dtmfFilter && !o.dtmfNotify) {
		return true
	}
	if pt := s.eventPT(x); pt < 0 || int(h.PayloadType) != pt {
		return true
	}
	if o.dtmfDetect || o.dtmfNotify {
		if start, end, ok := rtpPayload(pkt); ok && end-start >= 4 && pkt[start] < byte(len(eventDigits)) {
			d := &sh.dtmf
			if o.dtmfDetect && (!d.started || h.Timestamp != d.lastTS) {
				d.digits[d.n%uint64(len(d.digits))] = eventDigits[pkt[start]]
				d.n++
				d.started, d.lastTS = true, h.Timestamp
			}
			if o.dtmfNotify {
				s.noteEventEnd(x, pkt, start, h.Timestamp)
			}
		}
	}
	if o.dtmfFilter {
		sh.nfiltered++
		sh.seqShift++
		return false
	}
	return true
}

// rewrite sets the SSRC and sequence number of an RTP packet the party
// facing leg x sent, after any conversion, as its options say. s.mu is
// held.
func (s *session) rewrite(x int, pkt []byte) {
	sh := &s.legs[x].shape
	switch {
	case sh.opts.rewriteSeqno:
		binary.BigEndian.PutUint16(pkt[2:], sh.outSeq)
		sh.outSeq++
	case sh.seqShift != 0:
		binary.BigEndian.PutUint16(pkt[2:], binary.BigEndian.Uint16(pkt[2:])-sh.seqShift)
	}
	if sh.opts.rewriteSSRC {
		binary.BigEndian.PutUint32(pkt[8:], sh.outSSRC)
	}
}

// shapes reports whether leg x has options that touch its packets.
func (l *leg) shapes() bool {
	o := &l.shape.opts
	return o.dtmfFilter || o.dtmfDetect || o.dtmfNotify || o.rewriteSSRC || o.rewriteSeqno || o.maxPktRate > 0 || o.maxByteRate > 0 || l.shape.seqShift != 0
}
