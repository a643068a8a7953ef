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
// libbeat.output.events.acked), so start-up time does not count, and so is
// the CPU time Filebeat and the receivers use (user + system, from
// /proc/<pid>/stat): on a machine shared with other work, CPU per event is
// the steadier figure. Peak RSS is Filebeat's maximum resident set size
// (getrusage). -variants measures the cases again under other conditions,
// alternated with them: Filebeat's environment (GOGC, GOMEMLIMIT) or
// another build (dist=folder).
package main

import (
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
		prof  = flag.String("cpuprofile", "", "write CPU profiles of each Filebeat run's steady state into this folder")
		cg    = flag.String("callgrind", "", "run Filebeat under valgrind's callgrind, on inputs of -lines/4 and -lines lines, write its outputs into this folder and report instructions per event (slow: about fifty times)")
		vars  = flag.String("variants", "", `also measure each case under other conditions, alternated with it: "label:KEY=value KEY=value" (Filebeat's environment) or "label:dist=folder" (another build), separated by ";"`)
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
	if *cg != "" {
		if b.callgrind, err = filepath.Abs(*cg); err == nil {
			err = os.MkdirAll(b.callgrind, 0o755)
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	if *prof != "" {
		if b.profiles, err = filepath.Abs(*prof); err == nil {
			err = os.MkdirAll(b.profiles, 0o755)
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	if *runs > 0 {
		cases, err := selectCases(allCases(), *only)
		if err != nil {
			log.Fatal(err)
		}
		variants, err := parseVariants(*vars)
		if err != nil {
			log.Fatal(err)
		}
		for i, v := range variants {
			if v.dist != "" {
				if variants[i].dist, err = filepath.Abs(v.dist); err != nil {
					log.Fatal(err)
				}
			}
		}
		b.cases(withVariants(cases, variants), *lines, *runs, *scale)
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

// cases runs cases runs times each on inputs of lines lines, then the
// scaling cases on inputs scale times larger, and prints the tables.
func (b *bench) cases(cases []benchCase, lines, runs, scale int) {
	inputs := map[inputKind]string{}
	for _, c := range cases {
		kind := c.inputKind()
		if inputs[kind] == "" {
			path, err := b.input(kind, lines)
			if err != nil {
				log.Fatal(err)
			}
			inputs[kind] = path
		}
	}
	if b.callgrind != "" {
		small := lines / 4
		smallInputs := map[inputKind]string{}
		for kind := range inputs {
			path, err := b.input(kind, small)
			if err != nil {
				log.Fatal(err)
			}
			smallInputs[kind] = path
		}
		smallResults := b.runAll(cases, smallInputs, small, runs)
		bigResults := b.runAll(cases, inputs, lines, runs)
		fmt.Printf("\n%s\n\n", machine())
		printInstructions(os.Stdout, cases, smallResults, bigResults, small, lines)
		return
	}
	results := b.runAll(cases, inputs, lines, runs)
	fmt.Printf("\n%d lines (padded: %d bytes each; realistic: generated, about 200 bytes), %d runs per case, %s\n\n", lines, testbed.LineLen, runs, machine())
	printTable(os.Stdout, cases, results)

	scaled, _ := selectCases(cases, "ceiling,frame-event,frame-batch")
	if scale > 1 && len(scaled) > 0 {
		big := lines * scale
		path, err := b.input(padded, big)
		if err != nil {
			log.Fatal(err)
		}
		bigResults := b.runAll(scaled, map[inputKind]string{padded: path}, big, max(1, runs/2))
		fmt.Printf("\nScaling: %d lines (%dx)\n\n", big, scale)
		printScaling(os.Stdout, scaled, results, bigResults)
	}
}

func (c benchCase) inputKind() inputKind {
	if c.input == "" {
		return padded
	}
	return c.input
}

// result is one run of one case.
type result struct {
	eps         float64 // events per second, first ack to last
	events      float64 // acknowledged meanwhile
	cpu         float64 // Filebeat's CPU seconds meanwhile
	sysCPU      float64 // of which in the kernel (system time)
	recvCPU     float64 // the receivers' CPU seconds meanwhile
	rssMB       float64 // Filebeat's peak RSS
	loadAverage float64 // the system's, over the last minute, at the end
	// instructions is what Filebeat executed in all, under callgrind.
	instructions float64
}

// cpuPerEvent is Filebeat's CPU time per event, in microseconds.
func (r result) cpuPerEvent() float64 { return r.cpu / r.events * 1e6 }

func (r result) recvCPUPerEvent() float64 { return r.recvCPU / r.events * 1e6 }

func (b *bench) runAll(cases []benchCase, inputs map[inputKind]string, lines, runs int) map[string][]result {
	results := map[string][]result{}
	for r := 1; r <= runs; r++ {
		for _, c := range cases {
			res, err := b.run(c, inputs[c.inputKind()], lines, r)
			if err != nil {
				log.Fatalf("%s, run %d: %v", c.name, r, err)
			}
			counted := ""
			if b.callgrind != "" {
				counted = fmt.Sprintf(", %.0f instructions", res.instructions)
			}
			log.Printf("%-22s run %d/%d: %8.0f events/s, CPU %5.2f us/event (receivers %5.2f), peak RSS %5.1f MB, load %.2f%s",
				c.name, r, runs, res.eps, res.cpuPerEvent(), res.recvCPUPerEvent(), res.rssMB, res.loadAverage, counted)
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

func eps(r result) float64  { return r.eps }
func rss(r result) float64  { return r.rssMB }
func cpu(r result) float64  { return r.cpu }
func load(r result) float64 { return r.loadAverage }

func cpuPerEvent(r result) float64     { return r.cpuPerEvent() }
func sysShare(r result) float64        { return r.sysCPU / r.cpu }
func recvCPUPerEvent(r result) float64 { return r.recvCPUPerEvent() }

// ratio formats a/b, or "-" when there is no b.
func ratio(a, b float64) string {
	if math.IsNaN(b) || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// printTable prints each case's medians: throughput and CPU per event
// against its baseline (on the same input), CPU per event and RSS against
// the ceiling of its input.
func printTable(w *os.File, cases []benchCase, results map[string][]result) {
	fmt.Fprintln(w, "| case | events/s | ratio | vs | Filebeat CPU s | of which system | CPU µs/event | CPU ratio | CPU vs ceiling | receivers' CPU µs/event | peak RSS MB | RSS vs ceiling |")
	fmt.Fprintln(w, "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	var loads []result
	for _, c := range cases {
		rs := results[c.name]
		loads = append(loads, rs...)
		base, vs := results[c.baseline], c.baseline
		if c.baseline == c.name {
			base, vs = nil, "-"
		}
		ceilingName := "ceiling"
		if c.inputKind() == realistic {
			ceilingName = "ceiling-real"
		}
		ceiling := results[ceilingName]
		e, perEvent, m := median(rs, eps), median(rs, cpuPerEvent), median(rs, rss)
		rssDelta, vsCeiling := "-", "-"
		if len(ceiling) > 0 && c.name != ceilingName {
			rssDelta = fmt.Sprintf("%+.1f MB", m-median(ceiling, rss))
			vsCeiling = ratio(perEvent, median(ceiling, cpuPerEvent))
		}
		recv := "-"
		if c.receivers > 0 {
			recv = fmt.Sprintf("%.2f", median(rs, recvCPUPerEvent))
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %.2f | %.0f %% | %.2f | %s | %s | %s | %.1f | %s |\n", c.name, e, ratio(e, median(base, eps)), vs,
			median(rs, cpu), 100*median(rs, sysShare), perEvent, ratio(perEvent, median(base, cpuPerEvent)), vsCeiling, recv, m, rssDelta)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range loads {
		lo, hi = min(lo, r.loadAverage), max(hi, r.loadAverage)
	}
	fmt.Fprintf(w, "\nLoad average (1 min) at the end of the runs: %.2f to %.2f, median %.2f.\n", lo, hi, median(loads, load))
}

func printScaling(w *os.File, cases []benchCase, small, big map[string][]result) {
	fmt.Fprintln(w, "| case | events/s 1x | events/s big | ratio | CPU µs/event 1x | CPU µs/event big | peak RSS MB 1x | peak RSS MB big |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, c := range cases {
		s, b := small[c.name], big[c.name]
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.1f | %.1f |\n", c.name,
			median(s, eps), median(b, eps), median(b, eps)/median(s, eps),
			median(s, cpuPerEvent), median(b, cpuPerEvent), median(s, rss), median(b, rss))
	}
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
