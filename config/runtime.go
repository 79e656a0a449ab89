package config

import (
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
}

// DefaultMemoryLimit is runtime.memory_limit when the file sets none.
const DefaultMemoryLimit = "75%"

// MemoryLimitOff is the runtime.memory_limit that sets no limit.
const MemoryLimitOff = "off"

func (r *Runtime) applyDefaults() {
	if r.MemoryLimit == "" {
		r.MemoryLimit = DefaultMemoryLimit
	}
}

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
		return 0, false, fmt.Errorf("%q: %w", r.MemoryLimit, err)
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
	return 0, fmt.Errorf(`want a size with its unit ("1536MiB", "2GB"), a share of the machine's memory ("75%%") or %q`, MemoryLimitOff)
}

func (v *validator) validateRuntime(r *Runtime) {
	// The machine's size is not known here; any share is valid on some.
	if _, _, err := r.MemoryLimitBytes(1 << 40); err != nil {
		v.addf("runtime.memory_limit", "%v", err)
	}
}
