package cdr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// Syslog sends each record to a syslog server as one message, as SEMS's
// cc_syslog_cdr does: for operators whose log pipeline (rsyslog,
// syslog-ng, a SIEM) collects what their switches do. It is an extra
// sink, written after the store (PostgreSQL or the CSV files) has taken a
// batch (AlsoTo), never instead of it: syslog over UDP may lose a message,
// and a batch replayed after a crash is sent again, so a consumer that
// counts calls goes by the record's id.
//
// The message is the record as one line of JSON, with MSGID "cdr" in RFC
// 5424 or behind the tag in RFC 3164.
type Syslog struct {
	opt  SyslogOptions
	pri  string
	host string

	mu   sync.Mutex
	conn net.Conn
}

// SyslogOptions say where records go and how they are framed.
type SyslogOptions struct {
	// Network is udp, tcp (RFC 6587 octet counting) or unixgram (a local
	// daemon's socket, /dev/log).
	Network string
	Address string
	// Format is rfc5424 or rfc3164.
	Format   string
	Facility string // kern ... local7
	Severity string // emerg ... debug
	Tag      string // APP-NAME (RFC 5424) or TAG (RFC 3164)
}

// Syslog formats.
const (
	SyslogRFC5424 = "rfc5424"
	SyslogRFC3164 = "rfc3164"
)

// SyslogFacilities and SyslogSeverities are the names syslog(3) gives the
// codes, in code order.
var (
	SyslogFacilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
		"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
		"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}
	SyslogSeverities = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}
)

// NewSyslog returns a Syslog sink; it connects on the first write, and
// again after a failed one.
func NewSyslog(opt SyslogOptions) (*Syslog, error) {
	fac, sev := indexOf(SyslogFacilities, opt.Facility), indexOf(SyslogSeverities, opt.Severity)
	if fac < 0 || sev < 0 {
		return nil, fmt.Errorf("cdr syslog: facility %q, severity %q: unknown", opt.Facility, opt.Severity)
	}
	switch opt.Network {
	case "udp", "tcp", "unixgram":
	default:
		return nil, fmt.Errorf("cdr syslog: network %q: want udp, tcp or unixgram", opt.Network)
	}
	if opt.Format != SyslogRFC5424 && opt.Format != SyslogRFC3164 {
		return nil, fmt.Errorf("cdr syslog: format %q: want %s or %s", opt.Format, SyslogRFC5424, SyslogRFC3164)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "-"
	}
	return &Syslog{opt: opt, pri: "<" + strconv.Itoa(fac*8+sev) + ">", host: host}, nil
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

// Write sends one message per record; the first failure ends the batch
// and drops the connection, for the next write to make anew.
func (s *Syslog) Write(ctx context.Context, recs []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, s.opt.Network, s.opt.Address)
		if err != nil {
			return fmt.Errorf("cdr syslog: %w", err)
		}
		s.conn = conn
	}
	if dl, ok := ctx.Deadline(); ok {
		s.conn.SetWriteDeadline(dl)
	} else {
		s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	}
	for _, r := range recs {
		msg, err := s.message(r, time.Now())
		if err == nil {
			_, err = s.conn.Write(msg)
		}
		if err != nil {
			s.conn.Close()
			s.conn = nil
			return fmt.Errorf("cdr syslog: record %s: %w", r.ID, err)
		}
	}
	return nil
}

// message frames one record.
func (s *Syslog) message(r Record, now time.Time) ([]byte, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(s.pri)
	pid := strconv.Itoa(os.Getpid())
	switch s.opt.Format {
	case SyslogRFC5424:
		// VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA
		fmt.Fprintf(&b, "1 %s %s %s %s cdr - ", now.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), s.host, s.opt.Tag, pid)
	default:
		fmt.Fprintf(&b, "%s %s %s[%s]: ", now.Format(time.Stamp), s.host, s.opt.Tag, pid)
	}
	b.Write(body)
	if s.opt.Network == "tcp" {
		// RFC 6587 3.4.1: octet counting, which survives any byte in the
		// message.
		return append([]byte(strconv.Itoa(b.Len())+" "), b.Bytes()...), nil
	}
	return b.Bytes(), nil
}

// Close drops the connection.
func (s *Syslog) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// AlsoTo returns a sink that writes each batch to store and then to
// extra. Only the store's failure fails the batch (it is retried, and
// the records wait in the spool); extra's is logged, so an unreachable
// syslog server never holds back the records of the store.
func AlsoTo(store, extra Sink, log *slog.Logger) Sink {
	return alsoSink{store: store, extra: extra, log: log.With("component", "cdr-extra-sink")}
}

type alsoSink struct {
	store, extra Sink
	log          *slog.Logger
}

func (a alsoSink) Write(ctx context.Context, recs []Record) error {
	if err := a.store.Write(ctx, recs); err != nil {
		return err
	}
	if err := a.extra.Write(ctx, recs); err != nil {
		a.log.Warn("records not sent to the extra sink", "records", len(recs), "error", err)
	}
	return nil
}
