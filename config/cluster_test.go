package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestClusterNode: the node name defaults to a valid one and a name that
// would need quoting somewhere it lands is refused where it is written.
func TestClusterNode(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte("cluster:\n  node: sw-2.fra\n"))
	if err != nil || c.Cluster.Node != "sw-2.fra" {
		t.Fatalf("node = %q, %v", c.Cluster.Node, err)
	}
	c, err = Parse([]byte("sip:\n  user_agent: x\n"))
	if err != nil || !nodeName.MatchString(c.Cluster.Node) {
		t.Fatalf("default node = %q, %v", c.Cluster.Node, err)
	}
	_, err = Parse([]byte("cluster:\n  node: \"a b\"\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2, column 9: cluster.node") {
		t.Fatalf("err = %v, want cluster.node refused at line 2", err)
	}
}

// TestTrustedProxies: addresses become single-address prefixes, prefixes
// are kept masked, anything else is refused where it is written.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte("cluster:\n  trusted_proxies: [10.1.2.3, 192.0.2.77/24, \"::ffff:127.0.0.5\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(c.Cluster.TrustedProxies())
	if got != "[10.1.2.3/32 192.0.2.0/24 127.0.0.5/32]" {
		t.Errorf("trusted = %s", got)
	}
	_, err = Parse([]byte("cluster:\n  trusted_proxies: [10.1.2.3, kamailio]\n"))
	if err == nil || !strings.Contains(err.Error(), "cluster.trusted_proxies[1]") {
		t.Errorf("err = %v, want trusted_proxies[1] refused", err)
	}
}
