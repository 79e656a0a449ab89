package b2bua

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

// fullDisk fails its first writes as a spool on a full disk does.
type fullDisk struct {
	failures atomic.Int32
	out      chan cdr.Record
}

func (f *fullDisk) Write(_ context.Context, r *cdr.Record) error {
	if f.failures.Add(-1) >= 0 {
		return errors.New("cdr spool: write: no space left on device")
	}
	f.out <- *r
	return nil
}

// A record the sink refuses is held, counted as an alarm and written once
// the sink takes it again; the switch carries on meanwhile.
func TestRecordHeldWhileTheSinkFails(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sink := &fullDisk{out: make(chan cdr.Record, 4)}
	sink.failures.Store(2)
	sw := startSwitchWith(t, routeTo(gw), sink)
	caller := newPeer(t, "caller")
	ctx := within(t, 20*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	ds.Bye(ctx)
	select {
	case r := <-sink.out:
		if r.DisconnectReason != cdr.ReasonNormal {
			t.Errorf("record = %+v", r)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the held record was never written")
	}
	if n := sw.Stats().RecordErrors.Load(); n != 2 {
		t.Errorf("RecordErrors = %d, want 2", n)
	}
	testenv.Eventually(t, 5*time.Second, "no record pending after the write", func() bool {
		return sw.Stats().RecordsPending.Load() == 0
	})
	// The switch still takes calls.
	again, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	again.Bye(ctx)
	<-sink.out
}
