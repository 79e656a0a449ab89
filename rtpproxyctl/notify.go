package rtpproxyctl

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
)

// NotifyListener receives rtpproxy's media timeout notifications: the
// relay connects (TCP or unix stream), keeps the connection open, and
// writes each expired session's notify tag followed by "\n".
type NotifyListener struct {
	ln     net.Listener
	handle func(tag string)
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// ListenNotify listens on "tcp:host:port" or "unix:/path" and calls handle
// for every tag received, from the connection's goroutine.
func ListenNotify(address string, handle func(tag string)) (*NotifyListener, error) {
	scheme, rest, ok := strings.Cut(address, ":")
	if !ok {
		return nil, fmt.Errorf("rtpproxy: notify address %q has no tcp: or unix: prefix", address)
	}
	n := &NotifyListener{handle: handle, conns: make(map[net.Conn]struct{})}
	var err error
	switch scheme {
	case "tcp", "tcp6":
		n.ln, err = net.Listen(scheme, rest)
	case "unix":
		// A socket left by a previous run would make bind fail.
		if fi, statErr := os.Lstat(rest); statErr == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(rest)
		}
		n.ln, err = net.Listen("unix", rest)
	default:
		return nil, fmt.Errorf("rtpproxy: notify address %q: unknown transport", address)
	}
	if err != nil {
		return nil, fmt.Errorf("rtpproxy: notify listener: %w", err)
	}
	n.wg.Go(n.accept)
	return n, nil
}

// Addr returns the address the listener is bound to.
func (n *NotifyListener) Addr() net.Addr { return n.ln.Addr() }

func (n *NotifyListener) accept() {
	for {
		c, err := n.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			c.Close()
			return
		}
		n.conns[c] = struct{}{}
		n.mu.Unlock()
		n.wg.Go(func() { n.serve(c) })
	}
}

func (n *NotifyListener) serve(c net.Conn) {
	defer func() {
		n.mu.Lock()
		delete(n.conns, c)
		n.mu.Unlock()
		c.Close()
	}()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 1024), 64<<10)
	for sc.Scan() {
		if tag := strings.TrimRight(sc.Text(), "\r"); tag != "" {
			n.handle(tag)
		}
	}
}

// Close stops listening and drops the relays' connections.
func (n *NotifyListener) Close() error {
	n.mu.Lock()
	n.closed = true
	for c := range n.conns {
		c.Close()
	}
	n.mu.Unlock()
	err := n.ln.Close()
	n.wg.Wait()
	return err
}
