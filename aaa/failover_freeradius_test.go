package aaa_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/internal/testenv"
)

func TestAuthFailoverToSecondary(t *testing.T) {
	t.Parallel()
	primary := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	secondary := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	primary.Stop()
	c := newClient(t, aaa.ClientConfig{
		Servers: []aaa.ServerConfig{
			{Addr: primary.AuthAddr, Secret: primary.Secret, Timeout: 300 * time.Millisecond, Retries: 1},
			{Addr: secondary.AuthAddr, Secret: secondary.Secret, Timeout: 3 * time.Second},
		},
		DownAfter: 2, ProbeInterval: 100 * time.Millisecond,
	})
	a := aaa.NewAuthorizer(c, aaa.AuthConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range 4 {
		if _, err := a.Authorize(ctx, ipRequest("127.0.0.2")); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	st := c.Stats()
	if st[0].Up || st[0].Timeouts < 2 || st[1].Accepts != 4 || st[1].MeanLatency <= 0 {
		t.Errorf("stats after outage: %+v", st)
	}
	// The primary comes back: the health check finds it and it is used first again.
	primary.Start()
	for !c.Stats()[0].Up {
		select {
		case <-ctx.Done():
			t.Fatal("primary never marked up again")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if _, err := a.Authorize(ctx, ipRequest("127.0.0.2")); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st[0].Accepts < 1 {
		t.Errorf("primary not used after recovery: %+v", st)
	}
}

func TestMessageAuthenticatorRequiredByFreeRADIUS(t *testing.T) {
	t.Parallel()
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{RequireMessageAuthenticator: true})
	a := authorizer(t, fr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.Authorize(ctx, ipRequest("127.0.0.2")); err != nil {
		t.Fatalf("signed request refused: %v\n%s", err, fr.Log())
	}
	// The same request without attribute 80 (layeh's own client) is dropped:
	// the requirement is really on.
	p := radius.New(radius.CodeAccessRequest, []byte(fr.Secret))
	rfc2865.UserName_SetString(p, "127.0.0.2")
	rfc2865.UserPassword_SetString(p, "cisco")
	short, cancel2 := context.WithTimeout(ctx, time.Second)
	defer cancel2()
	if reply, err := (&radius.Client{Retry: 0}).Exchange(short, p, fr.AuthAddr); err == nil {
		t.Fatalf("unsigned request answered: %v", reply.Code)
	}
}

// TestAccountingOutageQueued: all accounting servers down while calls end;
// the records are queued durably, survive a restart of the client, and
// reach FreeRADIUS exactly once when it is back.
func TestAccountingOutageQueued(t *testing.T) {
	t.Parallel()
	fr1 := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	fr2 := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	fr1.Stop()
	fr2.Stop()
	dir := t.TempDir()
	servers := []aaa.ServerConfig{
		{Addr: fr1.AcctAddr, Secret: fr1.Secret, Timeout: 200 * time.Millisecond, Retries: 1},
		{Addr: fr2.AcctAddr, Secret: fr2.Secret, Timeout: 200 * time.Millisecond, Retries: 1},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	q, err := aaa.OpenQueue(dir)
	if err != nil {
		t.Fatal(err)
	}
	acct, c := accountant(t, q, servers...)
	const calls = 15
	for i := range calls {
		leg := aaa.Leg{Origin: aaa.OriginAnswer, UserName: "127.0.0.2", CallID: fmt.Sprintf("outage-%d", i),
			ConfID: aaa.NewConfID(), RemoteAddress: "127.0.0.2", SetupTime: time.Now(), ConnectTime: time.Now()}
		if err := acct.Start(ctx, leg); err != nil {
			t.Fatal(err)
		}
		if err := acct.Stop(ctx, leg, aaa.StopInfo{Time: time.Now(), ReleaseSource: aaa.ReleasedByCaller}); err != nil {
			t.Fatal(err)
		}
	}
	if n := q.Len(); n != 2*calls {
		t.Fatalf("%d queued, want %d", n, 2*calls)
	}
	// Restart: the client goes away, the queue is reopened from disk.
	c.Close()
	q.Close()
	q, err = aaa.OpenQueue(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if n := q.Len(); n != 2*calls {
		t.Fatalf("%d records after reopening, want %d", n, 2*calls)
	}
	acct, _ = accountant(t, q, servers...)
	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { acct.Run(runCtx); close(done) }()
	defer func() { stopRun(); <-done }()

	fr2.Start() // the second server comes back first
	for q.Len() > 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("%d records still queued", q.Len())
		case <-time.After(50 * time.Millisecond):
		}
	}
	recs, err := fr2.Detail()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2*calls {
		t.Fatalf("FreeRADIUS logged %d records, want %d", len(recs), 2*calls)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		key := r.Get("Acct-Session-Id") + "/" + r.Get("Acct-Status-Type")
		if seen[key] {
			t.Errorf("duplicate %s", key)
		}
		seen[key] = true
		if r.Get("Acct-Delay-Time") == "" {
			t.Errorf("%s without Acct-Delay-Time", key)
		}
	}
	for i := range calls {
		for _, st := range []string{"Start", "Stop"} {
			if key := fmt.Sprintf("outage-%d/%s", i, st); !seen[key] {
				t.Errorf("lost %s", key)
			}
		}
	}
}
