// Command wsbench measures the websocket output end to end: the real
// dist/filebeat with dist/websocket.so shipping a generated log to
// dist/wsreceiver on loopback, against Filebeat's own output.file as the
// ceiling, all in one run so that the ratios compare like with like.
//
//	wsbench -dist dist -work .bench -lines 1000000 -runs 5
//
// Each case runs -runs times, interleaved with the others so that a noisy
// moment hurts every case alike; the table gives medians. Throughput is
// measured from the first acknowledged event to the last (Filebeat's own
// libbeat.output.events.acked), so start-up time does not count; peak RSS
// is Filebeat's maximum resident set size (getrusage).
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/beats-websocket/websocket-output/testbed"
)

func main() {
	var (
		dist  = flag.String("dist", "dist", "folder with filebeat, websocket.so and wsreceiver")
		work  = flag.String("work", ".bench", "folder for the generated input and per-run data")
		lines = flag.Int("lines", 1000000, "lines in the generated input")
		runs  = flag.Int("runs", 5, "runs per case (0: skip the cases, e.g. to run only the soak)")
		scale = flag.Int("scale", 5, "also run the scaling cases on an input this many times larger (0: skip)")
		only  = flag.String("cases", "", "comma-separated case names to run (default: all)")
		soak  = soakConfig{}
	)
	flag.IntVar(&soak.lines, "soak", 0, "then run the soak (soak.go) on a log of this many lines (0: skip)")
	flag.IntVar(&soak.rate, "soak-rate", 20000, "lines appended to the soak's log per second (0: all before the start)")
	flag.DurationVar(&soak.gapMin, "soak-gap-min", 3*time.Second, "least time between the soak's receiver kills")
	flag.DurationVar(&soak.gapMax, "soak-gap-max", 15*time.Second, "most time between the soak's receiver kills")
	flag.Int64Var(&soak.seed, "soak-seed", 0, "seed of the soak's kill times (0: from the clock; the report prints it)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("wsbench: ")

	b, err := newBench(*dist, *work)
	if err != nil {
		log.Fatal(err)
	}
	if *runs > 0 {
		b.cases(*lines, *runs, *scale, *only)
	}
	if soak.lines > 0 {
		if soak.seed == 0 {
			soak.seed = time.Now().UnixNano()
		}
		if soak.gapMax < soak.gapMin {
			log.Fatalf("-soak-gap-max %v is less than -soak-gap-min %v", soak.gapMax, soak.gapMin)
		}
		log.Printf("soak: %d lines, seed %d", soak.lines, soak.seed)
		run, err := b.soak(soak)
		if err != nil {
			log.Fatalf("soak (seed %d): %v", soak.seed, err)
		}
		run.print(os.Stdout)
		if err := run.verdict(); err != nil {
			log.Fatalf("soak failed: %v (its files are in %s)", err, filepath.Dir(run.logPath))
		}
		if err := run.removeData(); err != nil {
			log.Fatal(err)
		}
	}
}

// cases runs the benchmark's cases (those named in only, or all) runs
// times each on a log of lines lines, then the scaling cases on one scale
// times larger, and prints the tables.
func (b *bench) cases(lines, runs, scale int, only string) {
	input, err := b.input(lines)
	if err != nil {
		log.Fatal(err)
	}
	cases := selectCases(allCases(), only)

	results := b.runAll(cases, input, lines, runs)
	fmt.Printf("\n%d lines of %d bytes, %d runs per case, %s\n\n", lines, testbed.LineLen, runs, machine())
	printTable(os.Stdout, cases, results)

	if scale > 1 {
		big := lines * scale
		bigInput, err := b.input(big)
		if err != nil {
			log.Fatal(err)
		}
		scaled := selectCases(cases, "ceiling,frame-event,frame-batch")
		bigResults := b.runAll(scaled, bigInput, big, max(1, runs/2))
		fmt.Printf("\nScaling: %d lines (%dx)\n\n", big, scale)
		printScaling(os.Stdout, scaled, results, bigResults)
	}
}

func (b *bench) input(n int) (string, error) {
	path := filepath.Join(b.work, fmt.Sprintf("input-%d.log", n))
	if fi, err := os.Stat(path); err == nil && fi.Size() == int64(n*(testbed.LineLen+1)) {
		return path, nil
	}
	log.Printf("generating %s", path)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	return path, testbed.AppendLines(path, 0, n, testbed.BenchLine)
}

// result is one run of one case.
type result struct {
	eps   float64 // events per second, first ack to last
	rssMB float64 // Filebeat's peak RSS
}

func (b *bench) runAll(cases []benchCase, input string, lines, runs int) map[string][]result {
	results := map[string][]result{}
	for r := 1; r <= runs; r++ {
		for _, c := range cases {
			res, err := b.run(c, input, lines)
			if err != nil {
				log.Fatalf("%s, run %d: %v", c.name, r, err)
			}
			log.Printf("%-22s run %d/%d: %8.0f events/s, peak RSS %5.1f MB", c.name, r, runs, res.eps, res.rssMB)
			results[c.name] = append(results[c.name], res)
		}
	}
	return results
}

// median is the median of f over xs: a case's runs, or the soak's samples.
func median[T any](xs []T, f func(T) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	sort.Float64s(v)
	if len(v) == 0 {
		return math.NaN() // the case was not run
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func eps(r result) float64 { return r.eps }
func rss(r result) float64 { return r.rssMB }

func printTable(w *os.File, cases []benchCase, results map[string][]result) {
	fmt.Fprintln(w, "| case | events/s (median) | ratio | vs | peak RSS MB (median) | RSS vs ceiling |")
	fmt.Fprintln(w, "| --- | ---: | ---: | --- | ---: | ---: |")
	ceilRSS := median(results["ceiling"], rss)
	for _, c := range cases {
		rs := results[c.name]
		e, m := median(rs, eps), median(rs, rss)
		base := results[c.baseline]
		ratio := "-"
		if len(base) > 0 && c.baseline != c.name {
			ratio = fmt.Sprintf("%.2f", e/median(base, eps))
		}
		delta := "-"
		if len(results["ceiling"]) > 0 && c.name != "ceiling" {
			delta = fmt.Sprintf("%+.1f MB", m-ceilRSS)
		}
		baseName := c.baseline
		if baseName == c.name {
			baseName = "-"
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %.1f | %s |\n", c.name, e, ratio, baseName, m, delta)
	}
}

func printScaling(w *os.File, cases []benchCase, small, big map[string][]result) {
	fmt.Fprintln(w, "| case | events/s 1x | events/s big | ratio | peak RSS MB 1x | peak RSS MB big |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: |")
	for _, c := range cases {
		s, b := small[c.name], big[c.name]
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.2f | %.1f | %.1f |\n", c.name,
			median(s, eps), median(b, eps), median(b, eps)/median(s, eps), median(s, rss), median(b, rss))
	}
}

func selectCases(all []benchCase, names string) []benchCase {
	if names == "" {
		return all
	}
	var out []benchCase
	for _, c := range all {
		for _, n := range strings.Split(names, ",") {
			if c.name == n {
				out = append(out, c)
			}
		}
	}
	return out
}

func machine() string {
	host, _ := os.Hostname()
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	return fmt.Sprintf("%s, %s, %d× %s", time.Now().Format("2006-01-02"), host, runtime.NumCPU(), cpu)
}
