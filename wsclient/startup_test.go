package wsclient

import (
	"bytes"
	"reflect"
	"testing"
)

func TestStartupWarnings_CleartextCredentialsAndNoVerification(t *testing.T) {
	type settings = map[string]interface{}
	none := "the server's certificate is not checked, so anyone on the path can read and alter the events; use it only for tests"
	for _, tc := range []struct {
		settings settings
		want     []string
	}{
		{settings{"hosts": []string{"ws://logs.example.com/in"}, "headers.Authorization": "Bearer t"},
			[]string{"headers and credentials go unencrypted to ws://logs.example.com/in: use wss:// to protect them"}},
		{settings{"hosts": []string{"wss://127.0.0.1:9/in"}, "ssl.verification_mode": "none"},
			[]string{"ssl.verification_mode: none: " + none}},
		{settings{"hosts": []string{"ws://127.0.0.1:9/in", "ws://localhost:9/in"}, "username": "u", "password": "p"}, nil},
		{settings{"hosts": []string{"ws://logs.example.com/in"}}, nil},
		{settings{"hosts": []string{"wss://logs.example.com/in"}, "headers.Authorization": "Bearer t"}, nil},
	} {
		cfg, err := newConfigFrom(tc.settings)
		if err != nil {
			t.Fatal(err)
		}
		c, tlsConfig, err := readConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := startupWarnings(c, c.urls(), tlsConfig); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v:\n got %q\nwant %q", tc.settings, got, tc.want)
		}
	}
}

func TestPrintWarnings_OneLineEachAsTestOutputWarns(t *testing.T) {
	var b bytes.Buffer
	printWarnings(&b, []string{"a: b", "c"})
	if want := "WARN output.websocket: a: b\nWARN output.websocket: c\n"; b.String() != want {
		t.Fatalf("printed %q, want %q", b.String(), want)
	}
}

// The unit tests do not run under libbeat's TestConfig: the warnings go to
// the log.
func TestTestingConfig_FalseOutsideFilebeatTestConfig(t *testing.T) {
	if testingConfig() {
		t.Fatal("testingConfig() is true outside filebeat test config")
	}
}
