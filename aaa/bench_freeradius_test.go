package aaa_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestManyOutstanding runs more requests at once than two sockets have
// identifiers: the client waits for free ones instead of failing.
func TestManyOutstanding(t *testing.T) {
	t.Parallel()
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	c := newClient(t, aaa.ClientConfig{Servers: []aaa.ServerConfig{{Addr: fr.AuthAddr, Secret: fr.Secret, Timeout: time.Second, Retries: 5, MaxSockets: 2}}})
	a := aaa.NewAuthorizer(c, aaa.AuthConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for range 1000 {
		wg.Go(func() {
			if _, err := a.Authorize(ctx, ipRequest("127.0.0.2")); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := c.Stats()[0]; st.Accepts != 1000 || st.Timeouts != 0 {
		t.Errorf("%+v", st)
	}
}

func BenchmarkAccessRequestFreeRADIUS(b *testing.B) {
	fr := testenv.StartFreeRADIUS(b, testenv.FreeRADIUSOptions{})
	a := authorizer(b, fr)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := ipRequest("127.0.0.2")
		for pb.Next() {
			if _, err := a.Authorize(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkAccountingRequestFreeRADIUS(b *testing.B) {
	fr := testenv.StartFreeRADIUS(b, testenv.FreeRADIUSOptions{})
	acct, _ := accountant(b, nil, acctServer(fr))
	ctx := context.Background()
	leg := aaa.Leg{Origin: aaa.OriginAnswer, UserName: "127.0.0.2", CallingNumber: "1555", CalledNumber: "1666",
		RemoteAddress: "127.0.0.2", CallID: "bench@x", ConfID: aaa.NewConfID(), SetupTime: time.Now(), ConnectTime: time.Now()}
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := acct.Stop(ctx, leg, aaa.StopInfo{Time: time.Now(), ReleaseSource: aaa.ReleasedByCaller}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
