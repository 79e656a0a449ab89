package cdr

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// tmpfs mounts a file system of size bytes for the test (tests run as
// root), so that a full disk is real and quick to reach.
func tmpfs(t *testing.T, size int) string {
	t.Helper()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(size), "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs (tests run as root): %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	return mnt
}

// fill writes a file until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !isNoSpace(err) {
				t.Fatal(err)
			}
			return
		}
	}
}

// TestSpoolReserveOnFullDisk: the disk fills up under the spool. The
// spool writes on into its reserve (and says so: SpoolOnReserve, the state
// in which the switch refuses new calls), fails only once the reserve is
// used up too, gives back every shipped byte — the segment being written
// included, far below its segment size — to its reserve first, and is ready
// again once the disk has room. Then, with the disk full once
// more, the spool and the journal still open: start works on a full disk.
func TestSpoolReserveOnFullDisk(t *testing.T) {
	t.Parallel()
	mnt := tmpfs(t, 4<<20)
	dir := filepath.Join(mnt, "spool")
	const reserve = 128 << 10
	s, err := OpenSpool(dir, SpoolOptions{SegmentSize: 1 << 20, Reserve: reserve})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.Stats(); st.State != SpoolReady {
		t.Fatalf("state %v on an empty disk", st.State)
	}
	jdir := filepath.Join(mnt, "journal")
	j, err := OpenJournal(jdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := j.Connected(new(connectedRecord(10000+i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	fill(t, filepath.Join(mnt, "filler"))
	// Calls still connect on the full disk: the journal has space of its own.
	for i := range 20 {
		if err := j.Connected(new(connectedRecord(10020+i)), nil); err != nil {
			t.Fatalf("journal on a full disk: %v", err)
		}
	}

	var acked []string
	var appendErr error
	onReserveAt := -1
	for i := range 1000 {
		if appendErr = s.Append(new(fullRecord(i))); appendErr != nil {
			break
		}
		acked = append(acked, testID(i))
		if onReserveAt < 0 && s.Stats().State == SpoolOnReserve {
			onReserveAt = i
		}
	}
	if onReserveAt != 0 {
		t.Errorf("on reserve from record %d, want the first on a full disk", onReserveAt)
	}
	if !isNoSpace(appendErr) || s.Stats().State != SpoolFull {
		t.Fatalf("after the reserve: append error %v, state %v", appendErr, s.Stats().State)
	}
	// The reserve held most of a segment's records.
	if len(acked) < 40 {
		t.Fatalf("only %d records written into a %d-byte reserve", len(acked), reserve)
	}

	got := ids(drain(t, s))
	sort.Strings(got)
	sort.Strings(acked)
	if len(got) != len(acked) {
		t.Fatalf("shipped %d records, %d were acknowledged", len(got), len(acked))
	}
	// What shipping gave back went to the reserve first.
	st := s.Stats()
	if st.State != SpoolOnReserve || st.Segments != 0 || st.Bytes != 0 {
		t.Fatalf("after shipping everything: %+v, want the reserve back and no segment left", st)
	}
	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "spool ready once the disk has room", func() bool { return s.State() == SpoolReady })
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != checkpointName && e.Name() != reserveName {
			t.Errorf("%s left in the spool after shipping everything", e.Name())
		}
	}

	// A restart on a disk full again: both open, and the spool's reserve
	// takes the records of the calls the journal recovers.
	s.Close()
	j.Close()
	fill(t, filepath.Join(mnt, "filler2"))
	s2, err := OpenSpool(dir, SpoolOptions{SegmentSize: 1 << 20, Reserve: reserve})
	if err != nil {
		t.Fatalf("spool on a full disk: %v", err)
	}
	defer s2.Close()
	j2, err := OpenJournal(jdir, nil)
	if err != nil {
		t.Fatalf("journal on a full disk: %v", err)
	}
	defer j2.Close()
	orphans := records(j2.Recover())
	if len(orphans) != 40 {
		t.Fatalf("%d calls recovered, want 40", len(orphans))
	}
	for _, rec := range orphans {
		if err := s2.Append(&rec); err != nil {
			t.Fatalf("recovered record on a full disk: %v", err)
		}
		if err := j2.Ended(rec.ID); err != nil {
			t.Fatal(err)
		}
	}
	if st := s2.Stats(); st.State == SpoolReady || st.Depth != 40 {
		t.Errorf("after recovery on a full disk: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(jdir, journalName+".tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed compaction left its temporary file: %v", err)
	}
}
