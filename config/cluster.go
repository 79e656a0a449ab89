package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"
)

// Cluster is this Tollgate's place among several behind a SIP dispatcher
// (docs/cluster.md). A single server needs none of it beyond the node name,
// which defaults to the host name. Changes need a restart, but for
// trusted_proxies.
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
	// Redis holds what the nodes share: the parallel-call and call-rate
	// limits, cluster-wide, and each node's heartbeat. Without it each
	// node keeps its limits alone. Changes need a restart.
	Redis Redis `yaml:"redis"`
	// Heartbeat is how often a node rewrites its counts in Redis and says
	// it is alive; default 1s.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// DeadAfter is how long after its last heartbeat a node counts as dead:
	// its calls stop counting toward the limits; default 5s, at least two
	// heartbeats.
	DeadAfter time.Duration `yaml:"dead_after"`

	trusted []netip.Prefix // parsed TrustedProxies
}

// Redis is the Redis server of a cluster: one address, or Sentinels that
// name the current primary.
type Redis struct {
	// Address is "host:port" of a single Redis (or of a proxy to one).
	Address string `yaml:"address"`
	// SentinelMaster and Sentinels: the primary's name and the Sentinels'
	// "host:port" addresses, instead of Address, for Redis's own failover.
	SentinelMaster string   `yaml:"sentinel_master"`
	Sentinels      []string `yaml:"sentinels"`
	// Password is the Redis AUTH password (TOLLGATE_CLUSTER_REDIS_PASSWORD
	// overrides it); never logged.
	Password string `yaml:"password"`
	DB       int    `yaml:"db"`
	// Timeout bounds each Redis call a new call waits on; beyond it the
	// call is decided as WhenDown says, never delayed more. Default 10ms.
	Timeout time.Duration `yaml:"timeout"`
	// WhenDown is what happens to a new call while Redis does not answer:
	// open (default) — each node applies limit ÷ live nodes to its own
	// calls; closed — calls subject to a limit are refused with 503.
	WhenDown string `yaml:"when_down"`
}

// Redis fail modes.
const (
	RedisDownOpen   = "open"
	RedisDownClosed = "closed"
)

// Shared reports whether the cluster shares its limits through Redis.
func (c *Cluster) Shared() bool { return c.Redis.Address != "" || len(c.Redis.Sentinels) > 0 }

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
	if c.Heartbeat == 0 {
		c.Heartbeat = time.Second
	}
	if c.DeadAfter == 0 {
		c.DeadAfter = 5 * time.Second
	}
	if c.Redis.Timeout == 0 {
		c.Redis.Timeout = 10 * time.Millisecond
	}
	if c.Redis.WhenDown == "" {
		c.Redis.WhenDown = RedisDownOpen
	}
	if pw := os.Getenv("TOLLGATE_CLUSTER_REDIS_PASSWORD"); pw != "" {
		c.Redis.Password = pw
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
	v.positive("cluster.heartbeat", c.Heartbeat)
	if c.DeadAfter < 2*c.Heartbeat {
		v.addf("cluster.dead_after", "%v: want at least two heartbeats (%v)", c.DeadAfter, 2*c.Heartbeat)
	}
	r := c.Redis
	if r.Timeout <= 0 || r.Timeout > time.Second {
		v.addf("cluster.redis.timeout", "%v: want a positive duration of at most 1s: calls wait on it", r.Timeout)
	}
	if r.WhenDown != RedisDownOpen && r.WhenDown != RedisDownClosed {
		v.addf("cluster.redis.when_down", "%q: want open or closed", r.WhenDown)
	}
	if r.Address != "" && len(r.Sentinels) > 0 {
		v.addf("cluster.redis.sentinels", "give address or sentinels, not both")
	}
	if (len(r.Sentinels) > 0) != (r.SentinelMaster != "") {
		v.addf("cluster.redis.sentinel_master", "sentinels and sentinel_master go together")
	}
	for i, a := range append([]string{r.Address}, r.Sentinels...) {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			path := "cluster.redis.address"
			if i > 0 {
				path = fmt.Sprintf("cluster.redis.sentinels[%d]", i-1)
			}
			v.addf(path, "%q: want host:port", a)
		}
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
