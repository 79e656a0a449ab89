package clienttx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// The tests run RFC 3261's timers a hundred times faster than over the
// real network, through sipgo's UDP transport on loopback, with a raw
// socket as the far end.
const (
	t1 = 5 * time.Millisecond
	t2 = 4 * t1
)

func fastTimers(t *testing.T) {
	sip.SetTimers(t1, t2, 5*t1)
	sip.Timer_D = 100 * t1
	t.Cleanup(func() { sip.SetTimers(500*time.Millisecond, 4*time.Second, 5*time.Second) })
}

type harness struct {
	t      *testing.T
	layer  *Layer
	local  *net.UDPAddr // the layer's socket
	peer   *net.UDPConn // the far end
	strays chan *sip.Response
	branch atomic.Int64
}

// newHarness starts a sipgo transport on a loopback socket whose
// responses reach the layer as the switch hands them over: parsed on the
// socket's reader, by its read filter.
func newHarness(t *testing.T) *harness {
	t.Helper()
	fastTimers(t)
	h := &harness{t: t, strays: make(chan *sip.Response, 64)}
	parser := sip.NewParser()
	filter := func(p sip.TransportReadProps, data []byte) ([]byte, error) {
		if !strings.HasPrefix(string(data), "SIP/2.0 ") {
			return data, nil
		}
		m, err := parser.ParseSIP(data)
		if err != nil {
			t.Errorf("response not parsed: %v", err)
			return nil, nil
		}
		res := m.(*sip.Response)
		res.SetTransport("UDP")
		res.SetSource(p.RemoteAddr.String())
		h.layer.Receive(res)
		return nil, nil
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerReadFilter(filter)))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.local = conn.LocalAddr().(*net.UDPAddr)
	h.layer = New(ua.TransportLayer(), func(r *sip.Response) { h.strays <- r }, slog.New(slog.DiscardHandler))
	go ua.TransportLayer().ServeUDP(conn)
	if h.peer, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.layer.Close()
		ua.Close()
		h.peer.Close()
	})
	for len(ua.TransportLayer().ListenPorts("udp")) == 0 { // GetListenPort reads without the lock
		time.Sleep(time.Millisecond)
	}
	return h
}

// request builds a request from the layer's socket to the peer.
func (h *harness) request(method sip.RequestMethod) *sip.Request {
	peer := h.peer.LocalAddr().(*net.UDPAddr)
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: "b", Host: "127.0.0.1", Port: peer.Port})
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP",
		Host: "127.0.0.1", Port: h.local.Port, Params: sip.NewParams()}
	via.Params.Add("branch", fmt.Sprintf("%stest%d", sip.RFC3261BranchMagicCookie, h.branch.Add(1)))
	req.AppendHeader(via)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "a", Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", "a1")
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "b", Host: "127.0.0.1"}, Params: sip.NewParams()})
	cid := sip.CallIDHeader("call-" + h.t.Name())
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: method})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.SetBody(nil)
	req.SetTransport("UDP")
	req.SetDestination(peer.String())
	req.Laddr = sip.Addr{IP: h.local.IP, Port: h.local.Port}
	return req
}

func (h *harness) send(req *sip.Request) *Tx {
	h.t.Helper()
	tx, err := h.layer.Request(context.Background(), req)
	if err != nil {
		h.t.Fatal(err)
	}
	return tx.(*Tx)
}

// read is the next request the peer gets, or nil after wait.
func (h *harness) read(wait time.Duration) *sip.Request {
	h.t.Helper()
	buf := make([]byte, 65535)
	h.peer.SetReadDeadline(time.Now().Add(wait))
	n, _, err := h.peer.ReadFromUDP(buf)
	if err != nil {
		return nil
	}
	m, err := sip.NewParser().ParseSIP(buf[:n])
	if err != nil {
		h.t.Fatalf("peer got an unparsable message: %v\n%s", err, buf[:n])
	}
	return m.(*sip.Request)
}

// count is how many requests the peer gets within wait.
func (h *harness) count(wait time.Duration) (n int) {
	end := time.Now().Add(wait)
	for time.Now().Before(end) {
		if h.read(time.Until(end)) != nil {
			n++
		}
	}
	return n
}

// respond sends the peer's response to req.
func (h *harness) respond(req *sip.Request, code int, tag string) {
	h.t.Helper()
	res := sip.NewResponseFromRequest(req, code, "Reason", nil)
	if tag != "" {
		res.To().Params.Add("tag", tag)
	}
	if _, err := h.peer.WriteToUDP([]byte(res.String()), h.local); err != nil {
		h.t.Fatal(err)
	}
}

// answer has the peer read tx's request and answer it with code (To tag
// b1); the TU must get that response. It returns the request.
func (h *harness) answer(tx *Tx, code int) *sip.Request {
	h.t.Helper()
	req := h.read(time.Second)
	if req == nil {
		h.t.Fatal("the peer got no request")
	}
	h.respond(req, code, "b1")
	if res := h.response(tx, time.Second); res.StatusCode != code {
		h.t.Fatalf("the transaction user got %d, want %d", res.StatusCode, code)
	}
	return req
}

func (h *harness) response(tx *Tx, wait time.Duration) *sip.Response {
	h.t.Helper()
	select {
	case res := <-tx.Responses():
		return res
	case <-time.After(wait):
		h.t.Fatal("no response for the transaction user")
		return nil
	}
}

// TestInviteRetransmittedUntilTimerB: over UDP an unanswered INVITE is
// sent again after T1, 2×T1, 4×T1... (RFC 3261 17.1.1.2) and the
// transaction fails with a timeout after 64×T1.
func TestInviteRetransmittedUntilTimerB(t *testing.T) {
	h := newHarness(t)
	tx := h.send(h.request(sip.INVITE))
	sent := h.count(64*t1 + 20*t1)
	select {
	case <-tx.Done():
	case <-time.After(time.Second):
		t.Fatal("the transaction did not end after Timer B")
	}
	if !errors.Is(tx.Err(), sip.ErrTransactionTimeout) {
		t.Fatalf("err = %v, want a timeout", tx.Err())
	}
	// at 0, 1, 3, 7, 15, 31, 63 T1: seven sends before Timer B.
	if sent < 6 || sent > 7 {
		t.Fatalf("the peer got %d INVITEs, want 7 (6 under load): T1 doubling until 64×T1", sent)
	}
	if h.layer.Len() != 0 {
		t.Fatalf("%d transactions held after the timeout", h.layer.Len())
	}
}

// TestProvisionalStopsInviteRetransmissions: once a provisional is heard
// the INVITE is not sent again and Timer B no longer runs.
func TestProvisionalStopsInviteRetransmissions(t *testing.T) {
	h := newHarness(t)
	tx := h.send(h.request(sip.INVITE))
	h.answer(tx, 180)
	if n := h.count(100 * t1); n > 1 { // one may have crossed the 180
		t.Fatalf("%d INVITEs after the 180, want none", n)
	}
	select {
	case <-tx.Done():
		t.Fatalf("the transaction ended while proceeding: %v", tx.Err())
	default:
	}
	tx.Terminate()
	if !errors.Is(tx.Err(), sip.ErrTransactionTerminated) || h.layer.Len() != 0 {
		t.Fatalf("after Terminate: err %v, %d held", tx.Err(), h.layer.Len())
	}
}

// TestResponsesInOrderAndFinalKept: responses reach the TU in the order
// they came, and a final response is queued even when the TU has left
// provisionals unread past the queue's room; Done stays open until the
// TU terminates.
func TestResponsesInOrderAndFinalKept(t *testing.T) {
	h := newHarness(t)
	tx := h.send(h.request(sip.INVITE))
	inv := h.read(time.Second)
	for range 2 * responseQueue {
		h.respond(inv, 183, "b1")
	}
	h.respond(inv, 200, "b1")
	for h.layer.Len() != 0 { // the 200 is queued: the transaction left
		time.Sleep(t1)
	}
	var got []int
	deadline := time.After(time.Second)
	for len(got) == 0 || got[len(got)-1] < 200 {
		select {
		case res := <-tx.Responses():
			got = append(got, res.StatusCode)
		case <-tx.Done():
			t.Fatalf("Done before the final response was read: %v", tx.Err())
		case <-deadline:
			t.Fatalf("got %v, no final response", got)
		}
	}
	if len(got) != responseQueue {
		t.Fatalf("got %v: want %d provisionals then the 200", got, responseQueue-1)
	}
	select {
	case <-tx.Done():
		t.Fatal("Done closed by the final response: the TU has not terminated")
	default:
	}
	if h.layer.Len() != 0 {
		t.Fatal("an answered INVITE transaction is still in the layer")
	}
	// RFC 6026: the 2xx's retransmissions are the TU's, through stray.
	h.respond(inv, 200, "b1")
	select {
	case res := <-h.strays:
		if res.StatusCode != 200 {
			t.Fatalf("stray %d", res.StatusCode)
		}
	case <-time.After(time.Second):
		t.Fatal("the 2xx retransmission did not reach the stray handler")
	}
	tx.Terminate()
}

// TestNonSuccessAckedUntilTimerD: an INVITE's 486 is ACKed (RFC 3261
// 17.1.1.3: the INVITE's branch, Request-URI, From, Call-ID and CSeq
// number, the 486's To) and so is each retransmission of it, after the
// TU has terminated the transaction too, until Timer D; later ones are
// stray.
func TestNonSuccessAckedUntilTimerD(t *testing.T) {
	h := newHarness(t)
	tx := h.send(h.request(sip.INVITE))
	inv := h.answer(tx, 486)
	ack := h.read(time.Second)
	if ack == nil || !ack.IsAck() {
		t.Fatalf("no ACK of the 486: %v", ack)
	}
	branch, _ := ack.Via().Params.Get("branch")
	want, _ := inv.Via().Params.Get("branch")
	tag, _ := ack.To().Params.Get("tag")
	if branch != want || tag != "b1" || ack.CSeq().SeqNo != inv.CSeq().SeqNo || ack.CSeq().MethodName != sip.ACK ||
		ack.Recipient.String() != inv.Recipient.String() || ack.CallID().Value() != inv.CallID().Value() {
		t.Fatalf("ACK does not match the INVITE and the 486:\n%s", ack)
	}
	tx.Terminate()
	h.respond(inv, 486, "b1")
	if again := h.read(time.Second); again == nil || !again.IsAck() {
		t.Fatal("the 486's retransmission was not ACKed once the TU was done")
	}
	if h.layer.Len() != 1 {
		t.Fatalf("%d transactions held, want the completed one", h.layer.Len())
	}
	time.Sleep(sip.Timer_D + 20*t1)
	if h.layer.Len() != 0 {
		t.Fatal("the completed transaction outlived Timer D")
	}
	h.respond(inv, 486, "b1")
	select {
	case <-h.strays:
	case <-time.After(time.Second):
		t.Fatal("a 486 after Timer D did not reach the stray handler")
	}
}

// TestNonInviteRetransmissionsCapped: a non-INVITE is sent again at T1,
// 2×T1, ... capped at T2, and every T2 once a provisional came (RFC 3261
// 17.1.2.2); it fails after 64×T1 (Timer F).
func TestNonInviteRetransmissionsCapped(t *testing.T) {
	h := newHarness(t)
	tx := h.send(h.request(sip.BYE))
	bye := h.read(time.Second)
	// At 1, 3, 7 T1, then every T2 (4 T1): 11 by 40 T1, where doubling
	// without the cap would make 5.
	if n := h.count(40 * t1); n < 9 || n > 12 {
		t.Fatalf("%d retransmissions in 40×T1, want 11 (T2 caps the interval)", n)
	}
	h.respond(bye, 100, "")
	if res := h.response(tx, time.Second); res.StatusCode != 100 {
		t.Fatalf("got %d", res.StatusCode)
	}
	if n := h.count(3 * t2); n < 2 || n > 4 {
		t.Fatalf("%d retransmissions in 3×T2 while proceeding, want 3", n)
	}
	select {
	case <-tx.Done():
		if !errors.Is(tx.Err(), sip.ErrTransactionTimeout) {
			t.Fatalf("err = %v, want a timeout", tx.Err())
		}
	case <-time.After(time.Second):
		t.Fatal("no Timer F")
	}
}

// TestCancelAndInviteShareABranch: a CANCEL's responses and its INVITE's
// have one branch and are told apart by the CSeq method.
func TestCancelAndInviteShareABranch(t *testing.T) {
	h := newHarness(t)
	inv := h.request(sip.INVITE)
	itx := h.send(inv)
	got := h.answer(itx, 180)
	cancel := h.request(sip.CANCEL)
	cancel.Via().Params.Add("branch", func() string { b, _ := inv.Via().Params.Get("branch"); return b }())
	cancel.CSeq().MethodName = sip.CANCEL
	ctx := h.send(cancel)
	if c := h.read(time.Second); c == nil || !c.IsCancel() {
		t.Fatalf("peer got %v, want the CANCEL", c)
	}
	h.respond(cancel, 200, "b1")
	if res := h.response(ctx, time.Second); res.CSeq().MethodName != sip.CANCEL {
		t.Fatalf("the CANCEL's transaction got a %s response", res.CSeq().MethodName)
	}
	h.respond(got, 487, "b1")
	if res := h.response(itx, time.Second); res.StatusCode != 487 {
		t.Fatalf("the INVITE's transaction got %d, want 487", res.StatusCode)
	}
	itx.Terminate()
	ctx.Terminate()
}

// TestUnknownBranchIsStray: a response no transaction sent goes to the
// stray handler.
func TestUnknownBranchIsStray(t *testing.T) {
	h := newHarness(t)
	h.respond(h.request(sip.INVITE), 200, "b9")
	select {
	case res := <-h.strays:
		if res.StatusCode != 200 {
			t.Fatalf("stray %d", res.StatusCode)
		}
	case <-time.After(time.Second):
		t.Fatal("no stray")
	}
}

// TestRequestNeedsABranch: a request without an RFC 3261 branch gets no
// transaction (its responses could not be matched).
func TestRequestNeedsABranch(t *testing.T) {
	h := newHarness(t)
	req := h.request(sip.OPTIONS)
	req.Via().Params.Add("branch", "1234")
	if _, err := h.layer.Request(context.Background(), req); err == nil {
		t.Fatal("a request without a z9hG4bK branch was sent")
	}
	same := h.request(sip.OPTIONS)
	tx := h.send(same)
	defer tx.Terminate()
	if _, err := h.layer.Request(context.Background(), same); err == nil {
		t.Fatal("a second transaction with the same branch and method was made")
	}
}

// TestAckSentWithoutATransaction: sipgo's Client.WriteRequest hands ACKs
// to its TxRequester; they leave at once and make no transaction.
func TestAckSentWithoutATransaction(t *testing.T) {
	h := newHarness(t)
	tx, err := h.layer.Request(context.Background(), h.request(sip.ACK))
	if err != nil || tx != nil {
		t.Fatalf("ACK: transaction %v, error %v; want neither", tx, err)
	}
	if got := h.read(time.Second); got == nil || !got.IsAck() {
		t.Fatalf("peer got %v, want the ACK", got)
	}
	if h.layer.Len() != 0 {
		t.Fatal("the ACK made a transaction")
	}
}
