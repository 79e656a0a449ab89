package testenv

import (
	"net"
	"strings"
	"testing"
)

func TestParseDetail(t *testing.T) {
	t.Parallel()
	text := "Sun Nov 22 12:40:01 2026\n\tAcct-Status-Type = Stop\n\tUser-Name = \"a\\\"b\\\\c\\001\"\n\tCisco-AVPair = \"x=1\"\n\tCisco-AVPair = \"y=2\"\n\nSun Nov 22 12:40:02 2026\n\tUser-Name = \"partial\"\n"
	recs, err := ParseDetail(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Get("User-Name") != "a\"b\\c\x01" || recs[0].Get("Acct-Status-Type") != "Stop" ||
		len(recs[0].Attrs["Cisco-AVPair"]) != 2 {
		t.Errorf("%+v", recs)
	}
}

func FuzzParseDetail(f *testing.F) {
	f.Add("Sun Nov 22 12:40:01 2026\n\tUser-Name = \"a\\101\"\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseDetail(strings.NewReader(s))
	})
}

// A port taken between its pick and the server's bind (an outgoing socket
// of the test process took it) makes the first start pick new ports, not
// fail the test.
func TestFreeRADIUSFirstStartTakesNewPortsWhenOneIsTaken(t *testing.T) {
	bin := RequireBinary(t, "/usr/sbin/freeradius", "freeradius")
	f, err := configureFreeRADIUS(bin, FreeRADIUSOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f.t = t
	t.Cleanup(f.Stop)
	taken := f.AcctAddr
	c, err := net.ListenPacket("udp4", taken)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := f.firstLaunch(); err != nil {
		t.Fatal(err)
	}
	if f.AcctAddr == taken {
		t.Fatalf("the server kept the taken port %s", taken)
	}
	if err := f.statusServer(); err != nil {
		t.Fatalf("the server on its new ports does not answer: %v", err)
	}
}
