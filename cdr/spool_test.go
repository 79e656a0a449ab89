package cdr

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"
)

func openSpool(t *testing.T, dir string, opt SpoolOptions) *Spool {
	t.Helper()
	s, err := OpenSpool(dir, opt)
	if err != nil {
		t.Fatalf("OpenSpool: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// drain reads and commits everything currently in the spool.
func drain(t *testing.T, s *Spool) []Record {
	t.Helper()
	var out []Record
	for s.Stats().Depth > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		b, err := s.Next(ctx, 100)
		cancel()
		if err != nil {
			t.Fatalf("Next with depth %d: %v", s.Stats().Depth, err)
		}
		out = append(out, b.Records...)
		if err := s.Commit(b); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	return out
}

func ids(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func TestSpoolRoundTripAndCheckpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openSpool(t, dir, SpoolOptions{})
	for i := range 10 {
		if err := s.Append(new(fullRecord(i))); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Depth != 10 || st.OldestUnshipped.IsZero() || st.Bytes == 0 {
		t.Fatalf("stats after 10 appends: %+v", st)
	}
	ctx := context.Background()
	b, err := s.Next(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Records) != 4 || !reflect.DeepEqual(b.Records[0], fullRecord(0)) {
		t.Fatalf("first batch: %d records, first %+v", len(b.Records), b.Records[0])
	}
	if err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().Depth; got != 6 {
		t.Fatalf("depth after committing 4: %d", got)
	}
	// Read the next batch but crash before committing it: it comes back.
	if _, err := s.Next(ctx, 3); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s2 := openSpool(t, dir, SpoolOptions{})
	if got := s2.Stats().Depth; got != 6 {
		t.Fatalf("depth after reopen: %d", got)
	}
	rest := drain(t, s2)
	want := []string{testID(4), testID(5), testID(6), testID(7), testID(8), testID(9)}
	if !reflect.DeepEqual(ids(rest), want) {
		t.Fatalf("replayed %v, want %v", ids(rest), want)
	}
	if st := s2.Stats(); st.Depth != 0 || !st.OldestUnshipped.IsZero() {
		t.Fatalf("stats when drained: %+v", st)
	}
	// Appends continue with new sequence numbers after a reopen.
	if err := s2.Append(new(fullRecord(10))); err != nil {
		t.Fatal(err)
	}
	if got := ids(drain(t, s2)); !reflect.DeepEqual(got, []string{testID(10)}) {
		t.Fatalf("after reopen got %v", got)
	}
}

func TestSpoolRejectsRecordsWithoutIdentity(t *testing.T) {
	t.Parallel()
	s := openSpool(t, t.TempDir(), SpoolOptions{})
	r := fullRecord(1)
	r.ID = "not-a-uuid"
	if err := s.Append(&r); err == nil {
		t.Fatal("accepted a record whose ID is not a UUID")
	}
	r = fullRecord(1)
	r.SetupTime = time.Time{}
	if err := s.Append(&r); err == nil {
		t.Fatal("accepted a record without setup time")
	}
}

func TestSpoolTornTailIsTruncated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openSpool(t, dir, SpoolOptions{})
	for i := range 5 {
		if err := s.Append(new(fullRecord(i))); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	fi, _ := os.Stat(segs[0])
	// Cut the last record in half, as a crash mid-write would.
	if err := os.Truncate(segs[0], fi.Size()-200); err != nil {
		t.Fatal(err)
	}

	s2 := openSpool(t, dir, SpoolOptions{})
	if err := s2.Append(new(fullRecord(5))); err != nil {
		t.Fatal(err)
	}
	got := ids(drain(t, s2))
	want := []string{testID(0), testID(1), testID(2), testID(3), testID(5)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after torn tail got %v, want %v", got, want)
	}
}

func TestSpoolSkipsDamagedRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openSpool(t, dir, SpoolOptions{})
	for i := range 5 {
		if err := s.Append(new(fullRecord(i))); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
	data, _ := os.ReadFile(segs[0])
	// Flip a byte inside the payload of the third record.
	off := 0
	for range 2 {
		_, n, _ := decodeFrame(data[off:])
		off += n
	}
	data[off+frameHeader+10] ^= 0xff
	if err := os.WriteFile(segs[0], data, 0o640); err != nil {
		t.Fatal(err)
	}
	s2 := openSpool(t, dir, SpoolOptions{})
	got := ids(drain(t, s2))
	want := []string{testID(0), testID(1), testID(3), testID(4)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestSpoolDeletesShippedSegments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openSpool(t, dir, SpoolOptions{SegmentSize: 4096})
	for i := range 60 {
		if err := s.Append(new(fullRecord(i))); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Segments < 5 {
		t.Fatalf("expected several segments, stats %+v", st)
	}
	if got := len(drain(t, s)); got != 60 {
		t.Fatalf("drained %d", got)
	}
	// One more batch moves the reader off the last sealed segment.
	if err := s.Append(new(fullRecord(60))); err != nil {
		t.Fatal(err)
	}
	drain(t, s)
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
	if len(segs) > 2 {
		t.Fatalf("%d segment files left after shipping everything: %v", len(segs), segs)
	}
	if st := s.Stats(); st.Segments != len(segs) {
		t.Fatalf("stats say %d segments, disk has %d", st.Segments, len(segs))
	}
}

func TestSpoolConcurrentAppendersDeliveredOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openSpool(t, dir, SpoolOptions{SegmentSize: 64 << 10})
	const writers, each = 8, 150
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan []Record, 1)
	go func() {
		var all []Record
		for len(all) < writers*each {
			b, err := s.Next(ctx, 64)
			if err != nil {
				break
			}
			all = append(all, b.Records...)
			if err := s.Commit(b); err != nil {
				break
			}
		}
		got <- all
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := s.Append(new(fullRecord(w*each + i))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	all := <-got
	seen := map[string]int{}
	for _, r := range all {
		seen[r.ID]++
	}
	if len(all) != writers*each || len(seen) != writers*each {
		t.Fatalf("delivered %d records, %d distinct; want %d", len(all), len(seen), writers*each)
	}
}

// TestSpoolFullDisk fills a tiny tmpfs: appends fail with ENOSPC (an error,
// not a panic), records acknowledged before are kept, and appends work again
// once space comes back.
func TestSpoolFullDisk(t *testing.T) {
	t.Parallel()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs (tests run as root): %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "spool")
	s, err := OpenSpool(dir, SpoolOptions{SegmentSize: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var ok []string
	var appendErr error
	for i := 0; i < 1000; i++ {
		if err := s.Append(new(fullRecord(i))); err != nil {
			appendErr = err
			break
		}
		ok = append(ok, testID(i))
	}
	if !errors.Is(appendErr, syscall.ENOSPC) {
		t.Fatalf("append on a full disk: %v, want ENOSPC", appendErr)
	}
	// Still full: another append fails cleanly too.
	if err := s.Append(new(fullRecord(5000))); err == nil {
		t.Fatal("append succeeded on a full disk")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i := 1000; i < 1010; i++ {
		if err := s.Append(new(fullRecord(i))); err != nil {
			t.Fatalf("append after space returned: %v", err)
		}
		ok = append(ok, testID(i))
	}
	got := ids(drain(t, s))
	sort.Strings(got)
	sort.Strings(ok)
	if !reflect.DeepEqual(got, ok) {
		t.Fatalf("after a full disk delivered %d records, want the %d acknowledged", len(got), len(ok))
	}
	// Reopen: nothing acknowledged is lost, nothing shipped comes back.
	s.Close()
	s2, err := OpenSpool(dir, SpoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if d := s2.Stats().Depth; d != 0 {
		t.Fatalf("depth after reopen %d", d)
	}
}
