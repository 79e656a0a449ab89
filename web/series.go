package web

import (
	"sync"
	"time"
)

// sampleEvery is the step of the live charts.
const sampleEvery = 5 * time.Second

// seriesLen keeps one hour of samples.
const seriesLen = int(time.Hour / sampleEvery)

// series is a ring of the switch's counters, sampled every few seconds, from
// which the dashboard draws concurrent calls and calls per second.
type series struct {
	mu      sync.Mutex
	samples []sample
	next    int
	full    bool
}

type sample struct {
	At       time.Time `json:"t"`
	Active   int64     `json:"active"`
	CPS      float64   `json:"cps"`
	Answered float64   `json:"answered_ps"`
	started  uint64
	answered uint64
}

func newSeries() *series { return &series{samples: make([]sample, seriesLen)} }

func (s *series) add(at time.Time, active int64, started, answered uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := sample{At: at, Active: active, started: started, answered: answered}
	if prev, ok := s.lastLocked(); ok {
		if dt := at.Sub(prev.At).Seconds(); dt > 0 && started >= prev.started && answered >= prev.answered {
			cur.CPS = float64(started-prev.started) / dt
			cur.Answered = float64(answered-prev.answered) / dt
		}
	}
	s.samples[s.next] = cur
	s.next = (s.next + 1) % len(s.samples)
	if s.next == 0 {
		s.full = true
	}
}

func (s *series) lastLocked() (sample, bool) {
	if s.next == 0 && !s.full {
		return sample{}, false
	}
	return s.samples[(s.next-1+len(s.samples))%len(s.samples)], true
}

// since returns the samples newer than t, oldest first.
func (s *series) since(t time.Time) []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sample
	n := s.next
	if s.full {
		n = len(s.samples)
	}
	for i := range n {
		idx := i
		if s.full {
			idx = (s.next + i) % len(s.samples)
		}
		if smp := s.samples[idx]; smp.At.After(t) {
			out = append(out, smp)
		}
	}
	return out
}

// last is the newest sample.
func (s *series) last() sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	smp, _ := s.lastLocked()
	return smp
}
