package relay

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DTMF interworking: what a controller needs to carry digits between a
// party that sends RFC 4733 telephone-events and one that only speaks SIP
// INFO. Two Tollgate extensions, announced together by
// "VF tollgate_dtmf":
//
//   - the O token dtmf_notify: each telephone-event the party sends is
//     told, once it ends, on the session's notify target (the socket a U
//     named, as for timeouts) as one line
//
//     <notify tag> dtmf <from-tag> <party> <digit> <duration ms>
//
//     where from-tag is the session's (the tag of the U that created it,
//     with its ;N media number), party 0 the party that tag names and 1
//     the other one, and the duration the end packet's. Retransmitted end
//     packets are told once. With dtmf_filter the events are also taken out
//     of the stream, so that the receiver gets the digit once, by INFO;
//
//   - the E sub-command of Q, which sends one digit as RFC 4733 events to
//     the party the Q's from-tag names (Er: to the other party):
//
//     Q callid ftag ttag && E <digit> <duration ms> <payload type>
//
//     as a phone would: one packet every 50 ms with the event's timestamp
//     and a growing duration, the marker on the first, and the end packet
//     sent three times (RFC 4733 2.5.1.4). The events join the stream the
//     other party sends to that party (its SSRC, its sequence numbers, which
//     the relayed packets that follow skip, and a timestamp on its clock).
//     Digits sent while one is playing wait their turn (up to 16).
const capDTMF = "tollgate_dtmf"

func init() { features[capDTMF] = true }

// Event timing of the digits the relay sends: an update every 50 ms (the
// interval RFC 4733 2.5.1.2 suggests for telephone events), the end packet
// three times, and a pause between two digits so that their timestamps
// differ.
const (
	eventInterval   = 50 * time.Millisecond
	eventEndRepeats = 3
	eventGap        = 50 * time.Millisecond
	eventClock      = 8000 // telephone-event/8000
	eventVolume     = 10   // dBm0 below the maximum, what phones send
	maxEventMillis  = 8000 // the 16-bit duration field at 8 kHz holds 8.19 s
	eventQueue      = 16
)

// dtmfEnded is one telephone-event a party ended, for the notifier: the
// packet path hands it over on a channel (a send that does not allocate),
// and tellDTMF formats and writes it.
type dtmfEnded struct {
	s        *session
	party    int
	digit    byte
	duration uint16 // RTP timestamp units
}

// dtmfNotices bounds the ended events waiting to be told; beyond it they
// are dropped and counted, rather than stalling the packet path.
const dtmfNotices = 1024

// noteEventEnd tells the notifier about the event in pkt (a
// telephone-event of the party facing leg x, payload at start) when it is
// an end packet not told yet. s.mu is held.
func (s *session) noteEventEnd(x int, pkt []byte, start int, ts uint32) {
	if pkt[start+1]&0x80 == 0 {
		return
	}
	d := &s.legs[x].shape.dtmf
	if d.told == toldEvent && d.toldTS == ts {
		return // a retransmitted end packet
	}
	d.told, d.toldTS = toldEvent, ts
	select {
	case s.r.dtmfOut <- dtmfEnded{s: s, party: x, digit: eventDigits[pkt[start]], duration: binary.BigEndian.Uint16(pkt[start+2:])}:
	default:
		s.r.dtmfLost.Add(1)
	}
}

// eventTold is whether a party's telephone-events were told yet.
type eventTold uint8

const (
	toldNone  eventTold = iota
	toldEvent           // toldTS is the timestamp of the last event told
)

// tellDTMF writes the ended events to their sessions' notify targets until
// ctx is done.
func (r *Relay) tellDTMF(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-r.dtmfOut:
			e.s.mu.Lock()
			n, tag := e.s.notify, e.s.notifyTag
			e.s.mu.Unlock()
			if n == nil {
				r.log.Warn("relay: DTMF to tell but no notify target; dropped", "call_id", e.s.callID, "digit", string(e.digit))
				continue
			}
			n.send(tag + " dtmf " + e.s.fromTag + " " + strconv.Itoa(e.party) + " " + string(e.digit) + " " +
				strconv.Itoa(int(e.duration)*1000/eventClock))
		}
	}
}

// injectCmd is a parsed E sub-command: one digit to send.
type injectCmd struct {
	event  byte // RFC 4733 event code, 0-15
	millis int
	pt     uint8
}

// parseInject reads the arguments of E: digit, duration in ms, payload type.
func parseInject(args []string) (injectCmd, bool) {
	if len(args) != 3 || len(args[0]) != 1 {
		return injectCmd{}, false
	}
	ev := strings.IndexByte(eventDigits, upper(args[0][0]))
	ms, err1 := strconv.Atoi(args[1])
	pt, err2 := strconv.Atoi(args[2])
	if ev < 0 || err1 != nil || ms < 1 || ms > maxEventMillis || err2 != nil || pt < 0 || pt > 127 {
		return injectCmd{}, false
	}
	return injectCmd{event: byte(ev), millis: ms, pt: uint8(pt)}, true
}

// injectState is where the digits the relay sends into one stream stand.
type injectState uint8

const (
	injectIdle    injectState = iota
	injectPlaying             // a digit's packets are going out; more may wait
	injectPausing             // between two digits, the next one popped
)

// injection is the digits the relay sends into the stream one party
// receives, kept in the shaping of the leg facing the other party (whose
// stream the events join). Guarded by the session's mu.
type injection struct {
	state   injectState
	queue   [eventQueue]injectCmd
	queued  int
	cur     injectCmd
	ts      uint32 // the playing event's timestamp
	total   uint16 // its duration, timestamp units
	updates int    // packets sent for it
	ends    int    // end packets sent for it
	timer   *time.Timer
	sent    uint64 // packets injected over the session's life
}

// outStream is the last RTP packet relayed in one direction, as it left
// the relay: where injected events continue the stream.
type outStream struct {
	state outSeen
	ssrc  uint32
	seq   uint16
	ts    uint32
	at    int64 // relay clock
}

// outSeen tells whether a direction relayed a packet yet.
type outSeen uint8

const (
	outNone outSeen = iota
	outSome
)

// noteOut records pkt, a valid RTP packet the party facing leg x sent, as
// it leaves the relay. s.mu is held.
func (s *session) noteOut(x int, pkt []byte, now int64) {
	o := &s.legs[x].shape.out
	o.state, o.seq, o.ts, o.ssrc, o.at = outSome, binary.BigEndian.Uint16(pkt[2:]), binary.BigEndian.Uint32(pkt[4:]), binary.BigEndian.Uint32(pkt[8:]), now
}

// inject queues a digit for the party facing leg to. s.mu is held.
func (s *session) inject(to int, c injectCmd) bool {
	in := &s.legs[1-to].shape.inj
	if in.state == injectIdle {
		s.startEvent(1-to, c)
		return true
	}
	if in.queued == len(in.queue) {
		return false
	}
	in.queue[in.queued] = c
	in.queued++
	return true
}

// startEvent begins sending c into the stream the party facing leg x sends
// (to the other party), and schedules its first update. s.mu is held.
func (s *session) startEvent(x int, c injectCmd) {
	sh := &s.legs[x].shape
	in := &sh.inj
	o := &sh.out
	now := s.r.now()
	if o.state == outNone {
		// Nothing relayed that way yet: the events start a stream.
		o.state, o.ssrc, o.seq, o.ts, o.at = outSome, rand.Uint32(), uint16(rand.Uint32()), rand.Uint32(), now
		if sh.opts.rewriteSSRC {
			o.ssrc = sh.outSSRC
		}
	}
	in.state, in.cur, in.updates, in.ends = injectPlaying, c, 0, 0
	// After the last packet relayed, on its clock: a digit right behind
	// it still gets a timestamp of its own.
	in.ts = o.ts + uint32(max((now-o.at)*eventClock/int64(time.Second), 1))
	in.total = uint16(c.millis * eventClock / 1000)
	in.timer = time.AfterFunc(eventInterval, func() { s.eventTick(x) })
}

// eventTick sends the next packet of the event playing into the stream
// the party facing leg x sends, and schedules the one after.
func (s *session) eventTick(x int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := &s.legs[x].shape
	in := &sh.inj
	if s.closed || in.state != injectPlaying {
		in.state = injectIdle
		return
	}
	in.updates++
	dur := min(int64(in.updates)*eventInterval.Milliseconds()*eventClock/1000, int64(in.total))
	end := dur == int64(in.total)
	var pkt [16]byte
	pkt[0] = 0x80
	pkt[1] = in.cur.pt
	if in.updates == 1 {
		pkt[1] |= 0x80 // marker: the event's first packet
	}
	o := &sh.out
	seq := o.seq + 1
	if sh.opts.rewriteSeqno {
		seq = sh.outSeq
		sh.outSeq++
	} else {
		sh.seqShift-- // the relayed packets that follow make room for it
	}
	binary.BigEndian.PutUint16(pkt[2:], seq)
	binary.BigEndian.PutUint32(pkt[4:], in.ts)
	binary.BigEndian.PutUint32(pkt[8:], o.ssrc)
	pkt[12] = in.cur.event
	pkt[13] = eventVolume
	if end {
		pkt[13] |= 0x80
		in.ends++
	}
	binary.BigEndian.PutUint16(pkt[14:], uint16(dur))
	o.seq = seq
	y := &s.legs[1-x]
	if m, dst := y.socks[kindRTP], y.pipes[kindRTP].remote; m != nil && dst.IsValid() {
		// The socket cannot be closed under us: the loop closes a socket
		// only after remove, which runs under s.mu.
		var sa unix.Sockaddr = &unix.SockaddrInet6{Port: int(dst.Port()), Addr: dst.Addr().As16()}
		if dst.Addr().Is4() {
			sa = &unix.SockaddrInet4{Port: int(dst.Port()), Addr: dst.Addr().As4()}
		}
		if err := unix.Sendto(m.fd, pkt[:], unix.MSG_DONTWAIT, sa); err == nil {
			in.sent++
		}
	}
	switch {
	case !end || in.ends < eventEndRepeats:
		in.timer = time.AfterFunc(eventInterval, func() { s.eventTick(x) })
	case in.queued > 0:
		next := in.queue[0]
		copy(in.queue[:], in.queue[1:in.queued])
		in.queued--
		in.state = injectPausing
		in.timer = time.AfterFunc(eventGap, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.closed {
				in.state = injectIdle
				return
			}
			s.startEvent(x, next)
		})
	default:
		in.state = injectIdle
	}
}
