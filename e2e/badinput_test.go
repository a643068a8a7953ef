package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Hostile log lines, read by the real Filebeat's filestream input with the
// ndjson parser (so that JSON lines become structured events: a message
// that is a number, an object, missing, ...) and shipped by the real plugin.
// Each event either arrives as valid JSON with the expected content, or is
// dropped, counted in output.events.dropped and logged; the normal lines
// around them all arrive, in order.

// maxBytes is filestream's message_max_bytes default: longer lines are cut
// to it by Filebeat itself (and flagged log.flags: truncated).
const maxBytes = 10 << 20

// absent stands for a message field the event does not have.
type absentField struct{}

var absent = absentField{}

// badLine is a crafted log line and what must come of it.
type badLine struct {
	name string
	line string // without its newline
	// message is the event's message field as encoding/json decodes it
	// (string, float64, bool, map, slice) or absent. Without a codec an
	// event whose message is not a string is dropped, for reason.
	message any
	reason  string
	// check, if set, checks the rest of the whole event (codec.json).
	check func(t *testing.T, ev map[string]any)
}

// nested is {"message":name,"deep":{"a":{"a":...1...}}} with n objects
// under deep: the line's JSON is n+1 levels deep.
func nested(name string, n int) string {
	return `{"message":"` + name + `","deep":` + strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) + "}"
}

// depthOf counts the nested objects under deep.
func depthOf(v any) int {
	n := 0
	for {
		m, ok := v.(map[string]any)
		if !ok {
			return n
		}
		v, n = m["a"], n+1
	}
}

func wantDepth(n int) func(*testing.T, map[string]any) {
	return func(t *testing.T, ev map[string]any) {
		t.Helper()
		if got := depthOf(ev["deep"]); got != n {
			t.Errorf("deep holds %d nested objects, want %d", got, n)
		}
	}
}

// longLine is a line of n bytes, its end marked so that a cut shows.
func longLine(name string, n int) string {
	return name + " " + strings.Repeat("y", n-len(name)-1-3) + "END"
}

func badLines() []badLine {
	// Go's encoding/json, which Filebeat's ndjson parser uses, refuses JSON
	// nested deeper than 10,000 levels: that line stays a raw message.
	tooDeep := nested("nested 10000", 10000)
	over := longLine("over", maxBytes+64<<10)
	return []badLine{
		{name: "no message", line: `{"level":"info","n":7}`, message: absent, reason: "no message field",
			check: func(t *testing.T, ev map[string]any) {
				if ev["level"] != "info" || ev["n"] != float64(7) {
					t.Errorf("fields level, n: %v, %v", ev["level"], ev["n"])
				}
			}},
		{name: "integer message", line: `{"message":42}`, message: float64(42), reason: "message is a int64, not a string"},
		{name: "float message", line: `{"message":1.5}`, message: 1.5, reason: "message is a float64, not a string"},
		{name: "object message", line: `{"message":{"text":"hi","n":[1,2]}}`,
			message: map[string]any{"text": "hi", "n": []any{float64(1), float64(2)}}, reason: "not a string"},
		{name: "array message", line: `{"message":["a",1,null]}`, message: []any{"a", float64(1), nil}, reason: "not a string"},
		// libbeat drops null fields: the event has no message.
		{name: "null message", line: `{"message":null}`, message: absent, reason: "no message field"},
		{name: "bool message", line: `{"message":true}`, message: true, reason: "message is a bool, not a string"},
		// encoding/json replaces invalid UTF-8 in JSON strings with U+FFFD.
		{name: "invalid UTF-8 in a JSON string", line: "{\"message\":\"json \xff byte\"}", message: "json \uFFFD byte"},
		{name: "nested 100", line: nested("nested 100", 100), message: "nested 100", check: wantDepth(100)},
		{name: "nested 9999", line: nested("nested 9999", 9999), message: "nested 9999", check: wantDepth(9999)},
		{name: "nested 10000", line: tooDeep, message: tooDeep, check: wantDepth(0)},
		{name: "invalid UTF-8", line: "raw \xff\xfe bytes \xc3\x28 cut \xe6\x97 end", message: "raw \uFFFD\uFFFD bytes \uFFFD( cut \uFFFD\uFFFD end"},
		{name: "NUL bytes", line: "nul \x00 inside \x00\x00 end", message: "nul \x00 inside \x00\x00 end"},
		{name: "control characters", line: "ctl \x01\x02\x1b[31mred\x1b[0m \x7f \b \f \r mid \u2028 \u2029 \"q\" \\ end",
			message: "ctl \x01\x02\x1b[31mred\x1b[0m \x7f \b \f \r mid \u2028 \u2029 \"q\" \\ end"},
		{name: "broken JSON", line: `{"message": "unterminated`, message: `{"message": "unterminated`},
		{name: "10 MiB", line: longLine("limit", maxBytes), message: longLine("limit", maxBytes), check: notTruncated},
		{name: "10 MiB + 64 KiB", line: over, message: over[:maxBytes], check: truncated},
	}
}

func notTruncated(t *testing.T, ev map[string]any) {
	t.Helper()
	if flags := logFlags(ev); flags != nil {
		t.Errorf("log.flags %v on a line within message_max_bytes", flags)
	}
}

func truncated(t *testing.T, ev map[string]any) {
	t.Helper()
	if flags := logFlags(ev); !reflect.DeepEqual(flags, []any{"truncated"}) {
		t.Errorf("log.flags %v on a line beyond message_max_bytes, want [truncated]", flags)
	}
}

func logFlags(ev map[string]any) any {
	return field(ev, "log", "flags")
}

// field returns the value at path in ev, or nil.
func field(ev map[string]any, path ...string) any {
	var v any = ev
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// badInputLog writes the bad lines, each after two normal lines, then
// tail normal lines; it returns the lines in order, nil standing for a
// normal line, and the number of normal lines.
func badInputLog(t *testing.T, path string, bad []badLine, tail int) ([]*badLine, int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	var order []*badLine
	normal := 0
	writeNormal := func(n int) {
		for i := 0; i < n; i++ {
			w.WriteString(line(normal) + "\n")
			normal++
			order = append(order, nil)
		}
	}
	for i := range bad {
		writeNormal(2)
		w.WriteString(bad[i].line + "\n")
		order = append(order, &bad[i])
	}
	writeNormal(tail)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return order, normal
}

func TestBadInput_EveryEventArrivesAsValidJSONOrIsDroppedAndCounted(t *testing.T) {
	for _, mode := range []struct{ name, output string }{
		{"default/event", "frame: event"},
		{"default/batch", "frame: batch"},
		{"codec.json/event", "frame: event\ncodec.json: {}"},
		{"codec.json/batch", "frame: batch\ncodec.json: {}"},
		{"codec.json/event/binary", "frame: event\ncodec.json: {}\nopcode: binary"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			badInput(t, mode.output, strings.Contains(mode.output, "codec.json"))
		})
	}
}

func badInput(t *testing.T, output string, codecJSON bool) {
	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	bad := badLines()
	order, normals := badInputLog(t, log, bad, 300)

	var want []*badLine // what must arrive, in order; nil: a normal line
	var dropped []*badLine
	for _, b := range order {
		if b != nil && !codecJSON {
			if _, ok := b.message.(string); !ok {
				dropped = append(dropped, b)
				continue
			}
		}
		want = append(want, b)
	}

	recv := startReceiver(t, dir, "127.0.0.1:0", out)
	input := fmt.Sprintf(`
- type: filestream
  id: badinput
  paths: [%q]
  prospector.scanner.check_interval: 200ms
  parsers:
    - ndjson:
        target: ""
        ignore_decoding_error: true
`, log)
	fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), input, outputTo(recv, output))

	waitFor(t, 3*time.Minute, fmt.Sprintf("%d events at the receiver", len(want)), func() bool {
		if !fb.running() {
			t.Fatalf("Filebeat exited: %v; its log:\n%s", fb.err, fb.tail())
		}
		return recv.stats(t).Events >= int64(len(want))
	})
	// Filebeat counts what was written or dropped as soon as the batch is;
	// after 30s the counts are compared as they are.
	var st outputStats
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var ok bool
		st, ok = fb.tryOutputStats()
		if ok && st.Events.Acked+st.Events.Dropped >= int64(len(order)) || time.Now().After(deadline) {
			break
		}
	}
	if st.Events.Acked != int64(len(want)) || st.Events.Dropped != int64(len(dropped)) || st.Events.Failed != 0 || st.Write.Errors != 0 {
		t.Fatalf("output metrics %+v; want %d acked, %d dropped, no failures", st, len(want), len(dropped))
	}
	peak := fmt.Sprintf("%d MiB", fb.memory(t).peak>>20)
	fb.stop(t) // fails unless Filebeat was still running, and stops cleanly
	rs := recv.stats(t)
	recv.stop(t)
	if rs.Events != int64(len(want)) || rs.InvalidUTF8 != 0 || rs.InvalidJSON != 0 {
		t.Fatalf("the receiver counted %d events (want %d), %d text messages not UTF-8, %d events not JSON",
			rs.Events, len(want), rs.InvalidUTF8, rs.InvalidJSON)
	}

	if codecJSON {
		checkWholeEvents(t, out, want, log)
	} else {
		checkMessages(t, received(t, out), want)
	}
	checkDropWarnings(t, fb, dropped)
	t.Logf("%d events (%d crafted, %d normal): %d arrived, %d dropped and counted; %d bytes written; Filebeat's peak RSS %s",
		len(order), len(bad), normals, len(want), len(dropped), st.Write.Bytes, peak)
}

// checkMessages compares the messages received ({timestamp,message}) with
// want, in order.
func checkMessages(t *testing.T, got []string, want []*badLine) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("received %d messages, want %d", len(got), len(want))
	}
	normal := 0
	for i, b := range want {
		if b == nil {
			if got[i] != line(normal) {
				t.Fatalf("message %d is %.80q, want normal line %d", i, got[i], normal)
			}
			normal++
			continue
		}
		if got[i] != b.message {
			t.Errorf("%s: message %d is %.120q (%d bytes), want %.120q (%d bytes)", b.name, i, got[i], len(got[i]), b.message, len(b.message.(string)))
		}
	}
}

// checkWholeEvents decodes the events received with codec.json and
// compares them with want, in order.
func checkWholeEvents(t *testing.T, out string, want []*badLine, log string) {
	t.Helper()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\n'})
	if len(lines) != len(want) {
		t.Fatalf("received %d events, want %d", len(lines), len(want))
	}
	normal := 0
	for i, l := range lines {
		// JSON text is UTF-8 (RFC 8259), binary messages included.
		if !utf8.Valid(l) {
			t.Fatalf("event %d is not valid UTF-8: %.200q", i, l)
		}
		var ev map[string]any
		if err := json.Unmarshal(l, &ev); err != nil {
			t.Fatalf("event %d is not JSON (%v): %.200q", i, err, l)
		}
		if path := field(ev, "log", "file", "path"); path != log || ev["@timestamp"] == nil {
			t.Fatalf("event %d is not a whole event from %s: %.300q", i, log, l)
		}
		msg, ok := ev["message"]
		if !ok {
			msg = absent
		}
		bl := want[i]
		if bl == nil {
			if msg != line(normal) {
				t.Fatalf("event %d has message %.80q, want normal line %d", i, msg, normal)
			}
			normal++
			continue
		}
		if !reflect.DeepEqual(msg, bl.message) {
			t.Errorf("%s: event %d has message %.120v, want %.120v", bl.name, i, msg, bl.message)
		}
		if bl.check != nil {
			bl.check(t, ev)
		}
	}
}

// checkDropWarnings checks that Filebeat logged the drops: a warning with
// the first one's reason, the rest rate-limited, none with the content.
// (The count of suppressed warnings comes with the next warning, 10s later
// at the earliest; the wsclient tests check it.)
func checkDropWarnings(t *testing.T, fb *filebeat, dropped []*badLine) {
	t.Helper()
	const what = "Dropped an event that cannot be sent: "
	var warnings []string
	for _, l := range strings.Split(fb.output(), "\n") {
		if strings.Contains(l, what) {
			warnings = append(warnings, l[strings.Index(l, what):])
		}
	}
	if len(dropped) == 0 {
		if len(warnings) != 0 {
			t.Fatalf("drop warnings without drops: %q", warnings)
		}
		return
	}
	// The drops come within a second; warnings are at least 10s apart, so
	// one, or two should the machine stall, not one per drop.
	if len(warnings) == 0 || len(warnings) > 2 || len(warnings) >= len(dropped) {
		t.Fatalf("%d drop warnings for %d drops, want 1 (rate-limited): %q", len(warnings), len(dropped), warnings)
	}
	if !strings.Contains(warnings[0], dropped[0].reason) {
		t.Fatalf("first drop warning %q, want the reason %q", warnings[0], dropped[0].reason)
	}
	for _, w := range warnings {
		if strings.Contains(w, "text:hi") || strings.Contains(w, `"text":"hi"`) {
			t.Fatalf("drop warning shows the event: %q", w)
		}
	}
	t.Logf("Filebeat logged: %q", warnings)
}

// tryOutputStats is outputStats for a Filebeat that may not serve its
// stats yet: false until it does.
func (f *filebeat) tryOutputStats() (outputStats, bool) {
	var s struct {
		Libbeat struct {
			Output outputStats
		}
	}
	resp, err := http.Get("http://" + f.httpAddr + "/stats")
	if err != nil {
		return outputStats{}, false
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return outputStats{}, false
	}
	return s.Libbeat.Output, true
}
