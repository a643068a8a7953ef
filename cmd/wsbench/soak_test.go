package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beats-websocket/websocket-output/testbed"
)

func received(t *testing.T, lines ...int) string {
	t.Helper()
	var b strings.Builder
	for _, i := range lines {
		raw, err := json.Marshal(map[string]string{"timestamp": "2024-03-01T12:30:45.123456789Z", "message": testbed.BenchLine(i)})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(raw)
		b.WriteByte('\n')
	}
	return b.String()
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckOutputs_CountsLostDuplicatedTornAndForeignLines(t *testing.T) {
	dir := t.TempDir()
	outputs := []string{
		// Killed: lines 0-3, then half of line 4's JSON.
		writeFile(t, dir, "1", received(t, 0, 1, 2, 3)+received(t, 4)[:50]),
		// Line 3 again (its ack was lost), 4, then 6 and 7: 5 never arrived.
		writeFile(t, dir, "2", received(t, 3, 4, 6, 7)),
		// A line that is not the log's, and one beyond it.
		writeFile(t, dir, "3", `{"timestamp":"x","message":"000000008 not the generated line"}`+"\n"+received(t, 9)),
	}
	got, err := checkOutputs(outputs, 9)
	if err != nil {
		t.Fatal(err)
	}
	want := soakCheck{received: 10, missing: 2, duplicates: 1, torn: 1, foreign: 2} // missing: 5 and 8
	if got != want {
		t.Fatalf("checkOutputs = %+v, want %+v", got, want)
	}
}

func TestCheckOutputs_EveryLineOnceIsComplete(t *testing.T) {
	dir := t.TempDir()
	outputs := []string{writeFile(t, dir, "1", received(t, 0, 1)), writeFile(t, dir, "2", received(t, 2))}
	got, err := checkOutputs(outputs, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := (soakCheck{received: 3}); got != want {
		t.Fatalf("checkOutputs = %+v, want %+v", got, want)
	}
}

// samples returns n samples a second apart, with RSS and goroutines from f.
func samples(n int, f func(i int) (rssMB float64, goroutines int64)) []sample {
	s := make([]sample, n)
	for i := range s {
		rss, g := f(i)
		s[i] = sample{at: time.Duration(i+1) * time.Second, acked: int64(i * 20000), rssMB: rss, goroutines: g}
	}
	return s
}

func TestVerdict_FlatRunWithNoisePasses(t *testing.T) {
	r := &soakRun{cfg: soakConfig{lines: 100}, restarts: 25, check: soakCheck{received: 100},
		samples: samples(250, func(i int) (float64, int64) {
			// Start-up, then a garbage-collection saw and a reconnect every 10 s.
			rss, g := 110.0+float64(i%7)*3, int64(25)
			if i < 20 {
				rss = 60 + 2.5*float64(i)
			}
			if i%10 == 0 {
				g += 4
			}
			return rss, g
		})}
	if err := r.verdict(); err != nil {
		t.Fatalf("verdict on a flat run: %v", err)
	}
	if !r.rss().judged || !r.goroutines().judged {
		t.Fatal("a 250-sample run was not judged")
	}
}

func TestVerdict_FailsOn(t *testing.T) {
	flat := func(int) (float64, int64) { return 110, 25 }
	for _, tc := range []struct {
		name    string
		check   soakCheck
		samples []sample
		want    string
	}{
		{"loss", soakCheck{missing: 1}, samples(250, flat), "1 of 100 lines lost"},
		{"foreign lines", soakCheck{foreign: 1}, samples(250, flat), "no line of the log"},
		{"duplicates beyond the ack window", soakCheck{duplicates: 25*2*2048 + 1}, samples(250, flat), "duplicates"},
		// 8 bytes per event at 20,000 events/s.
		{"RSS growth", soakCheck{}, samples(250, func(i int) (float64, int64) { return 110 + float64(i)*0.16, 25 }), "RSS grew"},
		// One goroutine per kill, a kill every 10 s.
		{"goroutine growth", soakCheck{}, samples(250, func(i int) (float64, int64) { return 110, 25 + int64(i/10) }), "goroutines grew"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &soakRun{cfg: soakConfig{lines: 100}, restarts: 25, check: tc.check, samples: tc.samples}
			err := r.verdict()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("verdict = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestVerdict_ShortRunIsNotJudged(t *testing.T) {
	r := &soakRun{cfg: soakConfig{lines: 100},
		samples: samples(12, func(i int) (float64, int64) { return 100 + 10*float64(i), 25 + int64(i) })}
	if r.rss().judged || r.goroutines().judged {
		t.Fatal("a 12-sample run was judged")
	}
	if err := r.verdict(); err != nil {
		t.Fatalf("verdict on a short run: %v", err)
	}
}
