package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestEnvFileKeepsOtherLines(t *testing.T) {
	t.Parallel()
	in := "# site settings\nGODEBUG=madvdontneed=1\n\nTOLLGATE_CDR_DATABASE=\n"
	e := parseEnvFile([]byte(in))
	if _, ok := e.get("TOLLGATE_CDR_DATABASE"); ok {
		t.Fatal("an empty assignment counts as set")
	}
	e.set("TOLLGATE_CDR_DATABASE", "postgres://tollgate:x@/tollgate?host=/var/run/postgresql&port=5432")
	out := string(e.bytes())
	if !strings.HasPrefix(out, in) {
		t.Fatalf("the administrator's lines changed:\n%s", out)
	}
	again := parseEnvFile([]byte(out))
	if v, ok := again.get("TOLLGATE_CDR_DATABASE"); !ok || v != "postgres://tollgate:x@/tollgate?host=/var/run/postgresql&port=5432" {
		t.Fatalf("get after set: %q %v", v, ok)
	}
}

func TestEnvFileQuotesAndLastWins(t *testing.T) {
	t.Parallel()
	e := parseEnvFile([]byte("TOLLGATE_CDR_DATABASE='postgres://a@h/one'\n  TOLLGATE_CDR_DATABASE = \"postgres://a@h/two\"\n"))
	if v, _ := e.get("TOLLGATE_CDR_DATABASE"); v != "postgres://a@h/two" {
		t.Fatalf("got %q", v)
	}
}

func TestSetupDBDSN(t *testing.T) {
	t.Parallel()
	o := setupDBOptions{host: "/var/run/postgresql", port: 5432, database: "tollgate", role: "tollgate"}
	if got, want := o.dsn("p"), "postgres://tollgate:p@:5432/tollgate?host=/var/run/postgresql"; got != want {
		t.Errorf("socket dsn %q, want %q", got, want)
	}
	o.host, o.port = "::1", 5433
	if got, want := o.dsn("p"), "postgres://tollgate:p@[::1]:5433/tollgate"; got != want {
		t.Errorf("tcp dsn %q, want %q", got, want)
	}
}

func TestSetupDBRefusesOddNames(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	if code := setupDB([]string{"--database", `x"; DROP DATABASE y; --`}, &bytes.Buffer{}, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "identifiers") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

func TestQuoteLiteral(t *testing.T) {
	t.Parallel()
	if got := quoteLiteral("it's"); got != "'it''s'" {
		t.Fatalf("got %s", got)
	}
}

// FuzzEnvFile: any file parses, and writing it back keeps every line.
func FuzzEnvFile(f *testing.F) {
	f.Add([]byte("TOLLGATE_CDR_DATABASE=postgres://a:b@/c?host=/run\n# x\n"))
	f.Add([]byte("A=\"b\"\r\nB='c'\n=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := parseEnvFile(data)
		_, _ = e.get("TOLLGATE_CDR_DATABASE")
		again := parseEnvFile(e.bytes())
		if len(again.lines) != len(e.lines) {
			t.Fatalf("%d lines, then %d", len(e.lines), len(again.lines))
		}
	})
}
