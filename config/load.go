package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a configuration file, with where it is.
type Problem struct {
	Path   string // e.g. routes[1].gateways[0].address
	Line   int    // 1-based; 0 when unknown
	Column int
	Msg    string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d, column %d: %s: %s", p.Line, p.Column, p.Path, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.Path, p.Msg)
}

// Error lists every problem found in a configuration file, so that one
// check-config run shows them all.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem(s)", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Load reads, defaults and validates a configuration file. The error is an
// *Error when the file was readable but wrong.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.File = path
		}
		return nil, err
	}
	c.path = path
	return c, nil
}

// Parse is Load on bytes already read.
func Parse(data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{File: "<input>", Problems: []Problem{yamlProblem(err)}}
	}
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && err.Error() != "EOF" {
		return nil, &Error{File: "<input>", Problems: []Problem{yamlProblem(err)}}
	}
	c.applyDefaults()
	v := validator{pos: map[string][2]int{}}
	v.index(&root, "")
	v.validate(c)
	if len(v.problems) > 0 {
		return nil, &Error{File: "<input>", Problems: v.problems}
	}
	return c, nil
}

// yamlProblem turns a yaml error, whose text carries "line N:", into a Problem.
func yamlProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{Path: "(file)", Msg: msg}
	if _, rest, ok := strings.Cut(msg, "line "); ok {
		num, _, _ := strings.Cut(rest, ":")
		if n, err := strconv.Atoi(num); err == nil {
			p.Line, p.Column = n, 1
		}
	}
	return p
}

// validator checks a decoded Config and remembers where each path was in
// the file, so that a problem found on the struct points at the YAML text.
type validator struct {
	pos      map[string][2]int
	problems []Problem
}

func (v *validator) index(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			v.index(c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			v.pos[p] = [2]int{val.Line, val.Column}
			v.index(val, p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			v.pos[p] = [2]int{c.Line, c.Column}
			v.index(c, p)
		}
	}
}

func (v *validator) addf(path, format string, args ...any) {
	p := Problem{Path: path, Msg: fmt.Sprintf(format, args...)}
	// A defaulted value has no position of its own: point at its parent.
	for q := path; q != ""; {
		if at, ok := v.pos[q]; ok {
			p.Line, p.Column = at[0], at[1]
			break
		}
		if i := strings.LastIndexAny(q, ".["); i > 0 {
			q = q[:i]
		} else {
			q = ""
		}
	}
	v.problems = append(v.problems, p)
}

func (v *validator) validate(c *Config) {
	seen := map[string]bool{}
	for i, s := range c.SIP.Listen {
		l, err := parseListen(s)
		path := fmt.Sprintf("sip.listen[%d]", i)
		if err != nil {
			v.addf(path, "%v", err)
			continue
		}
		if seen[l.Transport+l.Addr()] {
			v.addf(path, "listed twice")
		}
		seen[l.Transport+l.Addr()] = true
		l.VerifyClient = slices.Contains(c.SIP.TLSVerifyClient, s)
		l.Interface, l.Public = DefaultInterface, c.SIP.PublicAddress
		c.SIP.listeners = append(c.SIP.listeners, l)
	}
	v.validateInterfaces(c, seen)
	v.validateSIPTLS(c)
	v.validateCluster(&c.Cluster)
	v.validateRegistration(&c.Registration)
	v.validateRuntime(&c.Runtime)
	if c.SIP.UDPSockets < 0 || c.SIP.UDPSockets > 64 {
		v.addf("sip.udp_sockets", "%d: want 0 (one per CPU) to 64", c.SIP.UDPSockets)
	}
	if c.SIP.ConnectionIdle < time.Second {
		v.addf("sip.connection_idle", "%v: want at least 1s", c.SIP.ConnectionIdle)
	}
	for _, h := range []struct{ key, name string }{
		{"sip.options_transcoder_in_stats_hdr", c.SIP.OptionsTranscoderInStatsHdr},
		{"sip.options_transcoder_out_stats_hdr", c.SIP.OptionsTranscoderOutStatsHdr},
	} {
		if h.name != "" && !isToken(h.name) {
			v.addf(h.key, "%q: want a header name (a SIP token, e.g. P-Transcoder-Stats-In)", h.name)
		}
	}
	if c.Limits.MaxCalls < 0 {
		v.addf("limits.max_calls", "must not be negative")
	}
	v.positive("limits.retry_after", c.Limits.RetryAfter)
	v.positive("timers.no_progress", c.Timers.NoProgress)
	v.positive("timers.max_ring", c.Timers.MaxRing)
	v.positive("timers.ack_timeout", c.Timers.ACKTimeout)
	v.positive("timers.drain", c.Timers.Drain)
	v.positive("timers.probe_interval", c.Timers.ProbeInterval)
	if c.Timers.MaxDuration < 0 {
		v.addf("timers.max_duration", "must not be negative")
	}
	matches := map[string]int{}
	ifaces := c.SIP.InterfaceNames()
	profileNames := c.ProfileNames()
	for i := range c.Routes {
		r := &c.Routes[i]
		path := fmt.Sprintf("routes[%d]", i)
		if strings.Trim(r.Prefix, "0123456789+*#") != "" {
			v.addf(path+".prefix", "%q: want digits, +, * or #", r.Prefix)
		}
		if strings.Trim(r.CallerPrefix, "0123456789+*#") != "" {
			v.addf(path+".caller_prefix", "%q: want digits, +, * or # (empty: any caller)", r.CallerPrefix)
		}
		for j, s := range r.Source {
			if _, err := ParseSource(s); err != nil {
				v.addf(fmt.Sprintf("%s.source[%d]", path, j), "%v", err)
			}
		}
		if r.Interface != "" && !slices.Contains(ifaces, r.Interface) {
			v.addf(path+".interface", "%q: no such interface; want one of %s", r.Interface, strings.Join(ifaces, ", "))
		}
		if r.Priority < math.MinInt32 || r.Priority > math.MaxInt32 {
			v.addf(path+".priority", "%d: want %d to %d", r.Priority, math.MinInt32, math.MaxInt32)
		}
		if r.SelectedProfile != "" && !slices.Contains(profileNames, r.SelectedProfile) {
			v.addf(path+".selected_profile", "%q: no such profile; want one of the names in profiles (%s)", r.SelectedProfile, strings.Join(profileNames, ", "))
		}
		if j, dup := matches[matchKey(r)]; dup {
			v.addf(path+".prefix", "routes[%d] already matches the same calls (same prefix, caller_prefix, source, interface and selected_profile): one of them would never be chosen", j)
		}
		matches[matchKey(r)] = i
		if len(r.Gateways) == 0 && r.Auth == AuthNone { // else RADIUS may give the routes
			v.addf(path+".gateways", "a route needs at least one gateway")
		}
		for j, g := range r.Gateways {
			v.checkRouteEntry(fmt.Sprintf("%s.gateways[%d]", path, j), g)
		}
		for j, code := range r.HuntStop {
			if code < 300 || code > 699 {
				v.addf(fmt.Sprintf("%s.hunt_stop[%d]", path, j), "%d: want a final failure code 300-699", code)
			}
		}
		if r.Redirect != RedirectRelay && r.Redirect != RedirectFollow {
			v.addf(path+".redirect", "%q: want relay or follow", r.Redirect)
		}
		if r.MaxRedirects < 0 {
			v.addf(path+".max_redirects", "must not be negative")
		}
		v.positive(path+".no_progress", r.NoProgress)
		v.positive(path+".max_ring", r.MaxRing)
		if r.MaxDuration < 0 {
			v.addf(path+".max_duration", "must not be negative")
		}
	}
	v.validateGatewayGroups(c)
	v.validateCDR(&c.CDR)
	v.validateMedia(c)
	v.validateRadius(c)
	v.validateWeb(&c.Web)
	v.validateProfiles(c)
	v.validateProfileInterfaces(c)
	v.validateRegistrationInterface(c)
	v.validateAllDialogTimers(c)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.addf("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		v.addf("log.format", "%q: want text or json", c.Log.Format)
	}
	c.table = newRouteTable(c.Routes)
}

func (v *validator) positive(path string, d interface{ Seconds() float64 }) {
	if d.Seconds() <= 0 {
		v.addf(path, "must be a positive duration such as 5s")
	}
}
