package main

import (
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/version"
)

// libbeat reads its build time from Go's VCS stamp, which go test does not
// make, so the time main sets is the one it reports: the test fails if
// Beats renames vcsTime, which would leave the linkname without effect.
func TestStampBuildTime_IsTheTimeLibbeatReports(t *testing.T) {
	want := time.Date(2026, 11, 30, 14, 57, 24, 0, time.UTC)
	if err := stampBuildTime(want.Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	if got := version.BuildTime(); !got.Equal(want) {
		t.Fatalf("libbeat's BuildTime is %v, want %v", got, want)
	}
	if err := stampBuildTime("yesterday"); err == nil {
		t.Fatal("a build time that is no RFC 3339 time was taken")
	}
}
