package aaa

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

func attrs(user string) radius.Attributes {
	p := &radius.Packet{}
	rfc2865.UserName_SetString(p, user)
	return p.Attributes
}

func TestQueueReplayAndCheckpoints(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	q, err := OpenQueue(dir)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Unix(1_800_000_000, 5)
	for _, u := range []string{"a", "b", "c", "d"} {
		if _, err := q.Append(attrs(u), created); err != nil {
			t.Fatal(err)
		}
	}
	head := q.Head(2)
	if err := q.Delivered(head[1].Seq); err != nil { // out of order: "b" delivered, "a" not
		t.Fatal(err)
	}
	q.Close()

	// A crash tore the last write: a partial entry at the end.
	f, _ := os.OpenFile(filepath.Join(dir, "accounting.queue"), os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0, 0, 0, 40, 1, 2})
	f.Close()

	q, err = OpenQueue(dir)
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, r := range q.Head(10) {
		users = append(users, rfc2865.UserName_GetString(&radius.Packet{Attributes: r.Attrs}))
		if !r.Created.Equal(created) {
			t.Errorf("created %v", r.Created)
		}
	}
	if len(users) != 3 || users[0] != "a" || users[1] != "c" || users[2] != "d" {
		t.Fatalf("replayed %v", users)
	}
	if _, err := q.Append(attrs("e"), created); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, r := range q.Head(10) {
		seqs = append(seqs, r.Seq)
	}
	if err := q.Delivered(seqs...); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "accounting.queue")); st.Size() != 0 {
		t.Errorf("drained queue not truncated: %d bytes", st.Size())
	}
	q.Close()
	q, err = OpenQueue(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.Len() != 0 {
		t.Errorf("%d records after full delivery", q.Len())
	}
}

func FuzzQueueReplay(f *testing.F) {
	f.Add(appendLogEntry(appendLogEntry(nil, recRecord, make([]byte, 20)), recDelivered, make([]byte, 8)))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "accounting.queue"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		q, err := OpenQueue(dir)
		if err != nil {
			return
		}
		_, _ = q.Append(attrs("x"), time.Now())
		q.Close()
	})
}

// TestQueueOnFullDisk: the queue keeps space allocated past its end, so
// that records no server answered are still queued when its disk is full.
func TestQueueOnFullDisk(t *testing.T) {
	t.Parallel()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs (tests run as root): %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	q, err := OpenQueue(filepath.Join(mnt, "queue"))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	f, err := os.Create(filepath.Join(mnt, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = f.Write(make([]byte, 4096))
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the disk: %v", err)
	}
	big := attrs(strings.Repeat("x", 200))
	for i := range 1000 {
		if _, err := q.Append(big, time.Now()); err != nil {
			t.Fatalf("record %d on a full disk: %v", i, err)
		}
	}
	var seqs []uint64
	for _, r := range q.Head(1000) {
		seqs = append(seqs, r.Seq)
	}
	if err := q.Delivered(seqs...); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Append(big, time.Now()); err != nil {
		t.Fatalf("after delivery on a full disk: %v", err)
	}
}
