package relay

import (
	"encoding/binary"
	"strconv"
	"time"
)

// Round-trip time from the RTCP the relay carries (RFC 3550 6.4.1): a
// party's receiver report names the last sender report it got (LSR, the
// middle 32 bits of its NTP timestamp) and how long ago (DLSR, in 1/65536
// s). The relay notes when it forwarded each sender report to a party, so
// that party's next report block about it gives the round trip between the
// relay and that party: arrival - forwarded - DLSR, without the parties'
// clocks. The mean over the call is the Q counter tg_rtt_ina (µs, "-"
// before any), announced by "VF tollgate_rtt"; rtpproxy keeps none.
const (
	capRTT        = "tollgate_rtt"
	counterRTTIna = "tg_rtt_ina"
)

func init() {
	features[capRTT] = true
	queryCounters[counterRTTIna] = true
}

// srKept is how many forwarded sender reports a leg remembers: a receiver
// answers the last one it got, seconds later (RTCP's interval is 5 s).
const srKept = 4

// maxRTT bounds a believable round trip: a report naming a sender report
// the relay forwarded longer ago than this is about an older one, or lies.
const maxRTT = int64(10 * time.Second)

// rttState is what one leg keeps for the round trip to the party it faces:
// the sender reports forwarded to that party, and the round trips measured.
type rttState struct {
	sent  [srKept]forwardedSR
	next  int
	sum   int64 // ns
	count int64
}

// forwardedSR is a sender report forwarded to a party: its NTP timestamp's
// middle 32 bits, and the relay clock when it went.
type forwardedSR struct {
	lsr uint32
	at  int64
}

// noteRTCP reads an RTCP compound packet the party facing leg x sent, on
// its way to the other party: its sender reports are noted as forwarded
// to the other party, and its report blocks about the other party's sender
// reports measure the round trip to party x. s.mu is held.
func (s *session) noteRTCP(x int, pkt []byte, now int64) {
	mine, other := &s.legs[x].rtt, &s.legs[1-x].rtt
	for len(pkt) >= 8 && pkt[0]>>6 == 2 {
		size := 4 * (int(binary.BigEndian.Uint16(pkt[2:])) + 1)
		if size > len(pkt) {
			return
		}
		p, rc := pkt[:size], int(pkt[0]&0x1F)
		blocks := -1
		switch pkt[1] {
		case 200: // SR: sender info, then report blocks
			if size >= 28 {
				other.sent[other.next] = forwardedSR{binary.BigEndian.Uint32(p[10:]), now}
				other.next = (other.next + 1) % srKept
				blocks = 28
			}
		case 201: // RR
			blocks = 8
		}
		for i := 0; blocks >= 0 && i < rc && blocks+24*(i+1) <= size; i++ {
			b := p[blocks+24*i:]
			lsr, dlsr := binary.BigEndian.Uint32(b[16:]), int64(binary.BigEndian.Uint32(b[20:]))
			if lsr == 0 {
				continue // no sender report received yet
			}
			for k := range mine.sent {
				if sr := &mine.sent[k]; sr.at != 0 && sr.lsr == lsr {
					if rtt := now - sr.at - dlsr*int64(time.Second)/65536; rtt >= 0 && rtt < maxRTT {
						mine.sum += rtt
						mine.count++
					}
					break
				}
			}
		}
		pkt = pkt[size:]
	}
}

// mean is the mean round trip to the party; 0 before any.
func (r *rttState) mean() time.Duration {
	if r.count == 0 {
		return 0
	}
	return time.Duration(r.sum / r.count)
}

// counter formats tg_rtt_ina: the mean round trip to the party, in µs.
func (r *rttState) counter() string {
	if r.count == 0 {
		return "-"
	}
	return strconv.FormatInt(r.mean().Microseconds(), 10)
}
