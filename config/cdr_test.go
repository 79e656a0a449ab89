package config

import (
	"strings"
	"testing"
)

// TestCDRSyslog: cdr.syslog takes its defaults and refuses, located, what
// cannot be sent to.
func TestCDRSyslog(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(route + "cdr:\n  syslog: {address: \"unixgram:/dev/log\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.CDR.Syslog
	if s.Network() != "unixgram" || s.Addr() != "/dev/log" || s.Format != "rfc5424" || s.Facility != "local0" ||
		s.Severity != "info" || s.Tag != "tollgate" {
		t.Errorf("syslog = %+v", s)
	}
	for _, tc := range []struct{ syslog, want string }{
		{`{address: "127.0.0.1:514"}`, `cdr.syslog.address: "127.0.0.1:514": want udp:HOST:PORT`},
		{`{address: "udp:localhost"}`, `cdr.syslog.address: "udp:localhost": want HOST:PORT after udp:`},
		{`{address: "udp:127.0.0.1:514", format: json}`, `cdr.syslog.format: "json"`},
		{`{address: "udp:127.0.0.1:514", facility: local8}`, `cdr.syslog.facility: "local8"`},
		{`{address: "udp:127.0.0.1:514", severity: loud}`, `cdr.syslog.severity: "loud"`},
		{`{address: "udp:127.0.0.1:514", tag: "two words"}`, `cdr.syslog.tag: "two words"`},
	} {
		_, err := Parse([]byte(route + "cdr:\n  syslog: " + tc.syslog + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.syslog, err, tc.want)
		}
	}
}
