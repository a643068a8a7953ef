package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestCheck_ACorrectServerPassesEveryCheck(t *testing.T) {
	t.Parallel()
	code, got, out := checklist(t, "-timeout", testTimeout.String(), serve(t, behaviour{}))
	if code != 0 {
		t.Fatalf("exit status %d, want 0; output:\n%s", code, out)
	}
	for _, name := range checkNames {
		if got[name].mark != "PASS" {
			t.Errorf("%s: %s %s, want PASS", name, got[name].mark, got[name].detail)
		}
	}
	if !strings.Contains(out, "NOTE  not checked, as no client can: whether the server made each message durable before\n      acknowledging it.") {
		t.Errorf("the output does not say what a black box cannot see:\n%s", out)
	}
	if !strings.Contains(out, "ackcheck: all 11 checks passed") {
		t.Errorf("no summary of all passed:\n%s", out)
	}
}

// Each broken server fails exactly the checks its defect breaks, each with
// a reason that names the defect; the checks it cannot make are marked
// SKIP with the reason, and every other check passes.
func TestCheck_EachBrokenServerFailsWithItsReason(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		b     behaviour
		fails map[string]string // check name: a part of the reason
		skips []string
	}{
		{
			name:  "no subprotocol",
			b:     behaviour{noSubprotocol: true},
			fails: map[string]string{"subprotocol selected": `the server answered without selecting beats-ack.v1 (Sec-WebSocket-Protocol: "")`},
			skips: without(checkNames[:], "subprotocol selected"),
		},
		{
			name: "acks one beyond what it received",
			b:    behaviour{acks: func(n, _, _ uint64) []string { return []string{ackOf(n + 1)} }},
			fails: map[string]string{
				"count starts at 1":               "after 1 message the server acknowledged 2",
				"acks never beyond what was sent": `acks of messages not yet sent: connection 1: {"ack":2} when 1 messages had been sent`,
			},
		},
		{
			name: "counts from 0",
			b:    behaviour{acks: func(n, _, _ uint64) []string { return []string{ackOf(n - 1)} }},
			fails: map[string]string{
				"count starts at 1": "after 1 message the server acknowledged 0 and nothing more within 3s: it counts from 0?",
				"acks in time":      "connection 1: no ack of 1 within 3s of message 1 (highest {\"ack\":0})",
			},
		},
		{
			name: "one count for all connections",
			b:    behaviour{acks: func(_, _, all uint64) []string { return []string{ackOf(all)} }},
			fails: map[string]string{
				"count restarts per connection":   `the first message on a new connection was acknowledged with {"ack":11}: the count went on from the previous connection's`,
				"acks never beyond what was sent": `connection 2: {"ack":11} when 1 messages had been sent`,
			},
		},
		{
			name:  "acks that decrease",
			b:     behaviour{acks: func(n, _, _ uint64) []string { return []string{ackOf(n), ackOf(n - 1)} }},
			fails: map[string]string{"acks never decrease": `connection 1: {"ack":0} after {"ack":1}`},
		},
		{
			name: "counts the events of a batch",
			b:    behaviour{acks: func(_, events, _ uint64) []string { return []string{ackOf(events)} }},
			fails: map[string]string{
				"frame: batch accepted":           "3 batch messages of 3 events were acknowledged as 9: the server counts events, but a batch message counts as one",
				"acks never beyond what was sent": "acks of messages not yet sent: connection 2: ",
			},
		},
		{
			name:  "rejects batches",
			b:     behaviour{rejectBatch: true},
			fails: map[string]string{"frame: batch accepted": "after a batch message (newline-terminated events) the server closed it with 1003 (frame: batch is not supported)"},
		},
		{
			name:  "no acks",
			b:     behaviour{acks: func(uint64, uint64, uint64) []string { return nil }},
			fails: map[string]string{"acks in time": "connection 1: no ack of 1 within 3s of message 1 (highest none)"},
			skips: []string{"count starts at 1", "frame: event accepted", "count restarts per connection", "frame: batch accepted", "acks well-formed", "acks never decrease", "acks never beyond what was sent"},
		},
		{
			name: "acks that are not {\"ack\":N}",
			b:    behaviour{acks: func(n, _, _ uint64) []string { return []string{fmt.Sprintf(`{"ack":"%d"}`, n)} }},
			fails: map[string]string{
				"acks well-formed": `1 of 1 messages from the server are not acks (Filebeat ignores them): connection 1: "{\"ack\":\"1\"}", not {"ack":N}`,
				"acks in time":     "connection 1: no ack of 1 within 3s of message 1 (highest none)",
			},
			skips: []string{"count starts at 1", "frame: event accepted", "count restarts per connection", "frame: batch accepted", "acks never decrease", "acks never beyond what was sent"},
		},
		{
			name:  "no pong",
			b:     behaviour{noPong: true},
			fails: map[string]string{"ping answered": "no pong within 3s of a ping"},
		},
		{
			name:  "no answer to a close frame",
			b:     behaviour{noCloseAnswer: true},
			fails: map[string]string{"close answered": "no close frame within 3s of ours: a server answers a close frame with one"},
		},
		{
			name:  "drops the connection on a close frame",
			b:     behaviour{dropOnClose: true},
			fails: map[string]string{"close answered": "the connection ended without a close frame after ours"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, got, out := checklist(t, "-timeout", testTimeout.String(), serve(t, tc.b))
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			skips := map[string]bool{}
			for _, s := range tc.skips {
				skips[s] = true
			}
			for _, name := range checkNames {
				v := got[name]
				reason, fails := tc.fails[name]
				switch {
				case fails && (v.mark != "FAIL" || !strings.Contains(v.detail, reason)):
					t.Errorf("%s: %s %s\nwant FAIL with %q", name, v.mark, v.detail, reason)
				case skips[name] && v.mark != "SKIP":
					t.Errorf("%s: %s %s, want SKIP", name, v.mark, v.detail)
				case !fails && !skips[name] && v.mark != "PASS":
					t.Errorf("%s: %s %s, want PASS", name, v.mark, v.detail)
				}
			}
			if t.Failed() {
				t.Logf("ackcheck's output:\n%s", out)
			}
		})
	}
}

func without(names []string, drop string) []string {
	var out []string
	for _, n := range names {
		if n != drop {
			out = append(out, n)
		}
	}
	return out
}
