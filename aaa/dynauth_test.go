package aaa

import (
	"crypto/hmac"
	"crypto/md5"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/tollgate/tollgate/internal/testenv"
)

// recordingHandler knows one call, "known", by any of its keys, and keeps
// the requests it was asked.
type recordingHandler struct {
	mu   sync.Mutex
	seen []DynAuthRequest
}

func (h *recordingHandler) act(r DynAuthRequest) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, r)
	s := r.Selector
	if s.AcctSessionID == "known" || s.CallID == "known" || s.UserName == "known" {
		return []string{"call-1"}, nil
	}
	return nil, ErrNoSession
}

func (h *recordingHandler) Disconnect(r DynAuthRequest) ([]string, error) { return h.act(r) }
func (h *recordingHandler) Change(r DynAuthRequest) ([]string, error)     { return h.act(r) }

func (h *recordingHandler) last() DynAuthRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[len(h.seen)-1]
}

// TestDynAuthWithRadclient drives the listener with FreeRADIUS's radclient:
// ACK for a known session, NAK 503 for an unknown one, a CoA's credit and
// interim read, a CoA changing nothing refused, and requests with a wrong
// secret, without a Message-Authenticator or from an unknown client dropped
// and counted.
func TestDynAuthWithRadclient(t *testing.T) {
	t.Parallel()
	h := &recordingHandler{}
	srv, err := ListenDynAuth(DynAuthConfig{Listen: "127.0.0.1:0", Clients: []DynAuthClient{
		{Addr: netip.MustParseAddr("127.0.0.1"), Secret: "dyn-secret"},
	}}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addr := srv.Addr().String()
	const ma = "Message-Authenticator = 0x00\n"

	reply, out := testenv.Radclient(t, addr, "disconnect", "dyn-secret", "Acct-Session-Id = \"known\"\n"+ma)
	if reply != "Disconnect-ACK" {
		t.Fatalf("known session: %q\n%s", reply, out)
	}
	if got := h.last(); got.Kind != DynAuthDisconnect || got.Selector.AcctSessionID != "known" || got.Client != "127.0.0.1" {
		t.Errorf("handler got %+v", got)
	}

	reply, out = testenv.Radclient(t, addr, "disconnect", "dyn-secret",
		"User-Name = \"nobody\"\nh323-conf-id = \"h323-conf-id=0a1b2c3d 11111111 22222222 33333333\"\n"+ma)
	if reply != "Disconnect-NAK" || !strings.Contains(out, "Session-Context-Not-Found") {
		t.Fatalf("unknown session: %q\n%s", reply, out)
	}
	if got := h.last().Selector; got.UserName != "nobody" || got.ConfID != "0A1B2C3D 11111111 22222222 33333333" {
		t.Errorf("selector %+v", got)
	}

	reply, out = testenv.Radclient(t, addr, "coa", "dyn-secret",
		"Cisco-AVPair = \"call-id=known\"\nh323-credit-time = \"h323-credit-time=42\"\nAcct-Interim-Interval = 7\n"+ma)
	if reply != "CoA-ACK" {
		t.Fatalf("CoA: %q\n%s", reply, out)
	}
	if got := h.last(); got.Kind != DynAuthCoA || got.Selector.CallID != "known" ||
		got.Change != (CallChange{CreditTime: 42 * time.Second, HasCreditTime: true, Interim: 7 * time.Second}) {
		t.Errorf("CoA read as %+v", got)
	}

	reply, out = testenv.Radclient(t, addr, "coa", "dyn-secret", "Acct-Session-Id = \"known\"\n"+ma)
	if reply != "CoA-NAK" || !strings.Contains(out, "Missing-Attribute") {
		t.Fatalf("CoA without a change: %q\n%s", reply, out)
	}
	asked := len(h.seen)

	if reply, out = testenv.Radclient(t, addr, "disconnect", "wrong-secret", "Acct-Session-Id = \"known\"\n"+ma); reply != "" {
		t.Fatalf("wrong secret answered: %s", out)
	}
	if reply, out = testenv.Radclient(t, addr, "disconnect", "dyn-secret", "Acct-Session-Id = \"known\"\n"); reply != "" {
		t.Fatalf("request without Message-Authenticator answered: %s", out)
	}
	st := srv.Stats()
	if st.Forged != 2 || st.Disconnects != 2 || st.CoAs != 2 || st.ACKs != 2 || st.NAKs != 2 || len(h.seen) != asked {
		t.Errorf("stats %+v, handler asked %d times", st, len(h.seen))
	}

	other, err := ListenDynAuth(DynAuthConfig{Listen: "127.0.0.1:0", Clients: []DynAuthClient{
		{Addr: netip.MustParseAddr("127.0.0.2"), Secret: "dyn-secret"},
	}}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if reply, out = testenv.Radclient(t, other.Addr().String(), "disconnect", "dyn-secret", "Acct-Session-Id = \"known\"\n"+ma); reply != "" {
		t.Fatalf("unknown client answered: %s", out)
	}
	if st := other.Stats(); st.UnknownClients != 1 {
		t.Errorf("unknown client not counted: %+v", st)
	}
}

// signedDynAuth builds a Disconnect or CoA request as a billing server
// would: Message-Authenticator over the zeroed authenticator, then the
// request authenticator.
func signedDynAuth(t testing.TB, code radius.Code, secret string, add func(*radius.Packet)) []byte {
	p := &radius.Packet{Code: code, Identifier: 7, Secret: []byte(secret)}
	p.Add(rfc2869.MessageAuthenticator_Type, make(radius.Attribute, 16))
	add(p)
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(md5.New, []byte(secret))
	mac.Write(b)
	mac.Sum(b[22:22])
	h := md5.New()
	h.Write(b)
	h.Write([]byte(secret))
	h.Sum(b[4:4])
	return b
}

// TestDynAuthDuplicate: a retransmitted Disconnect gets the first answer
// again, not a NAK for the call it already ended.
func TestDynAuthDuplicate(t *testing.T) {
	t.Parallel()
	h := &recordingHandler{}
	srv, err := ListenDynAuth(DynAuthConfig{Listen: "127.0.0.1:0", Clients: []DynAuthClient{
		{Addr: netip.MustParseAddr("127.0.0.1"), Secret: "s"},
	}}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	req := signedDynAuth(t, radius.CodeDisconnectRequest, "s", func(p *radius.Packet) {
		_ = rfc2866.AcctSessionID_SetString(p, "known")
	})
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	srv.receive(req, from)
	testenv.Eventually(t, 5*time.Second, "first request handled", func() bool { return srv.Stats().ACKs == 1 })
	srv.receive(req, from)
	if st := srv.Stats(); st.Duplicates != 1 || st.ACKs != 1 || len(h.seen) != 1 {
		t.Errorf("duplicate handled again: %+v", st)
	}
}

func FuzzDynAuthRequest(f *testing.F) {
	f.Add(signedDynAuth(f, radius.CodeDisconnectRequest, "s", func(p *radius.Packet) {
		_ = rfc2866.AcctSessionID_SetString(p, "known")
	}))
	f.Add(signedDynAuth(f, radius.CodeCoARequest, "s", func(p *radius.Packet) {
		_ = AddH323(p, H323ConfID, "0A1B2C3D 11111111 22222222 33333333")
		_ = AddH323(p, H323CreditTime, "30")
		_ = rfc2869.AcctInterimInterval_Set(p, 5)
	}))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, policy := range []MessageAuthPolicy{MessageAuthRequired, MessageAuthOptional} {
			p, err := DecodeDynAuthRequest(b, []byte("s"), policy)
			if err != nil {
				continue
			}
			r, cause := ReadDynAuthRequest(p)
			if cause == 0 && r.Selector.Empty() {
				t.Fatalf("request accepted without a selector: %x", b)
			}
			if _, err := encodeDynAuthReply(b, []byte("s"), cause); err != nil {
				t.Fatalf("reply: %v", err)
			}
		}
	})
}
