package wsclient

import (
	"sync"
	"time"

	"github.com/elastic/beats/v7/libbeat/logp"
)

// warnInterval is the least time between two warnings of one kind: a flood
// of bad events, or of junk from a server, must not flood the log too. The
// Observer counts every drop regardless.
const warnInterval = 10 * time.Second

// limitedWarning logs a kind of recurring problem as rate-limited warnings:
// the first at once, then at most one per interval, saying how many were
// suppressed. Callers give a reason that never includes event content.
// Safe for concurrent use.
type limitedWarning struct {
	log   *logp.Logger
	every time.Duration
	what  string // the warning's start, "Dropped an event that cannot be sent"
	hint  string // appended to the count of suppressed warnings

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (w *limitedWarning) report(reason error) {
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
