package wsclient

import (
	"reflect"
	"testing"
)

func TestConfig_BeatsNamesSetTheSameSettings(t *testing.T) {
	for _, n := range beatsNames {
		beats, err := unpack(t, n.beats+": 7")
		if err != nil {
			t.Fatalf("%s: %v", n.beats, err)
		}
		ours, err := unpack(t, n.ours+": 7")
		if err != nil {
			t.Fatalf("%s: %v", n.ours, err)
		}
		if !reflect.DeepEqual(beats, ours) {
			t.Errorf("%s: 7 gives\n%+v\n%s: 7 gives\n%+v", n.beats, beats, n.ours, ours)
		}
	}
}

func TestMakeOutput_BeatsNamesGiveWorkersBatchSizeAndRetryLimit(t *testing.T) {
	group, err := load(t, map[string]interface{}{
		"worker": 3, "bulk_max_size": 100, "max_retries": -1, "addr": "127.0.0.1:9", "path": "/in",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(group.Clients) != 3 || group.BatchSize != 100 || group.Retry != -1 {
		t.Fatalf("group: %d clients, batch size %d, retry %d", len(group.Clients), group.BatchSize, group.Retry)
	}
}
