// Command relayload measures Tollgate's built-in RTP relay under G.711 load:
// it runs the relay in a child process, sets up calls over the rtpproxy
// control protocol, and steps the number of concurrent calls (50 packets/s
// each way, 160-byte payload) up until packets are lost or the latency
// through the relay grows. For each step it reports the relay's CPU time per
// relayed packet (the child's getrusage), packets/s relayed, loss, and the
// p50/p99 latency through the relay. Loopback only, bounded in time.
//
//	go run ./internal/bench/relayload -steps 100,200,400,600,800,1000 -step-time 5s
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
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tollgate/tollgate/rtpproxyctl/relay"
)

const (
	pps        = 50  // per direction per call
	payloadLen = 160 // G.711, 20 ms
	senders    = 20  // sending goroutines, staggered 1 ms apart over the 20 ms period
)

func main() {
	child := flag.Bool("child", false, "run the relay (internal: the parent starts itself with this)")
	portMin := flag.Int("port-min", 20000, "relay media port range start")
	portMax := flag.Int("port-max", 29999, "relay media port range end")
	steps := flag.String("steps", "50,100,200,300,400,500,600,800,1000", "concurrent calls per step")
	stepTime := flag.Duration("step-time", 5*time.Second, "measuring time per step")
	maxLoss := flag.Float64("max-loss", 0.001, "stop after a step losing more than this fraction")
	maxP99 := flag.Duration("max-p99", 5*time.Millisecond, "stop after a step whose p99 latency exceeds this")
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
	if err := run(ctx, *portMin, *portMax, counts, *stepTime, *maxLoss, *maxP99); err != nil {
		fmt.Fprintln(os.Stderr, "relayload:", err)
		os.Exit(1)
	}
}

// runChild runs the relay with a UDP control socket, prints its address,
// then answers each "rusage" line on stdin with its CPU time in ns. It exits
// when stdin closes.
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
		fmt.Println(ru.Utime.Nano() + ru.Stime.Nano())
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

func (c *childRelay) cpu() (time.Duration, error) {
	if _, err := io.WriteString(c.in, "rusage\n"); err != nil {
		return 0, err
	}
	if !c.out.Scan() {
		return 0, fmt.Errorf("relay child stopped")
	}
	ns, err := strconv.ParseInt(c.out.Text(), 10, 64)
	return time.Duration(ns), err
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

// stream is one direction of one call: a UDP endpoint sending to the relay
// port facing it and receiving the other party's packets.
type stream struct {
	conn *net.UDPConn
	dst  netip.AddrPort
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
	epoch    time.Time
	mu       sync.Mutex
	streams  []*stream
	sent     atomic.Uint64
	received atomic.Uint64
	hist     histogram
	wg       sync.WaitGroup
}

func (g *generator) receive(s *stream) {
	defer g.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, _, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n < 20 {
			continue
		}
		sentAt := int64(binary.BigEndian.Uint64(buf[12:20]))
		g.hist.add(time.Since(g.epoch) - time.Duration(sentAt))
		g.received.Add(1)
	}
}

// send is one of the staggered senders: every 20 ms it sends one packet on
// each stream whose index falls to it.
func (g *generator) send(ctx context.Context, k int) {
	defer g.wg.Done()
	pkt := make([]byte, 12+payloadLen)
	pkt[0] = 0x80
	time.Sleep(time.Duration(k) * time.Second / pps / senders)
	tick := time.NewTicker(time.Second / pps)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		g.mu.Lock()
		streams := g.streams
		g.mu.Unlock()
		for i := k; i < len(streams); i += senders {
			s := streams[i]
			s.seq++
			binary.BigEndian.PutUint16(pkt[2:], s.seq)
			binary.BigEndian.PutUint32(pkt[4:], uint32(s.seq)*payloadLen)
			binary.BigEndian.PutUint32(pkt[8:], s.ssrc)
			binary.BigEndian.PutUint64(pkt[12:], uint64(time.Since(g.epoch)))
			if _, err := s.conn.WriteToUDPAddrPort(pkt, s.dst); err == nil {
				g.sent.Add(1)
			}
		}
	}
}

// addCall sets up one call through the relay and adds its two streams.
func (g *generator) addCall(c *childRelay, id int) error {
	a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		a.Close()
		return err
	}
	port := func(x *net.UDPConn) int { return x.LocalAddr().(*net.UDPAddr).Port }
	callID := fmt.Sprintf("load-%d", id)
	rb, err := c.command(fmt.Sprintf("U %s 127.0.0.1 %d fa", callID, port(a)))
	if err != nil {
		return err
	}
	ra, err := c.command(fmt.Sprintf("L %s 127.0.0.1 %d fa fb", callID, port(b)))
	if err != nil {
		return err
	}
	pb, errB := strconv.Atoi(strings.Fields(rb + " x")[0])
	pa, errA := strconv.Atoi(strings.Fields(ra + " x")[0])
	if errA != nil || errB != nil || pa == 0 || pb == 0 {
		a.Close()
		b.Close()
		return fmt.Errorf("call %d refused: U %q, L %q", id, rb, ra)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	sa := &stream{conn: a, dst: netip.AddrPortFrom(lo, uint16(pa)), ssrc: uint32(2 * id)}
	sb := &stream{conn: b, dst: netip.AddrPortFrom(lo, uint16(pb)), ssrc: uint32(2*id + 1)}
	g.wg.Add(2)
	go g.receive(sa)
	go g.receive(sb)
	g.mu.Lock()
	g.streams = append(g.streams, sa, sb)
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

func run(ctx context.Context, portMin, portMax int, counts []int, stepTime time.Duration, maxLoss float64, maxP99 time.Duration) error {
	c, err := startChild(portMin, portMax)
	if err != nil {
		return err
	}
	defer c.stop()
	g := &generator{epoch: time.Now()}
	sendCtx, stopSend := context.WithCancel(ctx)
	for k := range senders {
		g.wg.Add(1)
		go g.send(sendCtx, k)
	}
	defer func() {
		stopSend()
		g.mu.Lock()
		for _, s := range g.streams {
			s.conn.Close()
		}
		g.mu.Unlock()
		g.wg.Wait()
	}()
	fmt.Printf("%6s %10s %10s %8s %10s %10s %12s\n", "calls", "sent/s", "relayed/s", "loss%", "p50", "p99", "cpu/pkt")
	calls := 0
	for _, want := range counts {
		for calls < want {
			if err := g.addCall(c, calls); err != nil {
				fmt.Printf("stop: %v\n", err)
				return nil
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
		cpu0, err := c.cpu()
		if err != nil {
			return err
		}
		start := time.Now()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(stepTime):
		}
		cpu1, err := c.cpu()
		if err != nil {
			return err
		}
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
		fmt.Printf("%6d %10.0f %10.0f %8.3f %10v %10v %12v\n", calls, float64(sent)/el, float64(rel)/el, loss*100, p50, p99, perPkt)
		if loss > maxLoss || p99 > maxP99 {
			fmt.Printf("stop: loss or latency limit reached at %d calls\n", calls)
			return nil
		}
	}
	return nil
}
