package transport

import (
	"fmt"
	"time"
)

// A lost connection is logged once, with its reason, by whoever notices it
// first (the reader, the pinger's deadline, the watcher or the publisher's
// write), at that moment: an idle connection that dies is in the log when
// it dies, not when the next batch finds it dead. What the publisher is
// told afterwards only refers to that line.

// LostError is why a connection cannot be used: it was lost, and the loss
// was logged with its reason when it was noticed. Its text refers to that
// line instead of repeating the reason; Unwrap gives the reason.
type LostError struct {
	Name   string        // the server, as Display shows it
	Ago    time.Duration // how long before the error the loss was noticed
	Reason error
}

func (e *LostError) Error() string {
	return fmt.Sprintf("connection to %s lost %v ago, logged then with the reason", e.Name, e.Ago.Round(time.Millisecond))
}

func (e *LostError) Unwrap() error { return e.Reason }

// String names the loss as the metrics do.
func (l Loss) String() string {
	switch l {
	case NotLost:
		return "closed"
	case LostCloseFrame:
		return "close_frame"
	case LostPongTimeout:
		return "pong_timeout"
	case LostAckTimeout:
		return "ack_timeout"
	case LostReadError:
		return "read_error"
	case LostWriteError:
		return "write_error"
	}
	return fmt.Sprintf("loss(%d)", int(l))
}

// logLost logs the loss of the connection with its reason: once per
// connection, from fail.
func (c *Conn) logLost(reason error) {
	c.log.Errorf("Connection to %s lost after %v: %v", c.name, c.diedAt.Sub(c.born).Round(time.Millisecond), reason)
}

// lostErr is why the connection cannot be used, for the publisher: nil
// while it is alive, ErrClosed once the client closed it, a *LostError once
// it was lost.
func (c *Conn) lostErr() error {
	err := c.Err()
	if err == nil || c.loss == NotLost {
		return err
	}
	return &LostError{Name: c.name, Ago: time.Since(c.diedAt), Reason: err}
}
