package rtpproxyctl

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// TestFamilyModifiers: the commands for IPv6 and mixed-family SDPs, as
// an rtpproxy reads them: 6 for an IPv6 address, r with the receiving
// party's address when its family differs (IPv6 in brackets), nothing
// more when the families agree.
func TestFamilyModifiers(t *testing.T) {
	t.Parallel()
	emu := newEmulator()
	var sent []string
	emu.script(func(cmd string) (string, bool) {
		if strings.HasPrefix(cmd, "U") || strings.HasPrefix(cmd, "L") {
			sent = append(sent, cmd)
			if strings.Contains(cmd, "r[") || (strings.HasPrefix(cmd, "U6") && !strings.Contains(cmd, "r127")) {
				return "30000 ::1 6", true
			}
			return "30002 127.0.0.1", true
		}
		return "", false
	})
	r := startUDP(t, emu)
	p := newPool(t, Config{Relays: []RelayConfig{{Address: r.address()}}})
	v6 := netip.MustParseAddr("2001:db8::7")
	for i, tc := range []struct {
		addr, toward netip.Addr
		want         string
		ep           Endpoint
	}{
		{lo, v6, "Uc0r[2001:db8::7] c-1 127.0.0.1 4000 a;1", Endpoint{netip.MustParseAddr("::1"), 30000}},
		{v6, lo, "U6c0r127.0.0.1 c-2 2001:db8::7 4000 a;1", Endpoint{lo, 30002}},
		{v6, v6, "U6c0 c-3 2001:db8::7 4000 a;1", Endpoint{netip.MustParseAddr("::1"), 30000}},
		{lo, lo, "Uc0 c-4 127.0.0.1 4000 a;1", Endpoint{lo, 30002}},
		{lo, netip.Addr{}, "Uc0 c-5 127.0.0.1 4000 a;1", Endpoint{lo, 30002}},
	} {
		sent = sent[:0]
		m := p.Open(Dialog{CallID: "c-" + strconv.Itoa(i+1), CallerTag: "a"})
		eps, err := m.Offer(ctx(t), Caller, []Stream{{Addr: tc.addr, Port: 4000, PayloadTypes: []int{0}, Toward: tc.toward}})
		if err != nil {
			t.Fatalf("%v toward %v: %v", tc.addr, tc.toward, err)
		}
		if len(sent) != 1 || sent[0] != tc.want || eps[0] != tc.ep {
			t.Errorf("%v toward %v: sent %q, got %v; want %q, %v", tc.addr, tc.toward, sent, eps, tc.want, tc.ep)
		}
	}
}

// TestAdvertisedAddressPerFamily: a relay on wildcard addresses replies
// with the port alone; the SDP gets the advertised address of the family
// the port was asked in, and a family with none configured is an error.
func TestAdvertisedAddressPerFamily(t *testing.T) {
	t.Parallel()
	emu := newEmulator()
	emu.script(func(cmd string) (string, bool) {
		if strings.HasPrefix(cmd, "U") {
			return "31000", true
		}
		return "", false
	})
	r := startUDP(t, emu)
	adv4, adv6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	v6 := netip.MustParseAddr("2001:db8::7")
	p := newPool(t, Config{Relays: []RelayConfig{{Address: r.address(), Advertise: adv4, Advertise6: adv6}}})
	for i, tc := range []struct {
		addr, toward netip.Addr
		want         netip.Addr
	}{
		{lo, netip.Addr{}, adv4},
		{v6, netip.Addr{}, adv6},
		{lo, v6, adv6},
		{v6, lo, adv4},
	} {
		m := p.Open(Dialog{CallID: "adv-" + strconv.Itoa(i), CallerTag: "a"})
		eps, err := m.Offer(ctx(t), Caller, []Stream{{Addr: tc.addr, Port: 4000, Toward: tc.toward}})
		if err != nil || eps[0] != (Endpoint{tc.want, 31000}) {
			t.Errorf("%v toward %v: %v %v, want %v", tc.addr, tc.toward, eps, err, tc.want)
		}
	}
	only4 := newPool(t, Config{Relays: []RelayConfig{{Address: r.address(), Advertise: adv4}}})
	m := only4.Open(Dialog{CallID: "adv-none", CallerTag: "a"})
	if _, err := m.Offer(ctx(t), Caller, []Stream{{Addr: v6, Port: 4000}}); !errors.Is(err, ErrMalformedReply) {
		t.Errorf("IPv6 port without advertise6: %v, want ErrMalformedReply", err)
	}
}
