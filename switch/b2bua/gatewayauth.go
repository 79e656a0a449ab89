package b2bua

import (
	"context"
	"errors"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// credentials are the digest identity the switch presents on one leg when
// the far end challenges a request (SEMS's auth_b2b: the gateway's leg;
// auth_aleg: the caller's). They are the switch's own: nothing of the
// caller's authentication ever crosses to the other leg.
type credentials struct {
	user, password string
}

// errNoChallenge is a 401/407 without a digest challenge we can answer.
var errNoChallenge = errors.New("no digest challenge in the response")

// withDigest copies req, a request the peer of dialog d challenged with
// res, into the retry RFC 3261 22.2 asks for: the next CSeq of the dialog,
// a new branch, and the credentials answering the challenge.
func withDigest(d *dialog, req *sip.Request, res *sip.Response, cred *credentials) (*sip.Request, error) {
	challengeHdr, authHdr := "WWW-Authenticate", "Authorization"
	if res.StatusCode == sip.StatusProxyAuthRequired {
		challengeHdr, authHdr = "Proxy-Authenticate", "Proxy-Authorization"
	}
	h := res.GetHeader(challengeHdr)
	if h == nil {
		return nil, errNoChallenge
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		return nil, err
	}
	answer, err := digest.Digest(chal, digest.Options{
		Method: string(req.Method), URI: req.Recipient.Addr(),
		Username: cred.user, Password: cred.password, Count: 1,
	})
	if err != nil {
		return nil, err
	}
	out := req.Clone()
	out.RemoveHeader("Authorization")
	out.RemoveHeader("Proxy-Authorization")
	out.ReplaceHeader(d.listener.via())
	out.CSeq().SeqNo = d.localSeq.Add(1)
	out.AppendHeader(sip.NewHeader(authHdr, answer.String()))
	return out, nil
}

// authenticate answers a gateway's 401/407 to our INVITE with the leg's
// credentials, as a new client transaction on the same dialog (sipgo has
// ACKed the challenge). ok false means the leg has no credentials and the
// challenge is an ordinary failure.
func (c *Call) authenticate(ctx context.Context, b *attemptLeg, res *sip.Response) (tx sip.ClientTransaction, ok bool, err error) {
	c.mu.Lock()
	prev, cred := b.invite, b.d.auth
	c.mu.Unlock()
	if cred == nil || prev == nil {
		return nil, false, nil
	}
	inv, err := withDigest(&b.d, prev, res, cred)
	if err != nil {
		return nil, true, err
	}
	c.mu.Lock()
	b.invite, b.inviteSeq = inv, inv.CSeq().SeqNo
	c.mu.Unlock()
	tx, err = c.sw.cli.TransactionRequest(ctx, inv, prebuilt)
	return tx, true, err
}

// doAuth is do for a request within dialog d, answering one 401/407 with
// the leg's credentials. It returns the request that got the final
// response: an INVITE's ACK must carry its CSeq.
func (s *Switch) doAuth(ctx context.Context, d *dialog, req *sip.Request) (*sip.Response, *sip.Request, error) {
	res, err := s.do(ctx, req)
	if err != nil || d.auth == nil || (res.StatusCode != 401 && res.StatusCode != 407) {
		return res, req, err
	}
	retry, err := withDigest(d, req, res, d.auth)
	if err != nil {
		s.log.Warn("challenge within the dialog not answered", "call_id", d.callID, "method", req.Method, "error", err)
		return res, req, nil
	}
	res, err = s.do(ctx, retry)
	return res, retry, err
}
