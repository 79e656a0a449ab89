package config

import (
	"strings"
	"testing"
)

// TestMemoryLimit: runtime.memory_limit is a size with its unit, a share
// of the machine's memory or off, 75% when unset; anything else is refused
// where it is written.
func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	const machine = 8 << 30
	for _, tc := range []struct {
		yaml string
		want int64
		on   bool
	}{
		{"sip:\n  user_agent: x\n", 6 << 30, true},
		{"runtime:\n  memory_limit: 600MiB\n", 600 << 20, true},
		{"runtime:\n  memory_limit: 2GB\n", 2e9, true},
		{"runtime:\n  memory_limit: 1536 MiB\n", 1536 << 20, true},
		{"runtime:\n  memory_limit: 12.5%\n", 1 << 30, true},
		{"runtime:\n  memory_limit: off\n", 0, false},
	} {
		c, err := Parse([]byte(tc.yaml))
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		got, on, err := c.Runtime.MemoryLimitBytes(machine)
		if err != nil || got != tc.want || on != tc.on {
			t.Errorf("%q: %d bytes, on %v, %v; want %d, on %v", tc.yaml, got, on, err, tc.want, tc.on)
		}
	}
	for _, bad := range []string{"600", "600M", "0MiB", "-1GiB", "32MiB", "0%", "101%", "lots", "600MiB;rm -rf /"} {
		_, err := Parse([]byte("runtime:\n  memory_limit: \"" + bad + "\"\n"))
		if err == nil || !strings.Contains(err.Error(), "line 2, column 17: runtime.memory_limit") {
			t.Errorf("%q: err = %v, want runtime.memory_limit refused at line 2", bad, err)
		}
	}
}

// TestGCHeadroom: runtime.gc_headroom is a size with its unit or off,
// 128MiB when unset; anything else is refused where it is written.
func TestGCHeadroom(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		yaml string
		want int64
		on   bool
	}{
		{"sip:\n  user_agent: x\n", 128 << 20, true},
		{"runtime:\n  gc_headroom: 256MiB\n", 256 << 20, true},
		{"runtime:\n  gc_headroom: 1GB\n", 1e9, true},
		{"runtime:\n  gc_headroom: off\n", 0, false},
	} {
		c, err := Parse([]byte(tc.yaml))
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		got, on, err := c.Runtime.GCHeadroomBytes()
		if err != nil || got != tc.want || on != tc.on {
			t.Errorf("%q: %d bytes, on %v, %v; want %d, on %v", tc.yaml, got, on, err, tc.want, tc.on)
		}
	}
	for _, bad := range []string{"128", "8MiB", "0MiB", "-1GiB", "50%", "lots", "1GiB;rm -rf /"} {
		_, err := Parse([]byte("runtime:\n  gc_headroom: \"" + bad + "\"\n"))
		if err == nil || !strings.Contains(err.Error(), "line 2, column 16: runtime.gc_headroom") {
			t.Errorf("%q: err = %v, want runtime.gc_headroom refused at line 2", bad, err)
		}
	}
}
