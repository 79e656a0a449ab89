// Package routing holds the gateways and routes that operators manage from
// the web UI and the API: their types, their validation (one message per
// field, so a form can say what to fix) and all their SQL in PostgreSQL,
// and Follow, which hands the switch the enabled routes within a second of
// a change without a restart.
package routing

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tollgate/tollgate/config"
)

// Gateway is a next hop calls can be sent to.
type Gateway struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Address   string `json:"address"`   // host:port
	Transport string `json:"transport"` // udp, tcp or tls
	UDPOnly   bool   `json:"udp_only"`
	AuthUser  string `json:"auth_user"`
	// AuthPassword is write-only: it is never read back out of the
	// store, so that neither the API, the UI nor the audit log shows it.
	// An update without one keeps the stored password.
	AuthPassword string `json:"auth_password,omitempty"`
	HasPassword  bool   `json:"auth_password_set"`
	// Probe sends the gateway OPTIONS; while it does not answer, the
	// hunt skips it (config.Gateway.Probe).
	Probe bool `json:"probe"`
	// MaxCalls and MaxCPS are the gateway's capacity and pace, per
	// Tollgate (config.Gateway); 0: no limit.
	MaxCalls int     `json:"max_calls"`
	MaxCPS   float64 `json:"max_cps"`
	// Media is the media mode of the attempts sent to the gateway: none,
	// rtpproxy or builtin; "" keeps the route's (config.Gateway.Media).
	Media     string    `json:"media"`
	Enabled   bool      `json:"enabled"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Route sends the calls whose called number starts with Prefix to its
// gateways, hunted in order. CallerPrefix, Source, Interface and
// SelectedProfile narrow it to some of those calls and Priority ranks it
// among the routes that match, as config.Route's fields of the same names
// do.
type Route struct {
	ID           int64    `json:"id"`
	Name         string   `json:"name"`
	Prefix       string   `json:"prefix"`
	CallerPrefix string   `json:"caller_prefix"`
	Source       []string `json:"source"` // IPs and CIDR blocks, canonical and sorted
	Interface    string   `json:"interface"`
	// SelectedProfile is the call profile the profile selectors must have
	// chosen for the call; "": any.
	SelectedProfile string   `json:"selected_profile"`
	Priority        int      `json:"priority"`
	Gateways        []string `json:"gateways"` // gateway names, or "group:NAME" for a gateway group, in hunt order
	// HuntStop are the final codes after which no further gateway is tried.
	HuntStop []int `json:"hunt_stop"`
	// NoProgress and MaxRing are the route's timers; 0 takes the
	// configuration file's timers.no_progress and timers.max_ring.
	NoProgress Duration  `json:"no_progress"`
	MaxRing    Duration  `json:"max_ring"`
	Enabled    bool      `json:"enabled"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// NewGateway and NewRoute are what a create starts from: what the request
// leaves out takes these values.
func NewGateway() Gateway { return Gateway{Transport: "udp", Enabled: true} }
func NewRoute() Route {
	return Route{HuntStop: []int{486, 600, 603}, Source: []string{}, Enabled: true}
}

// Duration is a time.Duration written as Go writes it ("5s", "1m30s") in
// JSON, forms and CSV, as the configuration file does.
type Duration time.Duration

func (d Duration) String() string {
	if d == 0 {
		return ""
	}
	return time.Duration(d).String()
}

// MarshalJSON writes the duration as a string, "0s" for none.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string; "" and "0s" mean none.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration string such as "5s"`)
	}
	v, err := ParseDuration(s)
	*d = v
	return err
}

// ParseDuration reads "5s", "1m30s" or "" (none).
func ParseDuration(s string) (Duration, error) {
	if s = strings.TrimSpace(s); s == "" {
		return 0, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration such as 5s", s)
	}
	return Duration(v), nil
}

// FieldErrors name what is wrong with each field of a gateway or route,
// keyed by its JSON name.
type FieldErrors map[string]string

func (e FieldErrors) Error() string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(e)) {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(k + ": " + e[k])
	}
	return b.String()
}

// Errors of the store that are not a field's fault.
var (
	ErrNotFound = errors.New("not found")
	// ErrInUse refuses to delete a gateway a route still hunts.
	ErrInUse = errors.New("the gateway is used by a route: remove it from the route first")
	// ErrInGroup refuses to delete a gateway a gateway group still holds.
	ErrInGroup = errors.New("the gateway is a member of a gateway group: remove it from the group first")
	// ErrGroupInUse refuses to delete a group a route still hunts.
	ErrGroupInUse = errors.New("the gateway group is used by a route: remove it from the route first")
)

// maxName bounds names, so that lists and audit entries stay readable.
const maxName = 100

func checkName(errs FieldErrors, name string) {
	switch {
	case name == "":
		errs["name"] = "required"
	case utf8.RuneCountInString(name) > maxName:
		errs["name"] = fmt.Sprintf("at most %d characters", maxName)
	case strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		errs["name"] = "printable characters only"
	}
}

// Validate checks a gateway as given by a user, after trimming spaces.
func (g *Gateway) Validate() error {
	g.Name = strings.TrimSpace(g.Name)
	g.Address = strings.TrimSpace(g.Address)
	g.AuthUser = strings.TrimSpace(g.AuthUser)
	errs := FieldErrors{}
	checkName(errs, g.Name)
	if strings.HasPrefix(g.Name, config.GroupPrefix) {
		errs["name"] = fmt.Sprintf("must not start with %q, which names a gateway group in a route", config.GroupPrefix)
	}
	switch g.Media {
	case "", config.MediaNone, config.MediaRTPProxy, config.MediaBuiltin:
	default:
		errs["media"] = fmt.Sprintf("%q: want none, rtpproxy or builtin (empty: the route's)", g.Media)
	}
	if err := checkAddress(g.Address); err != nil {
		errs["address"] = err.Error()
	}
	switch g.Transport {
	case "udp", "tcp", "tls":
	default:
		errs["transport"] = fmt.Sprintf("%q: want udp, tcp or tls", g.Transport)
	}
	if g.UDPOnly && g.Transport != "udp" {
		errs["udp_only"] = "applies to udp gateways only"
	}
	if g.AuthPassword != "" && g.AuthUser == "" {
		errs["auth_user"] = "required with a password"
	}
	if strings.ContainsAny(g.AuthUser, "\x00\r\n\"") {
		errs["auth_user"] = "no quotes or control characters"
	}
	if g.MaxCalls < 0 {
		errs["max_calls"] = "must not be negative (0: no limit)"
	}
	if g.MaxCPS < 0 || g.MaxCPS > config.MaxGatewayCPS || math.IsNaN(g.MaxCPS) {
		errs["max_cps"] = fmt.Sprintf("%v: want 0 (no limit) to %d calls per second", g.MaxCPS, config.MaxGatewayCPS)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func checkAddress(a string) error {
	if a == "" {
		return errors.New("required, as host:port")
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q: want host:port, e.g. 192.0.2.10:5060", a)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port %q: want 1-65535", port)
	}
	if host == "" || strings.ContainsAny(host, " \t;,<>@\"\x00") {
		return fmt.Errorf("host %q: want an IP address or a host name", host)
	}
	return nil
}

// Validate checks a route as given by a user, after trimming spaces, and
// writes its sources canonical and sorted, so that two routes of the same
// sources written differently are seen to match the same calls.
func (r *Route) Validate() error {
	r.Name = strings.TrimSpace(r.Name)
	r.Prefix = strings.TrimSpace(r.Prefix)
	r.CallerPrefix = strings.TrimSpace(r.CallerPrefix)
	r.Interface = strings.TrimSpace(r.Interface)
	r.SelectedProfile = strings.TrimSpace(r.SelectedProfile)
	errs := FieldErrors{}
	checkName(errs, r.Name)
	if strings.Trim(r.Prefix, "0123456789+*#") != "" {
		errs["prefix"] = fmt.Sprintf("%q: want digits, +, * or # (empty: every number)", r.Prefix)
	}
	if strings.Trim(r.CallerPrefix, "0123456789+*#") != "" {
		errs["caller_prefix"] = fmt.Sprintf("%q: want digits, +, * or # (empty: any caller)", r.CallerPrefix)
	}
	if err := r.canonicalSources(); err != nil {
		errs["source"] = err.Error()
	}
	if len(r.Interface) > maxName || strings.IndexFunc(r.Interface, func(c rune) bool { return !unicode.IsPrint(c) || unicode.IsSpace(c) }) >= 0 {
		errs["interface"] = fmt.Sprintf("%q: want an interface name (empty: any)", r.Interface)
	}
	if len(r.SelectedProfile) > maxName || strings.IndexFunc(r.SelectedProfile, func(c rune) bool { return !unicode.IsPrint(c) || unicode.IsSpace(c) }) >= 0 {
		errs["selected_profile"] = fmt.Sprintf("%q: want a profile name (empty: any)", r.SelectedProfile)
	}
	if r.Priority < math.MinInt32 || r.Priority > math.MaxInt32 {
		errs["priority"] = fmt.Sprintf("%d: want %d to %d", r.Priority, math.MinInt32, math.MaxInt32)
	}
	if len(r.Gateways) == 0 {
		errs["gateways"] = "a route needs at least one gateway"
	}
	seen := map[string]bool{}
	for _, g := range r.Gateways {
		if seen[g] {
			errs["gateways"] = fmt.Sprintf("%q is listed twice", g)
		}
		seen[g] = true
	}
	for _, c := range r.HuntStop {
		if c < 300 || c > 699 {
			errs["hunt_stop"] = fmt.Sprintf("%d: want final failure codes 300-699", c)
		}
	}
	if r.NoProgress < 0 {
		errs["no_progress"] = "must not be negative"
	}
	if r.MaxRing < 0 {
		errs["max_ring"] = "must not be negative"
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// canonicalSources reads each source as config.ParseSource does and writes
// it back as an address alone or a block, sorted, without repeats.
func (r *Route) canonicalSources() error {
	out := make([]string, 0, len(r.Source))
	for _, s := range r.Source {
		p, err := config.ParseSource(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		if p.IsSingleIP() {
			out = append(out, p.Addr().String())
		} else {
			out = append(out, p.String())
		}
	}
	slices.Sort(out)
	r.Source = slices.Compact(out)
	return nil
}

// CheckInterface refuses an interface the switch does not have (names are
// the configuration's): a route narrowed to it would never match.
func (r *Route) CheckInterface(names []string) error {
	if r.Interface == "" || slices.Contains(names, r.Interface) {
		return nil
	}
	return FieldErrors{"interface": fmt.Sprintf("%q: no such interface; want one of %s (empty: any)", r.Interface, strings.Join(names, ", "))}
}

// CheckSelectedProfile refuses a selected_profile that is not a profile
// of the configuration (names are its profiles'): the selectors could
// never choose it, so the route would never match.
func (r *Route) CheckSelectedProfile(names []string) error {
	if r.SelectedProfile == "" || slices.Contains(names, r.SelectedProfile) {
		return nil
	}
	want := "no profile is configured"
	if len(names) > 0 {
		want = "want one of " + strings.Join(names, ", ")
	}
	return FieldErrors{"selected_profile": fmt.Sprintf("%q: no such profile; %s (empty: any)", r.SelectedProfile, want)}
}
