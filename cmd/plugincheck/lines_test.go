package main

import (
	"strings"
	"testing"
)

func TestBeatsLine_NamesTheTwoLinesAndNothingElse(t *testing.T) {
	host, _ := realBuilds(t)
	for version, want := range map[string]string{
		"v7.17.29": "7.17",
		"v7.17.30": "7.17",
		"v7.0.0-alpha2.0.20260423212405-1630b57ceb2e": "9.5",
		"v7.0.0-alpha2.0.20260101000000-000000000000": "",
		"v7.16.3": "",
	} {
		dep(t, host, beatsModule).Version = version
		if got, _ := beatsLine(host); got != want {
			t.Errorf("Beats %s: line %q, want %q", version, got, want)
		}
	}
}

func TestCheck_RefusesAPluginOfTheOtherLineSayingSo(t *testing.T) {
	host, plugin := realBuilds(t)
	dep(t, plugin, beatsModule).Version = "v7.0.0-alpha2.0.20260423212405-1630b57ceb2e"
	msg := lineMismatch(host, plugin, fileNames)
	for _, want := range []string{
		"incompatible: websocket.so is a plugin for Filebeat 9.5 (Beats v7.0.0-alpha2.0.20260423212405-1630b57ceb2e), filebeat is Filebeat 7.17 (Beats v7.17.29)",
		"a plugin loads only into a Filebeat of its own line",
		"Fix: use the websocket.so built for Filebeat 7.17",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the report lacks %q:\n%s", want, msg)
		}
	}
	// The other way round names the lines the other way round.
	if msg := lineMismatch(plugin, host, names{host: "filebeat", plugin: "websocket.so"}); !strings.Contains(msg, "websocket.so is a plugin for Filebeat 7.17") {
		t.Errorf("swapped: %s", msg)
	}
	// One line: nothing to say here; mismatches has the rest.
	if msg := lineMismatch(host, host, fileNames); msg != "" {
		t.Errorf("one line: %q", msg)
	}
}
