package config

import (
	"cmp"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/tollgate/tollgate/cdr"
)

// DatabaseEnv names the environment variable that, when set, gives the
// database connection string instead of the file: it keeps a password out
// of the configuration (systemd's EnvironmentFile, make run).
const DatabaseEnv = "TOLLGATE_CDR_DATABASE"

// CDR says where call records go. Every record lands in the spool first;
// with a database it is shipped there, without one it goes to daily CSV
// files — the switch never needs the database to switch calls.
type CDR struct {
	// Dir holds the spool, the connected-calls journal and, without a
	// database, the daily CSV files.
	Dir string `yaml:"dir"`
	// Database is a PostgreSQL connection string (URL or key=value). It
	// may hold a password: it is never logged.
	Database string `yaml:"database"`
	// Migrate applies the schema migrations at start.
	Migrate bool `yaml:"migrate"`
	// SegmentSize (bytes) is the size at which a spool segment file is
	// closed and the next started; default 4 MiB. Shipped segments are
	// deleted whatever their size.
	SegmentSize int64 `yaml:"segment_size"`
	// Reserve (bytes) is the disk space the spool holds back for a full
	// disk: records of calls already up are written into it while new calls
	// are refused; default two segments.
	Reserve int64 `yaml:"reserve"`
	// NoSpace says what the switch does with new calls while records cannot
	// be made durable with their reserve (the spool's disk is full): refuse
	// (default; 503, no bill no call) or accept them anyway.
	NoSpace string `yaml:"no_space"`
	// Retention is how many whole months of CDRs are kept in the database
	// before the current month (by setup time, UTC); the month partitions
	// older than that are dropped, logged and audited. 0 (default) keeps
	// every month. The spool and the CSV files are not touched.
	Retention int `yaml:"retention"`
	// Syslog, when set, sends every record to a syslog server as well,
	// as SEMS's cc_syslog_cdr does: an extra sink beside PostgreSQL or the
	// CSV files, never instead of them.
	Syslog *CDRSyslog `yaml:"syslog"`
}

// CDRSyslog is where and how records go to syslog.
type CDRSyslog struct {
	// Address is "udp:HOST:PORT", "tcp:HOST:PORT" (RFC 6587 octet
	// counting) or "unixgram:/dev/log" (the local daemon).
	Address string `yaml:"address"`
	// Format is rfc5424 (default) or rfc3164.
	Format string `yaml:"format"`
	// Facility (default local0) and Severity (default info) make the
	// messages' priority.
	Facility string `yaml:"facility"`
	Severity string `yaml:"severity"`
	// Tag is the APP-NAME (RFC 5424) or TAG (RFC 3164); default tollgate.
	Tag string `yaml:"tag"`
}

// Network and Addr split Address.
func (s *CDRSyslog) Network() string { n, _, _ := strings.Cut(s.Address, ":"); return n }
func (s *CDRSyslog) Addr() string    { _, a, _ := strings.Cut(s.Address, ":"); return a }

// What the switch does with new calls when records cannot be made durable.
const (
	NoSpaceRefuse = "refuse"
	NoSpaceAccept = "accept"
)

func (c *CDR) applyDefaults() {
	if c.Dir == "" {
		c.Dir = "/var/lib/tollgate/cdr"
	}
	if c.NoSpace == "" {
		c.NoSpace = NoSpaceRefuse
	}
	if s := c.Syslog; s != nil {
		s.Format = cmp.Or(s.Format, cdr.SyslogRFC5424)
		s.Facility = cmp.Or(s.Facility, "local0")
		s.Severity = cmp.Or(s.Severity, "info")
		s.Tag = cmp.Or(s.Tag, "tollgate")
	}
	if dsn := os.Getenv(DatabaseEnv); dsn != "" {
		c.Database = dsn
	}
}

func (v *validator) validateCDR(c *CDR) {
	if strings.TrimSpace(c.Dir) == "" {
		v.addf("cdr.dir", "must name a directory")
	}
	if c.Migrate && c.Database == "" {
		v.addf("cdr.migrate", "needs cdr.database")
	}
	if c.NoSpace != NoSpaceRefuse && c.NoSpace != NoSpaceAccept {
		v.addf("cdr.no_space", "must be %s or %s, not %q", NoSpaceRefuse, NoSpaceAccept, c.NoSpace)
	}
	if c.SegmentSize < 0 || c.SegmentSize > 0 && c.SegmentSize < 64<<10 {
		v.addf("cdr.segment_size", "must be at least 65536 bytes")
	}
	if c.Retention < 0 {
		v.addf("cdr.retention", "must be a number of months, 0 to keep every month")
	}
	if c.Retention > 0 && c.Database == "" {
		v.addf("cdr.retention", "needs cdr.database: it drops months of the database's CDRs")
	}
	if c.Reserve < 0 {
		v.addf("cdr.reserve", "must not be negative")
	}
	if s := c.Syslog; s != nil {
		v.validateCDRSyslog(s)
	}
}

func (v *validator) validateCDRSyslog(s *CDRSyslog) {
	switch n, a := s.Network(), s.Addr(); {
	case n != "udp" && n != "tcp" && n != "unixgram" || a == "":
		v.addf("cdr.syslog.address", "%q: want udp:HOST:PORT, tcp:HOST:PORT or unixgram:PATH", s.Address)
	case n != "unixgram":
		if _, _, err := net.SplitHostPort(a); err != nil {
			v.addf("cdr.syslog.address", "%q: want HOST:PORT after %s:", s.Address, n)
		}
	}
	if s.Format != cdr.SyslogRFC5424 && s.Format != cdr.SyslogRFC3164 {
		v.addf("cdr.syslog.format", "%q: want %s or %s", s.Format, cdr.SyslogRFC5424, cdr.SyslogRFC3164)
	}
	if !slices.Contains(cdr.SyslogFacilities, s.Facility) {
		v.addf("cdr.syslog.facility", "%q: want one of %s", s.Facility, strings.Join(cdr.SyslogFacilities, ", "))
	}
	if !slices.Contains(cdr.SyslogSeverities, s.Severity) {
		v.addf("cdr.syslog.severity", "%q: want one of %s", s.Severity, strings.Join(cdr.SyslogSeverities, ", "))
	}
	if strings.ContainsAny(s.Tag, " \t\r\n") || len(s.Tag) > 48 {
		v.addf("cdr.syslog.tag", "%q: want at most 48 characters without spaces", s.Tag)
	}
}
