package aaa_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestStatusServerDetectsStoppedServer: the primary FreeRADIUS is frozen
// (SIGSTOP). Status-Server probing marks it down before any call asks it,
// so the next authorisation goes straight to the secondary, without
// waiting out the primary's timeout, and names the secondary as the server
// that answered. Thawed, the primary is found again by the probes alone.
func TestStatusServerDetectsStoppedServer(t *testing.T) {
	t.Parallel()
	primary := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	secondary := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	const timeout = 2 * time.Second
	c := newClient(t, aaa.ClientConfig{
		Servers: []aaa.ServerConfig{
			{Addr: primary.AuthAddr, Secret: primary.Secret, Timeout: timeout, Retries: -1},
			{Addr: secondary.AuthAddr, Secret: secondary.Secret, Timeout: timeout},
		},
		StatusInterval: 100 * time.Millisecond,
	})
	a := aaa.NewAuthorizer(c, aaa.AuthConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	testenv.Eventually(t, 5*time.Second, "both servers answering Status-Server", func() bool {
		st := c.Stats()
		return st[0].Probe == aaa.ProbeAnswering && st[1].Probe == aaa.ProbeAnswering && st[0].ProbeRTT > 0
	})
	res, err := a.Authorize(ctx, ipRequest("127.0.0.2"))
	if err != nil || res.Server != primary.AuthAddr {
		t.Fatalf("first call: %+v, %v", res, err)
	}

	if err := syscall.Kill(primary.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	defer func() {
		if !thawed {
			_ = syscall.Kill(primary.Pid(), syscall.SIGCONT)
		}
	}()
	testenv.Eventually(t, 3*timeout, "the frozen primary marked down by Status-Server", func() bool {
		st := c.Stats()[0]
		return !st.Up && st.Probe == aaa.ProbeSilent
	})
	sentToPrimary := c.Stats()[0].Requests
	start := time.Now()
	res, err = a.Authorize(ctx, ipRequest("127.0.0.2"))
	if took := time.Since(start); err != nil || res.Server != secondary.AuthAddr || took >= timeout {
		t.Fatalf("call with the primary frozen: %+v, %v, after %v", res, err, took)
	}
	if n := c.Stats()[0].Requests; n != sentToPrimary {
		t.Errorf("a call was sent to the frozen primary (%d requests, %d before)", n, sentToPrimary)
	}

	if err := syscall.Kill(primary.Pid(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	thawed = true
	testenv.Eventually(t, 5*time.Second, "the thawed primary up again", func() bool {
		st := c.Stats()[0]
		return st.Up && st.Probe == aaa.ProbeAnswering
	})
	if res, err = a.Authorize(ctx, ipRequest("127.0.0.2")); err != nil || res.Server != primary.AuthAddr {
		t.Errorf("call after the thaw: %+v, %v", res, err)
	}
}

// TestStatusServerUnsupported: a server with Status-Server turned off, as
// one that does not implement RFC 5997, is never taken for dead while it
// answers calls: probing finds it unsupported and stops.
func TestStatusServerUnsupported(t *testing.T) {
	t.Parallel()
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{NoStatusServer: true})
	c := newClient(t, aaa.ClientConfig{
		Servers:        []aaa.ServerConfig{{Addr: fr.AuthAddr, Secret: fr.Secret, Timeout: 300 * time.Millisecond, Retries: -1}},
		StatusInterval: 50 * time.Millisecond,
	})
	a := aaa.NewAuthorizer(c, aaa.AuthConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	testenv.Eventually(t, 10*time.Second, "Status-Server found unsupported while calls are answered", func() bool {
		if _, err := a.Authorize(ctx, ipRequest("127.0.0.2")); err != nil {
			t.Fatalf("call: %v", err)
		}
		st := c.Stats()[0]
		if !st.Up {
			t.Fatal("a server answering calls was marked down")
		}
		return st.Probe == aaa.ProbeUnsupported
	})
}
