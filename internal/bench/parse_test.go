package main

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

func TestParseProcStatCPU(t *testing.T) {
	t.Parallel()
	// A command name with a space and a parenthesis, as a process may set.
	stat := []byte("4242 (tg (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 130 0 0 20 0 12 0 300 1000 200 ...")
	got, err := parseProcStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3800 * time.Millisecond; got != want {
		t.Fatalf("cpu = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "1 (x S 1", "1 (x) S 1 2 3", "1 (x) S 1 2 3 4 5 6 7 8 9 10 -5 6"} {
		if _, err := parseProcStatCPU([]byte(bad)); !errors.Is(err, errProcFormat) {
			t.Errorf("%q: err = %v, want errProcFormat", bad, err)
		}
	}
}

func TestParseProcOfThisProcess(t *testing.T) {
	t.Parallel()
	s, err := sampleProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.rss <= 0 {
		t.Fatalf("rss = %d, want > 0", s.rss)
	}
	if _, err := udpReceiveDrops(); err != nil {
		t.Fatal(err)
	}
}

func TestParseVmRSS(t *testing.T) {
	t.Parallel()
	got, err := parseVmRSS([]byte("Name:\ttollgate\nVmHWM:\t  9000 kB\nVmRSS:\t  1234 kB\n"))
	if err != nil || got != 1234<<10 {
		t.Fatalf("got %d, %v; want %d", got, err, 1234<<10)
	}
	if _, err := parseVmRSS([]byte("VmRSS: 12 MB\n")); !errors.Is(err, errProcFormat) {
		t.Fatalf("unit MB: err = %v", err)
	}
}

func TestParseUDPRcvbufErrors(t *testing.T) {
	t.Parallel()
	snmp := "Tcp: A B\nTcp: 1 2\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n" +
		"Udp: 10 1 7 12 5 0\nUdpLite: InDatagrams\nUdpLite: 0\n"
	got, err := parseUDPRcvbufErrors([]byte(snmp))
	if err != nil || got != 5 {
		t.Fatalf("got %d, %v; want 5", got, err)
	}
	if _, err := parseUDPRcvbufErrors([]byte("Udp: A RcvbufErrors\nUdp: 1\n")); !errors.Is(err, errProcFormat) {
		t.Fatalf("short values: err = %v", err)
	}
}

func TestParseUDPSocketDrops(t *testing.T) {
	t.Parallel()
	table := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n" +
		"  906: 00000000:97D8 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1414285 2 000000008b77d588 0\n" +
		"  907: 0100007F:13C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1414286 2 000000008b77d589 42\n"
	got, err := parseUDPSocketDrops([]byte(table), 5060)
	if err != nil || got != 42 {
		t.Fatalf("got %d, %v; want 42", got, err)
	}
	if _, err := parseUDPSocketDrops([]byte(table), 5061); !errors.Is(err, errProcFormat) {
		t.Fatalf("absent port: err = %v", err)
	}
}

func TestSummarizeSIPpErrors(t *testing.T) {
	t.Parallel()
	ev := func(id, what string) string {
		return "2026-11-22\t22:30:08.601262\t1795386608.601262: Aborting call on unexpected message for Call-Id '" +
			id + "': " + what + "\nVia: x\n\n'"
	}
	watchdog := func(n int) string {
		return fmt.Sprintf("2026-11-22\t22:30:09.1\t1795386609.1: Overload warning: the minor watchdog timer 500ms "+
			"has been tripped (%d), %d trips remaining.", n, 120-n)
	}
	log := "The following events occurred:\n" + ev("1@h", "while expecting '100' (index 1)") +
		ev("2@h", "while expecting '100' (index 1)") + ev("3@h", "while expecting '200' (index 3)") +
		watchdog(1) + watchdog(2) + watchdog(3)
	got := summarizeSIPpErrors([]byte(log), 2)
	want := "         3 × Overload warning: the minor watchdog timer 500ms has been tripped (1), 119 trips remaining.\n" +
		"         2 × Aborting call on unexpected message for Call-Id '…': while expecting '100' (index 1)\n" +
		"    … and 1 other kinds"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	retrans := func(id string) string {
		return "2026-11-22\t22:45:01.5\t1795387501.5: Aborting call on UDP retransmission timeout for Call-ID '" + id + "'\n"
	}
	got = summarizeSIPpErrors([]byte("x\n"+retrans("1-2@h")+retrans("3-4@h")), 3)
	if want := "         2 × Aborting call on UDP retransmission timeout for Call-Id '…'"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	dead := func(id, cseq string) string {
		return "2026-12-07\t11:59:23.8\t1796644763.8: Dead call " + id + " (successful), received 'SIP/2.0 200 OK\n" +
			"Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-1\nCall-ID: " + id + "\nCSeq: " + cseq + "\n" +
			"Content-Length: 0\n\n'"
	}
	got = summarizeSIPpErrors([]byte("x\n"+dead("1-9@h", "2 BYE")+dead("2-9@h", "1 INVITE")+dead("3-9@h", "2 BYE")), 3)
	want = "         2 × Dead call 1-9@h (successful), received 'SIP/2.0 200 OK [CSeq 2 BYE]\n" +
		"         1 × Dead call 2-9@h (successful), received 'SIP/2.0 200 OK [CSeq 1 INVITE]"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if got := summarizeSIPpErrors([]byte("The following events occurred:\n"), 3); got != "" {
		t.Fatalf("empty log summarised as %q", got)
	}
}

func TestParseFlagsQuick(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{"-quick", "-concurrent", "500"})
	if err != nil {
		t.Fatal(err)
	}
	if o.stepTime != 5*time.Second || o.concurrent != 500 || o.settle != 5*time.Second || len(o.rates) == 0 {
		t.Fatalf("quick defaults not applied around an explicit flag: %+v", o)
	}
	if o, err := parseFlags(nil); err != nil || !o.runs["radius"] || !o.runs["rate"] || !o.runs["kamailio"] || !o.runs["ceiling"] {
		t.Fatalf("default runs %v, %v: want rate, kamailio, ceiling and radius among them", o.runs, err)
	}
	if _, err := parseFlags([]string{"-runs", "rate,soak"}); err == nil {
		t.Fatal("unknown run accepted")
	}
	if _, err := parseFlags([]string{"-steps", "500,x"}); err == nil {
		t.Fatal("bad step accepted")
	}
}

func FuzzParseProcStatCPU(f *testing.F) {
	f.Add([]byte("1 (a) S 1 1 1 0 -1 0 0 0 0 0 5 6 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := parseProcStatCPU(b); err == nil && d < 0 {
			t.Fatalf("negative CPU time %v", d)
		}
	})
}

func FuzzParseVmRSS(f *testing.F) {
	f.Add([]byte("VmRSS:\t 1 kB\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := parseVmRSS(b); err == nil && n < 0 {
			t.Fatalf("negative RSS %d", n)
		}
	})
}

func FuzzParseUDPRcvbufErrors(f *testing.F) {
	f.Add([]byte("Udp: RcvbufErrors\nUdp: 3\n"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parseUDPRcvbufErrors(b) })
}

func FuzzParseUDPSocketDrops(f *testing.F) {
	f.Add([]byte("h\n 1: 0100007F:13C4 0:0 07 0:0 0:0 0 0 0 1 2 p 3\n"), 5060)
	f.Fuzz(func(t *testing.T, b []byte, port int) {
		if n, err := parseUDPSocketDrops(b, port); err == nil && n < 0 {
			t.Fatalf("negative drops %d", n)
		}
	})
}

func FuzzSummarizeSIPpErrors(f *testing.F) {
	f.Add([]byte("x\n2026-11-22\t22:30:08.6\t1.6: Aborting call for Call-Id 'a': y\nz"))
	f.Fuzz(func(t *testing.T, b []byte) { _ = summarizeSIPpErrors(b, 3) })
}
