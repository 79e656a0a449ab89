package b2bua

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/tollgate/tollgate/internal/testenv"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// startMediaSwitch is startSwitch with the media relays the configuration
// names started as `tollgate serve` starts them.
func startMediaSwitch(t *testing.T, yaml string) (*testSwitch, *testMedia) {
	t.Helper()
	cfg, port := testConfig(t, yaml)
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	media := startTestMedia(t, sctx, cfg)
	ts := runSwitch(t, cfg, port, Options{Media: media.relays(), TranscoderUse: media.transcoderUse}, func() {
		if err := media.Close(); err != nil {
			t.Errorf("media close: %v", err)
		}
	})
	media.bind(ts.Switch)
	return ts, media
}

// builtinMedia is a media section for the built-in relay on a free range of
// ports (ports: how many), plus extra lines for the builtin section.
func builtinMedia(t *testing.T, ports int, extra string) string {
	lo, hi := freeMediaRange(t, ports)
	return fmt.Sprintf("media:\n  mode: builtin\n  builtin:\n    port_min: %d\n    port_max: %d\n%s", lo, hi, extra)
}

// freeMediaRange finds n consecutive free UDP ports for the relay, in this
// package's zone (the relay packages' own tests use others).
func freeMediaRange(t *testing.T, n int) (int, int) { return testenv.FreeUDPRange(t, n, 10000, 15000) }

// rtpEnd is a Go RTP endpoint: one UDP socket on loopback that sends G.711
// packets paced at 20 ms and hands over the packets it receives.
type rtpEnd struct {
	t    *testing.T
	conn *net.UDPConn
	ssrc uint32
	seq  uint16
	ts   uint32
	got  chan rtp.Packet
}

func newRTPEnd(t *testing.T) *rtpEnd {
	t.Helper()
	return newRTPEndOn(t, "127.0.0.1")
}

// newRTPEndOn is newRTPEnd on host, 127.0.0.1 or ::1.
func newRTPEndOn(t *testing.T, host string) *rtpEnd {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(host)})
	if err != nil {
		t.Fatal(err)
	}
	e := &rtpEnd{t: t, conn: conn, ssrc: rand.Uint32(), seq: uint16(rand.Uint32()), got: make(chan rtp.Packet, 4096)}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			var p rtp.Packet
			if p.Unmarshal(append([]byte(nil), buf[:n]...)) == nil {
				select {
				case e.got <- p:
				default:
				}
			}
		}
	})
	t.Cleanup(func() { conn.Close(); wg.Wait() })
	return e
}

func (e *rtpEnd) port() int { return e.conn.LocalAddr().(*net.UDPAddr).Port }

// sdp is an audio SDP (PCMU, telephone-event) for this endpoint's socket.
func (e *rtpEnd) sdp(direction string) string {
	return mediaSDPOn(e.conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr(), e.port(), direction)
}

// mediaSDPOn is an audio SDP for addr and port, in addr's family (its o=,
// c= and a=rtcp lines).
func mediaSDPOn(addr netip.Addr, port int, direction string) string {
	return heldSDP(addr, addr, port, direction)
}

// heldSDP is mediaSDPOn whose media address (c=, a=rtcp) is media, which
// may be the hold address 0.0.0.0 or ::, while o= keeps origin.
func heldSDP(origin, media netip.Addr, port int, direction string) string {
	fam := func(a netip.Addr) string {
		if a.Is6() {
			return "IP6 " + a.String()
		}
		return "IP4 " + a.String()
	}
	return fmt.Sprintf("v=0\r\no=- %d 1 IN %s\r\ns=-\r\nc=IN %s\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtcp:%d IN %s\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=%s\r\n",
		port, fam(origin), fam(media), port, port+1, fam(media), direction)
}

// payload is the 160 bytes of audio of packet seq: a pattern the receiver
// checks, so that a relay that mangles packets is caught.
func payload(seq uint16) []byte {
	return bytes.Repeat([]byte{byte(seq), byte(seq >> 8)}, 80)
}

// send sends n packets to `to`, one every 20 ms, as a G.711 phone does.
func (e *rtpEnd) send(to netip.AddrPort, n int) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	dst := net.UDPAddrFromAddrPort(to)
	for i := 0; i < n; i++ {
		e.seq++
		e.ts += 160
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: e.seq, Timestamp: e.ts, SSRC: e.ssrc},
			Payload: payload(e.seq)}
		b, err := p.Marshal()
		if err != nil {
			e.t.Error(err)
			return
		}
		if _, err := e.conn.WriteToUDP(b, dst); err != nil {
			e.t.Errorf("RTP send: %v", err)
			return
		}
		if i < n-1 {
			<-tick.C
		}
	}
}

// sendUneven sends n packets to `to` like send, but leaves out those for
// which lost(i) holds (their sequence numbers and timestamps are used up,
// so the receiver sees a gap) and waits gap(i) after packet i instead of
// 20 ms, so that arrivals stray from the timestamps (jitter). It returns
// how many packets went out.
func (e *rtpEnd) sendUneven(to netip.AddrPort, n int, lost func(int) bool, gap func(int) time.Duration) int {
	dst := net.UDPAddrFromAddrPort(to)
	sent := 0
	for i := 0; i < n; i++ {
		e.seq++
		e.ts += 160
		if lost(i) {
			continue
		}
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: e.seq, Timestamp: e.ts, SSRC: e.ssrc},
			Payload: payload(e.seq)}
		b, err := p.Marshal()
		if err != nil {
			e.t.Error(err)
			return sent
		}
		if _, err := e.conn.WriteToUDP(b, dst); err != nil {
			e.t.Errorf("RTP send: %v", err)
			return sent
		}
		sent++
		time.Sleep(gap(i))
	}
	return sent
}

// rtpSize is the UDP payload of one packet of send: RTP header and 160
// bytes of G.711, what the relay counts as bytes.
const rtpSize = 12 + 160

// expect waits for n packets from the endpoint whose SSRC is ssrc, each
// with its payload intact.
func (e *rtpEnd) expect(n int, ssrc uint32) {
	e.t.Helper()
	deadline := time.After(30 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case p := <-e.got:
			if p.SSRC != ssrc || !bytes.Equal(p.Payload, payload(p.SequenceNumber)) {
				e.t.Fatalf("packet %d: SSRC %x (want %x), payload intact %v", i, p.SSRC, ssrc,
					bytes.Equal(p.Payload, payload(p.SequenceNumber)))
			}
		case <-deadline:
			e.t.Fatalf("received %d of %d RTP packets", i, n)
		}
	}
}

// exchange runs audio both ways at once: a sends n packets to toA (the
// relay port in the SDP a received), b sends n to toB, and each must get
// all the other's packets.
func exchange(t *testing.T, a, b *rtpEnd, toB, toA netip.AddrPort, n int) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() { a.send(toB, n) })
	wg.Go(func() { b.send(toA, n) })
	b.expect(n, a.ssrc)
	a.expect(n, b.ssrc)
	wg.Wait()
}

// sdpTarget is where an SDP asks media to be sent (its first stream).
func sdpTarget(t *testing.T, body []byte) netip.AddrPort {
	t.Helper()
	sd, err := sdpedit.Parse(body)
	if err != nil {
		t.Fatalf("SDP %q: %v", body, err)
	}
	m := sd.Media(0)
	return netip.AddrPortFrom(m.Addr, uint16(m.Port))
}

// mediaPeer is a test peer with an RTP endpoint whose port its SDP
// carries, in initial and in-dialog offers and answers alike.
type mediaPeer struct {
	*peer
	rtp *rtpEnd
}

func newMediaPeer(t *testing.T, name string) *mediaPeer {
	t.Helper()
	return newMediaPeerOn(t, name, "127.0.0.1")
}

// newMediaPeerOn is newMediaPeer with its signalling and RTP on host,
// 127.0.0.1 or ::1.
func newMediaPeerOn(t *testing.T, name, host string) *mediaPeer {
	t.Helper()
	mp := &mediaPeer{rtp: newRTPEndOn(t, host)}
	mp.peer = startPeerOn(t, name, host, mp.inDialog)
	return mp
}

// answerDirection is the direction that answers an offer's.
func answerDirection(offer []byte) string {
	switch {
	case bytes.Contains(offer, []byte("a=sendonly")):
		return "recvonly"
	case bytes.Contains(offer, []byte("a=inactive")):
		return "inactive"
	}
	return "sendrecv"
}

func (mp *mediaPeer) inDialog(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, 200, "OK", []byte(mp.rtp.sdp(answerDirection(req.Body()))))
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: mp.name, Host: mp.host, Port: mp.port}})
	tx.Respond(res)
	if req.Method == sip.INVITE {
		select {
		case <-tx.Acks():
		case <-tx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

// answerMedia makes the peer a gateway that rings, then answers with an
// SDP for its RTP socket (its offer, when the INVITE had none).
func (mp *mediaPeer) answerMedia(sessions chan<- *sipgo.DialogServerSession) {
	mp.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		ds, err := mp.dsc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		ds.Respond(180, "Ringing", nil)
		if err := ds.RespondSDP([]byte(mp.rtp.sdp("sendrecv"))); err != nil {
			return
		}
		if sessions != nil {
			sessions <- ds
		}
	})
}

// callMedia places a call offering this peer's RTP socket.
func (mp *mediaPeer) callMedia(ctx context.Context, target sip.Uri) (*sipgo.DialogClientSession, error) {
	return mp.callWith(ctx, target, []byte(mp.rtp.sdp("sendrecv")))
}

func (mp *mediaPeer) callWith(ctx context.Context, target sip.Uri, body []byte) (*sipgo.DialogClientSession, error) {
	var hdrs []sip.Header
	if body != nil {
		hdrs = append(hdrs, sip.NewHeader("Content-Type", "application/sdp"))
	}
	ds, err := mp.dcc.Invite(ctx, target, body, hdrs...)
	if err != nil {
		return nil, err
	}
	if err := ds.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return ds, err
	}
	if body == nil {
		return ds, nil // late offer: the test ACKs with its answer
	}
	return ds, ds.Ack(ctx)
}

// reinvite sends a re-INVITE with body within a caller's dialog, ACKs its
// 2xx and returns it.
func reinviteFromCaller(t *testing.T, ctx context.Context, ds *sipgo.DialogClientSession, body string) *sip.Response {
	t.Helper()
	req := sip.NewRequest(sip.INVITE, ds.InviteResponse.Contact().Address)
	req.SetBody([]byte(body))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res, err := ds.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("caller re-INVITE: %v %v", res, err)
	}
	if err := ds.WriteAck(ctx, ackFor(req, res)); err != nil {
		t.Fatal(err)
	}
	return res
}

// reinviteFromGateway is the same within the gateway's dialog.
func reinviteFromGateway(t *testing.T, ctx context.Context, gs *sipgo.DialogServerSession, body string) *sip.Response {
	t.Helper()
	req := sip.NewRequest(sip.INVITE, gs.InviteRequest.Contact().Address)
	req.SetBody([]byte(body))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res, err := gs.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("gateway re-INVITE: %v %v", res, err)
	}
	if err := gs.WriteRequest(ackFor(req, res)); err != nil {
		t.Fatal(err)
	}
	return res
}

// goroutines counts the goroutines whose stack mentions fn.
func goroutines(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			count++
		}
	}
	return count
}

// waitAll waits for one request of each method, in any order: sipgo hands
// requests to their handlers concurrently, so an ACK and the BYE right
// behind it may be noted either way round.
func (p *peer) waitAll(within time.Duration, methods ...sip.RequestMethod) {
	p.t.Helper()
	want := map[sip.RequestMethod]bool{}
	for _, m := range methods {
		want[m] = true
	}
	deadline := time.After(within)
	for len(want) > 0 {
		select {
		case r := <-p.reqs:
			delete(want, r.Method)
		case <-deadline:
			p.t.Fatalf("%s: no %v within %v", p.name, want, within)
		}
	}
}
