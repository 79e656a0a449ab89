package callctl

import (
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/billing"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/profile"
)

// The modules' logic without a switch: a profile from YAML, a parsed
// INVITE, the hooks called as the switch calls them. The end-to-end
// behaviour of each module is tested in switch/b2bua.

const invite = "INVITE sip:4930123@127.0.0.1:5060 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bKcc\r\n" +
	"Max-Forwards: 70\r\n" +
	"From: \"Alice\" <sip:alice@10.1.2.3>;tag=a1\r\n" +
	"To: <sip:4930123@127.0.0.1>\r\n" +
	"Call-ID: callctl-1\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"X-Customer: acme\r\n" +
	"X-Secret: s\r\n" +
	"Content-Length: 0\r\n\r\n"

// chainFor builds the chain of the profile named "p" in yaml, for the
// INVITE above.
func chainFor(t *testing.T, yaml string) (*Chain, *sip.Request) {
	t.Helper()
	cfg, err := config.Parse([]byte("routes: [{prefix: \"\", gateways: [{address: \"127.0.0.1:5070\"}]}]\n" + yaml))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := cfg.Profile("p")
	if !ok {
		t.Fatal("no profile p")
	}
	msg, err := sip.ParseMessage([]byte(invite))
	if err != nil {
		t.Fatal(err)
	}
	req := msg.(*sip.Request)
	req.SetSource("10.1.2.3:5060")
	return New(&Call{ID: "c1", Profile: p, Request: profile.FromSIP(req, profile.Local{}), Log: slog.New(slog.DiscardHandler),
		Switch: &Switch{Allowed: "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO", Calls: newCounted()}}), req
}

// counted is the switch's one-node limiter with a ledger of what each key
// holds, so a test sees a count released twice (below zero) as well as one
// never released.
type counted struct {
	*billing.Limits
	mu   sync.Mutex
	held map[string]int
}

func newCounted() *counted {
	return &counted{Limits: billing.NewLimits(billing.Config{}), held: map[string]int{}}
}

func (c *counted) AcquireKey(key string, limit int) error {
	err := c.Limits.AcquireKey(key, limit)
	if err == nil {
		c.mu.Lock()
		c.held[key]++
		c.mu.Unlock()
	}
	return err
}

func (c *counted) ReleaseKey(key string) {
	c.mu.Lock()
	c.held[key]--
	c.mu.Unlock()
	c.Limits.ReleaseKey(key)
}

func (c *counted) Count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held[key]
}

func TestTableNamesAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, e := range table {
		if seen[e.name] {
			t.Errorf("module %q twice in the table", e.name)
		}
		seen[e.name] = true
	}
}

// TestChainOrder: a refusal runs before anything else, so a refused call
// is never counted by a limit of the same profile.
func TestChainOrder(t *testing.T) {
	t.Parallel()
	ch, req := chainFor(t, `profiles:
  - {name: p, refuse_with: "403 Go Away", limit: {key: "$fu", max_calls: 1}}
`)
	if r := ch.Invite(req); r == nil || r.Code != 403 || r.Reason != "Go Away" {
		t.Fatalf("refusal %+v", r)
	}
	if n := ch.Call().Switch.Calls.(*counted).Count("alice"); n != 0 {
		t.Errorf("a refused call was counted: %d", n)
	}
}

func TestLimitReleasedOnce(t *testing.T) {
	t.Parallel()
	ch, req := chainFor(t, `profiles:
  - {name: p, limit: {key: "$fu", max_calls: 1}}
`)
	calls := ch.Call().Switch.Calls.(*counted)
	if r := ch.Invite(req); r != nil {
		t.Fatalf("first call refused: %+v", r)
	}
	other, _ := chainFor(t, "profiles:\n  - {name: p, limit: {key: \"$fu\", max_calls: 1}}\n")
	other.Call().Switch = ch.Call().Switch
	if r := other.Invite(req); r == nil || r.Code != 402 {
		t.Fatalf("second call: %+v, want 402", r)
	}
	ch.Ended()
	ch.Ended()
	if n := calls.Count("alice"); n != 0 {
		t.Errorf("count after the end: %d", n)
	}
}

func TestMessageFilterAllow(t *testing.T) {
	t.Parallel()
	ch, _ := chainFor(t, `profiles:
  - {name: p, message_filter: blacklist, message_list: [INFO]}
`)
	info := sip.NewRequest(sip.INFO, sip.Uri{Host: "x"})
	r := ch.Request(info, Gateway)
	if r == nil || r.Code != 405 || r.Allow != "INVITE, ACK, CANCEL, BYE, OPTIONS" {
		t.Fatalf("INFO: %+v", r)
	}
	if r := ch.Request(sip.NewRequest(sip.OPTIONS, sip.Uri{Host: "x"}), Caller); r != nil {
		t.Fatalf("OPTIONS refused: %+v", r)
	}
}

func TestGatewayInviteRewriteAndHeaders(t *testing.T) {
	t.Parallel()
	ch, req := chainFor(t, `profiles:
  - name: p
    ruri: "sip:$rU@gw.example"
    from: "\"Anon\" <sip:anonymous@invalid>"
    header_filter: blacklist
    header_list: [X-Secret]
    append_headers: ["X-Via-Profile: $fU"]
`)
	out := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "4930123", Host: "127.0.0.1"})
	out.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "x"}, Params: sip.NewParams()})
	out.AppendHeader(&sip.ToHeader{Address: out.Recipient, Params: sip.NewParams()})
	ch.GatewayInvite(GatewayInvite{Caller: req, Out: out, Origin: netip.MustParseAddr("192.0.2.1")})
	if got := out.Recipient.String(); got != "sip:4930123@gw.example" {
		t.Errorf("Request-URI %s", got)
	}
	if f := out.From(); f.DisplayName != "Anon" || f.Address.User != "anonymous" {
		t.Errorf("From %s", f.Value())
	}
	s := out.String()
	if !strings.Contains(s, "X-Customer: acme") || strings.Contains(s, "X-Secret") || !strings.Contains(s, "X-Via-Profile: alice") {
		t.Errorf("headers:\n%s", s)
	}
	if strings.Count(s, "Via: ") != 0 {
		t.Errorf("a leg header crossed:\n%s", s)
	}
}

func TestReplyTranslate(t *testing.T) {
	t.Parallel()
	ch, _ := chainFor(t, `profiles:
  - {name: p, reply_translate: "603=>486 Busy Here"}
`)
	if code, reason := ch.FinalReply(603, "Decline"); code != 486 || reason != "Busy Here" {
		t.Errorf("603 became %d %s", code, reason)
	}
	if code, _ := ch.FinalReply(404, "Not Found"); code != 404 {
		t.Errorf("404 became %d", code)
	}
}
