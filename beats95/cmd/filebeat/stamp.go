package main

import (
	"fmt"
	"os"
	"time"
	_ "unsafe" // go:linkname

	_ "github.com/elastic/beats/v7/libbeat/version" // vcsTime's package, linked in for the linkname
)

// buildTime is the time of the commit this Filebeat was built from (RFC
// 3339), set by build.sh with -X main.buildTime; empty when unknown.
var buildTime string

// vcsTime is libbeat's build time, which `filebeat version` and the "Build
// info" log line print. libbeat 9.5 fills it only from Go's VCS stamp
// (-buildvcs), which Go does not make in a git worktree, and -X cannot
// set a time.Time; so main sets it. build.sh sets the commit, the string
// vcsRevision, with -X, as Elastic's 7.x builds set libbeat's commit.
//
//go:linkname vcsTime github.com/elastic/beats/v7/libbeat/version.vcsTime
var vcsTime time.Time

func init() {
	if err := stampBuildTime(buildTime); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// stampBuildTime sets libbeat's build time from an RFC 3339 time; an empty
// one leaves it unknown.
func stampBuildTime(s string) error {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("filebeat: main.buildTime %q, set at build time, is not an RFC 3339 time: %w", s, err)
	}
	vcsTime = t
	return nil
}
