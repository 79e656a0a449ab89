package aaa

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CalledMode says what a route does with the dialled number.
type CalledMode int

// Called-number modes of a "Routing:" target.
const (
	CalledKeep    CalledMode = iota // Routing:<host>: keep the dialled number
	CalledReplace                   // Routing:<cld>@<host>: send Called instead
	CalledNone                      // Routing:@<host>: send no user part
)

// Route is one `h323-ivr-in=Routing:...` entry of an Access-Accept, with
// every per-route parameter Sippy B2BUA's billing convention defines.
// Durations and flags that were not given are zero / unset.
type Route struct {
	Called     string
	CalledMode CalledMode
	Host       string // IP or name, without brackets
	Port       int    // 0: the SIP default

	CreditTime    time.Duration // credit-time
	HasCreditTime bool
	// ReauthBefore (reauth) asks the server for more credit this long
	// before the grant ends (reauth.go); HasReauth false leaves it to
	// prepaid.reauthorize_before, and reauth=0 turns it off.
	ReauthBefore      time.Duration
	HasReauth         bool
	Expires           time.Duration // expires: max ring time
	NoProgressExpires time.Duration // np_expires
	HuntStopCodes     []int         // hs_scodes
	ForwardOnFail     bool          // forward_on_fail
	AuthUser          string        // auth=user:pass, digest toward the gateway
	AuthPass          string
	CLI               string   // cli
	CNAM              string   // cnam (URL-unquoted)
	ExtraHeaders      []string // ash, URL-unquoted "Name: value"
	RTPP              *bool    // rtpp=0|1; nil: the profile decides
	GroupTimeout      time.Duration
	GroupSkip         int // gt=<timeout>,<skip>
	BillTo            string
	BillCLI           string
	BillCLD           string
	// Other holds parameters this version does not know, for logging.
	Other map[string]string
}

// ParseRoute parses the text after "Routing:".
func ParseRoute(s string) (Route, error) {
	var r Route
	target, params, _ := strings.Cut(s, ";")
	hostport := target
	if cld, hp, ok := strings.Cut(target, "@"); ok {
		hostport = hp
		r.Called, r.CalledMode = cld, CalledReplace
		if cld == "" {
			r.CalledMode = CalledNone
		}
	}
	if err := r.setHost(hostport); err != nil {
		return Route{}, fmt.Errorf("route %q: %w", s, err)
	}
	for params != "" {
		var kv string
		kv, params, _ = strings.Cut(params, ";")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if err := r.setParam(k, v); err != nil {
			return Route{}, fmt.Errorf("route %q: %s: %w", s, k, err)
		}
	}
	return r, nil
}

func (r *Route) setHost(hp string) error {
	if hp == "" {
		return fmt.Errorf("no host")
	}
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") || strings.Count(hp, ":") == 1 {
		var err error
		if host, port, err = net.SplitHostPort(hp); err != nil {
			if !strings.HasPrefix(hp, "[") || !strings.HasSuffix(hp, "]") {
				return err
			}
			host, port = hp[1:len(hp)-1], ""
		}
	}
	if host == "" || strings.ContainsAny(host, " \t;@") {
		return fmt.Errorf("bad host %q", host)
	}
	r.Host = host
	if port != "" {
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil || p == 0 {
			return fmt.Errorf("bad port %q", port)
		}
		r.Port = int(p)
	}
	return nil
}

func seconds(v string) (time.Duration, error) {
	n, err := strconv.ParseUint(v, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("not whole seconds: %q", v)
	}
	return time.Duration(n) * time.Second, nil
}

func (r *Route) setParam(k, v string) error {
	var err error
	switch k {
	case "credit-time":
		r.CreditTime, err = seconds(v)
		r.HasCreditTime = err == nil
	case "reauth":
		r.ReauthBefore, err = seconds(v)
		r.HasReauth = err == nil
	case "expires":
		r.Expires, err = seconds(v)
	case "np_expires":
		r.NoProgressExpires, err = seconds(v)
	case "hs_scodes":
		for c := range strings.SplitSeq(v, ",") {
			n, perr := strconv.Atoi(strings.TrimSpace(c))
			if perr != nil || n < 100 || n > 699 {
				return fmt.Errorf("bad SIP code %q", c)
			}
			r.HuntStopCodes = append(r.HuntStopCodes, n)
		}
	case "forward_on_fail":
		r.ForwardOnFail = v == "" || v == "1" || strings.EqualFold(v, "yes") || strings.EqualFold(v, "true")
	case "auth":
		user, pass, ok := strings.Cut(v, ":")
		if !ok || user == "" {
			return fmt.Errorf("want user:pass")
		}
		r.AuthUser, r.AuthPass = user, pass
	case "cli":
		r.CLI = v
	case "cnam":
		r.CNAM, err = url.PathUnescape(v)
	case "ash":
		var h string
		if h, err = url.PathUnescape(v); err == nil {
			if name, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(h, "\r\n") {
				return fmt.Errorf("not a header: %q", h)
			}
			r.ExtraHeaders = append(r.ExtraHeaders, h)
		}
	case "rtpp":
		var b bool
		switch v {
		case "0":
		case "1":
			b = true
		default:
			return fmt.Errorf("want 0 or 1, got %q", v)
		}
		r.RTPP = &b
	case "gt":
		t, skip, hasSkip := strings.Cut(v, ",")
		if r.GroupTimeout, err = seconds(t); err == nil && hasSkip {
			var n uint64
			n, err = strconv.ParseUint(skip, 10, 16)
			r.GroupSkip = int(n)
		}
	case "bill-to":
		r.BillTo = v
	case "bill-cli":
		r.BillCLI = v
	case "bill-cld":
		r.BillCLD = v
	default:
		if r.Other == nil {
			r.Other = map[string]string{}
		}
		r.Other[k] = v
	}
	return err
}
