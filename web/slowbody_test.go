package web

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSlowBodiesAreCutOff: five connections each sending a POST /login body
// one byte at a time used to stay open as long as they kept dripping. With
// a body deadline of 300 ms each gets an answer and a closed connection
// well within the test's bound, whatever the drip does.
func TestSlowBodiesAreCutOff(t *testing.T) {
	t.Parallel()
	const bodyTimeout = 300 * time.Millisecond
	e := newEnvWith(t, func(o *Options) { o.BodyTimeout = bodyTimeout })
	addr := strings.TrimPrefix(e.ts.URL, "https://")
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- slowLogin(addr, i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// A body over the login form's limit is refused whole.
	res := e.anon().post("/login", url.Values{"name": {"admin"}, "password": {strings.Repeat("x", maxLoginBody)}})
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a %d-byte login form = %d", maxLoginBody, res.StatusCode)
	}
	// A normal login still goes through (the deadline is lifted once the
	// body is in).
	e.login("admin")
}

// slowLogin sends POST /login's headers and then its body a byte every 50
// ms, and wants the server to answer and close within 3 s.
func slowLogin(addr string, i int) error {
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return err
	}
	defer conn.Close()
	start := time.Now()
	if err := conn.SetDeadline(start.Add(3 * time.Second)); err != nil {
		return err
	}
	fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: tollgate\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("n")); err != nil {
					return
				}
			}
		}
	}()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return fmt.Errorf("connection %d: no answer after %v: %w", i, time.Since(start), err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !res.Close {
		return fmt.Errorf("connection %d: %d, close %v", i, res.StatusCode, res.Close)
	}
	return nil
}
