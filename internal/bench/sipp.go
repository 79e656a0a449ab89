package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// sippRun says how to start one SIPp, with the flags internal/testenv uses.
type sippRun struct {
	name     string // "uac" or "uas", also the log folder's name
	scenario string // path of the scenario file
	remote   string // host:port a UAC sends to; empty for a UAS
	port     int    // local SIP port
	rate     int    // calls per second, UAC only
	calls    int    // -m: stop after that many calls; 0 for no limit
	limit    int    // -l: simultaneous calls; 0 keeps SIPp's default
	hold     time.Duration
	timeout  time.Duration // -timeout: SIPp ends itself after that long
}

// sipp is one running SIPp process.
type sipp struct {
	*child
	run sippRun
	dir string
}

// startSIPp starts SIPp on 127.0.0.1 and returns once it owns its SIP
// socket, so a UAS is ready for the first INVITE.
func startSIPp(bin, dir string, r sippRun) (*sipp, error) {
	dir = filepath.Join(dir, r.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sipp folder: %w", err)
	}
	out, err := os.Create(filepath.Join(dir, "output.log"))
	if err != nil {
		return nil, fmt.Errorf("sipp output log: %w", err)
	}
	defer out.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, sippArgs(dir, r)...)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	c, err := startChild("sipp "+r.name, cmd)
	if err != nil {
		return nil, err
	}
	s := &sipp{child: c, run: r, dir: dir}
	deadline := time.Now().Add(15 * time.Second)
	for !testenv.OwnsSocket(c.pid(), "udp", r.port) {
		if c.exited() {
			return nil, fmt.Errorf("sipp %s exited with status %d before binding port %d: %s",
				r.name, c.exitCode(), r.port, tailFile(filepath.Join(dir, "output.log"), 600))
		}
		if time.Now().After(deadline) {
			c.stop(syscall.SIGKILL, time.Second)
			return nil, fmt.Errorf("sipp %s did not bind port %d within 15s", r.name, r.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s, nil
}

func sippArgs(dir string, r sippRun) []string {
	var a []string
	if r.remote != "" {
		a = append(a, r.remote)
	}
	a = append(a,
		"-sf", r.scenario,
		"-i", "127.0.0.1", "-p", strconv.Itoa(r.port), "-bind_local", "-t", "u1",
		"-ci", "127.0.0.1",
		"-nostdin",
		"-aa",
		// Default socket buffers overflow above about 2,000 calls/s, and
		// SIPp then counts its own drops as retransmissions and timeouts.
		"-buff_size", "4194304",
		"-timeout", strconv.FormatInt(int64(r.timeout.Seconds())+1, 10)+"s",
		"-trace_stat", "-stf", filepath.Join(dir, "stats.csv"), "-fd", "1",
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		"-key", "caller", "bench",
	)
	if r.rate > 0 {
		a = append(a, "-r", strconv.Itoa(r.rate), "-rp", "1000")
	}
	if r.calls > 0 {
		a = append(a, "-m", strconv.Itoa(r.calls))
	}
	if r.limit > 0 {
		a = append(a, "-l", strconv.Itoa(r.limit))
	}
	if r.hold > 0 {
		a = append(a, "-d", strconv.FormatInt(r.hold.Milliseconds(), 10))
	}
	return a
}

// finish waits for SIPp to end by itself within limit, else stops it.
func (s *sipp) finish(ctx context.Context, limit time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if s.wait(wctx) != nil {
		s.stop(syscall.SIGUSR1, 3*time.Second)
	}
}

// stats reads SIPp's latest report (one a second, and a last one at exit).
func (s *sipp) stats() (testenv.SIPpStats, error) {
	st, err := testenv.ReadSIPpStats(filepath.Join(s.dir, "stats.csv"))
	if err != nil {
		return st, fmt.Errorf("sipp %s: %w", s.run.name, err)
	}
	return st, nil
}

// errorSummary counts the kinds of event in SIPp's error log, most frequent
// first, for a report of failed calls.
func (s *sipp) errorSummary() string {
	data, err := os.ReadFile(filepath.Join(s.dir, "errors.log"))
	if err != nil {
		return ""
	}
	return summarizeSIPpErrors(data, 3)
}

// sippEventStart matches the timestamp that opens each event of SIPp's
// error log: date, time and epoch, tab-separated.
var sippEventStart = regexp.MustCompile(`\d{4}-\d{2}-\d{2}\t[\d:.]+\t[\d.]+: `)

// sippCallID is the per-call part of an event, left out so that events of
// one kind count together.
var sippCallID = regexp.MustCompile(`(?i)Call-Id '[^']*'`)

// sippCSeq finds the CSeq of the message an event quotes. Its first line
// alone does not say which transaction a message was for: a "Dead call"
// 200 OK may answer the INVITE (a 2xx retransmitted after the ACK) or the
// BYE (the answer to a BYE retransmission, after the first answer ended
// the call), and the two have different causes.
var sippCSeq = regexp.MustCompile(`(?m)^CSeq:[ \t]*([^\r\n]*?)[ \t]*\r?$`)

// eventKind is an event's line with every number outside quotes replaced:
// events that differ only in such numbers (a watchdog's trip count) are one
// kind, while the quoted codes SIPp expected or received tell kinds apart.
func eventKind(line string) string {
	var b strings.Builder
	quoted, inNumber := false, false
	for _, r := range line {
		if r == '\'' {
			quoted = !quoted
		}
		if !quoted && r >= '0' && r <= '9' {
			if !inNumber {
				b.WriteByte('#')
			}
			inNumber = true
			continue
		}
		inNumber = false
		b.WriteRune(r)
	}
	return b.String()
}

// summarizeSIPpErrors returns the top kinds of event in an error log, each
// as its count and the first line of its first event, on one line each.
func summarizeSIPpErrors(log []byte, top int) string {
	counts := map[string]int{}
	example := map[string]string{}
	var order []string
	for _, ev := range sippEventStart.Split(string(log), -1)[1:] {
		first, _, _ := strings.Cut(ev, "\n")
		first = sippCallID.ReplaceAllString(strings.TrimSpace(first), "Call-Id '…'")
		if len(first) > 160 {
			first = first[:160] + "…"
		}
		if cseq := sippCSeq.FindStringSubmatch(ev); cseq != nil {
			first += " [CSeq " + cseq[1] + "]"
		}
		kind := eventKind(first)
		if counts[kind] == 0 {
			order = append(order, kind)
			example[kind] = first
		}
		counts[kind]++
	}
	sort.SliceStable(order, func(i, j int) bool { return counts[order[i]] > counts[order[j]] })
	var b strings.Builder
	for i, k := range order {
		if i == top {
			fmt.Fprintf(&b, "    … and %d other kinds\n", len(order)-top)
			break
		}
		fmt.Fprintf(&b, "    %6d × %s\n", counts[k], example[k])
	}
	return strings.TrimRight(b.String(), "\n")
}

// requireBinary returns the path of bin, installing the Debian package pkg
// when it is missing, as the tests' harness does.
func requireBinary(ctx context.Context, bin, pkg string) (string, error) {
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	fmt.Printf("%s missing: installing the Debian package %s\n", bin, pkg)
	cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", pkg)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("apt-get install %s: %w\n%s", pkg, err, out)
	}
	return exec.LookPath(bin)
}

// tailFile returns at most the last limit bytes of a file, "" if absent.
func tailFile(path string, limit int64) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if int64(len(data)) > limit {
		data = data[int64(len(data))-limit:]
	}
	return strings.TrimSpace(string(data))
}
