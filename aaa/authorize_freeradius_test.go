package aaa_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/icholy/digest"
	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/internal/testenv"
)

func newClient(t testing.TB, cfg aaa.ClientConfig) *aaa.Client {
	t.Helper()
	c, err := aaa.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func authorizer(t testing.TB, fr *testenv.FreeRADIUS) *aaa.Authorizer {
	c := newClient(t, aaa.ClientConfig{Servers: []aaa.ServerConfig{{Addr: fr.AuthAddr, Secret: fr.Secret, Timeout: 3 * time.Second}}})
	return aaa.NewAuthorizer(c, aaa.AuthConfig{})
}

func ipRequest(ip string) aaa.AuthRequest {
	return aaa.AuthRequest{
		SourceIP:      netip.MustParseAddr(ip),
		CallingNumber: "15550001000",
		CalledNumber:  "15551230002",
		CallID:        "call-" + ip,
		ConfID:        aaa.NewConfID(),
	}
}

func TestIPAuthFreeRADIUS(t *testing.T) {
	t.Parallel()
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	a := authorizer(t, fr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	res, err := a.Authorize(ctx, ipRequest("127.0.0.2"))
	if err != nil {
		t.Fatalf("accepted trunk: %v\n%s", err, fr.Log())
	}
	if !res.HasCreditTime || res.CreditTime != 120*time.Second || res.ReturnCode != 0 {
		t.Errorf("credit %v (set %v), return code %d", res.CreditTime, res.HasCreditTime, res.ReturnCode)
	}
	if res.CLI != "15559998888" || res.CNAM != "Acme Corp" {
		t.Errorf("CLI %q CNAM %q", res.CLI, res.CNAM)
	}
	if len(res.Routes) != 3 {
		t.Fatalf("routes: %+v", res.Routes)
	}
	r := res.Routes[0]
	rtppOn := r.RTPP != nil && *r.RTPP
	if r.Called != "15551230002" || r.CalledMode != aaa.CalledReplace || r.Host != "127.0.0.1" || r.Port != 5080 ||
		r.CreditTime != 120*time.Second || !r.HasCreditTime || r.Expires != 30*time.Second ||
		r.NoProgressExpires != 5*time.Second || len(r.HuntStopCodes) != 2 || r.HuntStopCodes[0] != 486 ||
		!r.ForwardOnFail || r.AuthUser != "gw" || r.AuthPass != "pw" || r.CLI != "1555" ||
		r.CNAM != "Acme Sales" || len(r.ExtraHeaders) != 1 || r.ExtraHeaders[0] != "X-Acct: a" ||
		!rtppOn || r.GroupTimeout != 10*time.Second || r.GroupSkip != 2 || r.BillTo != "acme" ||
		r.BillCLI != "1444" || r.BillCLD != "1666" {
		t.Errorf("route 1 = %+v", r)
	}
	if r := res.Routes[1]; r.CalledMode != aaa.CalledKeep || r.Port != 5090 || r.RTPP == nil || *r.RTPP {
		t.Errorf("route 2 = %+v", r)
	}
	if r := res.Routes[2]; r.CalledMode != aaa.CalledNone || r.Host != "127.0.0.1" || r.Port != 0 {
		t.Errorf("route 3 = %+v", r)
	}

	zero, err := a.Authorize(ctx, ipRequest("127.0.0.3"))
	if err != nil || !zero.HasCreditTime || zero.CreditTime != 0 {
		t.Errorf("zero-credit trunk: %+v, %v", zero, err)
	}

	for ip, want := range map[string]aaa.SIPStatus{
		"127.0.0.9":  {Code: 402, Reason: "Zero Balance"},
		"127.0.0.77": {Code: 403, Reason: "Invalid Account"},
	} {
		_, err := a.Authorize(ctx, ipRequest(ip))
		var rej *aaa.RejectError
		if !errors.As(err, &rej) || rej.Status != want {
			t.Errorf("%s: %v, want reject %v", ip, err, want)
		}
	}
}

// sipClientAuthorization answers a challenge as a SIP phone would.
func sipClientAuthorization(t *testing.T, challenge, user, password string) string {
	t.Helper()
	chal, err := digest.ParseChallenge(challenge)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: "sip:15551230002@127.0.0.1", Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

func TestDigestAuthFreeRADIUS(t *testing.T) {
	t.Parallel()
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	a := authorizer(t, fr)
	nonces := aaa.NewNonces(aaa.NonceConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	authorize := func(password string) (*aaa.AuthResult, error) {
		hdr := sipClientAuthorization(t, nonces.Challenge("tollgate.test", false), "alice", password)
		cred, err := nonces.CheckAuthorization(hdr, "INVITE")
		if err != nil {
			t.Fatalf("nonce check: %v", err)
		}
		req := ipRequest("192.0.2.10")
		req.Digest = cred
		return a.Authorize(ctx, req)
	}
	res, err := authorize("alice-secret")
	if err != nil {
		t.Fatalf("right password: %v\n%s", err, fr.Log())
	}
	if res.CreditTime != time.Hour || len(res.Routes) != 1 || res.Routes[0].Port != 5080 {
		t.Errorf("grant %+v", res)
	}
	_, err = authorize("wrong")
	var rej *aaa.RejectError
	if !errors.As(err, &rej) || rej.ReturnCode != 2 || rej.Status.Code != 403 {
		t.Errorf("wrong password: %v", err)
	}
}
