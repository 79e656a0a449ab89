package cdr

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// syslogListener is a syslog server on a real socket: it hands each
// message it receives to msgs.
func syslogListener(t *testing.T, network string) (addr string, msgs <-chan string) {
	t.Helper()
	out := make(chan string, 16)
	switch network {
	case "udp", "unixgram":
		addr = "127.0.0.1:0"
		if network == "unixgram" {
			addr = filepath.Join(t.TempDir(), "log")
		}
		pc, err := net.ListenPacket(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 65535)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				out <- string(buf[:n])
			}
		}()
		return pc.LocalAddr().String(), out
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		for { // RFC 6587 octet counting: "LEN SP MSG"
			n, err := r.ReadString(' ')
			if err != nil {
				return
			}
			size, err := strconv.Atoi(strings.TrimSpace(n))
			if err != nil {
				out <- "bad frame: " + n
				return
			}
			msg := make([]byte, size)
			if _, err := io.ReadFull(r, msg); err != nil {
				return
			}
			out <- string(msg)
		}
	}()
	return ln.Addr().String(), out
}

var (
	rfc5424 = regexp.MustCompile(`^<134>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ tg-cdr \d+ cdr - (\{.*\})$`)
	rfc3164 = regexp.MustCompile(`^<187>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ tg-cdr\[\d+\]: (\{.*\})$`)
)

// TestSyslogSink: records reach a real syslog socket, one message each,
// framed as the format and network say, with the priority of the
// facility and severity and the record as JSON, a quote and a newline in
// a caller's name included.
func TestSyslogSink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		network, format, facility, severity string
		re                                  *regexp.Regexp
	}{
		{"udp", SyslogRFC5424, "local0", "info", rfc5424},
		{"tcp", SyslogRFC5424, "local0", "info", rfc5424},
		{"unixgram", SyslogRFC3164, "local7", "err", rfc3164},
	} {
		t.Run(tc.network, func(t *testing.T) {
			t.Parallel()
			addr, msgs := syslogListener(t, tc.network)
			s, err := NewSyslog(SyslogOptions{Network: tc.network, Address: addr, Format: tc.format,
				Facility: tc.facility, Severity: tc.severity, Tag: "tg-cdr"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			recs := []Record{
				{ID: "rec-1", CallerName: "A \"quoted\"\nname", SIPCode: 200, Duration: 3 * time.Second},
				{ID: "rec-2", SIPCode: 486, DisconnectReason: ReasonBusy},
			}
			if err := s.Write(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
			for _, want := range recs {
				var msg string
				select {
				case msg = <-msgs:
				case <-time.After(10 * time.Second):
					t.Fatalf("no message for %s", want.ID)
				}
				m := tc.re.FindStringSubmatch(msg)
				if m == nil {
					t.Fatalf("message %q does not match %s", msg, tc.re)
				}
				var got Record
				if err := json.Unmarshal([]byte(m[1]), &got); err != nil {
					t.Fatal(err)
				}
				if got.ID != want.ID || got.CallerName != want.CallerName || got.SIPCode != want.SIPCode {
					t.Errorf("record %+v, want %+v", got, want)
				}
			}
		})
	}
}

type failingSink struct{ calls int }

func (f *failingSink) Write(context.Context, []Record) error { f.calls++; return errors.New("down") }

type countingSink struct{ recs int }

func (c *countingSink) Write(_ context.Context, recs []Record) error { c.recs += len(recs); return nil }

// TestAlsoTo: the store's failure fails the batch before the extra sink
// sees it; the extra sink's failure does not fail a batch the store took.
func TestAlsoTo(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	store, extra := &failingSink{}, &countingSink{}
	if err := AlsoTo(store, extra, log).Write(context.Background(), []Record{{ID: "x"}}); err == nil || extra.recs != 0 {
		t.Errorf("store down: err %v, extra got %d", err, extra.recs)
	}
	okStore, down := &countingSink{}, &failingSink{}
	if err := AlsoTo(okStore, down, log).Write(context.Background(), []Record{{ID: "x"}}); err != nil || okStore.recs != 1 || down.calls != 1 {
		t.Errorf("extra down: err %v, store got %d", err, okStore.recs)
	}
}

// TestNewSyslogRefuses: unknown names are errors, not a default.
func TestNewSyslogRefuses(t *testing.T) {
	t.Parallel()
	for _, o := range []SyslogOptions{
		{Network: "udp", Address: "x:1", Format: SyslogRFC5424, Facility: "local9", Severity: "info"},
		{Network: "udp", Address: "x:1", Format: SyslogRFC5424, Facility: "local0", Severity: "loud"},
		{Network: "sctp", Address: "x:1", Format: SyslogRFC5424, Facility: "local0", Severity: "info"},
		{Network: "udp", Address: "x:1", Format: "json", Facility: "local0", Severity: "info"},
	} {
		if _, err := NewSyslog(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
