package relay

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
)

func TestParseCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		op   byte
		mods string
		args int
		subs int
		err  error
	}{
		{"Uc0,8z20 call 1.2.3.4 5 f", 'U', "c0,8z20", 4, 0, nil},
		{"  q\tcall\r\nf  ", 'Q', "", 2, 0, nil},
		{"U c a 1 f t && L a 2 && S ttl=5", 'U', "", 5, 2, nil},
		{"", 0, "", 0, 0, eParse},
		{"V\x00", 0, "", 0, 0, eParse},
		{"U && ", 0, "", 0, 0, eParse},
		{"G 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23", 0, "", 0, 0, eParse},
	} {
		c, err := parseCommand([]byte(tc.in))
		if err != tc.err {
			t.Errorf("%q: err %v, want %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && (c.op != tc.op || c.mods != tc.mods || len(c.args) != tc.args || len(c.subs) != tc.subs) {
			t.Errorf("%q: got %+v", tc.in, c)
		}
	}
}

func TestUpdateModifiers(t *testing.T) {
	t.Parallel()
	r := &Relay{}
	for mods, want := range map[string]string{
		"x": "E35", "z0": "E13", "z1000": "E13", "c": "E14", "c0c8": "E14", "c0,,8": "E14",
		"e": "E11", "i": "E12", "l": "E15", "l1.2.3.4": "E31", "r": "E16", "6": "E36",
	} {
		_, err := r.parseUpdate(command{op: 'U', mods: mods, args: []string{"c", "1.2.3.4", "5", "f"}})
		if err == nil || err.Error() != want {
			t.Errorf("U%s: %v, want %s", mods, err, want)
		}
	}
}

// FuzzCommand: no input panics the command language, and every reply is
// one line-terminated answer, over both Handle and the UDP cookie path.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{
		"V", "VF 20050322", "U call 127.0.0.1 4000 ft", "L call 127.0.0.1 4002 ft tt",
		"Uc0,8,101z20Aw call 1.2.3.4 5 f t tcp:127.0.0.1:1 tag%20x && L 1.2.3.4 6 && S ttl=3 && D",
		"Qv call ft tt ttl rtpa_jmax && Dw", "D call ft", "G nsess_created pps_in", "Il", "X",
		"P3 call p 0 ft", "C call udp:1.2.3.4:5 ft tt", "c1 V", "U6 c ::1 1 f", "Ul[::1] c 1.2.3.4 5 f",
		"Ur[::1] c6 127.0.0.1 4000 ft", "L6r127.0.0.1 c6 ::1 4002 ft tt", "U6 c6 :: 4000 ft tt && L ::1 4002",
		"U call 127.0.0.1 4000 ft tt && T PCMA/8 telephone-event/101 && L 127.0.0.1 4002 && Tr G722/9 CN/13",
		"U call 127.0.0.1 4000 ft tt && O dtmf_filter te=101 max_pkt_rate=50 && L 127.0.0.1 4002 && Or symmetric rewrite_ssrc",
	} {
		f.Add([]byte(s))
	}
	lo := 41000
	r, err := New(Config{PortMin: lo, PortMax: lo + 19, MediaIP6: "::1", Notify: []string{"tcp:127.0.0.1:1"}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { r.Close() })
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, reply := range [][]byte{r.Handle(in), r.handleDatagram(in)} {
			if reply == nil {
				continue
			}
			if len(reply) == 0 || reply[len(reply)-1] != '\n' {
				t.Fatalf("%q: reply %q does not end in \\n", in, reply)
			}
			if !bytes.HasPrefix(reply, []byte("sessions created")) && bytes.Count(reply, []byte("\n")) != 1 &&
				!bytes.Contains(reply, []byte(" sessions created")) {
				t.Fatalf("%q: multi-line reply %q", in, reply)
			}
		}
	})
}
