package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/beats-websocket/websocket-output/testbed"
)

// benchCase is one way of shipping an input.
type benchCase struct {
	name     string
	baseline string    // the case its ratios are taken against, on the same input
	input    inputKind // padded unless set
	// receivers is how many wsreceivers it ships to; 0: none (output.file).
	receivers int
	output    func(addrs []string, dir string) string
	recvArgs  []string // further wsreceiver flags, such as -ack

	// Set by variants: Filebeat's further environment, and another dist/.
	env  []string
	dist string
}

// allCases are the benchmark's cases. The ceiling is Filebeat's own
// output.file writing just the message: what Filebeat's pipeline does with
// an output that costs nothing.
func allCases() []benchCase {
	fileOut := func(codec string) func([]string, string) string {
		return func(_ []string, dir string) string {
			return fmt.Sprintf(`output.file:
  path: %q
  filename: out
  rotate_every_kb: 100000000
  number_of_files: 2
  %s
`, filepath.Join(dir, "out"), codec)
		}
	}
	ws := func(settings ...string) func([]string, string) string {
		return func(addrs []string, _ string) string {
			var s string
			if len(addrs) == 1 {
				s = fmt.Sprintf("addr: %q\npath: /echo\n", addrs[0])
			} else {
				urls := make([]string, len(addrs))
				for i, a := range addrs {
					urls[i] = fmt.Sprintf("%q", "ws://"+a+"/echo")
				}
				s = "hosts: [" + strings.Join(urls, ", ") + "]\n"
			}
			return testbed.WebSocketOutput(s + strings.Join(settings, "\n"))
		}
	}
	message := `codec.format.string: '%{[message]}'`
	eachMessage := []string{"-ack", "-ack-interval", "0"}
	return []benchCase{
		{name: "ceiling", baseline: "ceiling", output: fileOut(message)},
		{name: "frame-event", baseline: "ceiling", receivers: 1, output: ws()},
		{name: "frame-batch", baseline: "ceiling", receivers: 1, output: ws("frame: batch")},
		{name: "file-json", baseline: "ceiling", output: fileOut("codec.json: {}")},
		{name: "codec-json-batch", baseline: "file-json", receivers: 1, output: ws("frame: batch", "codec.json: {}")},
		// Acks: wsreceiver -ack paces its acks (one per 5 ms at most);
		// -ack-interval 0 acknowledges every message, as the simplest
		// server does.
		{name: "ack-event", baseline: "frame-event", receivers: 1, output: ws("ack.enabled: true"), recvArgs: []string{"-ack"}},
		{name: "ack-batch", baseline: "frame-batch", receivers: 1, output: ws("frame: batch", "ack.enabled: true"), recvArgs: []string{"-ack"}},
		{name: "ack-each-event", baseline: "frame-event", receivers: 1, output: ws("ack.enabled: true"), recvArgs: eachMessage},
		{name: "ack-each-batch", baseline: "frame-batch", receivers: 1, output: ws("frame: batch", "ack.enabled: true"), recvArgs: eachMessage},
		{name: "compress-batch", baseline: "frame-batch", receivers: 1, output: ws("frame: batch", "compression: true"), recvArgs: []string{"-compression"}},
		// Realistic lines, which compress as real logs do.
		{name: "ceiling-real", baseline: "ceiling-real", input: realistic, output: fileOut(message)},
		{name: "batch-real", baseline: "ceiling-real", input: realistic, receivers: 1, output: ws("frame: batch")},
		{name: "compress-real", baseline: "batch-real", input: realistic, receivers: 1, output: ws("frame: batch", "compression: true"), recvArgs: []string{"-compression"}},
		// More connections: two workers to one receiver, or one to each
		// of three receivers with loadbalance.
		{name: "workers2-event", baseline: "frame-event", receivers: 1, output: ws("workers: 2")},
		{name: "workers2-batch", baseline: "frame-batch", receivers: 1, output: ws("frame: batch", "workers: 2")},
		{name: "lb3-event", baseline: "frame-event", receivers: 3, output: ws("loadbalance: true")},
	}
}

// selectCases returns the cases of all named in names (comma-separated),
// in all's order; all of them for "".
func selectCases(all []benchCase, names string) ([]benchCase, error) {
	if names == "" {
		return all, nil
	}
	byName := map[string]bool{}
	for _, n := range strings.Split(names, ",") {
		byName[n] = true
	}
	var out []benchCase
	for _, c := range all {
		if byName[c.name] {
			out = append(out, c)
			delete(byName, c.name)
		}
	}
	for n := range byName {
		return nil, fmt.Errorf("-cases: no case %q", n)
	}
	return out, nil
}

// variant is a change of the cases' conditions, measured against the cases
// as they are: Filebeat's environment (GOGC=400) or another dist/ (a build
// without PGO).
type variant struct {
	label string
	env   []string
	dist  string
}

// parseVariants reads -variants: "label:KEY=value KEY=value" or
// "label:dist=folder", separated by ";".
func parseVariants(s string) ([]variant, error) {
	var out []variant
	for _, v := range strings.Split(s, ";") {
		if strings.TrimSpace(v) == "" {
			continue
		}
		label, spec, ok := strings.Cut(v, ":")
		if !ok || label == "" {
			return nil, fmt.Errorf("-variants: %q is not label:settings", v)
		}
		vr := variant{label: label}
		for _, kv := range strings.Fields(spec) {
			k, val, ok := strings.Cut(kv, "=")
			switch {
			case !ok:
				return nil, fmt.Errorf("-variants: %q in %q is not KEY=value", kv, v)
			case k == "dist":
				vr.dist = val
			default:
				vr.env = append(vr.env, kv)
			}
		}
		out = append(out, vr)
	}
	return out, nil
}

// withVariants returns cases and, after each, its variants, named
// "case label" and measured against it.
func withVariants(cases []benchCase, variants []variant) []benchCase {
	if len(variants) == 0 {
		return cases
	}
	var out []benchCase
	for _, c := range cases {
		out = append(out, c)
		for _, v := range variants {
			vc := c
			vc.name, vc.baseline = c.name+" "+v.label, c.name
			vc.env, vc.dist = v.env, v.dist
			out = append(out, vc)
		}
	}
	return out
}
