package rtpproxyctl

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// The replies of the spec's section 4 transcripts.
func TestParseEndpointVectors(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]Endpoint{
		"31966 127.0.0.1":                    {lo, 31966},
		"41356 ::1 6":                        {netip.MustParseAddr("::1"), 41356},
		"34490 127.0.0.1 && 32176 127.0.0.1": {lo, 34490},
		"40946 127.0.0.1":                    {lo, 40946},
		"32490":                              {Port: 32490},
	} {
		got, err := ParseEndpoint(body)
		if err != nil || got != want {
			t.Errorf("%q: %v %v", body, got, err)
		}
	}
	if _, err := ParseEndpoint("0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("0: %v", err)
	}
	for body, code := range map[string]int{"E36": 36, "E72": 72, "E0": 0, "E50": 50} {
		_, err := ParseEndpoint(body)
		var pe *ProtocolError
		if !errors.As(err, &pe) || pe.Code != code {
			t.Errorf("%q: %v", body, err)
		}
	}
	for _, body := range []string{"", "E", "Exx", "hello", "70000 127.0.0.1", "-1 127.0.0.1", "1 1.2.3.4 6", "1 ::1 7",
		"1 not-an-ip", "1 fe80::1%eth0 6", "1 2 3 4", "0 127.0.0.1"} {
		if _, err := ParseEndpoint(body); err == nil || errors.Is(err, ErrNotFound) && body != "0" {
			t.Errorf("%q accepted: %v", body, err)
		}
	}
}

func TestParseCountersVectors(t *testing.T) {
	t.Parallel()
	c, err := ParseCounters("60 5 5 10 0")
	if err != nil || c != (Counters{TTL: 60, FromA: 5, FromB: 5, Relayed: 10}) {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := ParseCounters("E50"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	for _, body := range []string{"", "60 5 5 10", "ttl=60 npkts_ina=5 npkts_ino=5 nrelayed=10 ndropped=0", "60 -5 5 10 0", "x 5 5 10 0"} {
		if _, err := ParseCounters(body); !errors.Is(err, ErrMalformedReply) {
			t.Errorf("%q: %v", body, err)
		}
	}
	if c, _, ok := splitCookie("c72 59 5 5 10 0\n"); c != "c72" || !ok {
		t.Fatal("cookie split")
	}
	if _, _, ok := splitCookie("nocookie"); ok {
		t.Fatal("single word split")
	}
}

// FuzzReply: no reply, however broken, panics the parsers, and every
// endpoint accepted survives a format/parse round trip.
func FuzzReply(f *testing.F) {
	for _, s := range []string{"c1 20040107\n", "c29 31966 127.0.0.1\n", "k3 41356 ::1 6\n", "c78 0\n", "c39 E62\n",
		"c35 60 5 5 10 0\n", "c68 34490 127.0.0.1 && 32176 127.0.0.1\n", "nocookie E5\n", "c43 \n", "c2 1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dgram string) {
		_, body, ok := splitCookie(dgram)
		if !ok {
			body = dgram
		}
		ParseCounters(body)
		parseFlag(body)
		parseAck(body)
		ep, err := ParseEndpoint(body)
		if err != nil {
			return
		}
		text := fmt.Sprint(ep.Port)
		if ep.Addr.IsValid() {
			text += " " + ep.Addr.String()
			if ep.Addr.Is6() {
				text += " 6"
			}
		}
		again, err := ParseEndpoint(text)
		if err != nil || again != ep {
			t.Fatalf("%q -> %v -> %q -> %v %v", body, ep, text, again, err)
		}
	})
}

func TestParseNamedCountersVectors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body      string
		want      Counters
		subFailed bool
	}{
		{"ttl=60 npkts_ina=5 npkts_ino=5 nrelayed=10 ndropped=0", Counters{TTL: 60, FromA: 5, FromB: 5, Relayed: 10}, false},
		{"ttl=59 npkts_ina=47 npkts_ino=50 nrelayed=97 ndropped=1 rtpa_nlost=3 rtpa_javg=61.250000 tg_nbytes_ina=8084",
			Counters{TTL: 59, FromA: 47, FromB: 50, Relayed: 97, Dropped: 1, LostA: 3, JitterA: 61.25, BytesA: 8084, HasBytes: true, HasLost: true, HasJitter: true}, false},
		// The round trip: measured, or not yet ("-").
		{"ttl=60 npkts_ina=5 npkts_ino=5 nrelayed=10 ndropped=0 tg_rtt_ina=41500", Counters{TTL: 60, FromA: 5, FromB: 5, Relayed: 10, RTTA: 41500 * time.Microsecond, HasRTT: true}, false},
		{"ttl=60 npkts_ina=5 npkts_ino=5 nrelayed=10 ndropped=0 tg_rtt_ina=-", Counters{TTL: 60, FromA: 5, FromB: 5, Relayed: 10}, false},
		// Reordered, as a relay may: the names carry the meaning.
		{"rtpa_nlost=0 ttl=3 ndropped=0 nrelayed=0 npkts_ino=0 npkts_ina=0", Counters{TTL: 3, HasLost: true}, false},
		// The D sub-command failed: the counters stand, the delete did not happen.
		{"ttl=60 npkts_ina=5 npkts_ino=5 nrelayed=10 ndropped=0 && -1", Counters{TTL: 60, FromA: 5, FromB: 5, Relayed: 10}, true},
	} {
		c, subFailed, err := ParseNamedCounters(tc.body)
		if err != nil || c != tc.want || subFailed != tc.subFailed {
			t.Errorf("%q: %+v %v %v", tc.body, c, subFailed, err)
		}
	}
	if _, _, err := ParseNamedCounters("E62"); err == nil || errors.Is(err, ErrMalformedReply) {
		t.Errorf("E62: %v", err)
	}
	for _, body := range []string{
		"", "60 5 5 10 0", // the plain form
		"ttl=60 nrelayed=10", // the spec's c38: not what QueryFlow asks
		"ttl=60 npkts_ina=5 npkts_ino=5 nrelayed=10 ndropped=0 rtpa_jmax=1.0",
		"ttl=60 npkts_ina=5 npkts_ino=5 nrelayed=10 ndropped=0 ndropped=0",
		"ttl=60 npkts_ina=-5 npkts_ino=5 nrelayed=10 ndropped=0",
		"ttl=60 npkts_ina=5 npkts_ino=5 nrelayed=10 ndropped=0 rtpa_javg=nan",
		"ttl=60 npkts_ina=5 npkts_ino=5 nrelayed=10 ndropped=0 rtpa_javg=-1.5",
		"ttl=60 npkts_ina=5 npkts_ino=5 nrelayed=10 ndropped=0 rtpa_javg=+Inf",
		"ttl=60 npkts_ina=5 npkts_ino=5 nrelayed=10 ndropped",
		"ttl=60 npkts_ina=5 npkts_ino=5 nrelayed=10 ndropped=0 && x",
		"ttl=60 npkts_ina=5 npkts_ino=5 nrelayed=10 ndropped=0 tg_rtt_ina=1.5",
	} {
		if _, _, err := ParseNamedCounters(body); !errors.Is(err, ErrMalformedReply) {
			t.Errorf("%q: %v", body, err)
		}
	}
}

// FuzzParseNamedCounters: no Qv reply panics the parser, and what it
// accepts comes back the same from the reply QueryFlow's relay would give.
func FuzzParseNamedCounters(f *testing.F) {
	for _, s := range []string{
		"ttl=60 npkts_ina=5 npkts_ino=5 nrelayed=10 ndropped=0",
		"ttl=59 npkts_ina=47 npkts_ino=50 nrelayed=97 ndropped=1 rtpa_nlost=3 rtpa_javg=61.250000 tg_nbytes_ina=8084 && -1",
		"ttl=60 nrelayed=10", "E50", "ttl= npkts_ina==5", "rtpa_javg=1e308 && 0 && -3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c, subFailed, err := ParseNamedCounters(body)
		if err != nil {
			return
		}
		if c.JitterA < 0 || math.IsNaN(c.JitterA) {
			t.Fatalf("%q: jitter %v", body, c.JitterA)
		}
		text := fmt.Sprintf("ttl=%d npkts_ina=%d npkts_ino=%d nrelayed=%d ndropped=%d", c.TTL, c.FromA, c.FromB, c.Relayed, c.Dropped)
		if c.HasLost {
			text += fmt.Sprintf(" rtpa_nlost=%d", c.LostA)
		}
		if c.HasJitter {
			text += " rtpa_javg=" + strconv.FormatFloat(c.JitterA, 'g', -1, 64)
		}
		if c.HasBytes {
			text += fmt.Sprintf(" tg_nbytes_ina=%d", c.BytesA)
		}
		if subFailed {
			text += " && -1"
		}
		again, againFailed, err := ParseNamedCounters(text)
		if err != nil || again != c || againFailed != subFailed {
			t.Fatalf("%q -> %+v -> %q -> %+v %v %v", body, c, text, again, againFailed, err)
		}
	})
}
