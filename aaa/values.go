package aaa

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ciscoTimeLayout is Cisco's h323-*-time format, always in UTC, the day of
// the month without a leading zero: "12:40:01.000 GMT Sun Nov 22 2026".
const ciscoTimeLayout = "15:04:05.000 GMT Mon Jan 2 2006"

// FormatTime renders t as Cisco's h323-*-time values do.
func FormatTime(t time.Time) string {
	return t.UTC().Format(ciscoTimeLayout)
}

// ParseTime reads a Cisco time. IOS prefixes "*" (clock not authoritative)
// or "." (clock not synchronised); both are accepted and ignored.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimLeft(s, "*.")
	t, err := time.Parse(ciscoTimeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("radius: bad Cisco time %q: %w", s, err)
	}
	return t, nil
}

// ConfID is an h323-conf-id: 128 bits, one per call, shared by all its legs.
type ConfID [16]byte

// NewConfID returns a random conference id.
func NewConfID() ConfID {
	var c ConfID
	_, _ = rand.Read(c[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return c
}

// String prints four groups of eight upper-case hex digits separated by
// spaces, as Cisco does.
func (c ConfID) String() string {
	var b [35]byte
	for g := range 4 {
		if g > 0 {
			b[g*9-1] = ' '
		}
		hex.Encode(b[g*9:g*9+8], c[g*4:g*4+4])
	}
	return strings.ToUpper(string(b[:]))
}

// ParseConfID reads the Cisco form, in either case.
func ParseConfID(s string) (ConfID, error) {
	var c ConfID
	groups := strings.Fields(s)
	if len(groups) != 4 {
		return c, fmt.Errorf("radius: h323-conf-id %q is not four groups", s)
	}
	for i, g := range groups {
		if len(g) != 8 {
			return c, fmt.Errorf("radius: h323-conf-id %q: group %q is not 8 digits", s, g)
		}
		if _, err := hex.Decode(c[i*4:i*4+4], []byte(g)); err != nil {
			return c, fmt.Errorf("radius: h323-conf-id %q: %w", s, err)
		}
	}
	return c, nil
}

// FormatCause prints a Q.850 cause in upper-case hex, as Cisco's
// h323-disconnect-cause carries it.
func FormatCause(cause int) string {
	return strings.ToUpper(strconv.FormatInt(int64(cause), 16))
}

// ParseCause reads a Q.850 cause: hex as h323-disconnect-cause carries it,
// or decimal when the source (a config file, a CDR) writes it that way.
func ParseCause(s string, decimal bool) (int, error) {
	base := 16
	if decimal {
		base = 10
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), base, 7)
	if err != nil {
		return 0, fmt.Errorf("radius: bad Q.850 cause %q: %w", s, err)
	}
	return int(n), nil
}

// ReleaseSource says who ended a call, as Cisco-AVPair release-source.
type ReleaseSource int

// Release sources.
const (
	ReleasedByCaller ReleaseSource = 2
	ReleasedByCallee ReleaseSource = 4
	ReleasedBySwitch ReleaseSource = 8 // timer, credit, admin, shutdown, failure
)
