package main

import (
	"strings"
	"testing"
)

func TestCheck_RefusesAPluginOfAnotherArchitectureSayingSo(t *testing.T) {
	host, plugin := realBuilds(t)
	setSetting(plugin, "GOARCH", "arm64")
	msg := archMismatch(host, plugin, fileNames)
	for _, want := range []string{
		"incompatible: websocket.so is built for linux/arm64, filebeat for linux/amd64",
		"a plugin loads only into a program built for its own operating system and architecture",
		"Fix: use the websocket.so built for linux/amd64",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the report lacks %q:\n%s", want, msg)
		}
	}
	// The other way round names the platforms the other way round.
	if msg := archMismatch(plugin, host, fileNames); !strings.Contains(msg, "websocket.so is built for linux/amd64, filebeat for linux/arm64") {
		t.Errorf("swapped: %s", msg)
	}
	// Another operating system is another platform too.
	darwin, _ := realBuilds(t)
	setSetting(darwin, "GOOS", "darwin")
	if msg := archMismatch(host, darwin, fileNames); !strings.Contains(msg, "websocket.so is built for darwin/amd64, filebeat for linux/amd64") {
		t.Errorf("darwin: %s", msg)
	}
	// One platform, or one not recorded: nothing to say here.
	if msg := archMismatch(host, host, fileNames); msg != "" {
		t.Errorf("one platform: %q", msg)
	}
	unrecorded, _ := realBuilds(t)
	setSetting(unrecorded, "GOARCH", "")
	if msg := archMismatch(host, unrecorded, fileNames); msg != "" {
		t.Errorf("GOARCH not recorded: %q", msg)
	}
}
