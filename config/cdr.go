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
}

func (c *CDR) applyDefaults() {
	if c.Dir == "" {
		c.Dir = "/var/lib/tollgate/cdr"
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
}
