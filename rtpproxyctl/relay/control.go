package relay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Control-connection limits.
const (
	replyCacheTTL   = 35 * time.Second // section 2.3: at least 32+3 s
	replyCacheMax   = 1 << 17          // cookies; beyond it replies are not cached
	oneShotDeadline = 10 * time.Second // a unix client must send its command within this
)

// control is one listening control socket.
type control struct {
	ca   controlAddr
	kind string // udp, udp6, unix, cunix, tcp, tcp6: for ControlAddrs
	pc   *net.UDPConn
	ln   net.Listener

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
}

func listenControl(ca controlAddr) (*control, error) {
	c := &control{ca: ca, conns: map[net.Conn]struct{}{}}
	switch ca.network {
	case "udp4", "udp6":
		c.kind = map[string]string{"udp4": "udp", "udp6": "udp6"}[ca.network]
		a, err := net.ResolveUDPAddr(ca.network, ca.addr)
		if err != nil {
			return nil, fmt.Errorf("relay: control %q: %w", ca.spec, err)
		}
		c.pc, err = net.ListenUDP(ca.network, a)
		if err != nil {
			return nil, fmt.Errorf("relay: control %q: %w", ca.spec, err)
		}
	case "tcp4", "tcp6":
		c.kind = map[string]string{"tcp4": "tcp", "tcp6": "tcp6"}[ca.network]
		ln, err := net.Listen(ca.network, ca.addr)
		if err != nil {
			return nil, fmt.Errorf("relay: control %q: %w", ca.spec, err)
		}
		c.ln = ln
	case "unix":
		c.kind = "cunix"
		if ca.oneShot {
			c.kind = "unix"
		}
		// A socket file left by a previous run would make Listen fail.
		if fi, err := os.Lstat(ca.addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(ca.addr)
		}
		ln, err := net.Listen("unix", ca.addr)
		if err != nil {
			return nil, fmt.Errorf("relay: control %q: %w", ca.spec, err)
		}
		c.ln = ln
	}
	return c, nil
}

func (c *control) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return
	}
	c.done = true
	if c.pc != nil {
		c.pc.Close()
	}
	if c.ln != nil {
		c.ln.Close()
	}
	for conn := range c.conns {
		conn.Close()
	}
}

func (c *control) serve(ctx context.Context, r *Relay) {
	if c.pc != nil {
		c.serveUDP(r)
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			r.log.Warn("relay: control accept", "socket", c.ca.spec, "err", err)
			time.Sleep(50 * time.Millisecond) // EMFILE and the like: don't spin
			continue
		}
		c.mu.Lock()
		if c.done {
			c.mu.Unlock()
			conn.Close()
			return
		}
		c.conns[conn] = struct{}{}
		c.mu.Unlock()
		wg.Go(func() {
			defer func() {
				c.mu.Lock()
				delete(c.conns, conn)
				c.mu.Unlock()
				conn.Close()
			}()
			if c.ca.oneShot {
				serveOneShot(conn, r)
			} else {
				serveStream(conn, r)
			}
		})
	}
}

// serveUDP answers datagrams one at a time: commands are short, and one
// reader keeps the reply cache free of races between duplicates.
func (c *control) serveUDP(r *Relay) {
	buf := make([]byte, maxCommandLen+1)
	for {
		n, from, err := c.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		reply := r.handleDatagram(buf[:n])
		if reply == nil {
			continue
		}
		if _, err := c.pc.WriteToUDPAddrPort(reply, from); err == nil {
			r.cmds.repld.Add(1)
		}
	}
}

// handleDatagram executes one UDP command with its cookie, answering a
// retransmission from the reply cache. It returns nil for a datagram that
// cannot be answered (no token at all).
func (r *Relay) handleDatagram(d []byte) []byte {
	cookie, rest, ok := splitCookie(d)
	if !ok {
		return nil
	}
	r.cmds.rcvd.Add(1)
	if reply, hit := r.cache.get(cookie); hit {
		r.cmds.dups.Add(1)
		return reply
	}
	reply := append([]byte(cookie+" "), r.execute(rest)...)
	r.cache.put(cookie, reply, time.Now())
	return reply
}

// serveOneShot is rtpproxy's unix: transport: one read, one command, one
// reply, then the connection is closed.
func serveOneShot(conn net.Conn, r *Relay) {
	_ = conn.SetReadDeadline(time.Now().Add(oneShotDeadline))
	buf := make([]byte, maxCommandLen)
	n, err := conn.Read(buf)
	if n == 0 || (err != nil && !errors.Is(err, io.EOF)) {
		return
	}
	r.cmds.rcvd.Add(1)
	if _, err := conn.Write(r.execute(buf[:n])); err == nil {
		r.cmds.repld.Add(1)
	}
}

// serveStream is the cunix:/tcp: transport: \n-framed commands, any number
// per connection, pipelined; replies are flushed when no more input is
// already buffered.
func serveStream(conn net.Conn, r *Relay) {
	br := bufio.NewReaderSize(conn, maxCommandLen)
	bw := bufio.NewWriter(conn)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			bw.WriteString(eParse.reply() + "\n")
			bw.Flush()
			return
		}
		if len(tokens(line)) > 0 {
			r.cmds.rcvd.Add(1)
			bw.Write(r.execute(line))
			r.cmds.repld.Add(1)
		}
		if err != nil {
			bw.Flush()
			return
		}
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				return
			}
		}
	}
}

// replyCache maps UDP cookies to the replies already sent (section 2.3).
type replyCache struct {
	mu sync.Mutex
	m  map[string]cachedReply
}

type cachedReply struct {
	reply []byte
	at    time.Time
}

func newReplyCache() *replyCache { return &replyCache{m: map[string]cachedReply{}} }

func (c *replyCache) get(cookie string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[cookie]
	if !ok || time.Since(e.at) > replyCacheTTL {
		return nil, false
	}
	return e.reply, true
}

func (c *replyCache) put(cookie string, reply []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) < replyCacheMax {
		c.m[cookie] = cachedReply{reply: reply, at: now}
	}
}

func (c *replyCache) purge(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if now.Sub(e.at) > replyCacheTTL {
			delete(c.m, k)
		}
	}
}
