package transport

import (
	"sync"
	"time"
)

// warnInterval is the least time between two warnings of one kind: a flood
// of bad events, or of junk from a server, must not flood the log too. The
// Metrics count every one regardless.
const warnInterval = 10 * time.Second

// RateLimited logs a kind of recurring problem as rate-limited warnings:
// the first at once, then at most one per interval, saying how many were
// suppressed. Callers give a reason that never includes event content.
// Safe for concurrent use.
type RateLimited struct {
	log   Logger
	every time.Duration
	what  string // the warning's start, "Dropped an event that cannot be sent"
	hint  string // appended to the count of suppressed warnings

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// NewRateLimited returns the warnings that start with what; hint is added
// to the count of those suppressed.
func NewRateLimited(log Logger, what, hint string) *RateLimited {
	return &RateLimited{log: log, every: warnInterval, what: what, hint: hint}
}

// Report warns of one occurrence, with its reason, or counts it as
// suppressed. Safe for concurrent use.
func (w *RateLimited) Report(reason error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if !w.last.IsZero() && now.Sub(w.last) < w.every {
		w.suppressed++
		return
	}
	if w.suppressed > 0 {
		w.log.Warnf("%s: %v (and %d more in the last %v%s)",
			w.what, reason, w.suppressed, now.Sub(w.last).Round(time.Second), w.hint)
	} else {
		w.log.Warnf("%s: %v", w.what, reason)
	}
	w.last = now
	w.suppressed = 0
}
