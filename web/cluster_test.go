package web

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/billing"
	"github.com/tollgate/tollgate/cluster"
	"github.com/tollgate/tollgate/internal/testenv"
	"github.com/tollgate/tollgate/switch/b2bua"
)

// clusterNode is one node of a test cluster: its switch, its side of the
// cluster view and its heartbeat (the shared limits'), on one real Redis.
type clusterNode struct {
	name  string
	sw    *fakeSwitch
	peers *cluster.Peers
}

func startClusterNode(t *testing.T, addr, name string, adm b2bua.Admission) *clusterNode {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	sw := testSwitch(t)
	sw.adm = adm
	n := &clusterNode{name: name, sw: sw, peers: cluster.New(sw, cluster.Options{Redis: rdb, Node: name,
		DeadAfter: 2 * time.Second, Timeout: time.Second})}
	limits := billing.NewShared(billing.SharedConfig{Redis: rdb, Node: name, Timeout: 200 * time.Millisecond,
		Heartbeat: 200 * time.Millisecond, DeadAfter: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { limits.Run(ctx); done <- struct{}{} }()
	go func() { n.peers.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done; rdb.Close() })
	return n
}

func (n *clusterNode) addCall(id, caller string) {
	n.sw.mu.Lock()
	defer n.sw.mu.Unlock()
	n.sw.calls = append(n.sw.calls, b2bua.CallInfo{ID: id, Caller: caller, Called: "441234", State: "connected",
		Setup: time.Now().Add(-time.Minute), Connect: time.Now().Add(-50 * time.Second)})
}

type clusterCalls struct {
	Count int `json:"count"`
	Calls []struct {
		ID, Node, Caller string
	} `json:"calls"`
	Nodes []struct {
		Node      string `json:"node"`
		Admission string `json:"admission"`
		Calls     int    `json:"calls"`
		Error     string `json:"error"`
	} `json:"nodes"`
	Warning string `json:"warning"`
}

// TestClusterView: three nodes on one Redis. The API and the calls page of
// one of them show the calls and the health of all three, each call with
// its node; an operator kills a call on another node through it (audited
// here, gone there); a node that stops answering is shown as such; with
// Redis gone the page falls back to the node's own calls and says so.
func TestClusterView(t *testing.T) {
	r := testenv.StartRedis(t)
	a := startClusterNode(t, r.Addr, "sw-a", b2bua.Admitting)
	b := startClusterNode(t, r.Addr, "sw-b", b2bua.Draining)
	c := startClusterNode(t, r.Addr, "sw-c", b2bua.Admitting)
	a.addCall("00000000-0000-4000-8000-00000000000a", "alice")
	b.addCall("00000000-0000-4000-8000-00000000000b", "bob")
	b.addCall("00000000-0000-4000-8000-0000000000b2", "bert")
	c.addCall("00000000-0000-4000-8000-00000000000c", "carol")
	e := newEnvWith(t, func(o *Options) { o.Switch, o.Cluster = a.sw, a.peers })
	op := e.login("operator")

	get := func() clusterCalls {
		t.Helper()
		res := op.get("/api/v1/calls")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("calls: %d %s", res.StatusCode, res.body)
		}
		var cc clusterCalls
		if err := json.Unmarshal([]byte(res.body), &cc); err != nil {
			t.Fatal(err)
		}
		return cc
	}
	var cc clusterCalls
	testenv.Eventually(t, 10*time.Second, "all three nodes answering", func() bool {
		cc = get()
		return len(cc.Nodes) == 3 && cc.Nodes[2].Error == "" && cc.Nodes[0].Error == ""
	})
	byNode := map[string][]string{}
	for _, call := range cc.Calls {
		byNode[call.Node] = append(byNode[call.Node], call.Caller)
	}
	if cc.Count != 4 || len(byNode["sw-a"]) != 1 || len(byNode["sw-b"]) != 2 || len(byNode["sw-c"]) != 1 {
		t.Fatalf("calls by node %v (count %d), want alice on sw-a, bob and bert on sw-b, carol on sw-c", byNode, cc.Count)
	}
	for _, n := range cc.Nodes {
		want := map[string]string{"sw-a": "admitting", "sw-b": "draining", "sw-c": "admitting"}[n.Node]
		if n.Admission != want || n.Calls != map[string]int{"sw-a": 1, "sw-b": 2, "sw-c": 1}[n.Node] {
			t.Errorf("node %+v, want %s", n, want)
		}
	}
	// The filter runs on every node.
	if res := op.get("/api/v1/calls?q=BER"); !strings.Contains(res.body, `"bert"`) || strings.Contains(res.body, `"bob"`) {
		t.Errorf("filtered: %s", res.body)
	}
	page := op.get("/calls")
	for _, want := range []string{`<td>sw-b</td>`, `name="node" value="sw-c"`, `data-node="sw-b"`, "draining"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("calls page lacks %q", want)
		}
	}
	var dash clusterCalls
	if err := json.Unmarshal([]byte(op.get("/api/v1/stats?hours=0").body), &dash); err != nil || len(dash.Nodes) != 3 || dash.Nodes[1].Calls != 2 {
		t.Errorf("dashboard stats without the nodes' load: %+v %v", dash.Nodes, err)
	}
	if page := op.get("/"); !strings.Contains(page.body, `id="cluster-load"`) || !strings.Contains(page.body, `data-node="sw-c"`) {
		t.Error("dashboard page without the nodes' load")
	}

	// Killed from sw-a's API, on sw-b.
	if res := op.send(http.MethodDelete, "/api/v1/calls/00000000-0000-4000-8000-00000000000b?node=sw-b"); res.StatusCode != http.StatusOK {
		t.Fatalf("kill on sw-b: %d %s", res.StatusCode, res.body)
	}
	if calls := b.sw.Snapshot(); len(calls) != 1 || calls[0].Caller != "bert" {
		t.Fatalf("sw-b's calls after the kill: %+v", calls)
	}
	if res := op.send(http.MethodDelete, "/api/v1/calls/00000000-0000-4000-8000-00000000000b?node=sw-b"); res.StatusCode != http.StatusNotFound {
		t.Errorf("killed again: %d, want 404", res.StatusCode)
	}
	if res := op.send(http.MethodDelete, "/api/v1/calls/00000000-0000-4000-8000-00000000000b?node=sw-z"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown node: %d, want 404", res.StatusCode)
	}
	if res := op.send(http.MethodDelete, "/api/v1/calls/00000000-0000-4000-8000-00000000000b?node=sw%20b"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad node name: %d, want 400", res.StatusCode)
	}
	// The form, as the page's Kill button sends it.
	if res := op.post("/calls/00000000-0000-4000-8000-00000000000c/kill", map[string][]string{"node": {"sw-c"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("kill form on sw-c: %d %s", res.StatusCode, res.body)
	}
	if calls := c.sw.Snapshot(); len(calls) != 0 {
		t.Fatalf("sw-c's calls after the kill: %+v", calls)
	}
	audit := e.auditActions(t)
	if !slices.Contains(audit, "call kill operator 00000000-0000-4000-8000-00000000000b") ||
		!slices.Contains(audit, "call kill operator 00000000-0000-4000-8000-00000000000c") {
		t.Errorf("audit log %v, want both kills", audit)
	}
	// A viewer sees the cluster but kills nothing.
	if res := e.login("viewer").send(http.MethodDelete, "/api/v1/calls/00000000-0000-4000-8000-0000000000b2?node=sw-b"); res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer kill: %d, want 403", res.StatusCode)
	}

	// Redis gone: this node's calls, and a warning.
	r.Stop()
	cc = get()
	if cc.Warning == "" || len(cc.Calls) != 1 || cc.Calls[0].Node != "sw-a" {
		t.Fatalf("without Redis: %+v, want sw-a's call and a warning", cc)
	}
	if page := op.get("/calls"); !strings.Contains(page.body, `id="cluster-warning"`) {
		t.Error("calls page without Redis does not say the list is partial")
	}
}
