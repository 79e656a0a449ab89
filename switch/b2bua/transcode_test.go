package b2bua

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/rtpproxyctl/relay/codec"
)

// pcmaSDP is a caller's offer of PCMA alone, with telephone-event.
func pcmaSDP(port int) string {
	return fmt.Sprintf("v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n", port)
}

// sweep is n samples of a 100-3400 Hz sweep at -10 dBFS and rate Hz: what
// a narrowband leg can carry.
func sweep(rate, n int) []int16 {
	out := make([]int16, n)
	dur := float64(n) / float64(rate)
	for i := range out {
		t := float64(i) / float64(rate)
		out[i] = int16(10362 * math.Sin(2*math.Pi*(100*t+3300*t*t/(2*dur))))
	}
	return out
}

// g711 encodes pcm (8 kHz) as 20 ms frames of A-law or µ-law.
func g711(pcm []int16, alaw bool) [][]byte {
	var out [][]byte
	for off := 0; off+160 <= len(pcm); off += 160 {
		f := make([]byte, 160)
		for i, s := range pcm[off : off+160] {
			if alaw {
				f[i] = codec.EncodeALaw(s)
			} else {
				f[i] = codec.EncodeULaw(s)
			}
		}
		out = append(out, f)
	}
	return out
}

// decodeG711 decodes A-law or µ-law frames.
func decodeG711(frames [][]byte, alaw bool) []int16 {
	var out []int16
	for _, f := range frames {
		for _, b := range f {
			if alaw {
				out = append(out, codec.DecodeALaw(b))
			} else {
				out = append(out, codec.DecodeULaw(b))
			}
		}
	}
	return out
}

// sendFrames sends frames as 20 ms RTP packets of payload type pt from e
// to `to`, paced as a phone sends them.
func sendFrames(t *testing.T, e *rtpEnd, to netip.AddrPort, pt uint8, frames [][]byte) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	dst := net.UDPAddrFromAddrPort(to)
	for i, f := range frames {
		e.seq++
		e.ts += 160
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: e.seq, Timestamp: e.ts, SSRC: e.ssrc}, Payload: f}).Marshal()
		if _, err := e.conn.WriteToUDP(b, dst); err != nil {
			t.Errorf("RTP send: %v", err)
			return
		}
		if i < len(frames)-1 {
			<-tick.C
		}
	}
}

// receiveFrames takes n packets at e, each of payload type pt, and
// returns their payloads in sequence order.
func receiveFrames(t *testing.T, e *rtpEnd, pt uint8, n int) [][]byte {
	t.Helper()
	pkts := make(map[uint16][]byte)
	var first uint16
	deadline := time.After(20 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case p := <-e.got:
			if p.PayloadType != pt {
				t.Fatalf("packet %d arrived with payload type %d, want %d", i, p.PayloadType, pt)
			}
			if i == 0 {
				first = p.SequenceNumber
			}
			pkts[p.SequenceNumber-first] = p.Payload
		case <-deadline:
			t.Fatalf("received %d of %d packets", i, n)
		}
	}
	out := make([][]byte, n)
	for k := range uint16(n) {
		out[k] = pkts[k]
	}
	return out
}

// bestSNR compares got with want at the lag (up to maxLag samples: the
// codecs' and resampling filters' delay) where they agree best, skipping
// the first skip samples; in dB.
func bestSNR(want, got []int16, maxLag, skip int) float64 {
	best := math.Inf(-1)
	for lag := 0; lag <= maxLag; lag++ {
		var sig, noise float64
		for i := skip; i+lag < len(got) && i < len(want); i++ {
			w, g := float64(want[i]), float64(got[i+lag])
			sig += w * w
			noise += (w - g) * (w - g)
		}
		best = max(best, 10*math.Log10(sig/noise))
	}
	return best
}

// TestTranscodeProfileExample: a PCMA-only caller calls a PCMU-only
// gateway through a switch with examples/profiles/transcode.yaml. The
// gateway is offered PCMU beside PCMA, the caller's answer has PCMA first,
// and the audio each sends arrives in the other's codec, decoding to what
// was sent within G.711's loss (two companding steps: above 30 dB); an
// OPTIONS probe's reply tells the conversions in progress.
func TestTranscodeProfileExample(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, _ := startMediaSwitch(t, "  options_transcoder_in_stats_hdr: P-Transcoder-Stats-In\n  options_transcoder_out_stats_hdr: P-Transcoder-Stats-Out\n"+
		builtinMedia(t, 8, "")+routeTo(gw.peer)+example(t, "transcode"))
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answerMedia(sessions)
	ds, err := caller.callWith(within(t, 20*time.Second), sw.uri("100"), []byte(pcmaSDP(caller.rtp.port())))
	if err != nil {
		t.Fatal(err)
	}
	<-sessions
	gw.waitRequest(sip.ACK, 5*time.Second)
	offer, answer := string(gw.invites()[0].Body()), string(ds.InviteResponse.Body())
	if !strings.Contains(offer, " RTP/AVP 8 101 0\r\n") {
		t.Errorf("gateway offer lacks the transcoder's PCMU after the caller's codecs:\n%s", offer)
	}
	if !strings.Contains(answer, " RTP/AVP 8 0 101\r\n") {
		t.Errorf("caller's answer lacks its PCMA first:\n%s", answer)
	}
	callerTo, gwTo := sdpTarget(t, ds.InviteResponse.Body()), sdpTarget(t, gw.invites()[0].Body())

	const packets = 50
	pcm := sweep(8000, packets*160)
	go sendFrames(t, caller.rtp, callerTo, 8, g711(pcm, true))
	if got := bestSNR(pcm, decodeG711(receiveFrames(t, gw.rtp, 0, packets), false), 0, 0); got < 30 {
		t.Errorf("PCMA sent, PCMU received: SNR %.1f dB", got)
	} else {
		t.Logf("PCMA sent, PCMU received: SNR %.1f dB", got)
	}
	go sendFrames(t, gw.rtp, gwTo, 0, g711(pcm, false))
	if got := bestSNR(pcm, decodeG711(receiveFrames(t, caller.rtp, 8, packets), true), 0, 0); got < 30 {
		t.Errorf("PCMU sent, PCMA received: SNR %.1f dB", got)
	} else {
		t.Logf("PCMU sent, PCMA received: SNR %.1f dB", got)
	}
	// SEMS's transcoder statistics in the reply to an OPTIONS probe: one
	// stream reads PCMA (the caller's) and writes PCMU, the other the
	// reverse.
	stats := rawExchange(t, sw.addr(), optionsMsg(sw.addr(), 70), 3*time.Second)
	for _, want := range []string{"\r\nP-Transcoder-Stats-In: pcmu=1,pcma=1,g722=0\r\n", "\r\nP-Transcoder-Stats-Out: pcmu=1,pcma=1,g722=0\r\n"} {
		if !strings.Contains(stats, want) {
			t.Errorf("OPTIONS reply lacks %q:\n%s", want, stats)
		}
	}
	if err := ds.Bye(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if r := sw.record(t); r.CodecA != "PCMA" || r.CodecB != "PCMU" {
		t.Errorf("record: codecs %q/%q, want each leg's: PCMA/PCMU", r.CodecA, r.CodecB)
	}
}

// TestProfileRTPRelayOptions: a profile with rtprelay_dtmf_filtering and
// rtprelay_dtmf_detection, on the built-in relay: the caller's RFC 4733
// digit does not reach the gateway, its audio does, with sequence numbers
// that show no loss, and the relay kept the digit.
func TestProfileRTPRelayOptions(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, media := startMediaSwitch(t, builtinMedia(t, 8, "")+routeTo(gw.peer)+`profile_select:
  selectors: ["dtmf"]
profiles:
  - name: dtmf
    rtprelay_dtmf_filtering: true
    rtprelay_dtmf_detection: true
`)
	ds, _, callerTo, _ := mediaCall(t, sw, caller, gw)
	dst := net.UDPAddrFromAddrPort(callerTo)
	send := func(pt uint8, seq uint16, ts uint32, payload []byte) {
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: 77}, Payload: payload}).Marshal()
		if _, err := caller.rtp.conn.WriteToUDP(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	send(0, 1, 160, payload(1))
	for i, dur := range []uint16{160, 320, 320} {
		send(101, uint16(2+i), 320, []byte{5, 0x8a, byte(dur >> 8), byte(dur)})
	}
	send(0, 5, 480, payload(5))
	for _, want := range []uint16{1, 2} {
		select {
		case p := <-gw.rtp.got:
			if p.PayloadType != 0 || p.SequenceNumber != want {
				t.Fatalf("gateway got pt %d seq %d, want audio seq %d", p.PayloadType, p.SequenceNumber, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("gateway got no packet %d", want)
		}
	}
	st := media.Builtin().SessionStats(ds.InviteRequest.CallID().Value(), fromTag(ds.InviteRequest), "")
	if len(st) != 1 || st[0].FromOfferer.DTMF != "5" || st[0].FromOfferer.Filtered != 3 {
		t.Fatalf("relay session %+v", st)
	}
	calls := sw.Snapshot()
	if len(calls) != 1 {
		t.Fatalf("%d calls up", len(calls))
	}
	if d, err := sw.CallDTMF(within(t, 10*time.Second), calls[0].ID); err != nil || d != (rtpproxyctl.DTMF{FromCaller: "5"}) {
		t.Fatalf("the call's digits: %+v %v", d, err)
	}
	ds.Bye(within(t, 10*time.Second))
	sw.record(t)
}

func fromTag(req *sip.Request) string {
	tag, _ := req.From().Params.Get("tag")
	return tag
}

// TestTranscodeG722Caller: a wideband (G.722-only) caller and a PCMU-only
// gateway, with enable_transcoder always: the gateway is offered PCMU
// beside G.722, the caller keeps G.722, and each hears the other's sweep
// through G.722 <-> G.711 with 16 <-> 8 kHz resampling, within the
// codecs' loss (the relay's own test measures 37 dB).
func TestTranscodeG722Caller(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, _ := startMediaSwitch(t, builtinMedia(t, 8, "")+routeTo(gw.peer)+`profile_select:
  selectors: ["wideband"]
profiles:
  - name: wideband
    media: builtin
    enable_transcoder: always
    transcoder_codecs: [PCMU, G722]
`)
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answerMedia(sessions)
	offer := strings.ReplaceAll(pcmaSDP(caller.rtp.port()), "8 101\r\na=rtpmap:8 PCMA/8000", "9 101\r\na=rtpmap:9 G722/8000")
	ds, err := caller.callWith(within(t, 20*time.Second), sw.uri("100"), []byte(offer))
	if err != nil {
		t.Fatal(err)
	}
	<-sessions
	gw.waitRequest(sip.ACK, 5*time.Second)
	if body := string(gw.invites()[0].Body()); !strings.Contains(body, " RTP/AVP 9 101 0\r\n") {
		t.Errorf("gateway offer:\n%s", body)
	}
	if body := string(ds.InviteResponse.Body()); !strings.Contains(body, " RTP/AVP 0 101 9\r\n") {
		t.Errorf("caller's answer lacks its G.722:\n%s", body)
	}
	callerTo, gwTo := sdpTarget(t, ds.InviteResponse.Body()), sdpTarget(t, gw.invites()[0].Body())

	const packets = 50
	wide := sweep(16000, packets*320)
	enc := codec.NewG722Encoder()
	var frames [][]byte
	for i := 0; i+320 <= len(wide); i += 320 {
		f := make([]byte, 160)
		enc.Encode(f, wide[i:i+320])
		frames = append(frames, f)
	}
	go sendFrames(t, caller.rtp, callerTo, 9, frames)
	if got := bestSNR(sweep(8000, packets*160), decodeG711(receiveFrames(t, gw.rtp, 0, packets), false), 60, 400); got < 25 {
		t.Errorf("G.722 sent, PCMU received: SNR %.1f dB", got)
	} else {
		t.Logf("G.722 sent, PCMU received: SNR %.1f dB", got)
	}
	go sendFrames(t, gw.rtp, gwTo, 0, g711(sweep(8000, packets*160), false))
	dec := codec.NewG722Decoder()
	var pcm []int16
	for _, f := range receiveFrames(t, caller.rtp, 9, packets) {
		out := make([]int16, 320)
		dec.Decode(out, f)
		pcm = append(pcm, out...)
	}
	if got := bestSNR(wide, pcm, 120, 800); got < 25 {
		t.Errorf("PCMU sent, G.722 received: SNR %.1f dB", got)
	} else {
		t.Logf("PCMU sent, G.722 received: SNR %.1f dB", got)
	}
	ds.Bye(within(t, 10*time.Second))
	if r := sw.record(t); r.CodecA != "G722" || r.CodecB != "PCMU" {
		t.Errorf("record: codecs %q/%q, want G722/PCMU", r.CodecA, r.CodecB)
	}
}
