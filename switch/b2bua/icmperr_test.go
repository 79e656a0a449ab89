package b2bua

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tollgate/tollgate/internal/testenv"
)

// closedUDPAddr is an address on host where nothing listens: a datagram
// sent there gets an ICMP port unreachable back at once.
func closedUDPAddr(t *testing.T, network, host string) *net.UDPAddr {
	t.Helper()
	c, err := net.ListenPacket(network, net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().(*net.UDPAddr)
	c.Close()
	return addr
}

// errorPending reports whether conn's socket has an error waiting: its
// error queue or its pending error (POLLERR), without consuming it.
func errorPending(t *testing.T, conn net.PacketConn) bool {
	var pending bool
	err := conn.(*icmpConn).raw.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		pending = err == nil && n == 1 && fds[0].Revents&unix.POLLERR != 0
	})
	if err != nil {
		t.Fatal(err)
	}
	return pending
}

// TestICMPConn: on a real socket pair, a datagram to a closed port leaves
// an ICMP error pending; the next write to a live peer is still delivered,
// once, and a reader blocked as sipgo's is keeps reading — each time the
// destination is reported port unreachable, and the socket works on.
func TestICMPConn(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			network := "udp4"
			if strings.Contains(host, ":") {
				network = "udp6"
			}
			reports := make(chan unreachable, 16)
			conns, err := listenUDP(context.Background(), network, net.JoinHostPort(host, "0"), 1,
				func(u unreachable) { reports <- u }, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			conn := conns[0]
			defer conn.Close()
			peer, err := net.ListenPacket(network, net.JoinHostPort(host, "0"))
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			closed := closedUDPAddr(t, network, host)
			wantReport := func(what string) {
				t.Helper()
				select {
				case u := <-reports:
					if u.dest != closed.AddrPort() || u.why != "port unreachable" {
						t.Errorf("%s: reported %v %q, want %v port unreachable", what, u.dest, u.why, closed.AddrPort())
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("%s: no report", what)
				}
			}
			peerReads := func(want string) {
				t.Helper()
				buf := make([]byte, 64)
				peer.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, _, err := peer.ReadFrom(buf)
				if err != nil || string(buf[:n]) != want {
					t.Fatalf("peer read %q, %v; want %q", buf[:n], err, want)
				}
			}

			// The write path: the error pending fails the kernel's sendto,
			// which did not send; the wrapper sends again. (The kernel
			// queues the error a moment before it makes it the socket's
			// pending one: the write failing may be the second.)
			if _, err := conn.WriteTo([]byte("lost"), closed); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 5*time.Second, "the ICMP error pending", func() bool { return errorPending(t, conn) })
			for _, msg := range []string{"after", "next"} {
				if _, err := conn.WriteTo([]byte(msg), peer.LocalAddr()); err != nil {
					t.Fatalf("write after an ICMP error: %v", err)
				}
			}
			wantReport("write")
			if errorPending(t, conn) {
				t.Error("the error queue is not empty after the drain")
			}
			peerReads("after")
			peerReads("next") // each once: the failed sendto sent nothing

			// The read path: a reader waiting in ReadFrom, as sipgo's loop
			// does, drains the error and goes on to the next datagram.
			type read struct {
				data string
				from net.Addr
				err  error
			}
			got := make(chan read, 1)
			go func() {
				buf := make([]byte, 64)
				n, from, err := conn.ReadFrom(buf)
				got <- read{string(buf[:n]), from, err}
			}()
			if _, err := conn.WriteTo([]byte("lost again"), closed); err != nil {
				t.Fatal(err)
			}
			wantReport("read")
			if _, err := peer.WriteTo([]byte("hello"), conn.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			r := <-got
			if r.err != nil || r.data != "hello" || r.from.String() != peer.LocalAddr().String() {
				t.Fatalf("read %q from %v, %v; want hello from the peer", r.data, r.from, r.err)
			}
			if _, err := conn.WriteTo([]byte("last"), peer.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			peerReads("last")
		})
	}
}

// cmsg builds one control message as the kernel lays it out.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

// extErr is a struct sock_extended_err.
func extErr(errno uint32, origin, typ, code uint8) []byte {
	b := make([]byte, sockExtendedErrLen)
	binary.NativeEndian.PutUint32(b, errno)
	b[4], b[5], b[6] = origin, typ, code
	return b
}

// TestParseUnreachable: the error queue's messages read as the kernel
// writes them, and short or odd ones refused with an error.
func TestParseUnreachable(t *testing.T) {
	to4 := &unix.SockaddrInet4{Port: 5080, Addr: [4]byte{192, 0, 2, 1}}
	to6 := &unix.SockaddrInet6{Port: 5080, Addr: netip.MustParseAddr("2001:db8::1").As16()}
	mapped := &unix.SockaddrInet6{Port: 5080, Addr: netip.MustParseAddr("::ffff:192.0.2.1").As16()}
	v4 := func(e []byte) []byte { return cmsg(unix.SOL_IP, unix.IP_RECVERR, e) }
	v6 := func(e []byte) []byte { return cmsg(unix.SOL_IPV6, unix.IPV6_RECVERR, e) }
	refused := uint32(unix.ECONNREFUSED)
	for _, tc := range []struct {
		name string
		oob  []byte
		to   unix.Sockaddr
		dest string // "" when refused
		why  string
	}{
		{"v4 port", v4(extErr(refused, unix.SO_EE_ORIGIN_ICMP, 3, 3)), to4, "192.0.2.1:5080", "port unreachable"},
		{"v4 host", v4(extErr(uint32(unix.EHOSTUNREACH), unix.SO_EE_ORIGIN_ICMP, 3, 1)), to4, "192.0.2.1:5080", "host unreachable"},
		{"v4 net", v4(extErr(uint32(unix.ENETUNREACH), unix.SO_EE_ORIGIN_ICMP, 3, 0)), to4, "192.0.2.1:5080", "network unreachable"},
		{"v4 filtered", v4(extErr(uint32(unix.EHOSTUNREACH), unix.SO_EE_ORIGIN_ICMP, 3, 13)), to4, "192.0.2.1:5080", "administratively prohibited"},
		{"v4 other code", v4(extErr(uint32(unix.EHOSTUNREACH), unix.SO_EE_ORIGIN_ICMP, 3, 15)), to4, "192.0.2.1:5080", "destination unreachable, code 15"},
		{"v6 port", v6(extErr(refused, unix.SO_EE_ORIGIN_ICMP6, 1, 4)), to6, "[2001:db8::1]:5080", "port unreachable"},
		{"v6 address", v6(extErr(uint32(unix.EHOSTUNREACH), unix.SO_EE_ORIGIN_ICMP6, 1, 3)), to6, "[2001:db8::1]:5080", "address unreachable"},
		{"v4-mapped on a v6 socket", v4(extErr(refused, unix.SO_EE_ORIGIN_ICMP, 3, 3)), mapped, "192.0.2.1:5080", "port unreachable"},
		{"another message first", append(cmsg(unix.SOL_IP, unix.IP_TTL, []byte{64, 0, 0, 0}), v4(extErr(refused, unix.SO_EE_ORIGIN_ICMP, 3, 3))...), to4, "192.0.2.1:5080", "port unreachable"},

		{"fragmentation needed", v4(extErr(uint32(unix.EMSGSIZE), unix.SO_EE_ORIGIN_ICMP, 3, 4)), to4, "", ""},
		{"v6 packet too big", v6(extErr(uint32(unix.EMSGSIZE), unix.SO_EE_ORIGIN_ICMP6, 2, 0)), to6, "", ""},
		{"time exceeded", v4(extErr(uint32(unix.EHOSTUNREACH), unix.SO_EE_ORIGIN_ICMP, 11, 0)), to4, "", ""},
		{"local error", v4(extErr(uint32(unix.EMSGSIZE), unix.SO_EE_ORIGIN_LOCAL, 0, 0)), to4, "", ""},
		{"v6 type under the v4 origin", v4(extErr(refused, unix.SO_EE_ORIGIN_ICMP, 1, 4)), to4, "", ""},
		{"no control message", nil, to4, "", ""},
		{"truncated header", v4(extErr(refused, unix.SO_EE_ORIGIN_ICMP, 3, 3))[:8], to4, "", ""},
		{"length past the end", v4(extErr(refused, unix.SO_EE_ORIGIN_ICMP, 3, 3))[:unix.CmsgLen(8)], to4, "", ""},
		{"short extended error", v4(extErr(refused, unix.SO_EE_ORIGIN_ICMP, 3, 3)[:8]), to4, "", ""},
		{"no error number", v4(extErr(0, unix.SO_EE_ORIGIN_ICMP, 3, 3)), to4, "", ""},
		{"other messages only", cmsg(unix.SOL_IP, unix.IP_TTL, []byte{64, 0, 0, 0}), to4, "", ""},
		{"no destination", v4(extErr(refused, unix.SO_EE_ORIGIN_ICMP, 3, 3)), nil, "", ""},
		{"not an internet address", v4(extErr(refused, unix.SO_EE_ORIGIN_ICMP, 3, 3)), &unix.SockaddrUnix{Name: "/x"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := parseUnreachable(tc.oob, tc.to)
			if tc.dest == "" {
				if err == nil {
					t.Fatalf("parsed as %v %q, want an error", u.dest, u.why)
				}
				return
			}
			if err != nil || u.dest.String() != tc.dest || u.why != tc.why {
				t.Fatalf("got %v %q, %v; want %s %q", u.dest, u.why, err, tc.dest, tc.why)
			}
		})
	}
}

// TestFromICMP: the errors an ICMP error leaves on a socket, as Go's net
// returns them, and no other.
func TestFromICMP(t *testing.T) {
	for _, err := range []error{unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EMSGSIZE,
		&net.OpError{Op: "read", Err: os.NewSyscallError("recvfrom", unix.ECONNREFUSED)}} {
		if !fromICMP(err) {
			t.Errorf("fromICMP(%v) = false", err)
		}
	}
	for _, err := range []error{net.ErrClosed, unix.EAGAIN, unix.EBADF, context.DeadlineExceeded,
		&net.OpError{Op: "read", Err: &net.AddrError{Err: "odd"}}} {
		if fromICMP(err) {
			t.Errorf("fromICMP(%v) = true", err)
		}
	}
}

// BenchmarkUDPSocket: a datagram to itself and read back, on the plain
// socket and through icmpConn with IP_RECVERR set — the normal path, no
// error pending: the wrapper must cost nothing measurable.
func BenchmarkUDPSocket(b *testing.B) {
	for _, wrapped := range []string{"plain", "icmpConn"} {
		b.Run(wrapped, func(b *testing.B) {
			conn := benchSocket(b, wrapped)
			to := conn.LocalAddr()
			msg, buf := make([]byte, 600), make([]byte, 2048)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := conn.WriteTo(msg, to); err != nil {
					b.Fatal(err)
				}
				if _, _, err := conn.ReadFrom(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchSocket is a UDP socket on loopback, wrapped in icmpConn or "plain",
// closed with the benchmark.
func benchSocket(b *testing.B, wrapped string) net.PacketConn {
	b.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	conn := pc
	if wrapped == "icmpConn" {
		if conn, err = recvErrors(pc.(*net.UDPConn), "udp4", func(unreachable) {}, testLogger(b)); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// BenchmarkUnreachWatch: what an INVITE attempt to a udp gateway adds, its
// watch for an ICMP error, with 100 other attempts watching the same
// gateway.
func BenchmarkUnreachWatch(b *testing.B) {
	var u unreachables
	for range 100 {
		u.watch("192.0.2.1:5060", func(string) {})
	}
	b.ReportAllocs()
	for b.Loop() {
		ch := make(chan string, 1)
		u.stop(u.watch("192.0.2.1:5060", func(why string) { ch <- why }))
	}
}

// TestICMPConnClosed: a datagram sent on a closed socket fails as the net
// package's own send does, and none reaches the descriptor number, which
// the kernel may have given to another file.
func TestICMPConnClosed(t *testing.T) {
	t.Parallel()
	conns, err := listenUDP(context.Background(), "udp4", "127.0.0.1:0", 1, func(unreachable) {}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	conn := conns[0]
	to := conn.LocalAddr()
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WriteTo([]byte("after close"), to); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("send after close: %v, want net.ErrClosed", err)
	}
}

// BenchmarkUDPSocketParallel: many goroutines sending on one socket, as the
// switch's responses and requests do, each in a goroutine of its own.
func BenchmarkUDPSocketParallel(b *testing.B) {
	for _, wrapped := range []string{"plain", "icmpConn"} {
		b.Run(wrapped, func(b *testing.B) {
			conn := benchSocket(b, wrapped)
			sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer sink.Close()
			go func() {
				buf := make([]byte, 2048)
				for {
					if _, _, err := sink.ReadFrom(buf); err != nil {
						return
					}
				}
			}()
			to := sink.LocalAddr()
			msg := make([]byte, 600)
			b.ReportAllocs()
			b.SetParallelism(64)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := conn.WriteTo(msg, to); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
