package b2bua

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/testenv"
)

// testSwitch is a switch running in the test process on free loopback
// ports, with its call records captured.
type testSwitch struct {
	*Switch
	port    int
	records chan cdr.Record
}

type chanSink chan cdr.Record

func (c chanSink) Write(_ context.Context, r *cdr.Record) error { c <- *r; return nil }

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startSwitch runs a switch whose configuration is the given YAML after a
// generated sip: section (UDP and TCP on a free port).
func startSwitch(t testing.TB, yaml string) *testSwitch {
	t.Helper()
	return startSwitchWith(t, yaml, nil)
}

// startSwitchWith is startSwitch with the records going to sink, when not
// nil, instead of the test's channel.
func startSwitchWith(t testing.TB, yaml string, sink RecordSink) *testSwitch {
	t.Helper()
	cfg, port := testConfig(t, yaml)
	return runSwitch(t, cfg, port, Options{Sink: sink}, nil)
}

// testConfig parses yaml after a sip: section on a free port.
func testConfig(t testing.TB, yaml string) (*config.Config, int) {
	t.Helper()
	port := testenv.FreePort(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(
		"sip:\n  listen: [\"udp:127.0.0.1:%d\", \"tcp:127.0.0.1:%d\"]\n%s", port, port, yaml)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, port
}

// runSwitch builds a switch from cfg and o (records to the test's channel
// unless o.Sink is set), serves it until the test ends, then shuts it down
// and runs after, if not nil, to close what the switch used.
func runSwitch(t testing.TB, cfg *config.Config, port int, o Options, after func()) *testSwitch {
	t.Helper()
	ts := &testSwitch{port: port, records: make(chan cdr.Record, 100)}
	if o.Sink == nil {
		o.Sink = chanSink(ts.records)
	}
	o.Log = testLogger(t)
	if o.AAA == nil {
		o.AAA = limitsAAA(t, cfg)
	}
	var err error
	ts.Switch, err = New(cfg, o)
	if err != nil {
		if after != nil {
			after()
		}
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := ts.Serve(ctx); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		ts.admission.Store(int32(ShuttingDown))
		ts.calls.each(func(c *Call) { c.kill(cdr.ReasonShutdown) })
		ts.Shutdown(sctx)
		cancel()
		<-done
		ts.Close()
		if after != nil {
			after()
		}
	})
	waitListening(t, ts.addr())
	return ts
}

func (ts *testSwitch) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(ts.port)) }

// uri is a Request-URI through the switch for a called number.
func (ts *testSwitch) uri(user string) sip.Uri {
	return sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: ts.port}
}

// record waits for the next call record.
func (ts *testSwitch) record(t *testing.T) cdr.Record {
	t.Helper()
	select {
	case r := <-ts.records:
		return r
	case <-time.After(40 * time.Second):
		t.Fatal("no call record")
		return cdr.Record{}
	}
}

// noRecord asserts that no further record appears for a moment.
func (ts *testSwitch) noRecord(t *testing.T) {
	t.Helper()
	select {
	case r := <-ts.records:
		t.Fatalf("unexpected second record: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
}

// waitListening polls the switch with OPTIONS over UDP until it answers.
func waitListening(t testing.TB, addr string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, "the switch at "+addr+" to answer OPTIONS", func() bool {
		return strings.HasPrefix(rawExchange(t, addr, optionsMsg(addr, 70), 200*time.Millisecond), "SIP/2.0 200")
	})
}

// rawExchange sends one datagram and returns the first final response
// (provisional responses are skipped), or "" on timeout.
func rawExchange(t testing.TB, addr, msg string, wait time.Duration) string {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	deadline := time.Now().Add(wait)
	for {
		c.SetReadDeadline(deadline)
		n, err := c.Read(buf)
		if err != nil {
			return ""
		}
		res := string(buf[:n])
		if !strings.HasPrefix(res, "SIP/2.0 1") {
			return res
		}
	}
}

func optionsMsg(addr string, maxForwards int) string {
	return "OPTIONS sip:" + addr + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK" + sip.GenerateTagN(10) + "\r\n" +
		"Max-Forwards: " + strconv.Itoa(maxForwards) + "\r\n" +
		"From: <sip:probe@127.0.0.1>;tag=" + sip.GenerateTagN(8) + "\r\n" +
		"To: <sip:" + addr + ">\r\n" +
		"Call-ID: " + sip.GenerateTagN(16) + "\r\n" +
		"CSeq: 1 OPTIONS\r\n" +
		"Content-Length: 0\r\n\r\n"
}

const sdpOffer = "v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"

const sdpAnswer = "v=0\r\no=callee 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 50000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"

// peer is a SIP user agent in the test: a caller or a gateway, on sipgo,
// on its own free port. It records every request it receives.
type peer struct {
	t    *testing.T
	name string
	host string // the loopback address it listens on
	port int
	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	cli  *sipgo.Client
	dsc  *sipgo.DialogServerCache
	dcc  *sipgo.DialogClientCache

	mu       sync.Mutex
	received []*sip.Request
	reqs     chan *sip.Request
	onInvite func(req *sip.Request, tx sip.ServerTransaction)
	// cancelled receives the INVITEs whose transaction a CANCEL ended
	// (sipgo answers CANCEL inside the transaction layer).
	cancelled chan *sip.Request
}

func newPeer(t *testing.T, name string) *peer {
	t.Helper()
	return startPeer(t, name, nil)
}

// startPeer is newPeer with inDialog, when not nil, answering requests
// within a dialog instead of peer.inDialog (sipgo's handlers cannot be
// replaced once the peer serves).
func startPeer(t *testing.T, name string, inDialog func(*sip.Request, sip.ServerTransaction)) *peer {
	t.Helper()
	return startPeerOn(t, name, "127.0.0.1", inDialog)
}

// startPeerOn is startPeer listening on host, 127.0.0.1 or ::1.
func startPeerOn(t *testing.T, name, host string, inDialog func(*sip.Request, sip.ServerTransaction)) *peer {
	t.Helper()
	return startPeerTLS(t, name, host, inDialog, nil)
}

// startPeerTLS is startPeerOn speaking TLS only when tc is not nil: tc
// serves the peer's port and dials the switch.
func startPeerTLS(t *testing.T, name, host string, inDialog func(*sip.Request, sip.ServerTransaction), tc *tls.Config) *peer {
	t.Helper()
	for try := 1; ; try++ {
		p, err := listenPeer(t, name, host, inDialog, tc)
		if err == nil {
			return p
		}
		// The port was free when picked, and taken (an ephemeral port of
		// some connection) before the peer bound it: pick another.
		if try == 5 {
			t.Fatalf("%s: no port to listen on: %v", name, err)
		}
	}
}

// listenPeer is one try of startPeerTLS, on a newly picked port.
func listenPeer(t *testing.T, name, host string, inDialog func(*sip.Request, sip.ServerTransaction), tc *tls.Config) (*peer, error) {
	t.Helper()
	p := &peer{t: t, name: name, host: host, port: testenv.FreePort(t), reqs: make(chan *sip.Request, 100),
		cancelled: make(chan *sip.Request, 10)}
	if inDialog == nil {
		inDialog = p.inDialog
	}
	var err error
	p.ua, err = sipgo.NewUA(sipgo.WithUserAgent(name), sipgo.WithUserAgenTLSConfig(tc),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(testLogger(t))),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(testLogger(t))))
	if err != nil {
		t.Fatal(err)
	}
	p.srv, _ = sipgo.NewServer(p.ua, sipgo.WithServerLogger(testLogger(t)))
	p.cli, _ = sipgo.NewClient(p.ua, sipgo.WithClientHostname(host), sipgo.WithClientPort(p.port),
		sipgo.WithClientLogger(testLogger(t)))
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: name, Host: host, Port: p.port}}
	if tc != nil {
		contact.Address.UriParams = sip.NewParams()
		contact.Address.UriParams.Add("transport", "tls")
	}
	p.dsc = sipgo.NewDialogServerCache(p.cli, contact)
	p.dcc = sipgo.NewDialogClientCache(p.cli, contact)
	p.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		p.note(req)
		if to, _ := req.To().Params.Get("tag"); to != "" {
			inDialog(req, tx)
			return
		}
		p.mu.Lock()
		h := p.onInvite
		p.mu.Unlock()
		if h == nil {
			tx.Respond(sip.NewResponseFromRequest(req, 603, "Decline", nil))
			return
		}
		h(req, tx)
	})
	p.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		p.note(req)
		p.dsc.ReadAck(req, tx)
	})
	p.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		p.note(req)
		if err := p.dsc.ReadBye(req, tx); err == nil {
			return
		}
		if err := p.dcc.ReadBye(req, tx); err == nil {
			return
		}
		tx.Respond(sip.NewResponseFromRequest(req, 481, "No Dialog", nil))
	})
	for _, m := range []sip.RequestMethod{sip.UPDATE, sip.INFO, sip.OPTIONS, sip.NOTIFY, sip.REFER, sip.PRACK} {
		p.srv.OnRequest(m, func(req *sip.Request, tx sip.ServerTransaction) {
			p.note(req)
			inDialog(req, tx)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{}, 2)
	//lint:ignore SA1029 sipgo's API: its ListenReadyCtxKey is a string.
	lctx := context.WithValue(ctx, sipgo.ListenReadyCtxKey, sipgo.ListenReadyCtxValue(ready))
	addr := p.addr()
	// A listener that cannot bind returns at once, without a ready.
	errs := make(chan error, 2)
	listeners := 1
	if tc != nil {
		go func() { errs <- p.srv.ListenAndServeTLS(lctx, "tls", addr, tc) }()
	} else {
		go func() { errs <- p.srv.ListenAndServe(lctx, "udp", addr) }()
		go func() { errs <- p.srv.ListenAndServe(lctx, "tcp", addr) }()
		listeners = 2
	}
	for range listeners {
		select {
		case <-ready:
		case err := <-errs:
			cancel()
			p.ua.Close()
			return nil, err
		}
	}
	t.Cleanup(func() { cancel(); p.ua.Close() })
	return p, nil
}

func (p *peer) addr() string { return net.JoinHostPort(p.host, strconv.Itoa(p.port)) }

func (p *peer) note(req *sip.Request) {
	p.mu.Lock()
	p.received = append(p.received, req)
	p.mu.Unlock()
	select {
	case p.reqs <- req:
	default:
	}
}

// inDialog answers requests within a dialog: 200, mirroring SDP direction
// for re-INVITE/UPDATE offers so hold and unhold can be checked.
func (p *peer) inDialog(req *sip.Request, tx sip.ServerTransaction) {
	var body []byte
	if len(req.Body()) > 0 && (req.Method == sip.INVITE || req.Method == sip.UPDATE) {
		body = []byte(mirrorDirection(string(req.Body())))
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", body)
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: p.name, Host: p.host, Port: p.port}})
	tx.Respond(res)
	if req.Method == sip.INVITE {
		select {
		case <-tx.Acks():
		case <-tx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

func mirrorDirection(sdp string) string {
	switch {
	case strings.Contains(sdp, "a=sendonly"):
		return strings.Replace(sdpAnswer, "a=sendrecv", "a=recvonly", 1)
	case strings.Contains(sdp, "a=inactive"):
		return strings.Replace(sdpAnswer, "a=sendrecv", "a=inactive", 1)
	}
	return sdpAnswer
}

// setInvite sets how the peer answers new INVITEs.
func (p *peer) setInvite(h func(req *sip.Request, tx sip.ServerTransaction)) {
	p.mu.Lock()
	p.onInvite = h
	p.mu.Unlock()
}

// answer makes the peer a gateway that rings for ring, then answers with SDP.
// Each established server session is sent on sessions.
func (p *peer) answer(ring time.Duration, sessions chan<- *sipgo.DialogServerSession) {
	p.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		ds, err := p.dsc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		ds.Respond(180, "Ringing", nil)
		select {
		case <-time.After(ring):
		case <-tx.Done():
			return
		}
		if err := ds.RespondSDP([]byte(sdpAnswer)); err != nil {
			return
		}
		if sessions != nil {
			sessions <- ds
		}
	})
}

// reject makes the peer answer every INVITE with code.
func (p *peer) reject(code int, reason string) {
	p.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
	})
}

// silentRing makes the peer answer 100 and 180 only, until cancelled.
func (p *peer) silentRing(provisional int) {
	p.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.OnCancel(func(*sip.Request) { p.cancelled <- req })
		if provisional > 100 {
			tx.Respond(sip.NewResponseFromRequest(req, provisional, "Ringing", nil))
		}
		<-tx.Done()
	})
}

// invites returns the INVITEs (initial ones) the peer has received.
func (p *peer) invites() []*sip.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*sip.Request
	for _, r := range p.received {
		if r.Method == sip.INVITE {
			if tag, _ := r.To().Params.Get("tag"); tag == "" {
				out = append(out, r)
			}
		}
	}
	return out
}

// waitRequest waits for the next request of a method.
func (p *peer) waitRequest(method sip.RequestMethod, within time.Duration) *sip.Request {
	p.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case r := <-p.reqs:
			if r.Method == method {
				return r
			}
		case <-deadline:
			p.t.Fatalf("%s: no %s within %v", p.name, method, within)
			return nil
		}
	}
}

// call places a call through the switch and waits for its final response.
func (p *peer) call(ctx context.Context, target sip.Uri, headers ...sip.Header) (*sipgo.DialogClientSession, error) {
	hdrs := append([]sip.Header{sip.NewHeader("Content-Type", "application/sdp")}, headers...)
	ds, err := p.dcc.Invite(ctx, target, []byte(sdpOffer), hdrs...)
	if err != nil {
		return nil, err
	}
	if err := ds.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return ds, err
	}
	return ds, ds.Ack(ctx)
}

func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func routeTo(gws ...*peer) string {
	var b strings.Builder
	b.WriteString("routes:\n  - prefix: \"\"\n    gateways:\n")
	for _, g := range gws {
		fmt.Fprintf(&b, "      - {address: %q}\n", g.addr())
	}
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

func contextWithCancel(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(parent)
}

// waitCancelled waits until a CANCEL has ended one of the peer's INVITEs.
func (p *peer) waitCancelled(within time.Duration) {
	p.t.Helper()
	select {
	case <-p.cancelled:
	case <-time.After(within):
		p.t.Fatalf("%s: no INVITE cancelled within %v", p.name, within)
	}
}

// waitSettled waits until no call of the switch is relaying an offer (its
// ACK may still be in flight when the peers see theirs).
func waitSettled(t *testing.T, sw *testSwitch) {
	t.Helper()
	testenv.Eventually(t, 5*time.Second, "an INVITE transaction completes", func() bool { return !offerPending(sw) })
}

// offerPending reports whether a leg of any call of the switch is still
// in an offer exchange (updating or cancelling).
func offerPending(sw *testSwitch) bool {
	busy := false
	sw.calls.each(func(c *Call) {
		c.mu.Lock()
		legs := []*leg{&c.a}
		if c.b != nil {
			legs = append(legs, &c.b.leg)
		}
		for _, l := range legs {
			busy = busy || l.state == LegUpdating || l.state == LegCancelling
		}
		c.mu.Unlock()
	})
	return busy
}

// ackUntilSettled sends the ACK of a re-INVITE's 2xx, and sends it again
// while the switch still waits for it, as a UA acknowledges each
// retransmission of a 2xx (RFC 3261 13.2.2.4): the test peers have no
// transaction layer doing so, and under the package's parallel load a
// datagram can be lost even on loopback.
func ackUntilSettled(t *testing.T, sw *testSwitch, ack func() error) {
	t.Helper()
	for range 5 {
		if err := ack(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			if !offerPending(sw) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Fatal("the switch never took the ACK of its 2xx: an INVITE transaction stays open")
}

// drain returns the records written so far, once no more arrive for a moment.
func drain(ts *testSwitch) <-chan cdr.Record {
	out := make(chan cdr.Record, 100)
	go func() {
		defer close(out)
		for {
			select {
			case r := <-ts.records:
				out <- r
			case <-time.After(500 * time.Millisecond):
				return
			}
		}
	}()
	return out
}

func newInfo(ds *sipgo.DialogClientSession) *sip.Request {
	return sip.NewRequest(sip.INFO, ds.InviteResponse.Contact().Address)
}

// waitTableEmpty waits until the call table holds no key of any kind: once
// every call is over, a key left behind (a failed attempt's, say) keeps its
// call in memory for the life of the process.
func (sw *testSwitch) waitTableEmpty(t testing.TB) {
	t.Helper()
	keys := func() int {
		n := 0
		for i := range sw.calls.shards {
			s := &sw.calls.shards[i]
			s.mu.RLock()
			n += len(s.byA) + len(s.byB) + len(s.byID)
			s.mu.RUnlock()
		}
		return n
	}
	testenv.Eventually(t, 40*time.Second, "the call table to empty", func() bool { return keys() == 0 })
}
