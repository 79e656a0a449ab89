package b2bua

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/switch/callctl"
	"github.com/tollgate/tollgate/switch/profile"
)

// callChain is a call's profile: its call-control modules
// (switch/callctl), and what the switch's own steps read of it (routing,
// credentials, AAA overrides: profile_routing.go). Its hook methods are
// where the switch runs the modules; they hand each module callctl's
// narrow view of the call, so no module touches the Call or its lock. A
// nil chain (no profile) does nothing.
type callChain struct {
	call    *Call
	profile *config.Profile
	req     *profile.Request
	ctl     *callctl.Chain
	// eventPT is the telephone-event payload type of the RFC 4733 party's
	// SDP under DTMF interworking (dtmf.go); 0 until one is seen.
	eventPT atomic.Int32
	// msgFlags is what the caller's P-MsgFlags asked (mediaopts.go), read
	// once from its INVITE.
	msgFlags msgFlagsState
}

// newChain builds the chain of c for profile p; req is what p's patterns
// read of the caller's INVITE.
func newChain(c *Call, p *config.Profile, req *profile.Request) *callChain {
	cc := &callChain{call: c, profile: p, req: req}
	cc.ctl = callctl.New(&callctl.Call{
		ID:           c.ID,
		Profile:      p,
		Request:      req,
		Log:          c.sw.log.With("call", c.ID, "profile", p.Name),
		Switch:       &c.sw.modules,
		CallerOrigin: originAddr(c.a.d.listener), // the caller's listener never changes
		Expire:       func() { c.end(outcomeMaxDuration()) },
	})
	return cc
}

func (cc *callChain) log() *slog.Logger { return cc.ctl.Call().Log }

// invite runs with the caller's INVITE, before authorisation; a non-nil
// reply refuses the call.
func (cc *callChain) invite(inA *sip.Request) *config.Reply {
	if cc == nil {
		return nil
	}
	return cc.ctl.Invite(inA)
}

// gatewayInvite shapes the INVITE to one gateway, with the call's lock
// held, and gives b's dialog the Request-URI, Call-ID, From and To the modules
// left, so that later requests in it agree with the INVITE.
func (cc *callChain) gatewayInvite(b *attemptLeg, inv *sip.Request) {
	if cc == nil {
		return
	}
	cc.ctl.GatewayInvite(callctl.GatewayInvite{Caller: cc.call.inviteA, Out: inv, Origin: originAddr(b.d.listener)})
	if cc.profile.PatchRURINextHop {
		patchRURI(&inv.Recipient, b.gateway.Address)
	}
	b.d.target = textOf(inv.Recipient)
	b.d.callID = inv.CallID().Value()
	b.d.local, b.d.localName = textOf(inv.From().Address), inv.From().DisplayName
	b.d.remote, b.d.remoteNam = textOf(inv.To().Address), inv.To().DisplayName
}

func (cc *callChain) finalReply(code int, reason string) (int, string) {
	if cc == nil {
		return code, reason
	}
	return cc.ctl.FinalReply(code, reason)
}

// reply shapes a gateway's answer relayed to the caller; it runs without
// the call's lock.
func (cc *callChain) reply(res, out *sip.Response) {
	if cc == nil {
		return
	}
	cc.ctl.Reply(res, out)
}

// inDialog shapes a message relayed within the dialog, toward the caller
// when toCaller; it runs without the call's lock.
func (cc *callChain) inDialog(in, out sip.Message, toCaller bool) {
	if cc == nil {
		return
	}
	r := callctl.Relayed{In: in, Out: out, To: callctl.Caller, Origin: cc.ctl.Call().CallerOrigin}
	if !toCaller {
		c := cc.call
		c.mu.Lock()
		if c.b != nil {
			r.Origin = originAddr(c.b.d.listener)
		}
		c.mu.Unlock()
		r.To = callctl.Gateway
	}
	cc.ctl.InDialog(r)
}

// request may refuse a request within the dialog; it runs with the call's
// lock held.
func (cc *callChain) request(req *sip.Request, fromCaller bool) *config.Reply {
	if cc == nil {
		return nil
	}
	from := callctl.Gateway
	if fromCaller {
		from = callctl.Caller
	}
	return cc.ctl.Request(req, from)
}

func (cc *callChain) connected() {
	if cc == nil {
		return
	}
	cc.ctl.Connected()
}

func (cc *callChain) ended() {
	if cc == nil {
		return
	}
	cc.ctl.Ended()
}

// profileRequest is what the profile's patterns read of the caller's INVITE,
// sent from the caller at src (the request's source, or the address a
// trusted front proxy named: Switch.callerAddr).
func profileRequest(req *sip.Request, src netip.AddrPort, l *listener) *profile.Request {
	var local profile.Local
	if l != nil {
		if ip, ok := netip.AddrFromSlice(l.ip); ok {
			local.Addr = netip.AddrPortFrom(ip.Unmap(), uint16(l.port))
		}
		local.InterfaceName, local.InterfaceID, local.PublicIP = l.iface, l.ifaceID, strings.Trim(l.host, "[]")
	}
	r := profile.FromSIP(req, local)
	if ap, err := netip.ParseAddrPort(req.Source()); src.IsValid() && (err != nil || ap != src) {
		r = r.WithSource(src)
	}
	return r
}

// originAddr is the address a listener shows the world, for the o= line
// of an anonymised SDP: its advertised host when that is an IP literal,
// else the address it is bound to when that is specific; invalid (keep
// the o= address as it is) when neither is.
func originAddr(l *listener) netip.Addr {
	if l == nil {
		return netip.Addr{}
	}
	if a, err := netip.ParseAddr(strings.Trim(l.host, "[]")); err == nil && a.Zone() == "" {
		return a.Unmap()
	}
	if a, ok := netip.AddrFromSlice(l.ip); ok && !l.ip.Equal(net.IPv4zero) && !l.ip.Equal(net.IPv6unspecified) {
		return a.Unmap()
	}
	return netip.Addr{}
}

// mediaInterface names the media interface of the leg on side (the
// profile's rtprelay_interface for the gateway's, aleg_rtprelay_interface
// for the caller's): where the relay receives that party's media. ""
// without a profile or the option: the relay's own address.
func (cc *callChain) mediaInterface(side rtpproxyctl.Side) string {
	if cc == nil {
		return ""
	}
	if side == rtpproxyctl.Caller {
		return cc.profile.Interfaces.ALegRTPRelayInterface
	}
	return cc.profile.Interfaces.RTPRelayInterface
}

// facing is the side an SDP from side from is sent to.
func facing(from rtpproxyctl.Side) rtpproxyctl.Side {
	if from == rtpproxyctl.Caller {
		return rtpproxyctl.Callee
	}
	return rtpproxyctl.Caller
}
