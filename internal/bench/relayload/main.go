// Command relayload measures Tollgate's built-in RTP relay under G.711 load:
// it runs the relay in a child process (default configuration, so its E98
// admission limit is the production one), sets up calls over the rtpproxy
// control protocol, and steps the number of concurrent calls (50 packets/s
// each way, 160-byte payload) up until packets are lost, the latency through
// the relay grows, or the relay refuses new calls (E98). For each step it
// reports packets/s sent and relayed, loss, the p50/p99 latency through the
// relay (send time in the payload to the kernel's arrival stamp at the
// receiving socket), the relay's CPU time per relayed packet and in all
// (the child's getrusage, % of one core), the generator's own CPU, and the
// relay's admission measure (its busiest packet loop's share of time).
// Loopback only, bounded in time.
//
// With -transcode the calls' two parties use different codecs (the relay's
// T sub-command), so every packet is converted: pcma-pcmu (table
// look-ups) or g722-pcma (G.722 decode and encode, resampling, A-law). The
// send time then travels in an RTP header extension, which the transcoder
// keeps, rather than in the payload, which it rewrites.
//
//	go run ./internal/bench/relayload -steps 100,200,400,600,800,1000 -step-time 3s
//	go run ./internal/bench/relayload -transcode g722-pcma -steps 25,50,100,200 -step-time 3s
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/tollgate/tollgate/rtpproxyctl/relay"
	"golang.org/x/sys/unix"
)

const (
	pps        = 50  // per direction per call
	payloadLen = 160 // G.711 or G.722, 20 ms
)

// codecPair is what the two parties of each call send: the T sub-command's
// format and the payload type of their packets. The zero value is plain
// relaying.
type codecPair struct {
	a, b     string
	ptA, ptB byte
}

func (p codecPair) on() bool { return p.a != "" }

var transcodings = map[string]codecPair{
	"":          {},
	"pcma-pcmu": {a: "PCMA/8", b: "PCMU/0", ptA: 8, ptB: 0},
	"g722-pcma": {a: "G722/9", b: "PCMA/8", ptA: 9, ptB: 8},
}

// Where a packet carries its send time: in the payload when the relay
// passes it untouched, in a header extension (profile 0x5447, two words)
// when the transcoder rewrites the payload.
const (
	plainStamp = 12
	xcStamp    = 16
	xcHeader   = 24
)

func main() {
	child := flag.Bool("child", false, "run the relay (internal: the parent starts itself with this)")
	portMin := flag.Int("port-min", 20000, "relay media port range start")
	portMax := flag.Int("port-max", 29999, "relay media port range end")
	steps := flag.String("steps", "50,100,200,300,400,500,600,800,1000", "concurrent calls per step")
	stepTime := flag.Duration("step-time", 5*time.Second, "measuring time per step")
	maxLoss := flag.Float64("max-loss", 0.001, "stop after a step losing more than this fraction")
	maxP99 := flag.Duration("max-p99", 5*time.Millisecond, "stop after a step whose p99 latency exceeds this")
	transcode := flag.String("transcode", "", "codecs of the two parties, converted by the relay: pcma-pcmu or g722-pcma (default: none, plain relaying)")
	flag.Parse()
	if *child {
		if err := runChild(*portMin, *portMax); err != nil {
			fmt.Fprintln(os.Stderr, "relayload child:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var counts []int
	for _, s := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "relayload: bad step %q\n", s)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	codecs, ok := transcodings[*transcode]
	if !ok {
		fmt.Fprintf(os.Stderr, "relayload: unknown -transcode %q\n", *transcode)
		os.Exit(2)
	}
	if err := run(ctx, *portMin, *portMax, counts, *stepTime, *maxLoss, *maxP99, codecs); err != nil {
		fmt.Fprintln(os.Stderr, "relayload:", err)
		os.Exit(1)
	}
}

// runChild runs the relay with a UDP control socket, prints its address,
// then answers each "rusage" line on stdin with its CPU time in ns and the
// busiest packet loop's share of time (the relay's admission measure). It
// exits when stdin closes.
func runChild(portMin, portMax int) error {
	r, err := relay.New(relay.Config{
		Control: []string{"udp:127.0.0.1:0"}, PortMin: portMin, PortMax: portMax,
		TTL: time.Minute, SetupTTL: time.Minute,
	}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx) }()
	fmt.Println("READY", r.ControlAddrs()[0])
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return err
		}
		fmt.Println(ru.Utime.Nano()+ru.Stime.Nano(), r.Stats().Busy)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// childRelay is the relay process seen from the load generator.
type childRelay struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	ctl   *net.UDPConn
	mu    sync.Mutex
	nextC int
}

func startChild(portMin, portMax int) (*childRelay, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-child", "-port-min", strconv.Itoa(portMin), "-port-max", strconv.Itoa(portMax))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start relay child: %w", err)
	}
	c := &childRelay{cmd: cmd, in: in, out: bufio.NewScanner(outp)}
	if !c.out.Scan() {
		return nil, fmt.Errorf("relay child did not start")
	}
	addr, ok := strings.CutPrefix(c.out.Text(), "READY udp:")
	if !ok {
		return nil, fmt.Errorf("relay child said %q", c.out.Text())
	}
	conn, err := net.Dial("udp4", addr)
	if err != nil {
		return nil, err
	}
	c.ctl = conn.(*net.UDPConn)
	return c, nil
}

// cpu returns the child's CPU time and its busiest packet loop's share of
// the last second.
func (c *childRelay) cpu() (time.Duration, float64, error) {
	if _, err := io.WriteString(c.in, "rusage\n"); err != nil {
		return 0, 0, err
	}
	if !c.out.Scan() {
		return 0, 0, fmt.Errorf("relay child stopped")
	}
	var ns int64
	var busy float64
	if _, err := fmt.Sscan(c.out.Text(), &ns, &busy); err != nil {
		return 0, 0, fmt.Errorf("relay child said %q: %w", c.out.Text(), err)
	}
	return time.Duration(ns), busy, nil
}

// command sends one control command and returns the reply body, resending
// with the same cookie as a real client would.
func (c *childRelay) command(cmd string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextC++
	cookie := "l" + strconv.Itoa(c.nextC)
	buf := make([]byte, 2048)
	for try := 0; try < 5; try++ {
		if _, err := c.ctl.Write([]byte(cookie + " " + cmd + "\n")); err != nil {
			return "", err
		}
		_ = c.ctl.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, err := c.ctl.Read(buf)
			if err != nil {
				break
			}
			if body, ok := strings.CutPrefix(string(buf[:n]), cookie+" "); ok {
				return strings.TrimSpace(body), nil
			}
		}
	}
	return "", fmt.Errorf("no reply to %q", cmd)
}

func (c *childRelay) stop() {
	c.in.Close()
	_ = c.cmd.Wait()
}

// The generator's sockets are shared by many calls (each call's two parties
// use two of them, signalled in U and L like any other address) and driven
// by one goroutine that wakes every millisecond, sends the packets due and
// takes what arrived with recvmmsg; the packets are sent with sendmmsg. So
// the load generator costs far less CPU than the relay it measures (both
// share the same cores), and its sockets have no sleeping reader that every
// relayed packet would have to wake. The latency stays exact: each packet
// carries its send time (wall clock, taken just before the sendmmsg), and
// the kernel stamps its arrival at the generator's socket (SO_TIMESTAMPNS).
const (
	genSockets = 8  // UDP sockets of the generator
	batchLen   = 64 // datagrams per recvmmsg / sendmmsg
	slots      = 1000 / pps
)

// stream is one direction of one call: the party sends from a generator
// socket to the relay port facing it, and receives the other party's
// packets on its socket.
type stream struct {
	sock int // index in generator.fds
	pt   byte
	dst  [4]byte
	port uint16
	ssrc uint32
	seq  uint16
}

type histogram struct {
	buckets [5001]atomic.Uint64 // 10 µs each; the last one is 50 ms and beyond
	n       atomic.Uint64
}

func (h *histogram) add(d time.Duration) {
	i := int(d / (10 * time.Microsecond))
	if i < 0 {
		i = 0
	}
	if i >= len(h.buckets) {
		i = len(h.buckets) - 1
	}
	h.buckets[i].Add(1)
	h.n.Add(1)
}

func (h *histogram) reset() {
	for i := range h.buckets {
		h.buckets[i].Store(0)
	}
	h.n.Store(0)
}

func (h *histogram) quantile(q float64) time.Duration {
	target := uint64(float64(h.n.Load()) * q)
	var acc uint64
	for i := range h.buckets {
		acc += h.buckets[i].Load()
		if acc > target {
			return time.Duration(i+1) * 10 * time.Microsecond
		}
	}
	return 0
}

type generator struct {
	codecs   codecPair
	stamp    int // offset of the send time in a packet
	fds      [genSockets]int
	ports    [genSockets]int
	mu       sync.Mutex
	due      [slots][genSockets][]*stream // streams sending in each 1 ms slot, by socket
	nstreams int
	sent     atomic.Uint64
	received atomic.Uint64
	// received in the sender's codec, not the receiver's: the transcoder
	// did not run, and the figures would not be what they claim
	unconverted atomic.Uint64
	hist        histogram
	wg          sync.WaitGroup

	// receive state, the run goroutine's own
	rbufs [batchLen][2048]byte
	rctl  [batchLen][64]byte
	riovs [batchLen]unix.Iovec
	rmsgs [batchLen]unix.Mmsghdr
	// send state, the run goroutine's own
	sbufs  [batchLen][xcHeader + payloadLen]byte
	siovs  [batchLen]unix.Iovec
	snames [batchLen]unix.RawSockaddrInet4
	smsgs  [batchLen]unix.Mmsghdr
}

func newGenerator(codecs codecPair) (*generator, error) {
	g := &generator{codecs: codecs, stamp: plainStamp}
	pktLen := 12 + payloadLen
	if codecs.on() {
		g.stamp, pktLen = xcStamp, xcHeader+payloadLen
	}
	for i := range g.fds {
		g.fds[i] = -1
	}
	for i := range g.fds {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			g.close()
			return nil, err
		}
		g.fds[i] = fd
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			g.close()
			return nil, err
		}
		// A millisecond of the whole load waits here between two reads.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			g.close()
			return nil, fmt.Errorf("SO_TIMESTAMPNS: %w", err)
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			g.close()
			return nil, err
		}
		g.ports[i] = sa.(*unix.SockaddrInet4).Port
	}
	for i := range g.rmsgs {
		g.riovs[i].Base = &g.rbufs[i][0]
		g.riovs[i].SetLen(len(g.rbufs[i]))
		g.rmsgs[i].Hdr.Iov = &g.riovs[i]
		g.rmsgs[i].Hdr.SetIovlen(1)
		g.rmsgs[i].Hdr.Control = &g.rctl[i][0]
	}
	for i := range g.smsgs {
		g.sbufs[i][0] = 0x80
		if codecs.on() {
			g.sbufs[i][0] = 0x90 // X: the header extension
			binary.BigEndian.PutUint16(g.sbufs[i][12:], 0x5447)
			binary.BigEndian.PutUint16(g.sbufs[i][14:], 2)
		}
		g.siovs[i].Base = &g.sbufs[i][0]
		g.siovs[i].SetLen(pktLen)
		g.smsgs[i].Hdr.Iov = &g.siovs[i]
		g.smsgs[i].Hdr.SetIovlen(1)
		g.smsgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&g.snames[i]))
		g.smsgs[i].Hdr.Namelen = unix.SizeofSockaddrInet4
		g.snames[i].Family = unix.AF_INET
	}
	return g, nil
}

func (g *generator) close() {
	for _, fd := range g.fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// run is the generator's only goroutine: every millisecond it sends the
// slot due (the slots missed while it was not scheduled too, late rather
// than never), reading every socket dry after each.
func (g *generator) run(ctx context.Context) {
	defer g.wg.Done()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	epoch := time.Now()
	next := int64(0) // the next slot to send
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for ; next <= int64(time.Since(epoch)/time.Millisecond); next++ {
			g.sendSlot(int(next % slots))
			// Behind schedule, sending slot after slot must not leave the
			// sockets unread until their buffers overflow.
			for i := range g.fds {
				g.drain(i)
			}
		}
	}
}

func (g *generator) sendSlot(slot int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for sock, list := range g.due[slot] {
		k := 0
		for _, s := range list {
			s.seq++
			b := &g.sbufs[k]
			b[1] = s.pt
			binary.BigEndian.PutUint16(b[2:], s.seq)
			binary.BigEndian.PutUint32(b[4:], uint32(s.seq)*payloadLen)
			binary.BigEndian.PutUint32(b[8:], s.ssrc)
			g.snames[k].Addr = s.dst
			g.snames[k].Port = s.port>>8 | s.port<<8
			if k++; k == batchLen {
				g.flush(g.fds[sock], k)
				k = 0
			}
		}
		if k > 0 {
			g.flush(g.fds[sock], k)
		}
	}
}

// flush stamps the first k prepared packets with the time and sends them.
func (g *generator) flush(fd, k int) {
	at := uint64(time.Now().UnixNano())
	for i := range k {
		binary.BigEndian.PutUint64(g.sbufs[i][g.stamp:], at)
	}
	for off := 0; off < k; {
		got, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&g.smsgs[off])), uintptr(k-off), unix.MSG_DONTWAIT, 0, 0)
		if errno != 0 {
			off++ // this one failed: not counted as sent
			continue
		}
		g.sent.Add(uint64(got))
		off += int(got)
	}
}

// drain reads socket sock until it is empty, timing each packet from its
// send time to the kernel's arrival stamp. When transcoding, it checks that
// what arrives is in the receiving party's codec: callers use the even
// sockets, callees the odd ones.
func (g *generator) drain(sock int) {
	fd := g.fds[sock]
	want := g.codecs.ptA
	if sock%2 == 1 {
		want = g.codecs.ptB
	}
	for {
		for i := range g.rmsgs {
			g.rmsgs[i].Hdr.SetControllen(len(g.rctl[i]))
		}
		got, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&g.rmsgs[0])), batchLen, unix.MSG_DONTWAIT, 0, 0)
		if errno != 0 || got == 0 {
			return
		}
		now := time.Now().UnixNano()
		for i := range int(got) {
			if int(g.rmsgs[i].Len) < g.stamp+8 {
				continue
			}
			sentAt := int64(binary.BigEndian.Uint64(g.rbufs[i][g.stamp:]))
			if g.codecs.on() && g.rbufs[i][1]&0x7F != want {
				g.unconverted.Add(1)
			}
			g.hist.add(time.Duration(arrival(&g.rmsgs[i].Hdr, &g.rctl[i], now) - sentAt))
		}
		g.received.Add(uint64(got))
		if int(got) < batchLen {
			return
		}
	}
}

// arrival is the kernel's receive time stamp of a datagram, or now when it
// has none.
func arrival(h *unix.Msghdr, ctl *[64]byte, now int64) int64 {
	if int(h.Controllen) < unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))) {
		return now
	}
	c := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[0]))
	if c.Level != unix.SOL_SOCKET || c.Type != unix.SCM_TIMESTAMPNS {
		return now
	}
	ts := (*unix.Timespec)(unsafe.Pointer(&ctl[unix.CmsgLen(0)]))
	return ts.Nano()
}

// errRefused is a call the relay refused with E98: it is at its limit.
var errRefused = errors.New("refused (E98)")

// addCall sets up one call through the relay and adds its two streams.
func (g *generator) addCall(c *childRelay, id int) error {
	sa, sb := (2*id)%genSockets, (2*id+1)%genSockets
	callID := fmt.Sprintf("load-%d", id)
	xcA, xcB := "", ""
	if g.codecs.on() {
		xcA, xcB = " && T "+g.codecs.a, " && T "+g.codecs.b
	}
	rb, err := c.command(fmt.Sprintf("U %s 127.0.0.1 %d fa%s", callID, g.ports[sa], xcA))
	if err != nil {
		return err
	}
	if rb == "E98" {
		return errRefused
	}
	ra, err := c.command(fmt.Sprintf("L %s 127.0.0.1 %d fa fb%s", callID, g.ports[sb], xcB))
	if err != nil {
		return err
	}
	pb, errB := strconv.Atoi(strings.Fields(rb + " x")[0])
	pa, errA := strconv.Atoi(strings.Fields(ra + " x")[0])
	if errA != nil || errB != nil || pa == 0 || pb == 0 {
		return fmt.Errorf("call %d refused: U %q, L %q", id, rb, ra)
	}
	lo := [4]byte{127, 0, 0, 1}
	a := &stream{sock: sa, pt: g.codecs.ptA, dst: lo, port: uint16(pa), ssrc: uint32(2 * id)}
	b := &stream{sock: sb, pt: g.codecs.ptB, dst: lo, port: uint16(pb), ssrc: uint32(2*id + 1)}
	g.mu.Lock()
	for _, s := range []*stream{a, b} {
		slot := g.nstreams % slots
		g.due[slot][s.sock] = append(g.due[slot][s.sock], s)
		g.nstreams++
	}
	g.mu.Unlock()
	return nil
}

func relayedPackets(c *childRelay) (uint64, error) {
	v, err := c.command("G npkts_relayed")
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(v, 10, 64)
}

func run(ctx context.Context, portMin, portMax int, counts []int, stepTime time.Duration, maxLoss float64, maxP99 time.Duration, codecs codecPair) error {
	c, err := startChild(portMin, portMax)
	if err != nil {
		return err
	}
	defer c.stop()
	g, err := newGenerator(codecs)
	if err != nil {
		return err
	}
	sendCtx, stopSend := context.WithCancel(ctx)
	g.wg.Add(1)
	go g.run(sendCtx)
	defer func() {
		stopSend()
		g.wg.Wait()
		g.close()
	}()
	if codecs.on() {
		fmt.Printf("transcoding: caller %s, callee %s\n", codecs.a, codecs.b)
	}
	fmt.Printf("load average at start: %s\n", loadAvg())
	defer func() { fmt.Printf("load average at end: %s\n", loadAvg()) }()
	if codecs.on() {
		defer func() { fmt.Printf("packets received unconverted: %d\n", g.unconverted.Load()) }()
	}
	fmt.Printf("%6s %10s %10s %8s %10s %10s %10s %10s %10s %6s\n", "calls", "sent/s", "relayed/s", "loss%", "p50", "p99", "cpu/pkt", "relay cpu", "gen cpu", "busy")
	calls := 0
	for _, want := range counts {
		refused := false
		for calls < want {
			if err := g.addCall(c, calls); err != nil {
				if !errors.Is(err, errRefused) {
					fmt.Printf("stop: %v\n", err)
					return nil
				}
				refused = true
				break
			}
			calls++
		}
		// Let the new calls settle before measuring.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		g.hist.reset()
		sent0, rcvd0 := g.sent.Load(), g.received.Load()
		rel0, err := relayedPackets(c)
		if err != nil {
			return err
		}
		cpu0, _, err := c.cpu()
		if err != nil {
			return err
		}
		gen0 := selfCPU()
		start := time.Now()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(stepTime):
		}
		cpu1, busy, err := c.cpu()
		if err != nil {
			return err
		}
		gen1 := selfCPU()
		rel1, err := relayedPackets(c)
		if err != nil {
			return err
		}
		el := time.Since(start).Seconds()
		sent, rcvd, rel := g.sent.Load()-sent0, g.received.Load()-rcvd0, rel1-rel0
		loss := 0.0
		if sent > 0 && rcvd < sent {
			loss = float64(sent-rcvd) / float64(sent)
		}
		perPkt := time.Duration(0)
		if rel > 0 {
			perPkt = (cpu1 - cpu0) / time.Duration(rel)
		}
		p50, p99 := g.hist.quantile(0.5), g.hist.quantile(0.99)
		fmt.Printf("%6d %10.0f %10.0f %8.3f %10v %10v %10v %9.1f%% %9.1f%% %6.2f\n", calls, float64(sent)/el, float64(rel)/el, loss*100, p50, p99, perPkt,
			(cpu1-cpu0).Seconds()/el*100, (gen1-gen0).Seconds()/el*100, busy)
		if refused {
			fmt.Printf("stop: the relay refused new calls (E98) at %d calls\n", calls)
			return nil
		}
		if loss > maxLoss || p99 > maxP99 {
			fmt.Printf("stop: loss or latency limit reached at %d calls\n", calls)
			return nil
		}
	}
	return nil
}

// selfCPU is the generator's own CPU time (user + system), to show that it
// leaves the relay room on shared cores.
func selfCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg is the machine's 1/5/15-minute load average: the relay and the
// generator share the cores with whatever else runs, which the figures
// should be read with.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
