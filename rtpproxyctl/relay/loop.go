package relay

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/pion/rtp"
	"golang.org/x/sys/unix"
)

// The media data path: a few packet loops (GOMAXPROCS of them), each owning
// an epoll set over non-blocking UDP sockets. A loop takes what waits on a
// ready socket with one recvmmsg, routes it under one session lock, and
// sends it out of the other leg with one sendmsg (sendmmsg for several).
// Compared with a goroutine per socket on the Go netpoller, this saves per
// packet the park and wake of a goroutine and the read that ends each wake
// with EAGAIN; under load one epoll_wait reports many sockets and the loop
// does not sleep at all. Nothing on the path allocates.
//
// An idle loop waits in the Go netpoller, on its epoll descriptor: a
// thread blocked in epoll_wait would have its P taken by the runtime's
// monitor, which then wakes every 20 µs and costs more CPU than the relaying.
//
// All sockets of a session belong to the same loop, and only that loop
// closes them (between two batches), so a socket a loop is reading from or
// sending on is never closed under it, and its descriptor never reused.

// readBufSize bounds one datagram; media paths never carry more than an
// Ethernet MTU.
const readBufSize = 2048

const (
	rxBatch   = 16  // datagrams one recvmmsg takes from one socket
	maxEvents = 128 // sockets one epoll_wait reports
	wakeSlot  = -1  // epoll data of the loop's eventfd
)

// rawSockaddr holds a datagram's address, IPv4 or IPv6: the larger of the
// two, read by its family field.
type rawSockaddr = unix.RawSockaddrInet6

// msock is one media socket: the RTP or RTCP port of a session's leg.
type msock struct {
	fd   int
	s    *session
	leg  int
	kind int
	lp   *loop
	slot int32
	gen  int32 // tells a reused slot from the socket an old event names
}

// loop is one packet loop. The fields above the packet state are shared
// with the control path under mu; the packet state belongs to the loop's
// goroutine.
type loop struct {
	r      *Relay
	epfd   int
	epf    *os.File        // epfd, registered with the Go netpoller
	rc     syscall.RawConn // waits on epf
	wakefd int             // eventfd: wakes the loop to close sockets or stop

	mu      sync.Mutex
	socks   []*msock // by slot; nil when free
	free    []int32
	gen     int32
	closing []int // descriptors unregistered, closed by the loop
	stop    bool

	busy atomic.Int64 // ns spent handling packets; read by the sweep

	events [maxEvents]unix.EpollEvent
	ready  [maxEvents]*msock
	spare  []int
	rx     [rxBatch]unix.Mmsghdr
	rxIov  [rxBatch]unix.Iovec
	rxName [rxBatch]rawSockaddr // room for either family's address
	bufs   [rxBatch][readBufSize]byte
	tx     [rxBatch]unix.Mmsghdr
	txName [rxBatch]rawSockaddr
	h      rtp.Header
	pcm    scratch
	xstats xstats
}

func newLoop(r *Relay) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("relay: epoll: %w", err)
	}
	// Non-blocking, so that os.NewFile registers it with the netpoller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("relay: epoll: %w", err)
	}
	epf := os.NewFile(uintptr(epfd), "relay-epoll")
	rc, err := epf.SyscallConn()
	if err != nil {
		epf.Close()
		return nil, fmt.Errorf("relay: epoll: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		epf.Close()
		return nil, fmt.Errorf("relay: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeSlot}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(wakefd)
		epf.Close()
		return nil, fmt.Errorf("relay: epoll add: %w", err)
	}
	l := &loop{r: r, epfd: epfd, epf: epf, rc: rc, wakefd: wakefd}
	for i := range l.rx {
		l.rxIov[i].Base = &l.bufs[i][0]
		l.rxIov[i].SetLen(readBufSize)
		l.rx[i].Hdr.Iov = &l.rxIov[i]
		l.rx[i].Hdr.SetIovlen(1)
		l.rx[i].Hdr.Name = (*byte)(unsafe.Pointer(&l.rxName[i]))
		// Each outgoing datagram reuses the buffer it arrived in.
		l.tx[i].Hdr.Name = (*byte)(unsafe.Pointer(&l.txName[i]))
		l.tx[i].Hdr.SetIovlen(1)
	}
	return l, nil
}

// add registers a bound socket with the loop, which owns it from then on,
// even when add fails.
func (l *loop) add(fd int, s *session, leg, kind int) (*msock, error) {
	m := &msock{fd: fd, s: s, leg: leg, kind: kind, lp: l}
	l.mu.Lock()
	if l.stop {
		l.mu.Unlock()
		unix.Close(fd)
		return nil, errors.New("relay: stopped")
	}
	l.gen++
	m.gen = l.gen
	if n := len(l.free); n > 0 {
		m.slot = l.free[n-1]
		l.free = l.free[:n-1]
		l.socks[m.slot] = m
	} else {
		m.slot = int32(len(l.socks))
		l.socks = append(l.socks, m)
	}
	l.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: m.slot, Pad: m.gen}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.remove(m)
		return nil, fmt.Errorf("relay: epoll add: %w", err)
	}
	return m, nil
}

// remove unregisters m and has the loop close its descriptor. The port may
// be taken again at once: bindPair skips it while it is still bound.
func (l *loop) remove(m *msock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.socks[m.slot] != m {
		return // closed when the loop stopped
	}
	// Before the descriptor is queued: once the loop closes it, the number
	// may name another socket.
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, m.fd, nil)
	l.socks[m.slot] = nil
	l.free = append(l.free, m.slot)
	l.closing = append(l.closing, m.fd)
	l.wake()
}

// wake interrupts epoll_wait. l.mu is held, so that the loop has not closed
// the eventfd.
func (l *loop) wake() {
	one := [8]byte{1}
	_, _ = unix.Write(l.wakefd, one[:])
}

// halt stops the loop; run closes every socket left on its way out.
func (l *loop) halt() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stop {
		l.stop = true
		l.wake()
	}
}

// run serves the loop until halt, waiting in the Go netpoller when idle.
func (l *loop) run() {
	defer l.r.loopsDone.Done()
	var stopped bool
	err := l.rc.Read(func(uintptr) bool {
		stopped = l.poll()
		return stopped
	})
	if err != nil && !stopped {
		l.r.log.Error("relay: packet loop stopped", "err", err)
	}
	l.shut()
}

// poll handles events until none is left (false: wait for more) or the loop
// is stopped (true).
func (l *loop) poll() bool {
	for {
		r0, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])), maxEvents, 0, 0, 0)
		if errno != 0 {
			if errno == unix.EINTR {
				continue
			}
			l.r.log.Error("relay: epoll_wait failed; packet loop stopped", "err", errno)
			return true
		}
		n := int(r0)
		if n == 0 {
			return false
		}
		start := l.r.now()
		for i := range n {
			if l.events[i].Fd == wakeSlot {
				// Reset the eventfd before reading what the wake was for:
				// a wake after this read is seen by the next epoll_wait.
				var b [8]byte
				_, _ = unix.Read(l.wakefd, b[:])
				break
			}
		}
		l.mu.Lock()
		for i := range n {
			ev := &l.events[i]
			l.ready[i] = nil
			if ev.Fd == wakeSlot {
				continue
			}
			if m := l.socks[ev.Fd]; m != nil && m.gen == ev.Pad {
				l.ready[i] = m
			}
		}
		// Sockets in ready are registered now, so none of them is in the
		// list taken here.
		closing, stop := l.closing, l.stop
		l.closing, l.spare = l.spare[:0], closing
		l.mu.Unlock()
		for _, fd := range closing {
			unix.Close(fd)
		}
		if stop {
			return true
		}
		for i := range n {
			if m := l.ready[i]; m != nil {
				l.serve(m)
				l.ready[i] = nil
			}
		}
		l.busy.Add(l.r.now() - start)
		if n == maxEvents {
			// Under heavy load the loop may never run out of events: let
			// the control path and the sweep have the P between batches
			// rather than wait for the runtime to preempt the loop.
			runtime.Gosched()
		}
	}
}

// shut closes every descriptor the loop still holds.
func (l *loop) shut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stop = true
	for i, m := range l.socks {
		if m != nil {
			unix.Close(m.fd)
			l.socks[i] = nil
		}
	}
	for _, fd := range l.closing {
		unix.Close(fd)
	}
	l.closing = nil
	unix.Close(l.wakefd)
	l.epf.Close()
}

// serve relays what waits on m: the datagrams the party facing m's leg
// sent, out of the other leg's socket of the same kind.
func (l *loop) serve(m *msock) {
	for i := range l.rx {
		l.rx[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		l.rx[i].Hdr.Flags = 0
	}
	got, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(m.fd), uintptr(unsafe.Pointer(&l.rx[0])), rxBatch, unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 || got == 0 {
		if errno != 0 && errno != unix.EAGAIN && errno != unix.EINTR {
			// A pending socket error keeps the socket readable; reading it
			// clears it, so the loop does not spin on the socket.
			_, _ = unix.GetsockoptInt(m.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		}
		return
	}
	n := int(got)
	now := l.r.now()
	s := m.s
	var out *msock
	k := 0
	s.mu.Lock()
	for i := range n {
		size := int(l.rx[i].Len)
		if size > readBufSize {
			size = readBufSize
		}
		buf := l.bufs[i][:size]
		src := sourceOf(&l.rxName[i])
		valid := false
		if m.kind == kindRTP && size >= 12 && buf[0]>>6 == 2 {
			_, perr := l.h.Unmarshal(buf)
			valid = perr == nil
		}
		dst, o := s.route(m.leg, m.kind, size, src, &l.h, valid, now)
		if o == nil {
			continue
		}
		if m.kind == kindRTCP {
			s.noteRTCP(m.leg, buf, now)
		}
		shaped := m.kind == kindRTP && s.legs[m.leg].shapes()
		if shaped && !s.admit(m.leg, buf, &l.h, valid, now) {
			pp := &s.legs[m.leg].pipes[kindRTP]
			pp.nrelayed--
			pp.ndropped++
			continue
		}
		if s.xc != nil && valid {
			var keep bool
			if size, keep = s.convert(m.leg, buf, &l.pcm, &l.xstats); !keep {
				pp := &s.legs[m.leg].pipes[kindRTP]
				pp.nrelayed--
				pp.ndropped++
				continue
			}
		}
		if shaped && valid {
			s.rewrite(m.leg, buf[:size])
		}
		if valid {
			s.noteOut(m.leg, buf, now)
		}
		out = o
		t := &l.tx[k]
		t.Hdr.Iov = &l.rxIov[i]
		l.rxIov[i].SetLen(size)
		t.Hdr.Namelen = putSockaddr(&l.txName[k], dst)
		k++
	}
	s.mu.Unlock()
	if k > 0 {
		if failed := l.send(out, k); failed > 0 {
			s.mu.Lock()
			pp := &s.legs[m.leg].pipes[m.kind]
			pp.ndropped += failed
			pp.nrelayed -= failed
			s.mu.Unlock()
		}
	}
	for i := range n {
		l.rxIov[i].SetLen(readBufSize)
	}
}

// send sends the first k prepared datagrams out of out and returns how
// many failed. A full send buffer drops the datagram, as rtpproxy does:
// media late by a buffer's worth is useless.
func (l *loop) send(out *msock, k int) uint64 {
	var failed uint64
	for sent := 0; sent < k; {
		if k-sent == 1 {
			_, _, errno := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(out.fd), uintptr(unsafe.Pointer(&l.tx[sent].Hdr)), unix.MSG_DONTWAIT)
			if errno != 0 {
				failed++
			}
			return failed
		}
		got, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(out.fd), uintptr(unsafe.Pointer(&l.tx[sent])), uintptr(k-sent), unix.MSG_DONTWAIT, 0, 0)
		if errno != 0 {
			failed++
			sent++
			continue
		}
		sent += int(got)
	}
	return failed
}

// sourceOf reads a received datagram's source, which is an IPv4 address
// on an IPv4 socket and an IPv6 one on an IPv6 socket.
func sourceOf(sa *rawSockaddr) netip.AddrPort {
	if sa.Family == unix.AF_INET {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), ntohs(sa4.Port))
	}
	return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), ntohs(sa.Port))
}

// putSockaddr writes dst as a socket address of its own family and
// returns its length. A leg's remote has the family of the leg's socket
// (the controller chose the socket's family for the party), so the send
// goes out of a socket of the same family; one that does not fails and is
// counted as dropped.
func putSockaddr(sa *rawSockaddr, dst netip.AddrPort) uint32 {
	a := dst.Addr()
	if a.Is4() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		sa4.Family = unix.AF_INET
		sa4.Addr = a.As4()
		sa4.Port = ntohs(dst.Port())
		return unix.SizeofSockaddrInet4
	}
	sa.Family = unix.AF_INET6
	sa.Addr = a.As16()
	sa.Port = ntohs(dst.Port())
	sa.Flowinfo, sa.Scope_id = 0, 0
	return unix.SizeofSockaddrInet6
}

// ntohs swaps a port between network and host order (the same swap both
// ways; the packet path assumes a little-endian machine, as it always has).
func ntohs(p uint16) uint16 { return p>>8 | p<<8 }
