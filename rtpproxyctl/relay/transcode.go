package relay

import (
	"encoding/binary"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/tollgate/tollgate/rtpproxyctl/relay/codec"
)

// Transcoding: when the two parties of a session chose codecs the other
// cannot receive, the relay converts their RTP per direction. The relay
// learns each party's payload formats from Tollgate's extension of the
// control protocol, the T sub-command after U or L:
//
//	U callid addr port ftag [ttag] && T PCMA/8 telephone-event/101 CN/13
//	L callid addr port ftag ttag && T PCMU/0 telephone-event/100
//
// T names the payload formats of the party whose SDP the U or L carries,
// in its SDP's order, as encoding/payload-type; Tr names those of the other
// party (as Sr does for S), for "U ... && L ... && Tr ...". The relay sends
// a party the first audio encoding of its list unless the party also lists
// the encoding that arrives, which then crosses unconverted (only the
// payload type is renumbered). Once both parties' formats are known, every
// packet is converted; until then the session relays as rtpproxy does.
//
// Why it is this way round: the codecs handled (PCMU, PCMA, G.722) all have
// an 8000 Hz RTP clock (G.722's, though it samples at 16 kHz, RFC 3551
// section 4.5.2) and one byte per 1/8000 s, so a converted packet has the
// payload size, timestamp and duration of the original. The relay
// therefore keeps the SSRC, timestamps and marker, converts each packet in
// place, and renumbers sequence numbers only to close the gaps its own
// discards leave. telephone-event (RFC 4733) and comfort noise (RFC 3389)
// are codec-independent and 8000 Hz too: they cross with their payload
// type renumbered, or are discarded (and counted) when the receiving party
// did not list them — a receiver that never asked for CN would play it as
// noise. RTCP crosses unchanged. A payload type a party did not list, or an
// encoding the relay does not know (opus...), crosses unchanged, as
// without transcoding.
//
// A relay announces the extension by answering 1 to "VF tollgate_transcode";
// rtpproxy answers 0, and E3 to the T sub-command.
const capTranscode = "tollgate_transcode"

func init() { features[capTranscode] = true }

// encoding is a payload format the transcoder knows.
type encoding uint8

const (
	encOther encoding = iota // listed, not known: crosses unchanged
	encPCMU
	encPCMA
	encG722
	encEvent // telephone-event
	encCN
	numEncodings
)

var encodingNames = [numEncodings]string{"other", "PCMU", "PCMA", "G722", "telephone-event", "CN"}

func (e encoding) String() string { return encodingNames[e] }

func (e encoding) audio() bool { return e == encPCMU || e == encPCMA || e == encG722 }

// formats are one party's payload formats from a T sub-command.
type formats struct {
	known bool
	send  encoding          // first audio encoding: what the party is sent
	byPT  [128]encoding     // what a payload type from the party carries
	listd [128]bool         // payload types the party listed
	ptOf  [numEncodings]int // payload type the party expects for an encoding; -1: none
}

// parseFormats reads the arguments of T: encoding/pt tokens. Unknown
// encoding names are kept as encOther; a malformed token, an out-of-range
// or repeated payload type, or a list without any audio encoding the relay
// can send fails.
func parseFormats(args []string) (formats, bool) {
	var f formats
	for i := range f.ptOf {
		f.ptOf[i] = -1
	}
	if len(args) == 0 {
		return f, false
	}
	for _, a := range args {
		name, num, ok := strings.Cut(a, "/")
		pt, err := strconv.Atoi(num)
		if !ok || name == "" || err != nil || pt < 0 || pt > 127 || f.listd[pt] {
			return f, false
		}
		e := encOther
		for k := encPCMU; k < numEncodings; k++ {
			if strings.EqualFold(name, encodingNames[k]) {
				e = k
			}
		}
		f.listd[pt], f.byPT[pt] = true, e
		if e != encOther && f.ptOf[e] < 0 {
			f.ptOf[e] = pt
		}
		if f.send == encOther && e.audio() {
			f.send = e
		}
	}
	f.known = f.send != encOther
	return f, f.known
}

// direction is the conversion state for the packets one party sends: the
// codec states of the path in use, and how far sequence numbers are moved
// back to hide the packets the transcoder discarded.
type direction struct {
	from, to encoding // the conversion the codec states belong to
	g722dec  codec.G722Decoder
	g722enc  codec.G722Encoder
	down     codec.Downsampler
	up       codec.Upsampler
	seqShift uint16
}

// transcoder is a session's converter, present once both parties' formats
// are known; dirs[x] converts what the party facing legs[x] sends. It is
// guarded by the session's mu.
type transcoder struct {
	dirs [2]direction
}

// scratch is the PCM a conversion works in: one per packet loop, so that
// sessions carry no large buffers. A payload is at most readBufSize bytes,
// which G.722 decodes to twice as many 16 kHz samples.
type scratch struct {
	wide   [2 * readBufSize]int16
	narrow [readBufSize]int16
}

// xstats count per encoding what the transcoder took in (decoded or
// renumbered), put out (encoded or renumbered) and discarded. Each packet
// loop has its own, so loops never share a cache line on the packet path.
type xstats [numEncodings]struct{ in, out, discarded atomic.Uint64 }

// setFormats applies a T sub-command to leg i. s.mu is held.
func (s *session) setFormats(i int, f formats) {
	s.legs[i].formats = f
	if s.xc == nil && s.legs[0].formats.known && s.legs[1].formats.known {
		s.xc = &transcoder{}
		for k := range s.xc.dirs {
			s.xc.dirs[k].reset(encOther, encOther)
		}
	}
}

func (d *direction) reset(from, to encoding) {
	d.from, d.to = from, to
	d.g722dec.Reset()
	d.g722enc.Reset()
	d.down, d.up = codec.Downsampler{}, codec.Upsampler{}
}

// rtpPayload finds the payload of a valid RTP packet: after the CSRCs and
// the header extension, before the padding.
func rtpPayload(pkt []byte) (int, int, bool) {
	start := 12 + 4*int(pkt[0]&0x0F)
	if pkt[0]&0x10 != 0 {
		if start+4 > len(pkt) {
			return 0, 0, false
		}
		start += 4 + 4*int(binary.BigEndian.Uint16(pkt[start+2:]))
	}
	end := len(pkt)
	if pkt[0]&0x20 != 0 && end > 0 {
		end -= int(pkt[end-1])
	}
	return start, end, start <= end
}

// convert rewrites in place the RTP packet pkt that the party facing leg x
// sent, for the party facing the other leg, and returns its new length; it
// returns false when the packet is to be discarded. s.mu is held.
func (s *session) convert(x int, pkt []byte, sc *scratch, st *xstats) (int, bool) {
	in, out := &s.legs[x].formats, &s.legs[1-x].formats
	d := &s.xc.dirs[x]
	pt := int(pkt[1] & 0x7F)
	if !in.listd[pt] || in.byPT[pt] == encOther {
		return len(pkt), true
	}
	e := in.byPT[pt]
	to, opt := e, out.ptOf[e]
	if opt < 0 {
		if !e.audio() {
			st[e].discarded.Add(1)
			d.seqShift++
			return 0, false
		}
		to, opt = out.send, out.ptOf[out.send]
	}
	start, end, ok := rtpPayload(pkt)
	if !ok {
		st[e].discarded.Add(1)
		d.seqShift++
		return 0, false
	}
	if to != e {
		if d.from != e || d.to != to {
			s.r.countConversion(d, -1)
			d.reset(e, to)
			s.r.countConversion(d, 1)
		}
		end = start + d.transcode(e, to, pkt[start:end], sc)
		pkt[0] &^= 0x20 // the padding is gone
	}
	st[e].in.Add(1)
	st[to].out.Add(1)
	pkt[1] = pkt[1]&0x80 | byte(opt)
	if d.seqShift != 0 {
		binary.BigEndian.PutUint16(pkt[2:], binary.BigEndian.Uint16(pkt[2:])-d.seqShift)
	}
	return end, true
}

// transcode converts payload p from one audio encoding to another in
// place and returns the new payload length, which for these codecs is the
// old one.
func (d *direction) transcode(from, to encoding, p []byte, sc *scratch) int {
	switch {
	case from == encPCMA && to == encPCMU:
		for i, b := range p {
			p[i] = codec.ALawToULaw(b)
		}
		return len(p)
	case from == encPCMU && to == encPCMA:
		for i, b := range p {
			p[i] = codec.ULawToALaw(b)
		}
		return len(p)
	case from == encG722:
		wide := sc.wide[:2*len(p)]
		d.g722dec.Decode(wide, p)
		narrow := sc.narrow[:len(p)]
		d.down.Process(narrow, wide)
		if to == encPCMA {
			for i, v := range narrow {
				p[i] = codec.EncodeALaw(v)
			}
		} else {
			for i, v := range narrow {
				p[i] = codec.EncodeULaw(v)
			}
		}
		return len(p)
	default: // G.711 to G.722
		narrow := sc.narrow[:len(p)]
		if from == encPCMA {
			for i, b := range p {
				narrow[i] = codec.DecodeALaw(b)
			}
		} else {
			for i, b := range p {
				narrow[i] = codec.DecodeULaw(b)
			}
		}
		wide := sc.wide[:2*len(p)]
		d.up.Process(wide, narrow)
		return d.g722enc.Encode(p, wide)
	}
}

// CodecStats counts the transcoder's packets of one encoding.
type CodecStats struct {
	Codec     string // PCMU, PCMA, G722, telephone-event, CN
	In        uint64 // packets received in this encoding and converted or renumbered
	Out       uint64 // packets sent in this encoding after conversion or renumbering
	Discarded uint64 // received in this encoding, not sent: the other party did not list it
	// Reading and Writing are the streams converting now that decode
	// (read) or encode (write) this audio encoding: SEMS's transcoder
	// statistics (P-Transcoder-Stats-In/Out).
	Reading, Writing int64
}

// conversions count, per audio encoding, the directions of all sessions
// whose last packet was converted from it (reading) or to it (writing).
type conversions [numEncodings]struct{ reading, writing atomic.Int64 }

// countConversion adds n to the counts of d's conversion, when it is one.
func (r *Relay) countConversion(d *direction, n int64) {
	if d.from.audio() && d.to.audio() && d.from != d.to {
		r.conversions[d.from].reading.Add(n)
		r.conversions[d.to].writing.Add(n)
	}
}

// endConversions uncounts a closing session's conversions. s.mu is held.
func (s *session) endConversions() {
	if s.xc == nil {
		return
	}
	for i := range s.xc.dirs {
		s.r.countConversion(&s.xc.dirs[i], -1)
		s.xc.dirs[i].from, s.xc.dirs[i].to = encOther, encOther
	}
}

// Conversions is, per audio encoding the transcoder converts (PCMU, PCMA,
// G722), how many streams read (decode) and write (encode) it now: atomics
// only, cheap enough for every OPTIONS reply.
func (r *Relay) Conversions() []CodecStats {
	var out []CodecStats
	for e := encPCMU; e < numEncodings; e++ {
		if e.audio() {
			out = append(out, CodecStats{Codec: e.String(), Reading: r.conversions[e].reading.Load(), Writing: r.conversions[e].writing.Load()})
		}
	}
	return out
}

// transcoderStats sums the loops' counters.
func (r *Relay) transcoderStats() []CodecStats {
	out := make([]CodecStats, 0, numEncodings-1)
	for e := encPCMU; e < numEncodings; e++ {
		c := CodecStats{Codec: e.String(), Reading: r.conversions[e].reading.Load(), Writing: r.conversions[e].writing.Load()}
		for _, l := range r.loops {
			c.In += l.xstats[e].in.Load()
			c.Out += l.xstats[e].out.Load()
			c.Discarded += l.xstats[e].discarded.Load()
		}
		out = append(out, c)
	}
	return out
}
