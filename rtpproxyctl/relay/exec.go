package relay

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// protocolVersion is the reply to V: the basic protocol every client checks.
const protocolVersion = "20040107"

// features are the VF dates (section 2.12) whose capability the relay
// honours; it answers 0 to every other date. 20081224 (timeout notification)
// is added when a notify target is configured. 20050322 is advertised for the
// ;N media numbers, which is what Kamailio requires it for; there is no
// playback. 20230205 is advertised for rtpa_nlost.
var features = map[string]bool{
	"20040107": true, // basic protocol
	"20050322": true, // several streams per call (;N)
	"20060704": true, // VF
	"20080403": true, // Q
	"20081102": true, // codecs in U/L (c)
	"20140323": true, // Il
	"20141004": true, // G
	"20150330": true, // Un/Ln
	"20150420": true, // extended Q, rtpa_* counters
	"20191015": true, // && sub-commands
	"20230205": true, // rtpa_nlost
	"20230314": true, // Q ... && D
	"20230424": true, // longest_ipi, rtpa_jlast/jmax/javg
	"20251015": true, // S ttl= / S tos= sub-commands
	"20260308": true, // U ... && L
}

// Handle executes one control command (without a UDP cookie; newlines are
// separators like spaces) and returns its reply, which always ends in "\n".
// It is what every control socket calls, and lets an in-process controller
// skip the sockets.
func (r *Relay) Handle(cmd []byte) []byte {
	r.cmds.rcvd.Add(1)
	return r.execute(cmd)
}

func (r *Relay) execute(line []byte) []byte {
	body, err := r.run(line)
	if err != nil {
		r.cmds.errs.Add(1)
		var e ecode
		if !errors.As(err, &e) {
			e = eParse
		}
		body = e.reply()
	} else {
		r.cmds.succd.Add(1)
	}
	return []byte(body + "\n")
}

func (r *Relay) run(line []byte) (string, error) {
	c, err := parseCommand(line)
	if err != nil {
		return "", err
	}
	if len(c.subs) > 0 && c.op != 'U' && c.op != 'L' && c.op != 'Q' {
		switch c.op {
		case 'V', 'D', 'G', 'I', 'X', 'P', 'S', 'R', 'C', 'N':
			return "", eSubc
		}
	}
	switch c.op {
	case 'V':
		return r.cmdVersion(c)
	case 'U', 'L':
		return r.cmdUpdate(c)
	case 'D':
		return r.cmdDelete(c)
	case 'Q':
		return r.cmdQuery(c)
	case 'G':
		return r.cmdStats(c)
	case 'I':
		return r.cmdInfo(c)
	case 'X':
		if c.mods != "" {
			return "", eMods
		}
		if len(c.args) != 0 {
			return "", eNArgs
		}
		r.deleteAll()
		return "0", nil
	case 'P', 'S', 'R', 'C', 'N':
		return r.cmdMedia(c)
	}
	return "", eCmdUnknown
}

func (r *Relay) cmdVersion(c command) (string, error) {
	switch {
	case c.mods == "":
		if len(c.args) != 0 {
			return "", eNArgs
		}
		return protocolVersion, nil
	case c.mods == "F" || c.mods == "f":
		if len(c.args) != 1 {
			return "", eNArgs
		}
		d := c.args[0]
		if features[d] || (d == "20081224" && len(r.notifiers) > 0) {
			return "1", nil
		}
		return "0", nil
	}
	return "", eMods
}

// updateCmd is a parsed U or L command.
type updateCmd struct {
	isU        bool
	callID     string
	from, to   string
	addr       netip.AddrPort
	haveAddr   bool
	hold       bool
	mods       updateMods
	notify     bool
	notifySock string
	notifyTag  string
}

func (r *Relay) parseUpdate(c command) (updateCmd, error) {
	u := updateCmd{isU: c.op == 'U'}
	n := len(c.args)
	if n < 4 || n > 7 || (!u.isU && n > 5) {
		return u, eNArgs
	}
	u.callID, u.from = c.args[0], c.args[3]
	switch n {
	case 5:
		u.to = c.args[4]
	case 6:
		u.notify, u.notifySock, u.notifyTag = true, c.args[4], c.args[5]
	case 7:
		u.to = c.args[4]
		u.notify, u.notifySock, u.notifyTag = true, c.args[5], c.args[6]
	}
	var err error
	if u.mods, err = parseUpdateMods(c.mods, r.media); err != nil {
		return u, err
	}
	if u.mods.v6 && !u.mods.local.IsValid() && !r.media.local[ipv6].IsValid() {
		return u, eNoV6
	}
	if err := u.parseAddr(c.args[1], c.args[2]); err != nil {
		return u, err
	}
	if u.notify {
		if len(r.notifiers) == 0 {
			return u, eNotifyOff
		}
		tag, err := url.PathUnescape(u.notifyTag)
		if err != nil {
			return u, eNotifyTag
		}
		u.notifyTag = tag
	}
	return u, nil
}

// parseAddr applies section 2.5: an address whose length cannot be an IP
// literal of the command's family (IPv6 with the 6 modifier, else IPv4),
// such as "-", is ignored; one that can must parse, with its port.
func (u *updateCmd) parseAddr(addr, port string) error {
	lo, hi := 7, 15
	if u.mods.v6 {
		lo, hi = 2, 45
	}
	if len(addr) < lo || len(addr) > hi {
		return nil
	}
	ip, err := netip.ParseAddr(addr)
	p, perr := strconv.ParseUint(port, 10, 16)
	if err != nil || ip.Is4() == u.mods.v6 || ip.Zone() != "" || perr != nil {
		return eBadAddr
	}
	switch {
	case ip.IsUnspecified():
		u.hold = true
	case p != 0:
		u.addr, u.haveAddr = netip.AddrPortFrom(ip, uint16(p)), true
	}
	return nil
}

func (r *Relay) cmdUpdate(c command) (string, error) {
	u, err := r.parseUpdate(c)
	if err != nil {
		return "", err
	}
	if err := checkSubs(c, u.to != ""); err != nil {
		return "", err
	}
	lp, s, idx, err := r.update(u)
	if err != nil {
		return "", err
	}
	if s == nil {
		return "0", nil // L never creates a session
	}
	return r.runSubs(r.replyAddr(lp), c.subs, s, idx, u)
}

// update executes U or L (section 2.5). It returns the port the reply
// names and its family, and a nil session when L finds nothing.
func (r *Relay) update(u updateCmd) (legPort, *session, int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, idx := r.findLocked(u.callID, u.from, u.to)
	created := false
	if s == nil {
		if !u.isU {
			return legPort{}, nil, 0, nil
		}
		if err := r.admitLocked(); err != nil {
			return legPort{}, nil, 0, err
		}
		s = &session{
			r: r, lp: r.pickLoop(), callID: u.callID, fromTag: u.from, created: time.Now(),
			ttl: seconds(r.cfg.SetupTTL), streamTTL: seconds(r.cfg.TTL),
		}
		created = true
	}
	// U addresses the leg facing the sender of the SDP and returns the
	// other leg's port; L is the same with the direction inverted.
	side := idx
	if !u.isU {
		side = 1 - idx
	}
	out := 1 - side
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return legPort{}, nil, 0, eNoSession
	}
	o := &s.legs[out]
	f := u.portFamily(o)
	if o.port == 0 || u.mods.newPort || o.fam != f || (u.mods.bind.IsValid() && o.bound != u.mods.bind) {
		oldPort, oldSocks := o.port, o.socks
		if !s.openLeg(out, f, u.mods.bind) {
			r.refused.Add(1)
			if created {
				return legPort{}, nil, 0, eSessPorts
			}
			return legPort{}, nil, 0, eLegPorts
		}
		if oldPort != 0 {
			for _, m := range oldSocks {
				m.lp.remove(m)
			}
			r.ports.put(oldPort)
		}
	}
	if created {
		r.sessions[u.callID] = append(r.sessions[u.callID], s)
		r.nsess++
		r.acc.created++
	}
	l := &s.legs[side]
	l.asym = u.mods.asym
	if u.mods.codecs != "" {
		l.codecs = u.mods.codecs
	}
	if u.mods.ptime != 0 {
		l.ptime = u.mods.ptime
	}
	now := r.now()
	switch {
	case u.hold:
		l.hold, l.updated = true, now
	case u.haveAddr:
		l.setRemote(u.addr, now)
	default:
		l.updated = now
	}
	if u.isU {
		if u.mods.weak {
			s.weak[idx] = true
		} else {
			s.strong = true
		}
		s.notify, s.notifyTag = nil, ""
		if u.notify {
			if n := r.notifiers[u.notifySock]; n != nil {
				s.notify, s.notifyTag = n, u.notifyTag
			} else {
				r.log.Warn("relay: U names a notify socket that is not configured; ignored", "socket", u.notifySock)
			}
		}
	}
	if !s.complete && s.legs[0].port != 0 && s.legs[1].port != 0 {
		s.complete = true
		r.acc.complete++
	}
	if s.complete {
		s.ttl = s.streamTTL
	} else {
		s.ttl = seconds(r.cfg.SetupTTL)
	}
	return legPort{port: o.port, fam: o.fam, bound: o.bound}, s, idx, nil
}

// portFamily is the family of the local address of the port a U or L
// names (leg o's): the one l or r asked for; else the family o already
// has, so that a re-INVITE keeps its port; else, for a new port, the
// family of the command's address, as rtpproxy chooses.
func (u *updateCmd) portFamily(o *leg) family {
	switch {
	case u.mods.local.IsValid():
		return familyOf(u.mods.local)
	case o.port != 0:
		return o.fam
	case u.mods.v6:
		return ipv6
	}
	return ipv4
}

// admitLocked refuses a new session when draining or overloaded.
func (r *Relay) admitLocked() error {
	if r.draining.Load() {
		return eDraining
	}
	if (r.cfg.MaxSessions > 0 && r.nsess >= r.cfg.MaxSessions) ||
		(r.cfg.MaxPacketRate > 0 && float64From(r.ppsIn.Load()) >= float64(r.cfg.MaxPacketRate)) ||
		(r.cfg.MaxBusy > 0 && float64From(r.ppsIn.Load()) >= busyMinRate && r.projectedBusyLocked() >= r.cfg.MaxBusy) {
		r.refused.Add(1)
		return eOverload
	}
	return nil
}

func seconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// findLocked is find_stream (section 2.6): the first session of the call
// that the tags match, and the direction they match in.
func (r *Relay) findLocked(callID, from, to string) (*session, int) {
	for _, s := range r.sessions[callID] {
		if idx, ok := s.matches(from, to); ok {
			return s, idx
		}
	}
	return nil, 0
}

// checkSubs validates the sub-commands (section 2.11) before anything runs:
// one bad sub-command rejects the whole command with E3.
func checkSubs(c command, haveTo bool) error {
	for _, sc := range c.subs {
		switch sc.op {
		case 'L':
			if c.op != 'U' || !haveTo || sc.mods != "" || len(sc.args) != 2 {
				return eSubc
			}
		case 'S':
			if (sc.mods != "" && sc.mods != "r" && sc.mods != "R") || len(sc.args) != 1 {
				return eSubc
			}
			if _, _, err := parseSetting(sc.args[0]); err != nil {
				return eSubc
			}
		case 'D':
			if (sc.mods != "" && sc.mods != "w" && sc.mods != "W") || len(sc.args) != 0 {
				return eSubc
			}
		case 'T':
			if c.op == 'Q' || (sc.mods != "" && sc.mods != "r" && sc.mods != "R") {
				return eSubc
			}
			if _, ok := parseFormats(sc.args); !ok {
				return eSubc
			}
		case 'E':
			if c.op != 'Q' || (sc.mods != "" && sc.mods != "r" && sc.mods != "R") {
				return eSubc
			}
			if _, ok := parseInject(sc.args); !ok {
				return eSubc
			}
		case 'O':
			if c.op == 'Q' || (sc.mods != "" && sc.mods != "r" && sc.mods != "R") {
				return eSubc
			}
			if _, ok := parseRTPOpts(sc.args); !ok {
				return eSubc
			}
		default:
			return eSubc
		}
	}
	return nil
}

// parseSetting reads the argument of an S sub-command: ttl=N or tos=N.
func parseSetting(arg string) (string, int, error) {
	k, v, ok := strings.Cut(arg, "=")
	n, err := strconv.Atoi(v)
	switch {
	case !ok || err != nil:
		return "", 0, eSubc
	case k == "ttl" && n >= 1:
		return k, n, nil
	case k == "tos" && n >= 0 && n <= 255:
		return k, n, nil
	}
	return "", 0, eSubc
}

// runSubs runs the sub-commands in order after the main command succeeded
// and builds the combined reply.
func (r *Relay) runSubs(reply string, subs []command, s *session, idx int, u updateCmd) (string, error) {
	var b strings.Builder
	b.WriteString(reply)
	pending := 0
	for _, sc := range subs {
		text, err := r.runSub(sc, s, idx, u)
		if err != nil {
			var e ecode
			if !errors.As(err, &e) {
				e = eParse
			}
			fmt.Fprintf(&b, " && -%d", int(e))
			break
		}
		if text == "" {
			pending++
			continue
		}
		for ; pending > 0; pending-- {
			b.WriteString(" && 0")
		}
		b.WriteString(" && " + text)
	}
	return b.String(), nil
}

func (r *Relay) runSub(sc command, s *session, idx int, u updateCmd) (string, error) {
	switch sc.op {
	case 'L':
		// A sub-command takes no modifiers: the family of its address is
		// that of the literal.
		l := updateCmd{callID: u.callID, from: u.from, to: u.to}
		l.mods.v6 = strings.Contains(sc.args[0], ":")
		if l.mods.v6 && !r.media.local[ipv6].IsValid() {
			return "", eNoV6
		}
		if err := l.parseAddr(sc.args[0], sc.args[1]); err != nil {
			return "", err
		}
		lp, ls, _, err := r.update(l)
		if err != nil {
			return "", err
		}
		if ls == nil {
			return "0", nil
		}
		return r.replyAddr(lp), nil
	case 'S':
		k, v, _ := parseSetting(sc.args[0])
		s.mu.Lock()
		defer s.mu.Unlock()
		if k == "ttl" {
			s.streamTTL, s.ttl = v, v
			return "", nil
		}
		for i := range s.legs {
			for _, m := range s.legs[i].socks {
				if m != nil {
					if err := setTOS(m.fd, s.legs[i].fam.domain(), v); err != nil {
						return "", eSubc
					}
				}
			}
		}
		return "", nil
	case 'D':
		r.mu.Lock()
		defer r.mu.Unlock()
		r.dropFlagLocked(s, idx, sc.mods != "")
		return "", nil
	case 'E':
		// Q names the party its from-tag names with leg idx; Er the other.
		to := idx
		if sc.mods != "" {
			to = 1 - idx
		}
		c, _ := parseInject(sc.args)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || !s.inject(to, c) {
			return "", eSubc
		}
		return "", nil
	case 'T', 'O':
		// The leg facing the party whose SDP the command carries, as
		// update chose it; Tr and Or the other one.
		side := idx
		if !u.isU {
			side = 1 - idx
		}
		if sc.mods != "" {
			side = 1 - side
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if sc.op == 'T' {
			f, _ := parseFormats(sc.args)
			s.setFormats(side, f)
		} else {
			o, _ := parseRTPOpts(sc.args)
			s.setOpts(side, o, r.now())
		}
		return "", nil
	}
	return "", eSubc
}

func (r *Relay) cmdDelete(c command) (string, error) {
	weak := false
	switch c.mods {
	case "":
	case "w", "W":
		weak = true
	default:
		return "", eDMod
	}
	if len(c.args) < 2 || len(c.args) > 3 {
		return "", eNArgs
	}
	to := ""
	if len(c.args) == 3 {
		to = c.args[2]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	matched := false
	for _, s := range append([]*session(nil), r.sessions[c.args[0]]...) {
		if idx, ok := s.matchesPrefix(c.args[1], to); ok {
			matched = true
			r.dropFlagLocked(s, idx, weak)
		}
	}
	if !matched {
		return "", eNoSession
	}
	return "0", nil
}

// dropFlagLocked is D on one session (section 2.7): plain D clears the
// strong flag, Dw the weak flag of the inverted direction (the upstream
// quirk), and the session ends when no flag remains.
func (r *Relay) dropFlagLocked(s *session, idx int, weak bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if weak {
		s.weak[1-idx] = false
	} else {
		s.strong = false
	}
	gone := !s.strong && !s.weak[0] && !s.weak[1]
	s.mu.Unlock()
	if gone {
		r.destroyLocked(s, false)
	}
}

func (r *Relay) deleteAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, list := range r.sessions {
		for _, s := range append([]*session(nil), list...) {
			r.destroyLocked(s, false)
		}
	}
}

// cmdMedia answers the playback/recording/copy commands, which the relay
// does not implement, with the codes rtpproxy gives when the operation
// cannot be done (section 2.10).
func (r *Relay) cmdMedia(c command) (string, error) {
	lo, hi := 2, 3
	switch c.op {
	case 'P':
		lo, hi = 4, 5
		if span(c.mods, 0, isDigit) != len(c.mods) {
			return "", ecode(17)
		}
	case 'C':
		lo, hi = 3, 4
	case 'S':
		if c.mods != "" {
			return "", eMods
		}
	}
	if len(c.args) < lo || len(c.args) > hi {
		return "", eNArgs
	}
	ftag := c.args[lo-1]
	to := ""
	if len(c.args) == hi {
		to = c.args[hi-1]
	}
	r.mu.Lock()
	s, _ := r.findLocked(c.args[0], ftag, to)
	r.mu.Unlock()
	switch c.op {
	case 'P':
		if s == nil {
			return "", eNoSession
		}
		return "", ePlayer // no prompts: the relay has no player
	case 'S':
		if s == nil {
			return "", eNoSession
		}
		return "0", nil // nothing can be playing
	case 'C':
		return "", eCopy // media copying is not implemented
	}
	return "", eNoSession // R and N: nothing is ever recorded
}
