package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Runtime tunes the Go runtime under the switch.
type Runtime struct {
	// MemoryLimit is the memory the garbage collector works to keep the
	// switch under (Go's GOMEMLIMIT): a size ("1536MiB", "2GB") or a share
	// of the machine's memory ("75%", of the smaller of the RAM and the
	// cgroup's limit), or "off". The switch collects garbage rarely
	// (GOGC 200) to spare CPU, which lets the heap grow to three times what
	// the calls hold; the limit makes the collector work harder only as the
	// heap nears it, so a server full of held calls stays within its
	// memory instead of being killed for it. Default "75%".
	MemoryLimit string `yaml:"memory_limit"`
	// GCHeadroom is the most garbage the collector lets pile up above the
	// heap the calls hold, or "off". GOGC 200 lets the heap grow to three
	// times the live heap: cheap while calls hold little, but 100,000 held
	// calls (300 MB live) would take 900 MB. Past half the headroom of live
	// heap the switch lowers GOGC after each collection so that the next one
	// comes once the headroom has piled up (never below GOGC 25), or once
	// 4 s of the switch's allocations have, when that is more (up to GOGC
	// 400, five times the live heap): the collector runs no more often than
	// every 4 s, which at 3,000 calls/s and more needs more than GOGC 200
	// gives. Default "128MiB"; "off" keeps GOGC 200 at any size and rate.
	GCHeadroom string `yaml:"gc_headroom"`
}

// DefaultMemoryLimit is runtime.memory_limit when the file sets none.
const DefaultMemoryLimit = "75%"

// MemoryLimitOff is the runtime.memory_limit that sets no limit.
const MemoryLimitOff = "off"

// DefaultGCHeadroom is runtime.gc_headroom when the file sets none: about
// 3,000 calls' worth of garbage (a call allocates some 40 kB), a collection
// every few seconds at 1,000 calls/s once the live heap is past 64 MiB.
const DefaultGCHeadroom = "128MiB"

// GCHeadroomOff is the runtime.gc_headroom that lets GOGC 200 stand.
const GCHeadroomOff = "off"

func (r *Runtime) applyDefaults() {
	if r.MemoryLimit == "" {
		r.MemoryLimit = DefaultMemoryLimit
	}
	if r.GCHeadroom == "" {
		r.GCHeadroom = DefaultGCHeadroom
	}
}

// GCHeadroomBytes is the headroom in bytes; ok is false when it is off.
func (r Runtime) GCHeadroomBytes() (headroom int64, ok bool, err error) {
	v := strings.TrimSpace(r.GCHeadroom)
	if v == GCHeadroomOff {
		return 0, false, nil
	}
	n, err := parseSize(v)
	if err != nil {
		return 0, false, fmt.Errorf("%q: %w or %q", r.GCHeadroom, err, GCHeadroomOff)
	}
	if n < minGCHeadroom {
		return 0, false, fmt.Errorf("%q: below 16 MiB, the collector would run all the time", r.GCHeadroom)
	}
	return n, true, nil
}

// minGCHeadroom is the smallest gc_headroom taken as meant: a few hundred
// calls' garbage.
const minGCHeadroom = 16 << 20

// MemoryLimitBytes is the limit in bytes on a machine with total bytes of
// memory; ok is false when the limit is off.
func (r Runtime) MemoryLimitBytes(total uint64) (limit int64, ok bool, err error) {
	v := strings.TrimSpace(r.MemoryLimit)
	if v == MemoryLimitOff {
		return 0, false, nil
	}
	if pct, isPct := strings.CutSuffix(v, "%"); isPct {
		n, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || n <= 0 || n > 100 {
			return 0, false, fmt.Errorf("%q: want a share of the machine's memory above 0%% and at most 100%%", r.MemoryLimit)
		}
		return int64(float64(total) * n / 100), true, nil
	}
	n, err := parseSize(v)
	if err != nil {
		return 0, false, fmt.Errorf(`%q: %w, a share of the machine's memory ("75%%") or %q`, r.MemoryLimit, err, MemoryLimitOff)
	}
	if n < minMemoryLimit {
		return 0, false, fmt.Errorf("%q: below the 64 MiB a switch needs idle", r.MemoryLimit)
	}
	return n, true, nil
}

// minMemoryLimit is the smallest memory_limit taken as meant: below it the
// collector would run without pause on an idle switch.
const minMemoryLimit = 64 << 20

// sizeUnits are the units a size may carry, longest first so that "MiB"
// is not read as "B".
var sizeUnits = []struct {
	name string
	mult int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// parseSize reads a whole number of bytes with a unit: "600MiB", "2GB".
func parseSize(v string) (int64, error) {
	for _, u := range sizeUnits {
		num, found := strings.CutSuffix(v, u.name)
		if !found {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || n <= 0 || n > (1<<62)/u.mult {
			break
		}
		return n * u.mult, nil
	}
	return 0, errors.New(`want a size with its unit ("1536MiB", "2GB")`)
}

func (v *validator) validateRuntime(r *Runtime) {
	// The machine's size is not known here; any share is valid on some.
	if _, _, err := r.MemoryLimitBytes(1 << 40); err != nil {
		v.addf("runtime.memory_limit", "%v", err)
	}
	if _, _, err := r.GCHeadroomBytes(); err != nil {
		v.addf("runtime.gc_headroom", "%v", err)
	}
}
