package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate/tollgate/switch/profile"
)

// CallProfiles are the SEMS-style call profiles and how a call picks one.
// They are compiled once at load: a reload builds new ones, so a call keeps
// the profile it started with.
type CallProfiles struct {
	Profiles      []CallProfile `yaml:"profiles"`
	ProfileSelect ProfileSelect `yaml:"profile_select"`

	byName    map[string]*Profile
	selectors []profile.Selector
}

// ProfileSelect is SEMS's active_profile: selectors evaluated in order, the
// first non-empty result names the profile; regex maps they may use.
type ProfileSelect struct {
	Selectors []string      `yaml:"selectors"`
	Maps      []RegexMapDef `yaml:"maps"`
}

// RegexMapDef is a SEMS regex map, from a file or written inline in the
// same regex=>value format.
type RegexMapDef struct {
	Name    string `yaml:"name"`
	File    string `yaml:"file"`
	Entries string `yaml:"entries"`
}

// CallProfile is one profile as written. Every string option except the
// lists of names is a pattern ($rU, $fh, $H(X-Foo), $M($si=>map)...).
type CallProfile struct {
	Name string `yaml:"name"`
	// RURI replaces the gateway's Request-URI; RURIHost only its host.
	RURI     string `yaml:"ruri"`
	RURIHost string `yaml:"ruri_host"`
	// From and To replace the address ("name" <sip:user@host>) on the
	// gateway leg.
	From string `yaml:"from"`
	To   string `yaml:"to"`
	// HeaderFilter decides which of the caller's headers cross to the
	// gateway: none (the default), transparent, whitelist or blacklist
	// (of HeaderList). Dialog and transport headers never cross.
	HeaderFilter  string   `yaml:"header_filter"`
	HeaderList    []string `yaml:"header_list"`
	AppendHeaders []string `yaml:"append_headers"`
	// ReplyTranslate maps final codes for the caller:
	// "603=>488 Not acceptable here|600=>406 Not Acceptable".
	ReplyTranslate string `yaml:"reply_translate"`
	// RefuseWith answers every call with "code reason".
	RefuseWith string `yaml:"refuse_with"`
	// CallTimer is the longest connected time in seconds, e.g. "3600" or
	// "$H(P-Call-Timer)"; an empty result means no limit.
	CallTimer string `yaml:"call_timer"`
	// CodecFilter is whitelist or blacklist of Codecs (names or payload
	// types), applied to the offer sent to the gateway.
	CodecFilter string   `yaml:"codec_filter"`
	Codecs      []string `yaml:"codecs"`

	// SDP and message shaping (SEMS codec_preference, sdp_anonymize,
	// message_filter, cc_pcalls).
	//
	// CodecPreference moves the listed codecs (names or payload types) to
	// the front of every SDP sent to the gateway, in this order;
	// CodecPreferenceALeg does the same for every SDP sent to the caller.
	CodecPreference     []string `yaml:"codec_preference"`
	CodecPreferenceALeg []string `yaml:"codec_preference_aleg"`
	// SDPAnonymize hides who made the SDP, both ways: o= username "-" and
	// our address, s=-, and no u=, e=, p= or i= lines.
	SDPAnonymize bool `yaml:"sdp_anonymize"`
	// MessageFilter decides which requests within the dialog are relayed:
	// transparent (the default), whitelist or blacklist of MessageList
	// (method names); the others are answered 405. ACK, BYE and CANCEL
	// always pass.
	MessageFilter string   `yaml:"message_filter"`
	MessageList   []string `yaml:"message_list"`
	// Limit caps the calls up at once per key.
	Limit *CallLimit `yaml:"limit"`
	// PCallControl lets trusted peers choose a call timer or limit per
	// call in a P-CallControl header (pcallcontrol.go).
	PCallControl *PCallControl `yaml:"p_callcontrol"`

	// Routing and AAA of the profile's calls; each overrides the route's.
	//
	// NextHop lists the gateways of the profile's calls in failover order,
	// each "host:port" with an optional ";transport=tcp"; patterns allowed
	// ($rd, $H(X-Next-Hop)...). Routes from RADIUS still take precedence.
	NextHop []string `yaml:"next_hop"`
	// OutboundProxy is a SIP URI the gateway INVITE goes through (a loose
	// Route header) while its Request-URI stays the gateway's.
	OutboundProxy string `yaml:"outbound_proxy"`
	// GatewayAuth answers the gateway's 401/407 digest challenges, to the
	// INVITE and within the dialog (SEMS auth_b2b); CallerAuth answers the
	// caller's challenges to requests the switch sends it within the dialog
	// (SEMS auth_aleg). User and password are patterns.
	GatewayAuth *GatewayAuth `yaml:"gateway_auth"`
	CallerAuth  *GatewayAuth `yaml:"caller_auth"`
	// Auth is the RADIUS authorisation mode: none, ip or digest.
	Auth string `yaml:"auth"`
	// Accounting false sends no RADIUS accounting for the profile's calls.
	Accounting *bool `yaml:"accounting"`
	// Prepaid false ignores the credit time RADIUS grants (the route's and
	// the configured maximum still apply).
	Prepaid *bool `yaml:"prepaid"`
	// Media is the media mode: none, rtpproxy or builtin.
	Media string `yaml:"media"`
	// Redirect overrides the route's redirect: relay or follow.
	Redirect string `yaml:"redirect"`

	// Offer100rel offers the gateway 100rel (Supported: 100rel) even when
	// the caller does not: the switch then PRACKs the gateway's reliable
	// provisionals itself.
	Offer100rel bool `yaml:"offer_100rel,omitempty"`

	// Session timers and keepalives of the profile's calls
	// (dialogtimers.go), each option overriding the global one.
	DialogTimers `yaml:",inline"`
	// Transcoding and the RTP relay options (profile_media.go).
	ProfileMedia `yaml:",inline"`
	// The signalling and media interfaces of the legs (interfaces.go).
	ProfileInterfaces `yaml:",inline"`

	// DialogOptions shape requests within the dialogs (dialogopts.go).
	DialogOptions `yaml:",inline"`
	// HopOptions decide where the gateway leg's messages go and the
	// Contact of each leg (hopopts.go).
	HopOptions `yaml:",inline"`
}

// GatewayAuth is a digest identity the switch presents on one leg.
type GatewayAuth struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// Header filter modes.
const (
	FilterNone        = "none"
	FilterTransparent = "transparent"
	FilterWhitelist   = "whitelist"
	FilterBlacklist   = "blacklist"
)

// Profile is a compiled CallProfile, shared read-only by every call using it.
type Profile struct {
	Name          string
	Origin        string // where in the config, e.g. profiles[2]
	Checksum      string // of the profile as written
	RURI          *profile.Pattern
	RURIHost      *profile.Pattern
	From          *profile.Pattern
	To            *profile.Pattern
	HeaderFilter  string
	HeaderList    map[string]bool // lower-case names
	AppendHeaders []*profile.Pattern
	Replies       map[int]Reply
	RefuseWith    *profile.Pattern
	CallTimer     *profile.Pattern
	CodecFilter   string
	Codecs        []string

	CodecPreference     []string
	CodecPreferenceALeg []string
	SDPAnonymize        bool
	MessageFilter       string          // FilterNone, FilterWhitelist or FilterBlacklist
	MessageList         map[string]bool // upper-case method names
	Limit               *ProfileLimit   // nil: no limit
	PCallControl        *PCallControl   // nil: the header is not read

	NextHop         []*profile.Pattern
	OutboundProxy   *profile.Pattern
	GatewayUser     *profile.Pattern // nil: no gateway authentication
	GatewayPassword *profile.Pattern
	CallerUser      *profile.Pattern // nil: no authentication toward the caller
	CallerPassword  *profile.Pattern
	Auth            string // "" inherits the route's
	Accounting      *bool  // nil inherits
	Prepaid         *bool  // nil inherits
	Media           string // "" inherits the route's
	Redirect        string // "" inherits the route's
	DialogTimers    DialogTimers
	Offer100rel     bool
	legA, legB      LegTimers // resolved with the global options

	Transcoder               string // TranscodeNever, TranscodeAlways or TranscodeOnMissingCompatible
	TranscoderCodecs         []string
	CalleeCodecCaps          []string
	PreferExistingCodecs     bool
	PreferExistingCodecsALeg bool
	RTP                      RTPOptions
	// DTMF is how each leg's party carries DTMF, when the profile has the
	// switch carry digits between RFC 4733 and SIP INFO.
	DTMF       DTMFInterworking
	Interfaces ProfileInterfaces
	DialogOptions
	HopOptions
}

// Reply is a final response a profile gives instead of the switch.
type Reply struct {
	Code   int
	Reason string
	Allow  string // the Allow header of a 405; "" otherwise
}

// Profile returns the profile called name.
func (c *Config) Profile(name string) (*Profile, bool) {
	p, ok := c.byName[name]
	return p, ok
}

// ProfileList returns the loaded profiles in config order.
func (c *Config) ProfileList() []*Profile {
	out := make([]*Profile, 0, len(c.Profiles))
	for _, cp := range c.Profiles {
		if p, ok := c.byName[cp.Name]; ok {
			out = append(out, p)
		}
	}
	return out
}

// ProfileNames returns the names of the configured profiles, in config
// order: the names a route's selected_profile may take.
func (c *Config) ProfileNames() []string {
	out := make([]string, 0, len(c.Profiles))
	for _, p := range c.Profiles {
		out = append(out, p.Name)
	}
	return out
}

// SelectorChoice is what the profile selectors chose for a call: the
// profile's name and the selector that gave it, or the zero value when
// none gave a name.
type SelectorChoice struct {
	Name string
	Rule string
}

// SelectorChoice runs the profile selectors on r, once per call: its
// name goes into the RouteQuery (a route's selected_profile) and the
// result to ChosenProfile, so the selectors are not run twice.
func (c *Config) SelectorChoice(r *profile.Request) SelectorChoice {
	name, rule := profile.Select(c.selectors, r)
	return SelectorChoice{Name: name, Rule: rule}
}

// ChosenProfile picks the profile of a call from the selectors' choice
// (SelectorChoice, made before the route lookup): the selectors' profile
// wins, else the route's fallback profile, else none (nil, nil). A
// selector naming an unknown profile is an error, as in SEMS.
func (c *Config) ChosenProfile(ch SelectorChoice, route *Route) (*Profile, error) {
	if ch.Name != "" {
		p, ok := c.byName[ch.Name]
		if !ok {
			return nil, &profile.UnknownProfileError{Name: ch.Name, Rule: ch.Rule}
		}
		return p, nil
	}
	if route != nil && route.Profile != "" {
		return c.byName[route.Profile], nil
	}
	return nil, nil
}

func (c *Config) applyProfileDefaults() {
	for i := range c.Profiles {
		if c.Profiles[i].HeaderFilter == "" {
			c.Profiles[i].HeaderFilter = FilterNone
		}
	}
}

func (v *validator) validateProfiles(c *Config) {
	var maps []*profile.RegexMap
	for i, m := range c.ProfileSelect.Maps {
		path := fmt.Sprintf("profile_select.maps[%d]", i)
		data := []byte(m.Entries)
		if m.File != "" {
			b, err := os.ReadFile(m.File)
			if err != nil {
				v.addf(path+".file", "%v", err)
				continue
			}
			data = b
		}
		rm, err := profile.ParseMap(m.Name, data)
		if err != nil {
			v.addf(path, "%v", err)
			continue
		}
		maps = append(maps, rm)
	}
	set, err := profile.NewMapSet(maps...)
	if err != nil {
		v.addf("profile_select.maps", "%v", err)
		return
	}
	c.byName = make(map[string]*Profile, len(c.Profiles))
	seen := make(map[string]bool, len(c.Profiles))
	for i := range c.Profiles {
		path := fmt.Sprintf("profiles[%d]", i)
		cp := &c.Profiles[i]
		if cp.Name == "" {
			v.addf(path+".name", "a profile needs a name")
			continue
		}
		if seen[cp.Name] {
			v.addf(path+".name", "%q defined twice", cp.Name)
			continue
		}
		seen[cp.Name] = true
		if p := v.compileProfile(path, cp, set); p != nil {
			c.byName[cp.Name] = p
		}
	}
	sels, err := profile.CompileSelectors(c.ProfileSelect.Selectors, set)
	if err != nil {
		v.addf("profile_select.selectors", "%v", err)
	}
	c.selectors = sels
	for i, sel := range sels {
		if name, ok := literal(sel.String()); ok {
			if _, found := c.byName[name]; !found {
				v.addf(fmt.Sprintf("profile_select.selectors[%d]", i), "names profile %q, which is not defined", name)
			}
		}
	}
	for i, r := range c.Routes {
		if _, ok := c.byName[r.Profile]; r.Profile != "" && !ok {
			v.addf(fmt.Sprintf("routes[%d].profile", i), "%q: no such profile", r.Profile)
		}
	}
}

// literal reports whether a selector is a fixed profile name.
func literal(rule string) (string, bool) {
	p, err := profile.Compile(rule)
	if err != nil {
		return "", false
	}
	return p.Literal()
}

func (v *validator) compileProfile(path string, cp *CallProfile, maps *profile.MapSet) *Profile {
	src, _ := yaml.Marshal(cp)
	p := &Profile{Name: cp.Name, Origin: path, Checksum: profile.Checksum(src),
		HeaderFilter: cp.HeaderFilter, CodecFilter: cp.CodecFilter, Codecs: cp.Codecs,
		DialogTimers: cp.DialogTimers, DialogOptions: cp.DialogOptions, HopOptions: cp.HopOptions,
		Offer100rel: cp.Offer100rel, Interfaces: cp.ProfileInterfaces}
	ok := true
	pat := func(option, s string) *profile.Pattern {
		if s == "" {
			return nil
		}
		out, err := profile.CompileOption(cp.Name, option, s, maps)
		if err != nil {
			v.addf(path+"."+option, "%v", err)
			ok = false
		}
		return out
	}
	p.RURI = pat("ruri", cp.RURI)
	p.RURIHost = pat("ruri_host", cp.RURIHost)
	p.From = pat("from", cp.From)
	p.To = pat("to", cp.To)
	p.RefuseWith = pat("refuse_with", cp.RefuseWith)
	p.CallTimer = pat("call_timer", cp.CallTimer)
	for i, h := range cp.AppendHeaders {
		option := fmt.Sprintf("append_headers[%d]", i)
		if name, _, found := strings.Cut(h, ":"); !found || strings.TrimSpace(name) == "" {
			v.addf(path+"."+option, "%q: want \"Name: value\"", h)
			ok = false
			continue
		}
		p.AppendHeaders = append(p.AppendHeaders, pat(option, h))
	}
	switch cp.HeaderFilter {
	case FilterNone, FilterTransparent:
	case FilterWhitelist, FilterBlacklist:
		p.HeaderList = make(map[string]bool, len(cp.HeaderList))
		for _, h := range cp.HeaderList {
			p.HeaderList[strings.ToLower(strings.TrimSpace(h))] = true
		}
	default:
		v.addf(path+".header_filter", "%q: want none, transparent, whitelist or blacklist", cp.HeaderFilter)
		ok = false
	}
	switch cp.CodecFilter {
	case "":
	case FilterWhitelist, FilterBlacklist:
		if len(cp.Codecs) == 0 {
			v.addf(path+".codecs", "a codec %s needs codecs", cp.CodecFilter)
			ok = false
		}
	default:
		v.addf(path+".codec_filter", "%q: want whitelist or blacklist", cp.CodecFilter)
		ok = false
	}
	ok = v.compileRouting(path, cp, p, pat) && ok
	ok = v.compileShaping(path, cp, p, pat) && ok
	ok = v.validateDialogOptions(path, &p.DialogOptions, pat) && ok
	ok = v.validateHopOptions(path, &p.HopOptions, cp.OutboundProxy, pat) && ok
	if cp.PCallControl != nil {
		pcc := *cp.PCallControl
		ok = v.compilePCallControl(path+".p_callcontrol", &pcc) && ok
		p.PCallControl = &pcc
	}
	ok = v.compileMedia(path, cp, p) && ok
	replies, err := ParseReplyTranslate(cp.ReplyTranslate)
	if err != nil {
		v.addf(path+".reply_translate", "%v", err)
		ok = false
	}
	p.Replies = replies
	if !ok {
		return nil
	}
	return p
}

// compileRouting compiles the profile's routing and AAA options.
func (v *validator) compileRouting(path string, cp *CallProfile, p *Profile, pat func(option, s string) *profile.Pattern) bool {
	ok := true
	for i, h := range cp.NextHop {
		option := fmt.Sprintf("next_hop[%d]", i)
		if _, _, err := ParseNextHop(h); err != nil && !strings.Contains(h, "$") {
			v.addf(path+"."+option, "%v", err)
			ok = false
			continue
		}
		p.NextHop = append(p.NextHop, pat(option, h))
	}
	if cp.OutboundProxy != "" {
		if !strings.Contains(cp.OutboundProxy, "$") {
			if _, _, err := ParseOutboundProxy(cp.OutboundProxy); err != nil {
				v.addf(path+".outbound_proxy", "%v", err)
				ok = false
			}
		}
		p.OutboundProxy = pat("outbound_proxy", cp.OutboundProxy)
	}
	// identity compiles a leg's digest identity; a user is required.
	identity := func(option string, a *GatewayAuth) (user, password *profile.Pattern) {
		if a == nil {
			return nil, nil
		}
		if a.User == "" {
			v.addf(path+"."+option+".user", "a user is needed")
			ok = false
		}
		return pat(option+".user", a.User), pat(option+".password", a.Password)
	}
	p.GatewayUser, p.GatewayPassword = identity("gateway_auth", cp.GatewayAuth)
	p.CallerUser, p.CallerPassword = identity("caller_auth", cp.CallerAuth)
	switch cp.Auth {
	case "", AuthNone, AuthIP, AuthDigest:
		p.Auth = cp.Auth
	default:
		v.addf(path+".auth", "%q: want none, ip or digest", cp.Auth)
		ok = false
	}
	switch cp.Media {
	case "", MediaNone, MediaRTPProxy, MediaBuiltin:
		p.Media = cp.Media
	default:
		v.addf(path+".media", "%q: want none, rtpproxy or builtin", cp.Media)
		ok = false
	}
	switch cp.Redirect {
	case "", RedirectRelay, RedirectFollow:
		p.Redirect = cp.Redirect
	default:
		v.addf(path+".redirect", "%q: want relay or follow", cp.Redirect)
		ok = false
	}
	p.Accounting, p.Prepaid = cp.Accounting, cp.Prepaid
	return ok
}

// ParseNextHop parses a next hop, "host:port" with an optional
// ";transport=udp|tcp", into a gateway address and transport.
func ParseNextHop(s string) (address, transport string, err error) {
	hp, params, _ := strings.Cut(strings.TrimSpace(s), ";")
	transport = "udp"
	if params != "" {
		k, val, _ := strings.Cut(params, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "transport") {
			return "", "", fmt.Errorf("next hop %q: only a transport parameter is allowed", s)
		}
		transport = strings.ToLower(strings.TrimSpace(val))
		if transport != "udp" && transport != "tcp" {
			return "", "", fmt.Errorf("next hop %q: transport %q: want udp or tcp", s, val)
		}
	}
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		host, port = hp, "5060"
		if inner, ok := strings.CutPrefix(hp, "["); ok {
			host, _ = strings.CutSuffix(inner, "]")
		}
	}
	if host == "" || strings.ContainsAny(host, " \t@;[]") {
		return "", "", fmt.Errorf("next hop %q: want host:port", s)
	}
	if strings.Contains(host, ":") {
		if _, err := netip.ParseAddr(host); err != nil {
			return "", "", fmt.Errorf("next hop %q: %q is not an IPv6 address", s, host)
		}
	}
	if n, perr := strconv.Atoi(port); perr != nil || n <= 0 || n > 65535 {
		return "", "", fmt.Errorf("next hop %q: bad port %q", s, port)
	}
	return net.JoinHostPort(host, port), transport, nil
}

// ParseOutboundProxy parses an outbound proxy's SIP URI ("sip:host[:port]"
// with an optional ";transport=tcp") into where requests go and how.
func ParseOutboundProxy(s string) (address, transport string, err error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "sip:")
	if !ok {
		return "", "", fmt.Errorf("outbound proxy %q: want a sip: URI", s)
	}
	if _, host, found := strings.Cut(rest, "@"); found {
		rest = host
	}
	hp, params, _ := strings.Cut(rest, ";")
	transport = "udp"
	for p := range strings.SplitSeq(params, ";") {
		if k, val, _ := strings.Cut(p, "="); strings.EqualFold(k, "transport") {
			transport = strings.ToLower(val)
		}
	}
	return ParseNextHop(hp + ";transport=" + transport)
}

// ParseReplyTranslate parses SEMS's reply_translate:
// "603=>488 Not acceptable here|600=>406 Not Acceptable".
func ParseReplyTranslate(s string) (map[int]Reply, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[int]Reply{}
	for i, item := range strings.Split(s, "|") {
		from, to, found := strings.Cut(item, "=>")
		if !found {
			return nil, fmt.Errorf("entry %d %q: want code=>code reason", i+1, item)
		}
		code, err := finalCode(strings.TrimSpace(from))
		if err != nil {
			return nil, fmt.Errorf("entry %d %q: %w", i+1, item, err)
		}
		rep, err := ParseStatus(to)
		if err != nil {
			return nil, fmt.Errorf("entry %d %q: %w", i+1, item, err)
		}
		out[code] = rep
	}
	return out, nil
}

// ParseStatus parses "488 Not acceptable here" into a final response.
func ParseStatus(s string) (Reply, error) {
	code, reason, _ := strings.Cut(strings.TrimSpace(s), " ")
	n, err := finalCode(code)
	if err != nil {
		return Reply{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Reply{}, fmt.Errorf("%q: a reason phrase is needed after the code", s)
	}
	return Reply{Code: n, Reason: reason}, nil
}

func finalCode(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 300 || n > 699 {
		return 0, fmt.Errorf("%q: want a final failure code 300-699", s)
	}
	return n, nil
}

// CallLimit is SEMS's parallel-calls control (cc_pcalls) as written: at
// most MaxCalls calls up at once per value of Key, a pattern such as "$fu"
// or "$si". The count is shared by every profile whose key gives the same
// value and survives reloads; RefuseWith ("code reason", a pattern)
// answers the calls over it (default "402 Too Many Simultaneous Calls", as
// SEMS).
type CallLimit struct {
	Key        string `yaml:"key"`
	MaxCalls   int    `yaml:"max_calls"`
	RefuseWith string `yaml:"refuse_with"`
}

// ProfileLimit is a compiled CallLimit.
type ProfileLimit struct {
	Key        *profile.Pattern
	MaxCalls   int
	RefuseWith *profile.Pattern // "code reason"; nil: DefaultLimitRefusal
}

// DefaultLimitRefusal is what SEMS's cc_pcalls answers a call over its limit.
var DefaultLimitRefusal = Reply{Code: 402, Reason: "Too Many Simultaneous Calls"}

// compileShaping compiles the profile's SDP and message shaping options and
// its call limit.
func (v *validator) compileShaping(path string, cp *CallProfile, p *Profile, pat func(option, s string) *profile.Pattern) bool {
	ok := true
	prefs := []struct {
		option string
		list   []string
	}{{"codec_preference", cp.CodecPreference}, {"codec_preference_aleg", cp.CodecPreferenceALeg}}
	for _, pref := range prefs {
		for i, c := range pref.list {
			if strings.TrimSpace(c) == "" || strings.ContainsAny(c, " \t") {
				v.addf(fmt.Sprintf("%s.%s[%d]", path, pref.option, i), "%q: want a codec name or payload type", c)
				ok = false
			}
		}
	}
	p.CodecPreference, p.CodecPreferenceALeg = cp.CodecPreference, cp.CodecPreferenceALeg
	p.SDPAnonymize = cp.SDPAnonymize
	p.MessageFilter = FilterNone
	switch cp.MessageFilter {
	case "", FilterNone, FilterTransparent:
	case FilterWhitelist, FilterBlacklist:
		p.MessageFilter = cp.MessageFilter
		p.MessageList = make(map[string]bool, len(cp.MessageList))
		for i, m := range cp.MessageList {
			m = strings.ToUpper(strings.TrimSpace(m))
			option := fmt.Sprintf("%s.message_list[%d]", path, i)
			switch {
			case !isToken(m):
				v.addf(option, "%q: want a SIP method name", cp.MessageList[i])
				ok = false
			case cp.MessageFilter == FilterBlacklist && (m == "ACK" || m == "BYE" || m == "CANCEL"):
				v.addf(option, "%s is never filtered: a call must always be acknowledged and ended", m)
				ok = false
			}
			p.MessageList[m] = true
		}
	default:
		v.addf(path+".message_filter", "%q: want transparent, whitelist or blacklist", cp.MessageFilter)
		ok = false
	}
	if l := cp.Limit; l != nil {
		lp := &ProfileLimit{MaxCalls: l.MaxCalls}
		if strings.TrimSpace(l.Key) == "" {
			v.addf(path+".limit.key", "a limit needs a key, e.g. \"$fu\" or \"$si\"")
			ok = false
		} else if lp.Key = pat("limit.key", l.Key); lp.Key == nil {
			ok = false
		}
		if l.MaxCalls < 1 {
			v.addf(path+".limit.max_calls", "%d: want at least 1 (refuse_with refuses every call)", l.MaxCalls)
			ok = false
		}
		if l.RefuseWith != "" {
			if lp.RefuseWith = pat("limit.refuse_with", l.RefuseWith); lp.RefuseWith == nil {
				ok = false
			} else if text, fixed := lp.RefuseWith.Literal(); fixed {
				if _, err := ParseStatus(text); err != nil {
					v.addf(path+".limit.refuse_with", "%v", err)
					ok = false
				}
			}
		}
		p.Limit = lp
	}
	return ok
}

// isToken reports whether s is a SIP token (RFC 3261 25.1), as a method is.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
