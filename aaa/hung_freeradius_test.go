package aaa_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
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

// relayFault is what a faultyRelay does to the first datagram it carries.
type relayFault int

const (
	// stopOnFirstReply: the first reply stops the server (SIGSTOP) and is
	// held: FreeRADIUS has read and logged that record and is stopped
	// before its reply reached the client, a moment a SIGSTOP can fall on
	// at any time.
	stopOnFirstReply relayFault = iota
	// dropFirstRequest: the first request is lost on the way.
	dropFirstRequest
)

// faultyRelay passes datagrams between the client and FreeRADIUS's
// accounting port, one upstream socket per client socket so the server sees
// each client socket as one source, with one fault.
type faultyRelay struct {
	addr    string
	down    *net.UDPConn
	stopped chan heldReply // stopOnFirstReply: once the server is stopped
}

// heldReply is a reply the relay kept from the client.
type heldReply struct {
	b  []byte
	to *net.UDPAddr
}

// deliver hands the held reply to the client at last.
func (r *faultyRelay) deliver(h heldReply) {
	r.down.WriteToUDP(h.b, h.to)
}

func newFaultyRelay(t *testing.T, fr *testenv.FreeRADIUS, fault relayFault) *faultyRelay {
	t.Helper()
	down, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { down.Close() })
	srv, err := net.ResolveUDPAddr("udp", fr.AcctAddr)
	if err != nil {
		t.Fatal(err)
	}
	r := &faultyRelay{addr: down.LocalAddr().String(), down: down, stopped: make(chan heldReply, 1)}
	var once sync.Once
	// first reports whether this is the first datagram the fault is for.
	first := func() bool {
		hit := false
		once.Do(func() { hit = true })
		return hit
	}
	ups := map[string]*net.UDPConn{} // only this goroutine uses it
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := down.ReadFromUDP(buf)
			if err != nil {
				return
			}
			up := ups[from.String()]
			if up == nil {
				if up, err = net.DialUDP("udp", nil, srv); err != nil {
					continue
				}
				ups[from.String()] = up
				t.Cleanup(func() { up.Close() })
				go func() {
					rb := make([]byte, 4096)
					for {
						n, err := up.Read(rb)
						if err != nil {
							return
						}
						reply := append([]byte(nil), rb[:n]...)
						if fault == stopOnFirstReply && first() {
							syscall.Kill(fr.Pid(), syscall.SIGSTOP)
							r.stopped <- heldReply{reply, from}
							continue
						}
						down.WriteToUDP(reply, from)
					}
				}()
			}
			if fault == dropFirstRequest && first() {
				continue
			}
			up.Write(buf[:n])
		}
	}()
	return r
}

// relayedAccountant runs an Accountant against fr through a relay that
// injects fault, with short timeouts and retry interval so the faults play
// out in seconds; it stops with the test.
func relayedAccountant(t *testing.T, fr *testenv.FreeRADIUS, fault relayFault) (*faultyRelay, *aaa.Client, *aaa.Queue, *aaa.Accountant) {
	t.Helper()
	relay := newFaultyRelay(t, fr, fault)
	c := newClient(t, aaa.ClientConfig{
		Servers:   []aaa.ServerConfig{{Addr: relay.addr, Secret: fr.Secret, Timeout: 300 * time.Millisecond, Retries: 2}},
		DownAfter: 1, ProbeInterval: 100 * time.Millisecond,
	})
	q, err := aaa.OpenQueue(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	acct := aaa.NewAccountant(c, q, aaa.AccountingConfig{RetryInterval: 100 * time.Millisecond})
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { acct.Run(ctx); close(ran) }()
	// Cleanups run last in, first out: the accountant stops before its queue closes.
	t.Cleanup(func() { q.Close() })
	t.Cleanup(func() { stop(); <-ran })
	return relay, c, q, acct
}

// TestAccountingStoppedAfterReadingNoDuplicate: FreeRADIUS reads and logs a
// record, and is stopped before its reply reaches the client. It forgets an
// Accounting-Request 2/3 s after reading it, by its own clock, and checks
// that timer before it reads its socket when it runs again: a copy of the
// record the client wrote in the meantime would be logged a second time.
// The record must be logged once, and delivered.
func TestAccountingStoppedAfterReadingNoDuplicate(t *testing.T) {
	t.Parallel()
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	relay, c, q, acct := relayedAccountant(t, fr, stopOnFirstReply)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	now := time.Now()
	leg := func(id string) aaa.Leg {
		return aaa.Leg{Origin: aaa.OriginAnswer, UserName: "127.0.0.2", CallID: id, ConfID: aaa.NewConfID(),
			RemoteAddress: "127.0.0.2", SetupTime: now, ConnectTime: now}
	}
	resumed := sync.OnceFunc(func() { syscall.Kill(fr.Pid(), syscall.SIGCONT) })
	t.Cleanup(resumed)
	if err := acct.Start(ctx, leg("stopped-1")); err != nil {
		t.Fatal(err)
	}
	var held heldReply
	select {
	case held = <-relay.stopped:
	case <-ctx.Done():
		t.Fatal("FreeRADIUS never answered")
	}
	// Stopped for longer than FreeRADIUS remembers the record: the
	// client's tries ran out, the record is queued, and the queue's resend
	// went unanswered too.
	testenv.Eventually(t, 10*time.Second, "record queued and its resend unanswered", func() bool {
		return q.Len() == 1 && c.Stats()[0].Timeouts >= 2
	})
	// The reply the server sent before it stopped reaches the client, and
	// the server runs again: it reads whatever the client wrote meanwhile.
	relay.deliver(held)
	resumed()
	testenv.Eventually(t, 10*time.Second, "record delivered", func() bool { return q.Len() == 0 })
	// A later record is logged after everything the server had waiting.
	if err := acct.Start(ctx, leg("stopped-2")); err != nil {
		t.Fatal(err)
	}
	var recs []testenv.DetailRecord
	testenv.Eventually(t, 10*time.Second, "the later record logged", func() bool {
		recs, _ = fr.Detail()
		return slices.ContainsFunc(recs, func(r testenv.DetailRecord) bool { return r.Get("Acct-Session-Id") == "stopped-2" })
	})
	var delays []string
	for _, r := range recs {
		if r.Get("Acct-Session-Id") == "stopped-1" {
			delays = append(delays, r.Get("Acct-Delay-Time"))
		}
	}
	if len(delays) != 1 {
		t.Errorf("stopped-1 logged %d times, Acct-Delay-Time %v", len(delays), delays)
	}
}

// TestAccountingLostRequestResent: the first datagram of a record is lost on
// a server that runs. The client resends it only once the server has shown
// it is running past it; the record must then be logged, once.
func TestAccountingLostRequestResent(t *testing.T) {
	t.Parallel()
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	_, _, q, acct := relayedAccountant(t, fr, dropFirstRequest)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	now := time.Now()
	if err := acct.Start(ctx, aaa.Leg{Origin: aaa.OriginAnswer, UserName: "127.0.0.2", CallID: "lost-1", ConfID: aaa.NewConfID(),
		RemoteAddress: "127.0.0.2", SetupTime: now, ConnectTime: now}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	testenv.Eventually(t, 15*time.Second, "record delivered", func() bool { return q.Len() == 0 })
	recs, err := fr.Detail()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Get("Acct-Session-Id") != "lost-1" {
		t.Errorf("detail has %d records, want lost-1 once", len(recs))
	}
	t.Logf("delivered %v after the first exchange gave up", time.Since(start).Round(10*time.Millisecond))
}
