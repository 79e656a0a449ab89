package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// detailRecord writes one record as FreeRADIUS's detail module does.
func detailRecord(status, confID, origin string) string {
	var b strings.Builder
	b.WriteString("Mon Nov 23 00:08:34 2026\n")
	fmt.Fprintf(&b, "\tAcct-Status-Type = %s\n\tUser-Name = \"127.0.0.1\"\n", status)
	if confID != "" {
		fmt.Fprintf(&b, "\th323-conf-id = \"h323-conf-id=%s\"\n", confID)
	}
	if origin != "" {
		fmt.Fprintf(&b, "\th323-call-origin = \"h323-call-origin=%s\"\n", origin)
	}
	b.WriteString("\tCisco-AVPair = \"h323-session-protocol=sipv2\"\n\tTimestamp = 1795392514\n\n")
	return b.String()
}

// sampleDetail holds one complete call (A), one whose outgoing Stop is
// missing (B), an attempt that never connected (C), a duplicate, an
// Interim-Update, a record without a conf-id, and a record still being
// written.
func sampleDetail() string {
	a, b, c := "8EE803DB 2FEB44E1 B281A850 B4EB584B", "3462B37A FF724C82 93B34791 161E99C3", "00000000 1 2 3"
	return detailRecord("Start", a, "answer") + detailRecord("Start", a, "originate") +
		detailRecord("Start", b, "answer") + detailRecord("Start", b, "originate") +
		detailRecord("Interim-Update", a, "answer") +
		detailRecord("Stop", a, "originate") + detailRecord("Stop", a, "answer") + detailRecord("Stop", b, "answer") +
		detailRecord("Stop", c, "answer") + detailRecord("Stop", c, "originate") +
		detailRecord("Stop", a, "answer") + detailRecord("Stop", "", "answer") +
		"Mon Nov 23 00:08:35 2026\n\tAcct-Status-Type = Stop\n\th323-conf-id = \"h323-conf-id=" + b
}

func TestDetailTally(t *testing.T) {
	t.Parallel()
	want := acctCounts{records: 12, answered: 2, complete: 1, failed: 1, dups: 1, bad: 1}
	d := newDetailTally()
	d.feed([]byte(sampleDetail()))
	if got := d.counts(); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if d.interims != 1 || want.open() != 1 {
		t.Fatalf("interims %d, open %d", d.interims, want.open())
	}
	// Fed a byte at a time, as a file read while it is written may be.
	d = newDetailTally()
	for _, c := range []byte(sampleDetail()) {
		d.feed([]byte{c})
	}
	if got := d.counts(); got != want {
		t.Fatalf("byte by byte: got %+v, want %+v", got, want)
	}
	// The record being written completes B once it ends.
	d.feed([]byte("\"\n\th323-call-origin = \"h323-call-origin=originate\"\n\n"))
	if got := d.counts(); got.complete != 2 || got.open() != 0 || got.records != 13 {
		t.Fatalf("after the last record: %+v", got)
	}
}

func TestDetailFileFollowsGrowth(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "detail")
	f := &detailFile{path: path, tally: newDetailTally()}
	if c, err := f.read(); err != nil || c.records != 0 {
		t.Fatalf("absent file: %+v, %v", c, err)
	}
	text := sampleDetail()
	half := len(text) / 2
	if err := os.WriteFile(path, []byte(text[:half]), 0o600); err != nil {
		t.Fatal(err)
	}
	first, err := f.read()
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteString(text[half:]); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	all, err := f.read()
	if err != nil {
		t.Fatal(err)
	}
	if first.records >= all.records || all.records != 12 || all.complete != 1 {
		t.Fatalf("first read %+v, then %+v", first, all)
	}
}

func FuzzDetailTally(f *testing.F) {
	f.Add(sampleDetail(), 100)
	f.Add("x\n\tAcct-Status-Type = Start\n\n\n\t = \n", 3)
	f.Fuzz(func(t *testing.T, text string, cut int) {
		whole := newDetailTally()
		whole.feed([]byte(text))
		want := whole.counts()
		if want.complete > want.answered || want.open() < 0 || want.records < want.dups+want.bad {
			t.Fatalf("inconsistent counts %+v", want)
		}
		if cut < 0 || cut > len(text) {
			return
		}
		split := newDetailTally()
		split.feed([]byte(text[:cut]))
		split.feed([]byte(text[cut:]))
		if got := split.counts(); got != want {
			t.Fatalf("fed in two pieces: %+v, whole: %+v", got, want)
		}
	})
}
