package relay

import "github.com/pion/rtp"

// Sequence and jitter tracking limits (RFC 3550 A.1).
const (
	maxDropout  = 3000 // a forward jump larger than this restarts the count
	seqWindow   = 64   // how far back a late packet can be told from a duplicate
	seqNearness = 536  // same-SSRC re-latch tolerance (section 3.3)
)

// rtpStats is the receiver-side analysis of one RTP direction: packets
// received, expected, lost (RFC 3550 A.3), duplicates, and interarrival
// jitter (RFC 3550 A.8). It is written only by the socket reader of that
// direction, under the session lock.
type rtpStats struct {
	started  bool
	ssrc     uint32
	clock    int64 // RTP clock rate in Hz; 0 when unknown (no jitter)
	baseSeq  uint32
	maxSeq   uint16
	cycles   uint32
	window   uint64 // bit i set: maxSeq-i was seen
	received uint64 // since the current SSRC/restart
	prevExp  uint64 // expected packets of earlier SSRCs or restarts
	prevRcvd uint64
	dups     uint64
	perrs    uint64 // datagrams that were not RTP

	haveTransit bool
	transit     uint32
	jitter      float64 // timestamp units, RFC 3550 A.8 estimator
	jitterMax   float64
	jitterSum   float64
	jitterN     uint64

	lastArrival int64 // ns
	longestIPI  int64 // ns
}

// clockRate returns the RTP clock of a static payload type (RFC 3551), or 0
// for dynamic ones, whose rate only the SDP knows.
func clockRate(pt uint8) int64 {
	switch pt {
	case 0, 3, 4, 5, 7, 8, 9, 12, 13, 15, 18:
		return 8000
	case 6:
		return 16000
	case 10, 11:
		return 44100
	case 16:
		return 11025
	case 17:
		return 22050
	case 14, 25, 26, 28, 31, 32, 33, 34:
		return 90000
	}
	return 0
}

func (s *rtpStats) restart(h *rtp.Header) {
	if s.started {
		s.prevExp += s.expectedCur()
		s.prevRcvd += s.received
	}
	s.started = true
	s.ssrc = h.SSRC
	s.clock = clockRate(h.PayloadType)
	s.baseSeq = uint32(h.SequenceNumber)
	s.maxSeq = h.SequenceNumber
	s.cycles = 0
	s.window = 1
	s.received = 1
	s.haveTransit = false
}

// update accounts one valid RTP packet that arrived at arrival (ns on the
// relay's monotonic clock).
func (s *rtpStats) update(h *rtp.Header, arrival int64) {
	if s.lastArrival != 0 {
		if ipi := arrival - s.lastArrival; ipi > s.longestIPI {
			s.longestIPI = ipi
		}
	}
	s.lastArrival = arrival
	if !s.started || h.SSRC != s.ssrc {
		s.restart(h)
	} else {
		delta := h.SequenceNumber - s.maxSeq
		switch {
		case delta == 0:
			s.dups++
			return
		case delta < 0x8000:
			if delta > maxDropout {
				s.restart(h)
				break
			}
			if h.SequenceNumber < s.maxSeq {
				s.cycles += 1 << 16
			}
			if delta >= seqWindow {
				s.window = 1
			} else {
				s.window = s.window<<delta | 1
			}
			s.maxSeq = h.SequenceNumber
			s.received++
		default:
			back := s.maxSeq - h.SequenceNumber
			if back < seqWindow {
				if s.window&(1<<back) != 0 {
					s.dups++
					return
				}
				s.window |= 1 << back
			}
			s.received++
		}
	}
	s.jitterSample(h, arrival)
}

func (s *rtpStats) jitterSample(h *rtp.Header, arrival int64) {
	if s.clock == 0 {
		return
	}
	// Microseconds keep the product with a 90 kHz clock far from overflow.
	arrivalTS := uint32(arrival / 1000 * s.clock / 1_000_000)
	transit := arrivalTS - h.Timestamp
	if s.haveTransit {
		d := float64(int32(transit - s.transit))
		if d < 0 {
			d = -d
		}
		s.jitter += (d - s.jitter) / 16
		if s.jitter > s.jitterMax {
			s.jitterMax = s.jitter
		}
		s.jitterSum += s.jitter
		s.jitterN++
	}
	s.transit = transit
	s.haveTransit = true
}

func (s *rtpStats) expectedCur() uint64 {
	if !s.started {
		return 0
	}
	return uint64(s.cycles) + uint64(s.maxSeq) - uint64(s.baseSeq) + 1
}

// expected is the number of packets the sender sent, as far as sequence
// numbers tell.
func (s *rtpStats) expected() uint64 { return s.prevExp + s.expectedCur() }

// lost is expected minus received (RFC 3550 A.3), never negative.
func (s *rtpStats) lost() uint64 {
	exp, rcvd := s.expected(), s.prevRcvd+s.received
	if rcvd >= exp {
		return 0
	}
	return exp - rcvd
}

func (s *rtpStats) toMs(ts float64) float64 {
	if s.clock == 0 {
		return 0
	}
	return ts * 1000 / float64(s.clock)
}

// jitterMs is the last jitter estimate in milliseconds.
func (s *rtpStats) jitterMs() float64 { return s.toMs(s.jitter) }

func (s *rtpStats) jitterMaxMs() float64 { return s.toMs(s.jitterMax) }

// jitterMean is the mean of the jitter estimate over the stream, in
// timestamp units, as rtpproxy's rtpa_javg: a figure for the whole call,
// where the last estimate only tells of its last packets.
func (s *rtpStats) jitterMean() float64 {
	if s.jitterN == 0 {
		return 0
	}
	return s.jitterSum / float64(s.jitterN)
}
