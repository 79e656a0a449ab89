package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
	"github.com/tollgate/tollgate/migrations"
)

// TestCDRRetentionAtStart: a database holding CDRs of a month long past
// cdr.retention and of last month. At its start the switch makes the
// coming months' partitions, drops the old month whole, logs it and
// writes it to the audit log; last month's CDR is kept.
func TestCDRRetentionAtStart(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := migrations.Up(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	db, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	lastMonth := time.Date(now.Year(), now.Month(), 1, 12, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	old := time.Date(2020, 1, 15, 12, 0, 0, 0, time.UTC)
	for i, at := range []time.Time{old, lastMonth} {
		rec := cdr.Record{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1), SetupTime: at, DisconnectTime: at.Add(time.Second),
			SIPCode: 486, SIPReason: "Busy Here", DisconnectReason: cdr.ReasonBusy, ReleasedBy: cdr.ReleasedByCallee}
		if err := cdr.NewPGWriter(db).Write(ctx, []cdr.Record{rec}); err != nil {
			t.Fatal(err)
		}
	}
	p := startTollgate(t, "cluster:\n  node: keeper\ncdr:\n  retention: 1\n", "TOLLGATE_CDR_DATABASE="+dsn)
	p.waitLog("CDR partition dropped: past the retention", 30*time.Second)
	testenv.Eventually(t, 30*time.Second, "the drop in the audit log", func() bool {
		return len(query(t, dsn, "SELECT 1 FROM audit_log WHERE action = 'cdr retention' AND target = 'cdrs_y2020m01' AND actor = 'tollgate keeper'")) == 1
	})
	if rows := query(t, dsn, "SELECT id::text AS id FROM cdrs"); len(rows) != 1 || rows[0]["id"] != "00000000-0000-4000-8000-000000000002" {
		t.Errorf("CDRs left %v, want last month's only", rows)
	}
	ahead := time.Date(now.Year(), now.Month()+2, 1, 0, 0, 0, 0, time.UTC).Format("cdrs_y2006m01")
	if rows := query(t, dsn, "SELECT to_regclass($1)::text AS t", ahead); rows[0]["t"] != ahead {
		t.Errorf("partition %s not made ahead at start", ahead)
	}
}
