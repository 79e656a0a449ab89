package rtpproxyctl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// transport carries one command to a relay and brings back its reply body
// (without cookie or end of line).
type transport interface {
	exchange(ctx context.Context, cmd string) (string, error)
	close() error
}

// errClosed is returned by a transport used after close.
var errClosed = errors.New("rtpproxy: transport closed")

// newTransport opens the transport an rtpproxy -s style address names:
// udp:host[:port], udp6:host[:port], unix:/path (or a bare path),
// cunix:/path, tcp:host:port, tcp6:host:port.
func newTransport(address string, timeout time.Duration, retries int) (transport, error) {
	scheme, rest, ok := strings.Cut(address, ":")
	if !ok || strings.HasPrefix(address, "/") {
		scheme, rest = "unix", address
	}
	total := timeout * time.Duration(retries+1)
	switch scheme {
	case "udp", "udp6":
		if _, _, err := net.SplitHostPort(rest); err != nil {
			rest = net.JoinHostPort(strings.Trim(rest, "[]"), "22222")
		}
		return dialUDP(map[string]string{"udp": "udp4", "udp6": "udp6"}[scheme], rest, timeout, retries)
	case "unix":
		return &oneShot{path: rest, timeout: total}, nil
	case "cunix":
		return newPersistent("unix", rest, total), nil
	case "tcp", "tcp6":
		return newPersistent(map[string]string{"tcp": "tcp4", "tcp6": "tcp6"}[scheme], rest, total), nil
	}
	return nil, fmt.Errorf("rtpproxy: unknown transport in %q", address)
}

// Cookies are "<pid>_<counter>" like Kamailio's. The counter starts at a
// random value because rtpproxy caches replies by cookie alone for 35 s: a
// restarted Tollgate (often pid 1 again in a container) must not reuse the
// cookies of its previous life.
var (
	cookiePrefix  = strconv.Itoa(os.Getpid()) + "_"
	cookieCounter atomic.Uint64
)

func init() { cookieCounter.Store(uint64(rand.Uint32())) }

func nextCookie() string {
	return cookiePrefix + strconv.FormatUint(cookieCounter.Add(1), 10)
}

// udpTransport is one long-lived socket per relay; replies are matched to
// requests by cookie, and a request is resent with the same cookie so the
// relay's reply cache answers duplicates without running them twice.
type udpTransport struct {
	conn    *net.UDPConn
	timeout time.Duration
	retries int

	mu      sync.Mutex
	pending map[string]chan string
	done    chan struct{}
	closing sync.Once
}

func dialUDP(network, addr string, timeout time.Duration, retries int) (*udpTransport, error) {
	raddr, err := net.ResolveUDPAddr(network, addr)
	if err != nil {
		return nil, fmt.Errorf("rtpproxy: %w", err)
	}
	conn, err := net.DialUDP(network, nil, raddr)
	if err != nil {
		return nil, fmt.Errorf("rtpproxy: %w", err)
	}
	t := &udpTransport{conn: conn, timeout: timeout, retries: retries,
		pending: make(map[string]chan string), done: make(chan struct{})}
	go t.readLoop()
	return t, nil
}

func (t *udpTransport) readLoop() {
	buf := make([]byte, 8192)
	for {
		n, err := t.conn.Read(buf)
		if err != nil {
			select {
			case <-t.done:
				return
			default:
			}
			// ECONNREFUSED from an earlier datagram to a closed port: the
			// request it belonged to times out and is resent; keep reading.
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		cookie, body, ok := splitCookie(string(buf[:n]))
		if !ok {
			continue
		}
		t.mu.Lock()
		ch := t.pending[cookie]
		delete(t.pending, cookie)
		t.mu.Unlock()
		if ch != nil {
			ch <- body // buffered: never blocks
		}
	}
}

func (t *udpTransport) exchange(ctx context.Context, cmd string) (string, error) {
	cookie := nextCookie()
	msg := []byte(cookie + " " + cmd + "\n")
	ch := make(chan string, 1)
	t.mu.Lock()
	t.pending[cookie] = ch
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.pending, cookie)
		t.mu.Unlock()
	}()
	timer := time.NewTimer(t.timeout)
	defer timer.Stop()
	for try := 0; try <= t.retries; try++ {
		if try > 0 {
			timer.Reset(t.timeout)
		}
		// A failed write (ICMP refusal, no route) is treated like a lost
		// datagram: wait and resend, and let the retries decide.
		_, _ = t.conn.Write(msg)
		select {
		case body := <-ch:
			return body, nil
		case <-ctx.Done():
			return "", ctx.Err()
		case <-t.done:
			return "", errClosed
		case <-timer.C:
		}
	}
	return "", fmt.Errorf("%w after %d tries of %v", ErrTimeout, t.retries+1, t.timeout)
}

func (t *udpTransport) close() error {
	t.closing.Do(func() { close(t.done) })
	return t.conn.Close()
}

// oneShot is rtpproxy's unix: transport: one connection per command, which
// the relay closes after its reply.
type oneShot struct {
	path    string
	timeout time.Duration
}

func (t *oneShot) exchange(parent context.Context, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(parent, t.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", t.path)
	if err != nil {
		return "", failure(parent, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := conn.Write([]byte(cmd + "\n")); err != nil {
		return "", failure(parent, err)
	}
	reply, err := io.ReadAll(io.LimitReader(conn, 64<<10))
	if err != nil {
		return "", failure(parent, err)
	}
	if len(reply) == 0 {
		return "", fmt.Errorf("%w: connection closed without a reply", ErrTimeout)
	}
	return strings.TrimRight(string(reply), "\r\n"), nil
}

func (t *oneShot) close() error { return nil }

// persistent is the cunix: and tcp: transport: one connection, commands
// and replies in order, one line each. One command is in flight at a time;
// a failure closes the connection so a late reply cannot be taken for the
// next command's.
type persistent struct {
	network, addr string
	timeout       time.Duration

	sem    chan struct{} // held while a command is in flight
	conn   net.Conn
	r      *bufio.Reader
	closed atomic.Bool
}

func newPersistent(network, addr string, timeout time.Duration) *persistent {
	return &persistent{network: network, addr: addr, timeout: timeout, sem: make(chan struct{}, 1)}
}

func (t *persistent) exchange(parent context.Context, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(parent, t.timeout)
	defer cancel()
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return "", failure(parent, ctx.Err())
	}
	defer func() { <-t.sem }()
	if t.closed.Load() {
		return "", errClosed
	}
	if t.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, t.network, t.addr)
		if err != nil {
			return "", failure(parent, err)
		}
		t.conn, t.r = conn, bufio.NewReader(conn)
	}
	conn := t.conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	_, err := conn.Write([]byte(cmd + "\n"))
	var reply string
	if err == nil {
		reply, err = t.r.ReadString('\n')
	}
	if err != nil {
		conn.Close()
		t.conn, t.r = nil, nil
		return "", failure(parent, err)
	}
	return strings.TrimRight(reply, "\r\n"), nil
}

// failure says why a stream exchange failed: the caller gave up (its
// context), or the relay did not answer in time or refused the connection,
// which counts against the relay's health.
func failure(parent context.Context, err error) error {
	if parent.Err() != nil {
		return parent.Err()
	}
	return fmt.Errorf("%w: %w", ErrTimeout, err)
}

func (t *persistent) close() error {
	t.closed.Store(true)
	t.sem <- struct{}{}
	defer func() { <-t.sem }()
	if t.conn != nil {
		return t.conn.Close()
	}
	return nil
}
