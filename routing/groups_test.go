package routing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/config"
)

func TestGroupValidateNamesEachField(t *testing.T) {
	g := Group{Name: "", Members: []GroupMember{{Gateway: "a", Weight: 1001}, {Gateway: "a"}}}
	var fe FieldErrors
	if !errors.As(g.Validate(), &fe) || fe["name"] == "" || fe["members"] == "" {
		t.Fatalf("invalid group: %v", g.Validate())
	}
	for _, bad := range [][]GroupMember{nil, {{Gateway: " "}}, {{Gateway: "a", Weight: -1}}, {{Gateway: "a", Priority: 1001}}, {{Gateway: "a"}, {Gateway: "a"}}} {
		g := Group{Name: "g", Members: bad}
		if !errors.As(g.Validate(), &fe) || fe["members"] == "" {
			t.Errorf("members %+v passed", bad)
		}
	}
	var m GroupMember
	if err := json.Unmarshal([]byte(`{"gateway": "a"}`), &m); err != nil || m.Weight != config.DefaultGroupWeight {
		t.Errorf("a member without a weight: %+v, %v; want weight %d", m, err, config.DefaultGroupWeight)
	}
	gw := Gateway{Name: "group:x", Address: "127.0.0.1:5060", Transport: "udp", Media: "video"}
	if !errors.As(gw.Validate(), &fe) || fe["name"] == "" || fe["media"] == "" {
		t.Errorf("gateway named group:x with media video: %v", gw.Validate())
	}
}

// TestGroupsInStoreAndActive: a route hunting a group gets the group's
// enabled members with their weights, tiers and media; a gateway in a
// group and a group in a route cannot be deleted; a group of unknown
// gateways is refused per field.
func TestGroupsInStoreAndActive(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	for _, g := range []Gateway{
		{Name: "a", Address: "127.0.0.1:5071", Transport: "udp", Media: config.MediaNone, Enabled: true},
		{Name: "b", Address: "127.0.0.1:5072", Transport: "tcp", Probe: true, Enabled: true},
		{Name: "c", Address: "127.0.0.1:5073", Transport: "udp", Media: config.MediaBuiltin, Enabled: true},
	} {
		if _, err := s.CreateGateway(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	var fe FieldErrors
	if _, err := s.CreateGroup(ctx, Group{Name: "x", Members: []GroupMember{{Gateway: "nope", Weight: 1}}}); !errors.As(err, &fe) || fe["members"] == "" {
		t.Errorf("a group of an unknown gateway: %v", err)
	}
	g, err := s.CreateGroup(ctx, Group{Name: "carriers", Members: []GroupMember{{Gateway: "a", Weight: 70}, {Gateway: "b", Weight: 30}, {Gateway: "c", Priority: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Members) != 3 || g.Members[0] != (GroupMember{"a", 70, 0}) || g.Members[2] != (GroupMember{"c", 0, 1}) {
		t.Errorf("stored group %+v", g)
	}
	if _, err := s.CreateGroup(ctx, Group{Name: "carriers", Members: []GroupMember{{Gateway: "a", Weight: 1}}}); !errors.As(err, &fe) || fe["name"] == "" {
		t.Errorf("a second group of the same name: %v", err)
	}
	if _, err := s.CreateRoute(ctx, Route{Name: "r", Prefix: "1", Gateways: []string{"group:nope"}, Enabled: true}); !errors.As(err, &fe) || fe["gateways"] == "" {
		t.Errorf("a route of an unknown group: %v", err)
	}
	rt, err := s.CreateRoute(ctx, Route{Name: "uk", Prefix: "44", Gateways: []string{"c", "group:carriers"}, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rt.Gateways) != 2 || rt.Gateways[1] != "group:carriers" {
		t.Errorf("stored route %+v", rt)
	}
	active, err := s.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 1 || len(active[0].Gateways) != 2 || active[0].Gateways[0].Media != config.MediaBuiltin {
		t.Fatalf("active routes %+v", active)
	}
	entry := active[0].Gateways[1]
	if entry.Group != "carriers" || len(entry.Members) != 3 {
		t.Fatalf("group entry %+v", entry)
	}
	if m := entry.Members[0]; m.Gateway.Address != "127.0.0.1:5071" || m.Weight != 70 || m.Gateway.Media != config.MediaNone {
		t.Errorf("first member %+v", m)
	}
	if m := entry.Members[1]; m.Gateway.Transport != "tcp" || !m.Gateway.Probe || m.Weight != 30 {
		t.Errorf("second member %+v", m)
	}
	if m := entry.Members[2]; m.Priority != 1 || m.Weight != 0 {
		t.Errorf("third member %+v", m)
	}

	if _, err := s.DeleteGateway(ctx, mustGateway(t, s, "b").ID); !errors.Is(err, ErrInGroup) {
		t.Errorf("deleting a group's gateway: %v, want ErrInGroup", err)
	}
	if _, err := s.DeleteGroup(ctx, g.ID); !errors.Is(err, ErrGroupInUse) {
		t.Errorf("deleting a group a route hunts: %v, want ErrGroupInUse", err)
	}

	// A disabled member leaves the group's hunt; an edit applies whole.
	b := mustGateway(t, s, "b")
	b.Enabled = false
	if _, _, err := s.UpdateGateway(ctx, b); err != nil {
		t.Fatal(err)
	}
	if active, _ = s.Active(ctx); len(active[0].Gateways[1].Members) != 2 || active[0].Gateways[1].Members[1].Gateway.Address != "127.0.0.1:5073" {
		t.Errorf("a disabled member is still hunted: %+v", active[0].Gateways[1])
	}
	g.Members = []GroupMember{{Gateway: "b", Weight: 5}}
	before, after, err := s.UpdateGroup(ctx, g)
	if err != nil || len(before.Members) != 3 || len(after.Members) != 1 || after.Members[0].Weight != 5 {
		t.Fatalf("update: %v, before %+v after %+v", err, before, after)
	}
	if active, _ = s.Active(ctx); len(active[0].Gateways[1].Members) != 0 {
		t.Errorf("a group of one disabled gateway hunts %+v", active[0].Gateways[1].Members)
	}
	rt.Gateways = []string{"c"}
	if _, _, err := s.UpdateRoute(ctx, rt); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteGroup(ctx, g.ID); err != nil {
		t.Errorf("a group no route uses: %v", err)
	}
	if _, err := s.DeleteGateway(ctx, b.ID); err != nil {
		t.Errorf("a gateway of no group or route: %v", err)
	}
}

func mustGateway(t *testing.T, s *Store, name string) Gateway {
	t.Helper()
	gs, err := s.Gateways(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.Name == name {
			return g
		}
	}
	t.Fatalf("no gateway %s", name)
	return Gateway{}
}

// TestGroupsInCSV: a route's group entry is written and imported as
// "group:NAME" in the gateways cell, beside gateway names.
func TestGroupsInCSV(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.CreateGateway(ctx, Gateway{Name: "a", Address: "127.0.0.1:5070", Transport: "udp", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateGroup(ctx, Group{Name: "carriers", Members: []GroupMember{{Gateway: "a", Weight: 1}}}); err != nil {
		t.Fatal(err)
	}
	rs, err := ReadCSV(strings.NewReader("name,prefix,gateways\nnl,31,group:carriers a\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ImportRoutes(ctx, rs); err != nil {
		t.Fatal(err)
	}
	all, err := s.Routes(ctx)
	if err != nil || len(all) != 1 || !reflect.DeepEqual(all[0].Gateways, []string{"group:carriers", "a"}) {
		t.Fatalf("imported routes %+v, %v", all, err)
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, all); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), ",group:carriers a,") {
		t.Errorf("exported:\n%s", b.String())
	}
	rs, _ = ReadCSV(strings.NewReader("name,prefix,gateways\nbe,32,group:nope\n"))
	var re RowError
	if _, _, err := s.ImportRoutes(ctx, rs); !errors.As(err, &re) || !strings.Contains(err.Error(), "no gateway group named") {
		t.Errorf("an unknown group: %v", err)
	}
}
