package config

import (
	"os"
	"strings"
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
}

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
}
