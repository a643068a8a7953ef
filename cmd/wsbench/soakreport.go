package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/beats-websocket/websocket-output/testbed"
)

// soakCheck is what the receivers' output files hold, against the log.
type soakCheck struct {
	received   int // complete lines in all the files
	missing    int // lines of the log in none of them: lost
	duplicates int // arrivals beyond the first of a line
	torn       int // incomplete last lines a kill left (never acknowledged)
	foreign    int // complete lines that are no line of the log
}

// checkOutputs reads the receivers' output files and counts each line of
// the log (of lines lines) that arrived.
func checkOutputs(outputs []string, lines int) (soakCheck, error) {
	var c soakCheck
	counts := make([]uint8, lines) // saturates at 255 arrivals; duplicates are counted apart
	for _, out := range outputs {
		f, err := os.Open(out)
		if err != nil {
			return c, err
		}
		r := bufio.NewReaderSize(f, 1<<20)
		for {
			raw, err := r.ReadBytes('\n')
			if err == io.EOF {
				if len(raw) > 0 {
					c.torn++
				}
				break
			}
			if err != nil {
				f.Close()
				return c, err
			}
			c.received++
			i, ok := lineIndex(bytes.TrimSuffix(raw, []byte("\n")), lines)
			switch {
			case !ok:
				c.foreign++
			case counts[i] > 0:
				c.duplicates++
			}
			if ok && counts[i] < 255 {
				counts[i]++
			}
		}
		f.Close()
	}
	for _, n := range counts {
		if n == 0 {
			c.missing++
		}
	}
	return c, nil
}

// lineIndex returns i if raw is {timestamp,message} with line i of the log
// as its message.
func lineIndex(raw []byte, lines int) (int, bool) {
	var m struct{ Message string }
	if json.Unmarshal(raw, &m) != nil || len(m.Message) < 9 {
		return 0, false
	}
	i, err := strconv.Atoi(m.Message[:9])
	if err != nil || i < 0 || i >= lines || m.Message != testbed.BenchLine(i) {
		return 0, false
	}
	return i, true
}

// The flatness criterion. After a warm-up (the first fifth of the samples:
// start-up, the queue filling, the first connections), the median of the
// last third of the samples is compared with the median of the first
// third; medians, so that a garbage collection or a reconnect caught in one
// sample does not count. Between the two medians lie two thirds of the
// judged samples: in the full soak (5,000,000 lines at 20,000 lines/s,
// about 250 s, 25 kills) about 2,700,000 events and 14 kills. The growth
// allowed:
//   - RSS: 10 MB or 10 %, whichever is more (12 MB at Filebeat's 120 MB).
//     Single samples range over 20 MB (110 to 132 MB in a full run), but
//     the two medians were 1 MB apart. A leak of 5 bytes per event, or of
//     about 1 MB (one ack window of two 2048-event batches) per reconnect,
//     exceeds it.
//   - goroutines: 5. Filebeat's count stays between 23 and 25 (a dial or a
//     backoff in progress), the medians equal; a goroutine left behind per
//     reconnect adds about 14.
//
// With fewer than 30 samples after the warm-up (a run of under about 40 s,
// such as the smoke run) the trend is shown but not judged.
const (
	warmupShare        = 5 // the first 1/warmupShare of the samples
	minJudged          = 30
	rssGrowthMB        = 10.0
	rssGrowthShare     = 0.10
	goroutineGrowthMax = 5.0
)

// trend is how one quantity moved over the soak.
type trend struct {
	first, last float64 // medians of the first and last third after the warm-up
	limit       float64 // largest growth allowed
	judged      bool
}

func (t trend) grew() bool { return t.judged && t.last-t.first > t.limit }

func trendOf(samples []sample, v func(sample) float64, limit func(first float64) float64) trend {
	s := samples[len(samples)/warmupShare:]
	third := len(s) / 3
	if third == 0 {
		return trend{}
	}
	t := trend{first: median(s[:third], v), last: median(s[len(s)-third:], v), judged: len(s) >= minJudged}
	t.limit = limit(t.first)
	return t
}

func rssOf(s sample) float64        { return s.rssMB }
func goroutinesOf(s sample) float64 { return float64(s.goroutines) }

// verdict returns why the soak failed, or nil.
func (r *soakRun) verdict() error {
	var errs []error
	c := r.check
	if c.missing > 0 {
		errs = append(errs, fmt.Errorf("%d of %d lines lost", c.missing, r.cfg.lines))
	}
	if c.foreign > 0 {
		errs = append(errs, fmt.Errorf("%d received lines are no line of the log", c.foreign))
	}
	if bound := r.dupBound(); c.duplicates > bound {
		errs = append(errs, fmt.Errorf("%d duplicates, more than %d", c.duplicates, bound))
	}
	if t := r.rss(); t.grew() {
		errs = append(errs, fmt.Errorf("RSS grew from %.1f to %.1f MB, more than %.1f MB", t.first, t.last, t.limit))
	}
	if t := r.goroutines(); t.grew() {
		errs = append(errs, fmt.Errorf("goroutines grew from %.0f to %.0f, more than %.0f", t.first, t.last, t.limit))
	}
	return errors.Join(errs...)
}

// dupBound is the most duplicates the kills can cause: each one loses the
// acknowledgements of at most the batches awaiting theirs, two of 2048
// events (the output's ack window and default batch_size), which are sent
// again.
func (r *soakRun) dupBound() int { return r.restarts * 2 * 2048 }

func (r *soakRun) rss() trend {
	return trendOf(r.samples, rssOf, func(first float64) float64 { return max(rssGrowthMB, rssGrowthShare*first) })
}

func (r *soakRun) goroutines() trend {
	return trendOf(r.samples, goroutinesOf, func(float64) float64 { return goroutineGrowthMax })
}

// writeSamples writes the samples as CSV, for plotting.
func writeSamples(path string, samples []sample) error {
	var b strings.Builder
	b.WriteString("seconds,acked,rss_mb,goroutines\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "%.1f,%d,%.1f,%d\n", s.at.Seconds(), s.acked, s.rssMB, s.goroutines)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// print writes the soak's section of the benchmark's report.
func (r *soakRun) print(w io.Writer) {
	c, cfg := r.check, r.cfg
	pace := "written before the start"
	if cfg.rate > 0 {
		pace = fmt.Sprintf("appended at %s lines/s", thousands(cfg.rate))
	}
	fmt.Fprintf(w, "\n## Soak\n\n%s lines of %d bytes, %s, shipped by Filebeat with the plugin (`ack.enabled: true`,\n", thousands(cfg.lines), testbed.LineLen, pace)
	fmt.Fprintf(w, "otherwise the defaults) to `wsreceiver -ack`, which was killed with SIGKILL every %v to %v (seed %d)\n", cfg.gapMin, cfg.gapMax, cfg.seed)
	fmt.Fprintf(w, "and restarted after %v to %v on the same port with a new output file. %s\n\n", outageMin, outageMax, machine())
	fmt.Fprintln(w, "| | |\n| --- | ---: |")
	fmt.Fprintf(w, "| elapsed, Filebeat's start to the last event acknowledged | %.0f s |\n", r.elapsed.Seconds())
	fmt.Fprintf(w, "| receiver kills (SIGKILL), each followed by a restart unless the soak had ended | %d |\n", r.restarts)
	fmt.Fprintf(w, "| lines lost (in none of the %d output files) | %s |\n", len(r.outputs), thousands(c.missing))
	fmt.Fprintf(w, "| duplicates (bound: kills x 2 x 2048 = %s) | %s |\n", thousands(r.dupBound()), thousands(c.duplicates))
	fmt.Fprintf(w, "| lines received, duplicates included | %s |\n", thousands(c.received))
	fmt.Fprintf(w, "| incomplete last lines left by kills (never acknowledged) | %d |\n", c.torn)
	fmt.Fprintf(w, "| received lines that are no line of the log | %d |\n", c.foreign)
	fmt.Fprintf(w, "| Filebeat's events acked / failed (sent again) / dropped | %s / %s / %s |\n",
		thousands(int(r.final.acked)), thousands(int(r.final.failed)), thousands(int(r.final.dropped)))
	fmt.Fprintf(w, "| Filebeat's peak RSS (getrusage) | %.1f MB |\n", r.peakRSSMB)
	fmt.Fprintf(w, "| Filebeat's exit after SIGTERM | %.2f s |\n", r.stopTook.Seconds())
	if len(r.samples) == 0 {
		return // the soak returns an error before this
	}

	fmt.Fprintf(w, "\nFilebeat's /stats over time (%d samples, one a second, in %s; 10 evenly spaced):\n\n", len(r.samples), r.samplesCSV)
	fmt.Fprintln(w, "| t | events acked | RSS MB | goroutines |\n| ---: | ---: | ---: | ---: |")
	for _, i := range spread(len(r.samples), 10) {
		s := r.samples[i]
		fmt.Fprintf(w, "| %.0f s | %s | %.1f | %d |\n", s.at.Seconds(), thousands(int(s.acked)), s.rssMB, s.goroutines)
	}
	lo, hi := r.samples[0], r.samples[0]
	for _, s := range r.samples {
		lo.rssMB, hi.rssMB = min(lo.rssMB, s.rssMB), max(hi.rssMB, s.rssMB)
		lo.goroutines, hi.goroutines = min(lo.goroutines, s.goroutines), max(hi.goroutines, s.goroutines)
	}
	fmt.Fprintf(w, "| min | | %.1f | %d |\n| max | | %.1f | %d |\n", lo.rssMB, lo.goroutines, hi.rssMB, hi.goroutines)

	fmt.Fprintf(w, "\nFlatness, median of the last third of the samples against the first third, after the first fifth as warm-up:\n")
	fmt.Fprintf(w, "RSS %s; goroutines %s.\n", r.rss().describe("%.1f", " MB"), r.goroutines().describe("%.0f", ""))
	if err := r.verdict(); err != nil {
		fmt.Fprintf(w, "\n**FAILED**: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	} else {
		fmt.Fprintln(w, "\nPassed: nothing lost, duplicates within the bound, no growth beyond the limits.")
	}
}

func (t trend) describe(format, unit string) string {
	f := format + unit
	s := fmt.Sprintf(format+" to "+f+" (%+.1f"+unit+", limit +"+f+")", t.first, t.last, t.last-t.first, t.limit)
	switch {
	case !t.judged:
		return s + ", not judged: too few samples"
	case t.grew():
		return s + ", GREW"
	}
	return s + ", flat"
}

// spread returns up to k indexes evenly spaced over [0, n), first and last
// included.
func spread(n, k int) []int {
	if n <= k {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i * (n - 1) / (k - 1)
	}
	return idx
}

// thousands formats n with commas: 5,000,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
