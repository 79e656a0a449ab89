package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// fakeProc writes a /proc layout under dir: per pid, a stat with the given
// process group and utime/stime ticks and, unless pss is negative, an
// smaps_rollup with that Pss in kB.
func fakeProc(t *testing.T, dir string, pid, pgrp, utime, stime, pss int) {
	t.Helper()
	p := filepath.Join(dir, strconv.Itoa(pid))
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	stat := fmt.Sprintf("%d (kamailio) S 1 %d %d 0 -1 4194560 900 0 0 0 %d %d 0 0 20 0 1 0 300 1000 200", pid, pgrp, pgrp, utime, stime)
	if err := os.WriteFile(filepath.Join(p, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	if pss >= 0 {
		rollup := fmt.Sprintf("55914d427000-7ffd9d5a1000 ---p 00000000 00:00 0 [rollup]\nRss:  9000 kB\nPss:  %d kB\n", pss)
		if err := os.WriteFile(filepath.Join(p, "smaps_rollup"), []byte(rollup), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSumGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fakeProc(t, dir, 100, 100, 50, 20, 1000) // the main process
	fakeProc(t, dir, 101, 100, 300, 100, 2000)
	fakeProc(t, dir, 102, 100, 7, 3, -1) // exited before its smaps_rollup was read
	fakeProc(t, dir, 200, 200, 900, 900, 5000)
	if err := os.MkdirAll(filepath.Join(dir, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := sumGroup(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := 4700 * time.Millisecond; s.cpu != want {
		t.Fatalf("cpu = %v, want %v (processes 100 and 101)", s.cpu, want)
	}
	if want := int64(3000 << 10); s.rss != want {
		t.Fatalf("memory = %d, want %d", s.rss, want)
	}
	if _, err := sumGroup(dir, 300); err == nil {
		t.Fatal("an empty group summed without error")
	}
	fakeProc(t, dir, 103, 100, 1, 1, 0)
	if err := os.WriteFile(filepath.Join(dir, "103", "smaps_rollup"), []byte("Pss: 1 MB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := sumGroup(dir, 100); !errors.Is(err, errProcFormat) {
		t.Fatalf("bad Pss unit: err = %v, want errProcFormat", err)
	}
}

func TestParseProcStatGroup(t *testing.T) {
	t.Parallel()
	g, cpu, err := parseProcStatGroup([]byte("7 (a (b)) S 1 42 42 0 -1 0 0 0 0 0 5 6 0 0"))
	if err != nil || g != 42 || cpu != 110*time.Millisecond {
		t.Fatalf("got group %d, cpu %v, %v; want 42, 110ms", g, cpu, err)
	}
	if _, _, err := parseProcStatGroup([]byte("7 (a) S 1 x 42 0 -1 0 0 0 0 0 5 6 0 0")); !errors.Is(err, errProcFormat) {
		t.Fatalf("bad pgrp: err = %v", err)
	}
}
