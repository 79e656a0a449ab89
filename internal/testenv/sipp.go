package testenv

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// scenarioFS holds the SIPp scenario library; each file's header comment says
// what it does and which -key values it reads.
//
//go:embed scenarios/*.xml
var scenarioFS embed.FS

// SIPpTraceEnv, when set to a non-empty value other than "0", makes every SIPp
// started by StartSIPp also log each SIP message it sends and receives
// (-trace_msg); the log is printed when the test fails.
const SIPpTraceEnv = "TOLLGATE_SIPP_TRACE"

// sippDefaultKeys are passed to every SIPp so that any scenario of the library
// loads: SIPp rejects a scenario that names a [key] it was not given.
// SIPpOptions.Keys overrides them.
var sippDefaultKeys = map[string]string{
	"caller": "sipp",      // From user of UAC calls
	"expect": "486",       // uac_reject.xml: the final code the call must get
	"code":   "486",       // uas_reject.xml: the code to answer with
	"reason": "Busy Here", // uas_reject.xml: its reason phrase
	"ring":   "1",         // uas_noanswer.xml: 1 sends 180 Ringing, 0 only 100
	// reg_client.xml: the lifetime asked, and the port its Contact names
	"expires":      "3600",
	"contact_port": "5060",
}

// sippStopGrace is how long a SIPp gets to end its calls after SIGUSR1, or
// after its own -timeout, before it is killed. SIPp's forced exit (a second
// SIGUSR1) can itself wait on calls for minutes, so it is not used.
const sippStopGrace = 2 * time.Second

// SIPpOptions says how to run one SIPp process.
type SIPpOptions struct {
	// Scenario is the name of an embedded scenario ("uac.xml"), or the path of
	// a scenario file a test wrote itself (any name containing a slash).
	Scenario string
	// Remote is the host:port a UAC sends to; empty for a UAS.
	Remote string
	// Port is the local SIP port; 0 picks a free one (and retries with another
	// if SIPp then loses the race for it).
	Port int
	// Transport is "udp" (the default, -t u1) or "tcp" (-t t1).
	Transport string
	// Service is the Request-URI user (-s); SIPp's default is "service".
	Service string
	// Calls stops SIPp after that many calls (-m); 0 means no limit.
	Calls int
	// Rate is the UAC call rate in calls per second (-r, -rp 1000); 0 keeps
	// SIPp's default of 10.
	Rate float64
	// Limit caps simultaneous calls (-l); 0 keeps SIPp's default.
	Limit int
	// Pause is the length of every bare <pause/> in the scenario (-d): how long
	// uac.xml holds a call, how long uas_bye.xml waits before hanging up.
	Pause time.Duration
	// Keys are -key name value pairs, read as [name] in scenarios; they
	// override the defaults in sippDefaultKeys.
	Keys map[string]string
	// OutOfCall is an embedded scenario answering the requests that match
	// no call of Scenario (-oocsf): how a registering client takes the
	// calls that reach it.
	OutOfCall string
	// Extra holds further SIPp arguments, appended last.
	Extra []string
	// Timeout ends SIPp after that long (-timeout, default 60s). SIPp then
	// waits for its calls in progress, so it is killed if it still runs 2s
	// later; Wait reports either as an error.
	Timeout time.Duration
	// Trace logs every SIP message (-trace_msg), as SIPpTraceEnv does.
	Trace bool
}

// SIPp is one running SIPp process started by StartSIPp.
type SIPp struct {
	t        testing.TB
	opts     SIPpOptions
	scenario string // base name, for messages
	dir      string
	port     int
	cmd      *exec.Cmd
	done     chan struct{} // closed once the process has exited
	exitCode int           // valid after done

	mu       sync.Mutex
	stopped  bool // Stop was called: an interrupted run is not an error
	deadline bool // killed for outliving its -timeout
	stopOnce sync.Once
	timer    *time.Timer
}

// SIPpStats are SIPp's own cumulative counters, read from its statistics file
// (-trace_stat), as of its last report.
type SIPpStats struct {
	Created            int // TotalCallCreated
	Current            int // CurrentCall: calls still in progress
	Successful         int // SuccessfulCall(C)
	Failed             int // FailedCall(C)
	Retransmissions    int // Retransmissions(C)
	UnexpectedMessages int // FailedUnexpectedMessage(C)
	TimeoutOnRecv      int // FailedTimeoutOnRecv(C)
	MaxUDPRetrans      int // FailedMaxUDPRetrans(C)
	CheckFailed        int // calls failed by a check_it regexp/test/strcmp action
	OutOfCallMsgs      int // OutOfCallMsgs(C): messages matching no call
	DeadCallMsgs       int // DeadCallMsgs(C): messages for calls already ended
	AutoAnswered       int // AutoAnswered(C): requests answered by -aa
	FatalErrors        int // FatalErrors(C)
	Elapsed            time.Duration
	CallRate           float64 // CallRate(C), calls per second
	// ExitCode is SIPp's exit status once it has exited (0: every call
	// succeeded, 1: some failed, 97: stopped by a timeout or command, 99: no
	// call processed, 254/255: fatal error), -1 while it runs or if killed.
	ExitCode int
	// Raw holds every column of the last report by its header name.
	Raw map[string]string
}

// String summarises the counters a failed test most needs to see.
func (st SIPpStats) String() string {
	return fmt.Sprintf("created %d, successful %d, failed %d (unexpected %d, recv timeout %d, "+
		"UDP retrans exhausted %d, check failed %d), current %d, retransmissions %d, exit %d",
		st.Created, st.Successful, st.Failed, st.UnexpectedMessages, st.TimeoutOnRecv,
		st.MaxUDPRetrans, st.CheckFailed, st.Current, st.Retransmissions, st.ExitCode)
}

// SIPpScenarios lists the embedded scenario names.
func SIPpScenarios() []string {
	entries, err := fs.ReadDir(scenarioFS, "scenarios")
	if err != nil {
		panic(fmt.Sprintf("testenv: embedded scenarios unreadable: %v", err))
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// StartSIPp starts SIPp on 127.0.0.1 and returns once its SIP socket is bound,
// so a UAS is ready to receive the first INVITE. The process is stopped when
// the test ends, and dies with the test binary if that is killed; when the
// test failed, SIPp's error log and final screen are written to the test log.
func StartSIPp(t testing.TB, o SIPpOptions) *SIPp {
	t.Helper()
	bin := RequireBinary(t, "sipp", "sip-tester")
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	switch o.Transport {
	case "":
		o.Transport = "udp"
	case "udp", "tcp":
	default:
		t.Fatalf("testenv: SIPp transport %q: want udp or tcp", o.Transport)
	}
	dir := t.TempDir()
	scen := writeScenario(t, dir, o.Scenario)
	if o.OutOfCall != "" {
		o.Extra = append([]string{"-oocsf", writeScenario(t, dir, o.OutOfCall)}, o.Extra...)
	}

	for attempt := 1; ; attempt++ {
		port := o.Port
		if port == 0 {
			port = FreePort(t)
		}
		s := &SIPp{t: t, opts: o, scenario: filepath.Base(o.Scenario), dir: dir, port: port,
			done: make(chan struct{}), exitCode: -1}
		s.start(bin, scen)
		err := s.awaitBound(15 * time.Second)
		if err == nil {
			t.Cleanup(s.cleanup)
			return s
		}
		<-s.done
		s.timer.Stop()
		// SIPp exits 254 when it cannot bind: another process took the port
		// between FreePort and SIPp's bind. Only a port we chose can be retried.
		if s.exitCode == 254 && o.Port == 0 && attempt < 3 {
			t.Logf("testenv: SIPp %s lost port %d, retrying", s.scenario, port)
			continue
		}
		s.logFiles()
		t.Fatalf("testenv: SIPp %s did not start: %v", s.scenario, err)
	}
}

// writeScenario copies the scenario into dir and returns its path there.
func writeScenario(t testing.TB, dir, name string) string {
	t.Helper()
	var data []byte
	var err error
	if strings.Contains(name, "/") {
		data, err = os.ReadFile(name)
	} else {
		data, err = scenarioFS.ReadFile("scenarios/" + name)
	}
	if err != nil {
		t.Fatalf("testenv: SIPp scenario %q: %v (embedded: %s)", name, err, strings.Join(SIPpScenarios(), ", "))
	}
	path := filepath.Join(dir, filepath.Base(name))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatalf("testenv: write SIPp scenario: %v", err)
	}
	return path
}

func (s *SIPp) args(scen string) []string {
	o := s.opts
	a := []string{}
	if o.Remote != "" {
		a = append(a, o.Remote)
	}
	tr := "u1"
	if o.Transport == "tcp" {
		tr = "t1"
	}
	a = append(a,
		"-sf", scen,
		"-i", "127.0.0.1", "-p", strconv.Itoa(s.port), "-bind_local", "-t", tr,
		// The control socket otherwise listens on every interface.
		"-ci", "127.0.0.1",
		"-nostdin",
		// Answer INFO/NOTIFY/OPTIONS/UPDATE a scenario does not expect (a
		// switch's keep-alives or session refreshes) instead of failing.
		"-aa",
		"-timeout", formatSeconds(o.Timeout),
		"-trace_stat", "-stf", filepath.Join(s.dir, "stats.csv"), "-fd", "1",
		"-trace_err", "-error_file", filepath.Join(s.dir, "errors.log"),
		"-trace_screen", "-screen_file", filepath.Join(s.dir, "screen.log"),
	)
	if o.Trace || traceFromEnv() {
		a = append(a, "-trace_msg", "-message_file", filepath.Join(s.dir, "messages.log"))
	}
	if o.Calls > 0 {
		a = append(a, "-m", strconv.Itoa(o.Calls))
	}
	if o.Rate > 0 {
		a = append(a, "-r", strconv.FormatFloat(o.Rate, 'f', -1, 64), "-rp", "1000")
		if o.Rate > 2000 {
			// The default socket buffers overflow at this rate and SIPp
			// counts the drops as retransmissions and timeouts.
			a = append(a, "-buff_size", "4194304")
		}
	}
	if o.Limit > 0 {
		a = append(a, "-l", strconv.Itoa(o.Limit))
	}
	if o.Service != "" {
		a = append(a, "-s", o.Service)
	}
	if o.Pause > 0 {
		a = append(a, "-d", strconv.FormatInt(o.Pause.Milliseconds(), 10))
	}
	keys := make(map[string]string, len(sippDefaultKeys)+len(o.Keys))
	for k, v := range sippDefaultKeys {
		keys[k] = v
	}
	for k, v := range o.Keys {
		keys[k] = v
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		a = append(a, "-key", k, keys[k])
	}
	return append(a, o.Extra...)
}

func traceFromEnv() bool {
	v := os.Getenv(SIPpTraceEnv)
	return v != "" && v != "0"
}

// formatSeconds renders d for SIPp's -timeout, which takes whole seconds.
func formatSeconds(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10) + "s"
}

// start launches SIPp. Pdeathsig kills it if the test binary dies (a test
// timeout panic skips t.Cleanup). The kernel sends that signal when the
// creating thread exits, so the process is started and waited for on one
// locked OS thread that lives exactly as long as SIPp does.
func (s *SIPp) start(bin, scen string) {
	out, err := os.Create(filepath.Join(s.dir, "output.log"))
	if err != nil {
		s.t.Fatalf("testenv: SIPp output log: %v", err)
	}
	cmd := exec.Command(bin, s.args(scen)...)
	cmd.Dir = s.dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	s.cmd = cmd
	// The exit status is read from ProcessState once SIPp has exited.
	if err := startPinned(cmd, out, s.done, func() { s.exitCode = cmd.ProcessState.ExitCode() }); err != nil {
		s.t.Fatalf("testenv: start %s: %v", bin, err)
	}
	s.timer = time.AfterFunc(s.opts.Timeout+sippStopGrace, func() {
		s.mu.Lock()
		s.deadline = true
		s.mu.Unlock()
		s.kill()
	})
}

// kill ends SIPp's whole process group at once.
func (s *SIPp) kill() {
	select {
	case <-s.done:
	default:
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// awaitBound waits until SIPp owns its SIP socket, or fails if SIPp exits or
// limit passes. A TCP UAC opens no listening socket, so it is ready at once.
func (s *SIPp) awaitBound(limit time.Duration) error {
	if s.opts.Transport == "tcp" && s.opts.Remote != "" {
		return nil
	}
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-s.done:
			// 0 and 1 are SIPp's verdicts on calls it made (all passed, some
			// failed): a short run, such as one call refused at once, can be
			// over before the socket was seen. It started; Wait reads it.
			if s.exitCode == 0 || s.exitCode == 1 {
				return nil
			}
			return fmt.Errorf("sipp exited with status %d before binding 127.0.0.1:%d (%s)",
				s.exitCode, s.port, s.outputTail())
		default:
		}
		if OwnsSocket(s.cmd.Process.Pid, s.opts.Transport, s.port) {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("sipp did not bind 127.0.0.1:%d within %v", s.port, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// OwnsSocket reports whether process pid holds a socket bound to
// 127.0.0.1:port (listening, for TCP), judged from /proc so that the check
// never takes the port itself: how a test or the load driver knows a child
// (SIPp, a relay) is ready.
func OwnsSocket(pid int, transport string, port int) bool {
	table := "/proc/net/udp"
	if transport == "tcp" {
		table = "/proc/net/tcp"
	}
	data, err := os.ReadFile(table)
	if err != nil {
		return false
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	inodes := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || f[1] != want {
			continue
		}
		if transport == "tcp" && f[3] != "0A" { // TCP_LISTEN
			continue
		}
		inodes["socket:["+f[9]+"]"] = true
	}
	if len(inodes) == 0 {
		return false
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if link, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && inodes[link] {
			return true
		}
	}
	return false
}

// Addr is the "127.0.0.1:port" SIPp sends from and listens on.
func (s *SIPp) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Dir is the folder holding SIPp's copy of its scenario and its logs, removed
// after the test: stats.csv, errors.log (-trace_err), screen.log (final
// screens), output.log (stdout and stderr) and, when traced, messages.log.
func (s *SIPp) Dir() string { return s.dir }

// Stats reads SIPp's latest periodic report (written every second) while it
// runs, or its final one after it exited.
func (s *SIPp) Stats() (SIPpStats, error) {
	st, err := ReadSIPpStats(filepath.Join(s.dir, "stats.csv"))
	select {
	case <-s.done:
		st.ExitCode = s.exitCode
	default:
		st.ExitCode = -1
	}
	return st, err
}

// Await polls SIPp's reports until cond holds, SIPp exits, or ctx ends. It is
// how a test waits for a UAS to have seen its calls before stopping it.
func (s *SIPp) Await(ctx context.Context, cond func(SIPpStats) bool) (SIPpStats, error) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := s.Stats()
		if err == nil && cond(st) {
			return st, nil
		}
		select {
		case <-s.done:
			st, err := s.Stats()
			if err == nil && cond(st) {
				return st, nil
			}
			return st, fmt.Errorf("sipp %s exited (%v) before the awaited condition: %s", s.scenario, err, st)
		case <-ctx.Done():
			return st, fmt.Errorf("sipp %s: awaited condition not met: %w (%s)", s.scenario, ctx.Err(), st)
		case <-tick.C:
		}
	}
}

// Wait waits for SIPp to exit and returns its final statistics. The error is
// nil only when SIPp ended normally: exit status 0 (every call succeeded) and,
// for a UAC given Calls, that many calls completed; after Stop any exit but a
// fatal error counts as normal. ctx bounds the wait, not SIPp.
func (s *SIPp) Wait(ctx context.Context) (SIPpStats, error) {
	select {
	case <-s.done:
	case <-ctx.Done():
		st, _ := s.Stats()
		return st, fmt.Errorf("sipp %s still running: %w (%s)", s.scenario, ctx.Err(), st)
	}
	st, err := s.Stats()
	if err != nil {
		return st, fmt.Errorf("sipp %s exited %d: %w", s.scenario, s.exitCode, err)
	}
	s.mu.Lock()
	stopped, deadline := s.stopped, s.deadline
	s.mu.Unlock()
	switch {
	case deadline:
		return st, fmt.Errorf("sipp %s killed: calls still in progress after its -timeout of %v (%s)",
			s.scenario, s.opts.Timeout, st)
	case stopped && s.exitCode != 254 && s.exitCode != 255:
		return st, nil
	case s.exitCode == 97:
		return st, fmt.Errorf("sipp %s reached its -timeout of %v: %s", s.scenario, s.opts.Timeout, st)
	case s.exitCode != 0:
		return st, fmt.Errorf("sipp %s exited %d: %s; %s", s.scenario, s.exitCode, st, s.errorsTail())
	case s.opts.Remote != "" && s.opts.Calls > 0 && st.Successful+st.Failed < s.opts.Calls:
		return st, fmt.Errorf("sipp %s ended after %d of %d calls: %s; %s", s.scenario,
			st.Successful+st.Failed, s.opts.Calls, st, s.outputTail())
	}
	return st, nil
}

// WaitSuccess waits (bounded by the SIPp timeout) for SIPp to exit and fails
// the test unless it ended normally with exactly n successful calls and none
// failed.
func (s *SIPp) WaitSuccess(t testing.TB, n int) SIPpStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout+20*time.Second)
	defer cancel()
	st, err := s.Wait(ctx)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if st.Successful != n || st.Failed != 0 {
		t.Fatalf("testenv: sipp %s: want %d successful calls and none failed, got %s", s.scenario, n, st)
	}
	return st
}

// Stop ends SIPp: SIGUSR1 asks it to place no new call and exit once its
// calls are over; if it still runs after a grace period it is killed, and
// its statistics are then those of its last report (at most a second old).
// It returns once SIPp has exited.
func (s *SIPp) Stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		select {
		case <-s.done:
			return
		default:
		}
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGUSR1)
		select {
		case <-s.done:
		case <-time.After(sippStopGrace):
			s.kill()
		}
	})
	<-s.done
}

func (s *SIPp) cleanup() {
	s.Stop()
	s.timer.Stop()
	if s.t.Failed() {
		s.logFiles()
	}
}

// logFiles writes SIPp's logs to the test log so that a failure can be
// diagnosed from the test output alone.
func (s *SIPp) logFiles() {
	for _, f := range []struct{ name, file string }{
		{"output", "output.log"},
		{"error log", "errors.log"},
		{"final screens", "screen.log"},
		{"messages", "messages.log"},
	} {
		if text := tailFile(filepath.Join(s.dir, f.file), 16<<10); text != "" {
			s.t.Logf("testenv: sipp %s (port %d) %s:\n%s", s.scenario, s.port, f.name, text)
		}
	}
}

func (s *SIPp) errorsTail() string {
	if tail := tailFile(filepath.Join(s.dir, "errors.log"), 1500); tail != "" {
		return "error log: " + tail
	}
	return s.outputTail()
}

func (s *SIPp) outputTail() string {
	return "output: " + tailFile(filepath.Join(s.dir, "output.log"), 800)
}

// tailFile returns at most the last limit bytes of a file, "" if it is absent.
func tailFile(path string, limit int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return ""
	}
	off := info.Size() - limit
	prefix := ""
	if off > 0 {
		prefix = "…"
	} else {
		off = 0
	}
	buf := make([]byte, info.Size()-off)
	n, _ := f.ReadAt(buf, off)
	return prefix + strings.TrimSpace(string(buf[:n]))
}

// errNoStats says SIPp has written no complete statistics row yet.
var errNoStats = errors.New("no statistics report yet")

// ReadSIPpStats parses the header and the last complete row of a SIPp
// statistics file (-trace_stat; the load driver reads its SIPps' too) (';'-separated, one row per report). A row being written
// has fewer fields than the header and is skipped.
func ReadSIPpStats(path string) (SIPpStats, error) {
	st := SIPpStats{ExitCode: -1}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return st, errNoStats
		}
		return st, fmt.Errorf("read sipp statistics: %w", err)
	}
	lines := strings.Split(string(data), "\n")
	header := strings.Split(strings.TrimRight(lines[0], "\r"), ";")
	var row []string
	for i := len(lines) - 1; i > 0; i-- {
		f := strings.Split(strings.TrimRight(lines[i], "\r"), ";")
		if len(f) == len(header) && len(header) > 1 {
			row = f
			break
		}
	}
	if row == nil {
		return st, errNoStats
	}
	return parseSIPpStats(header, row)
}

// parseSIPpStats maps one statistics row onto SIPpStats by column name.
func parseSIPpStats(header, row []string) (SIPpStats, error) {
	st := SIPpStats{ExitCode: -1, Raw: make(map[string]string, len(header))}
	for i, h := range header {
		if h != "" {
			st.Raw[h] = row[i]
		}
	}
	var errs []error
	num := func(col string) int {
		v, ok := st.Raw[col]
		if !ok {
			errs = append(errs, fmt.Errorf("column %s missing", col))
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("column %s: %w", col, err))
		}
		return n
	}
	st.Created = num("TotalCallCreated")
	st.Current = num("CurrentCall")
	st.Successful = num("SuccessfulCall(C)")
	st.Failed = num("FailedCall(C)")
	st.Retransmissions = num("Retransmissions(C)")
	st.UnexpectedMessages = num("FailedUnexpectedMessage(C)")
	st.TimeoutOnRecv = num("FailedTimeoutOnRecv(C)")
	st.MaxUDPRetrans = num("FailedMaxUDPRetrans(C)")
	for _, c := range []string{"FailedRegexpDoesntMatch(C)", "FailedRegexpShouldntMatch(C)",
		"FailedRegexpHdrNotFound(C)", "FailedTestDoesntMatch(C)", "FailedTestShouldntMatch(C)",
		"FailedStrcmpDoesntMatch(C)", "FailedStrcmpShouldntMatch(C)"} {
		st.CheckFailed += num(c)
	}
	st.OutOfCallMsgs = num("OutOfCallMsgs(C)")
	st.DeadCallMsgs = num("DeadCallMsgs(C)")
	st.AutoAnswered = num("AutoAnswered(C)")
	st.FatalErrors = num("FatalErrors(C)")
	if rate, err := strconv.ParseFloat(st.Raw["CallRate(C)"], 64); err == nil {
		st.CallRate = rate
	} else {
		errs = append(errs, fmt.Errorf("column CallRate(C): %w", err))
	}
	if d, err := parseSIPpClock(st.Raw["ElapsedTime(C)"]); err == nil {
		st.Elapsed = d
	} else {
		errs = append(errs, fmt.Errorf("column ElapsedTime(C): %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return st, fmt.Errorf("parse sipp statistics: %w", err)
	}
	return st, nil
}

// parseSIPpClock reads SIPp's "hh:mm:ss" or "hh:mm:ss:micros" durations.
func parseSIPpClock(v string) (time.Duration, error) {
	p := strings.Split(v, ":")
	if len(p) != 3 && len(p) != 4 {
		return 0, fmt.Errorf("duration %q: want hh:mm:ss[:us]", v)
	}
	// Bounds keep the sum from overflowing: hours are SIPp's only open field.
	limits := [4]int64{1e6, 60, 60, 1e6}
	var n [4]int64
	for i, s := range p {
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil || x < 0 || x >= limits[i] {
			return 0, fmt.Errorf("duration %q: bad field %q", v, s)
		}
		n[i] = x
	}
	return time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute +
		time.Duration(n[2])*time.Second + time.Duration(n[3])*time.Microsecond, nil
}
