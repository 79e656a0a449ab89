package config

import (
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"
)

// Cluster is this Tollgate's place among several behind a SIP dispatcher
// (docs/cluster.md). A single server needs none of it beyond the node name,
// which defaults to the host name. Changes need a restart.
type Cluster struct {
	// Node names this Tollgate in every CDR (the node column), RADIUS record
	// (NAS-Identifier and h323-gw-id), log line (the node attribute) and
	// metric (the node label), so that records from several nodes in one
	// database or billing server tell where each call was switched.
	// Default: the machine's host name.
	Node string `yaml:"node"`
	// TrustedProxyList are the front proxies (the dispatcher) whose
	// X-Orig-IP and X-Orig-Port headers name the real caller: IP addresses
	// or CIDR prefixes. The caller's address read from them is what IP
	// authorisation, limits, $si/$sp and the CDR see; from any other source
	// those headers are ignored. Empty: every request's caller is its
	// source. Applied on reload.
	TrustedProxyList []string `yaml:"trusted_proxies"`

	trusted []netip.Prefix // parsed TrustedProxies
}

// TrustedProxies are the parsed trusted_proxies, single addresses as /32 or /128.
func (c *Cluster) TrustedProxies() []netip.Prefix { return c.trusted }

// nodeName is what a node name may be: it lands in SQL rows, RADIUS
// strings, Prometheus label values and Redis keys, so nothing that needs
// quoting in any of them.
var nodeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func (c *Cluster) applyDefaults() {
	if c.Node == "" {
		c.Node = defaultNode()
	}
}

// defaultNode is the host name up to its first dot, when it is a valid node
// name; "tollgate" otherwise, which an operator of several nodes must
// replace.
func defaultNode() string {
	h, err := os.Hostname()
	if err != nil {
		return "tollgate"
	}
	h, _, _ = strings.Cut(h, ".")
	if !nodeName.MatchString(h) {
		return "tollgate"
	}
	return h
}

func (v *validator) validateCluster(c *Cluster) {
	if !nodeName.MatchString(c.Node) {
		v.addf("cluster.node", "%q: want 1 to 63 letters, digits, dots, dashes or underscores, starting with a letter or digit", c.Node)
	}
	for i, s := range c.TrustedProxyList {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				v.addf(fmt.Sprintf("cluster.trusted_proxies[%d]", i), "%q: want an IP address or a CIDR prefix", s)
				continue
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.trusted = append(c.trusted, p.Masked())
	}
}
