package aaa

import (
	"errors"
	"log/slog"
	"net"
	"sync"
)

// conn is one long-lived UDP socket (or RadSec connection, radsec.go) to
// one server, with its own space of 256 identifiers. A reader goroutine
// hands each packet to the request waiting on its identifier; the waiter
// checks it, so the reader stays cheap.
type conn struct {
	w   wire
	log *slog.Logger

	mu      sync.Mutex
	waiting [256]chan []byte // nil when the identifier is free
	// previous holds, per identifier, the last request released from it, so
	// that a late reply to it is told from a forged one.
	previous [256][]byte
	// free identifiers as a FIFO ring, so an identifier is reused as late as
	// possible and a late reply rarely meets a new request.
	free   [256]byte
	head   int
	nfree  int
	closed bool
}

// readBuffer is the receive buffer asked for each server's socket.
const readBuffer = 4 << 20

func dialConn(addr string, log *slog.Logger) (*conn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	udp, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		return nil, err
	}
	// Thousands of replies a second arrive on this one socket; with the
	// kernel's default buffer a scheduling hiccup drops some, and each
	// dropped reply is a resend the server records twice (FreeRADIUS
	// forgets an Accounting-Request about 2/3 s after reading it, so the
	// resend is new to it). Best effort: the kernel caps it.
	if err := udp.SetReadBuffer(readBuffer); err != nil {
		log.Debug("radius: receive buffer not enlarged", "server", addr, "error", err)
	}
	return newConn(udpWire{udp}, log), nil
}

// wire is what a conn's packets travel on: a UDP socket, or a TLS stream.
type wire interface {
	// readPacket reads one packet into buf and returns its length.
	readPacket(buf []byte) (int, error)
	write(b []byte) error
	close() error
	remote() net.Addr
	// stream reports a reliable transport: a read error ends it, and a
	// request is never retransmitted on it (RFC 6613 §2.6.1).
	stream() bool
}

type udpWire struct{ *net.UDPConn }

func (u udpWire) readPacket(buf []byte) (int, error) { return u.Read(buf) }
func (u udpWire) write(b []byte) error {
	_, err := u.Write(b)
	return err
}
func (u udpWire) close() error     { return u.Close() }
func (u udpWire) remote() net.Addr { return u.RemoteAddr() }
func (u udpWire) stream() bool     { return false }

func newConn(w wire, log *slog.Logger) *conn {
	c := &conn{w: w, log: log, nfree: 256}
	for i := range c.free {
		c.free[i] = byte(i)
	}
	go c.read()
	return c
}

// replyBuffer is how many replies may wait for one request. More than one:
// the server's cached answers to the identifier's previous request (one per
// retransmission it saw) can arrive first, and with room for only one of
// them the real reply was dropped, and the request resent after the server
// had forgotten it: a record logged twice.
const replyBuffer = 8

// acquire takes a free identifier, or reports that the socket has none.
func (c *conn) acquire() (byte, chan []byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.nfree == 0 {
		return 0, nil, false
	}
	id := c.free[c.head]
	c.head = (c.head + 1) % 256
	c.nfree--
	ch := make(chan []byte, replyBuffer)
	c.waiting[id] = ch
	return id, ch, true
}

func (c *conn) release(id byte, req []byte) {
	c.mu.Lock()
	c.waiting[id] = nil
	c.previous[id] = req
	c.free[(c.head+c.nfree)%256] = id
	c.nfree++
	c.mu.Unlock()
}

// previousRequest is the last request released from id, or nil.
func (c *conn) previousRequest(id byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.previous[id]
}

func (c *conn) read() {
	buf := make([]byte, 4096+1)
	for {
		n, err := c.w.readPacket(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if c.w.stream() {
				// The connection is gone; requests on it time out, and
				// the next request dials a new one.
				c.log.Warn("radius: connection to server lost", "server", c.w.remote(), "error", err)
				c.close()
				return
			}
			// ICMP port unreachable surfaces here while a server is down;
			// the request's own timeout deals with it.
			continue
		}
		if n < 20 {
			c.log.Debug("radius: runt datagram dropped", "server", c.w.remote(), "bytes", n)
			continue
		}
		c.mu.Lock()
		ch := c.waiting[buf[1]]
		c.mu.Unlock()
		if ch == nil {
			c.log.Debug("radius: reply to no outstanding request", "server", c.w.remote(), "id", buf[1])
			continue
		}
		select {
		case ch <- append([]byte(nil), buf[:n]...):
		default: // a reply to this identifier is already waiting
		}
	}
}

func (c *conn) write(b []byte) error { return c.w.write(b) }

// isClosed reports whether the conn can no longer carry packets.
func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// dead reports a conn closed with no request left on it, to be dropped.
func (c *conn) dead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed && c.nfree == 256
}

func (c *conn) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.w.close()
}
