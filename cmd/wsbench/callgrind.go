package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// With -callgrind, Filebeat runs under valgrind's callgrind, which counts
// the instructions it executes: a measure of its cost that other work on
// the machine does not disturb, unlike CPU time. Each case runs on two
// inputs, of lines/4 and lines lines, and the difference of the counts,
// divided by the difference of the events, is the instructions per event
// in the steady state, without start-up. Callgrind fails on the signals
// Go handles: Filebeat runs without asynchronous preemption, and its
// counts are dumped through callgrind_control once every event is
// acknowledged, before it is killed.

// callgrindTotal reads the instructions counted (Ir) from a callgrind
// output file's totals line.
func callgrindTotal(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "totals:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			return strconv.ParseFloat(fields[0], 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no totals line", path)
}

// printInstructions prints each case's instructions per event in the
// steady state, from its runs on small and big inputs (medians), against
// its baseline and its input's ceiling.
func printInstructions(w *os.File, cases []benchCase, small, big map[string][]result, smallLines, bigLines int) {
	perEvent := func(name string) float64 {
		return (median(big[name], instructions) - median(small[name], instructions)) / float64(bigLines-smallLines)
	}
	fmt.Fprintf(w, "Instructions per event under callgrind, the steady state: the runs on %d lines less those on %d\n\n", bigLines, smallLines)
	fmt.Fprintln(w, "| case | instructions/event | ratio | vs | vs ceiling |")
	fmt.Fprintln(w, "| --- | ---: | ---: | --- | ---: |")
	for _, c := range cases {
		ceilingName := "ceiling"
		if c.inputKind() == realistic {
			ceilingName = "ceiling-real"
		}
		ir, base, vs := perEvent(c.name), "-", "-"
		if c.baseline != c.name && len(big[c.baseline]) > 0 {
			base, vs = ratio(ir, perEvent(c.baseline)), c.baseline
		}
		vsCeiling := "-"
		if c.name != ceilingName && len(big[ceilingName]) > 0 {
			vsCeiling = ratio(ir, perEvent(ceilingName))
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s |\n", c.name, ir, base, vs, vsCeiling)
	}
}

func instructions(r result) float64 { return r.instructions }
