package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat. It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// child is a process the driver started. It is started and waited for on
// one locked OS thread so that Pdeathsig (sent when the creating thread
// exits) kills it exactly when the driver dies, and never earlier.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	err  error         // cmd.Wait's error, valid after done
}

// startChild starts cmd in its own process group, dying with the driver.
func startChild(name string, cmd *exec.Cmd) (*child, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			close(c.done)
			return
		}
		started <- nil
		c.err = cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// exitCode is the process's exit status once it has exited, -1 before or
// when a signal ended it.
func (c *child) exitCode() int {
	if !c.exited() || c.cmd.ProcessState == nil {
		return -1
	}
	return c.cmd.ProcessState.ExitCode()
}

// stop sends sig to the process group and waits up to grace for the exit,
// then kills the group.
func (c *child) stop(sig syscall.Signal, grace time.Duration) {
	if c.exited() {
		return
	}
	_ = syscall.Kill(-c.pid(), sig)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
		<-c.done
	}
}

// wait waits for the process to exit or ctx to end.
func (c *child) wait(ctx context.Context) error {
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s still running: %w", c.name, ctx.Err())
	}
}

// procSample is one reading of a process's CPU time and resident memory.
type procSample struct {
	at  time.Time
	cpu time.Duration // utime + stime since the process started
	rss int64         // VmRSS in bytes
}

// sampleProc reads /proc/<pid>/stat and /proc/<pid>/status.
func sampleProc(pid int) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read process stat: %w", err)
	}
	if s.cpu, err = parseProcStatCPU(stat); err != nil {
		return s, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read process status: %w", err)
	}
	s.rss, err = parseVmRSS(status)
	return s, err
}

var errProcFormat = errors.New("unexpected /proc format")

// parseProcStatCPU returns utime+stime from the contents of /proc/<pid>/stat.
// The command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseProcStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat without command name: %w", errProcFormat)
	}
	f := strings.Fields(string(stat[i+1:]))
	// After ')' come field 3 (state) onwards: utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("stat has %d fields after the name: %w", len(f), errProcFormat)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		// The bound (over 300 years of CPU) keeps the sum from overflowing.
		if err != nil || n < 0 || n > 1<<40 {
			return 0, fmt.Errorf("stat CPU field %q: %w", v, errProcFormat)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// parseVmRSS returns the VmRSS line of /proc/<pid>/status in bytes.
func parseVmRSS(status []byte) (int64, error) { return parseKBLine(status, "VmRSS") }

// parseKBLine returns the value of the "name:  N kB" line of a /proc file
// (status, smaps_rollup) in bytes.
func parseKBLine(data []byte, name string) (int64, error) {
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, name+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s line %q: %w", name, line, errProcFormat)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 || kb > 1<<50 {
			return 0, fmt.Errorf("%s value %q: %w", name, f[0], errProcFormat)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no %s line: %w", name, errProcFormat)
}

// wantFiles is the open-files limit the driver asks for: SIPp wants more
// than one descriptor per call it may hold open (-l), 100,000 by default.
const wantFiles = 1 << 20

// raiseFileLimit lifts RLIMIT_NOFILE for the driver and its children: to
// wantFiles when allowed (root may raise the hard limit up to
// fs.nr_open), else the soft limit to the hard one. Setting it explicitly
// also makes Go hand the raised limit to the children (SIPp, Tollgate)
// instead of restoring the original one for them.
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Max < wantFiles {
		want := uint64(wantFiles)
		if data, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64); err == nil {
				want = min(want, n)
			}
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}); err == nil {
			return want, nil
		}
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("setrlimit: %w", err)
	}
	return lim.Cur, nil
}

// udpReceiveDrops reads the kernel's count of UDP datagrams dropped for a
// full receive buffer (RcvbufErrors in /proc/net/snmp). It is machine-wide,
// so a step's delta includes other programs' drops, but on a loaded
// loopback run those are SIPp's and Tollgate's: the first sign of overload.
func udpReceiveDrops() (int64, error) {
	data, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, fmt.Errorf("read /proc/net/snmp: %w", err)
	}
	return parseUDPRcvbufErrors(data)
}

// parseUDPRcvbufErrors finds RcvbufErrors in the pair of "Udp:" lines
// (names, then values) of /proc/net/snmp.
func parseUDPRcvbufErrors(snmp []byte) (int64, error) {
	var names []string
	for _, line := range strings.Split(string(snmp), "\n") {
		rest, ok := strings.CutPrefix(line, "Udp:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if names == nil {
			names = f
			continue
		}
		if len(f) != len(names) {
			return 0, fmt.Errorf("snmp Udp lines differ in length: %w", errProcFormat)
		}
		for i, n := range names {
			if n == "RcvbufErrors" {
				v, err := strconv.ParseInt(f[i], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("snmp RcvbufErrors %q: %w", f[i], errProcFormat)
				}
				return v, nil
			}
		}
		return 0, fmt.Errorf("snmp Udp has no RcvbufErrors: %w", errProcFormat)
	}
	return 0, fmt.Errorf("snmp without Udp lines: %w", errProcFormat)
}

// udpSocketDrops reads the drop counter of the UDP socket bound to
// 127.0.0.1:port from /proc/net/udp: the datagrams that socket's owner was
// too slow to read before its receive buffer filled.
func udpSocketDrops(port int) (int64, error) {
	data, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0, fmt.Errorf("read /proc/net/udp: %w", err)
	}
	return parseUDPSocketDrops(data, port)
}

// parseUDPSocketDrops finds the socket of 127.0.0.1:port in the contents of
// /proc/net/udp and returns its last column, drops.
func parseUDPSocketDrops(table []byte, port int) (int64, error) {
	want := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(table), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 13 || f[1] != want {
			continue
		}
		n, err := strconv.ParseInt(f[12], 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("udp drops %q: %w", f[12], errProcFormat)
		}
		return n, nil
	}
	return 0, fmt.Errorf("no UDP socket on 127.0.0.1:%d: %w", port, errProcFormat)
}
