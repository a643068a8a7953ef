package wsclient

import (
	"time"

	"github.com/elastic/beats/v7/libbeat/logp"
)

// dropLogInterval is the least time between two warnings about dropped
// events: a flood of bad events must not flood the log too. The Observer
// counts every drop regardless.
const dropLogInterval = 10 * time.Second

// dropReporter logs dropped events as rate-limited warnings that give the
// reason and size, never the content. Owned by the publishing goroutine.
type dropReporter struct {
	log        *logp.Logger
	every      time.Duration
	last       time.Time
	suppressed int
}

func (d *dropReporter) report(reason error) {
	now := time.Now()
	if !d.last.IsZero() && now.Sub(d.last) < d.every {
		d.suppressed++
		return
	}
	if d.suppressed > 0 {
		d.log.Warnf("Dropped an event that cannot be sent: %v (and %d more in the last %v; see output.events.dropped)",
			reason, d.suppressed, now.Sub(d.last).Round(time.Second))
	} else {
		d.log.Warnf("Dropped an event that cannot be sent: %v", reason)
	}
	d.last = now
	d.suppressed = 0
}
