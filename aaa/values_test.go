package aaa

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestDictionaryMatchesFreeRADIUS checks every row of the table against
// the dictionary.cisco FreeRADIUS ships.
func TestDictionaryMatchesFreeRADIUS(t *testing.T) {
	t.Parallel()
	testenv.RequireBinary(t, "/usr/sbin/freeradius", "freeradius")
	f, err := os.Open("/usr/share/freeradius/dictionary.cisco")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	theirs := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) >= 4 && fs[0] == "ATTRIBUTE" {
			n, _ := strconv.Atoi(fs[2])
			theirs[fs[1]] = n
			if fs[3] != "string" && strings.HasPrefix(fs[1], "h323-") {
				t.Errorf("%s is %s in FreeRADIUS", fs[1], fs[3])
			}
		}
	}
	for v, name := range vsaNames {
		if n, ok := theirs[name]; !ok || n != int(v) {
			t.Errorf("%s = %d here, %d (found %v) in FreeRADIUS", name, v, n, ok)
		}
	}
}

func TestCiscoTime(t *testing.T) {
	t.Parallel()
	tm := time.Date(2026, 11, 22, 12, 40, 1, 0, time.UTC)
	if s := FormatTime(tm); s != "12:40:01.000 GMT Sun Nov 22 2026" {
		t.Errorf("FormatTime = %q", s)
	}
	local := time.Date(2026, 3, 1, 9, 5, 7, 250e6, time.FixedZone("X", 3600))
	if s := FormatTime(local); s != "08:05:07.250 GMT Sun Mar 1 2026" {
		t.Errorf("FormatTime(local, day 1) = %q", s)
	}
	for _, s := range []string{"08:05:07.250 GMT Sun Mar 1 2026", "*08:05:07.250 GMT Sun Mar 1 2026"} {
		if got, err := ParseTime(s); err != nil || !got.Equal(local) {
			t.Errorf("ParseTime(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseTime("yesterday"); err == nil {
		t.Error("garbage time parsed")
	}
}

func TestConfID(t *testing.T) {
	t.Parallel()
	c := ConfID{0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 0xa, 0xb, 0xc, 0xd, 0xff, 0xfe, 0xfd, 0xfc}
	s := c.String()
	if s != "DEADBEEF 00010203 0A0B0C0D FFFEFDFC" {
		t.Fatalf("String = %q", s)
	}
	if back, err := ParseConfID(strings.ToLower(s)); err != nil || back != c {
		t.Errorf("ParseConfID = %v, %v", back, err)
	}
	for _, bad := range []string{"", "DEADBEEF", "DEADBEEF 00010203 0A0B0C0D FFFEFDFX", "DEADBEE 00010203 0A0B0C0D FFFEFDFC"} {
		if _, err := ParseConfID(bad); err == nil {
			t.Errorf("ParseConfID(%q) accepted", bad)
		}
	}
	if a, b := NewConfID(), NewConfID(); a == b {
		t.Error("two equal random conf ids")
	}
}

func TestQ850Cause(t *testing.T) {
	t.Parallel()
	want := map[int]string{
		0: "10", 180: "10", 200: "10", 302: "0", 401: "39", 402: "15", 403: "39", 404: "1", 407: "15",
		408: "66", 409: "29", 410: "1", 415: "4F", 480: "12", 484: "1C", 485: "1", 486: "11", 487: "12",
		500: "29", 501: "4F", 502: "26", 503: "3F", 504: "66", 580: "2F", 600: "11", 603: "15", 604: "1",
		606: "3A", 405: "7F", 699: "7F",
	}
	for code, hex := range want {
		if got := FormatCause(cdr.Q850Cause(code)); got != hex {
			t.Errorf("SIP %d → %s, want %s", code, got, hex)
		}
	}
	for s, dec := range map[string]bool{"10": false, "3f": false, "0x7F": false, "16": true} {
		n, err := ParseCause(s, dec)
		if err != nil || (n != 16 && n != 63 && n != 127) {
			t.Errorf("ParseCause(%q, %v) = %d, %v", s, dec, n, err)
		}
	}
	if _, err := ParseCause("zz", false); err == nil {
		t.Error("bad cause parsed")
	}
}

func TestH323Value(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{"h323-credit-time=3600": "3600", "3600": "3600", "": ""} {
		if got, err := H323Value(H323CreditTime, raw); err != nil || got != want {
			t.Errorf("H323Value(%q) = %q, %v", raw, got, err)
		}
	}
	if _, err := H323Value(H323CreditTime, "h323-return-code=0"); err == nil {
		t.Error("value of another attribute accepted")
	}
}
