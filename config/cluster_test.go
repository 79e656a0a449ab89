package config

import (
	"strings"
	"testing"
)

// TestClusterNode: the node name defaults to a valid one and a name that
// would need quoting somewhere it lands is refused where it is written.
func TestClusterNode(t *testing.T) {
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
