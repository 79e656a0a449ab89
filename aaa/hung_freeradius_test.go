package aaa_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/internal/testenv"
)

// lockedBuffer collects a logger's output from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAccountingHungServerNoDuplicates: FreeRADIUS is frozen (SIGSTOP)
// under a steady flow of records for longer than a request's tries, so
// records time out, are queued and resent, while every datagram waits in
// the server's socket. After SIGCONT the server reads them all: each record
// must reach its detail file exactly once, and the late replies must not be
// reported as forged.
func TestAccountingHungServerNoDuplicates(t *testing.T) {
	t.Parallel()
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c := newClient(t, aaa.ClientConfig{
		Servers:   []aaa.ServerConfig{{Addr: fr.AcctAddr, Secret: fr.Secret, Timeout: 300 * time.Millisecond, Retries: 2}},
		DownAfter: 1, ProbeInterval: 100 * time.Millisecond, Logger: log,
	})
	q, err := aaa.OpenQueue(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	acct := aaa.NewAccountant(c, q, aaa.AccountingConfig{RetryInterval: 100 * time.Millisecond, Logger: log})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { acct.Run(runCtx); close(ran) }()
	defer func() { stopRun(); <-ran }()

	// Ten callers, each ending a call (Start and Stop) every 50 ms.
	var (
		sent    atomic.Int64
		next    atomic.Int64
		failed  atomic.Value
		loading = make(chan struct{})
		wg      sync.WaitGroup
	)
	for range 10 {
		wg.Go(func() {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-loading:
					return
				case <-tick.C:
				}
				now := time.Now()
				leg := aaa.Leg{Origin: aaa.OriginAnswer, UserName: "127.0.0.2", CallID: fmt.Sprintf("hung-%d", next.Add(1)),
					ConfID: aaa.NewConfID(), RemoteAddress: "127.0.0.2", SetupTime: now, ConnectTime: now}
				for _, send := range []func() error{
					func() error { return acct.Start(ctx, leg) },
					func() error { return acct.Stop(ctx, leg, aaa.StopInfo{Time: now, ReleaseSource: aaa.ReleasedByCaller}) },
				} {
					if err := send(); err != nil {
						failed.Store(err)
						return
					}
					sent.Add(1)
				}
			}
		})
	}
	stopLoad := sync.OnceFunc(func() { close(loading); wg.Wait() })
	defer stopLoad()

	detailed := func() int {
		recs, _ := fr.Detail()
		return len(recs)
	}
	testenv.Eventually(t, 10*time.Second, "records flowing before the freeze", func() bool { return detailed() >= 100 })
	if err := syscall.Kill(fr.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := sync.OnceFunc(func() { syscall.Kill(fr.Pid(), syscall.SIGCONT) })
	t.Cleanup(resumed)
	// Frozen until the queue holds records that were sent, timed out (three
	// tries of 300 ms) and were resent by the drain, which timed out too.
	testenv.Eventually(t, 15*time.Second, "records queued and resent while frozen", func() bool {
		return q.Len() >= 300 && c.Stats()[0].Timeouts >= 10+2*32
	})
	frozenWith := q.Len()
	resumed()
	testenv.Eventually(t, 20*time.Second, "queue drained after the thaw", func() bool { return q.Len() == 0 })
	stopLoad()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	want := int(sent.Load())
	testenv.Eventually(t, 20*time.Second, "every record in the detail file", func() bool { return q.Len() == 0 && detailed() >= want })

	recs, err := fr.Detail()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	// delays of each key's copies: a doubled record with two delays went
	// out twice as new packets; with one delay, a retransmission was
	// taken for a new request by the server.
	delays := map[string][]string{}
	delayed := 0
	for _, r := range recs {
		key := r.Get("Acct-Session-Id") + "/" + r.Get("Acct-Status-Type")
		seen[key]++
		delays[key] = append(delays[key], r.Get("Acct-Delay-Time"))
		if r.Get("Acct-Delay-Time") != "0" {
			delayed++
		}
	}
	dups := 0
	for key, n := range seen {
		if n > 1 {
			dups++
			if dups <= 5 {
				t.Errorf("%s logged %d times, Acct-Delay-Time %v", key, n, delays[key])
			}
		}
	}
	for i := range next.Load() {
		for _, st := range []string{"Start", "Stop"} {
			if key := fmt.Sprintf("hung-%d/%s", i+1, st); seen[key] == 0 {
				t.Errorf("lost %s", key)
			}
		}
	}
	if len(recs) != want || dups > 0 {
		t.Errorf("detail has %d records (%d keys, %d doubled), %d were sent", len(recs), len(seen), dups, want)
	}
	if strings.Contains(logs.String(), "authenticator mismatch") {
		t.Errorf("late replies reported as forged:\n%s", logs.String())
	}
	st := c.Stats()[0]
	t.Logf("%d records, %d queued at the thaw, %d sent late (Acct-Delay-Time > 0), %d late replies ignored, %d timeouts",
		want, frozenWith, delayed, st.LateReplies, st.Timeouts)
}
