package main

import (
	"slices"
	"testing"

	"github.com/tollgate/tollgate/config"
)

// TestConfigCopiesLists: the relay gets its own copies of the socket lists,
// so that serve adding its loopback socket changes no configuration.
func TestConfigCopiesLists(t *testing.T) {
	t.Parallel()
	b := config.BuiltinMedia{Control: []string{"udp:127.0.0.1:7722"}, Notify: []string{"unix:/tmp/n"}, PortMin: 10000, PortMax: 10100}
	rc := relayConfig(b)
	rc.Control[0], rc.Notify[0] = "x", "y"
	if b.Control[0] != "udp:127.0.0.1:7722" || b.Notify[0] != "unix:/tmp/n" || rc.PortMin != 10000 || rc.PortMax != 10100 {
		t.Errorf("config %+v from %+v", rc, b)
	}
	if !slices.Equal(relayConfig(b).Control, b.Control) {
		t.Errorf("control %v", relayConfig(b).Control)
	}
}

// TestConfigIPv6Media: the relay serve and `tollgate relay` run gets the
// IPv6 media address and its advertised one.
func TestConfigIPv6Media(t *testing.T) {
	t.Parallel()
	rc := relayConfig(config.BuiltinMedia{MediaIP: "192.0.2.1", MediaIP6: "::", AdvertiseIP6: "2001:db8::1"})
	if rc.MediaIP != "192.0.2.1" || rc.MediaIP6 != "::" || rc.AdvertiseIP6 != "2001:db8::1" {
		t.Errorf("relay config %+v", rc)
	}
}
