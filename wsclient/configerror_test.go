package wsclient

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// loadYAML loads output.websocket from the YAML of a whole Filebeat
// configuration (with ${VAR}s), as Filebeat hands it to the factory.
func loadYAML(t *testing.T, yaml string) error {
	t.Helper()
	root, err := newConfigWithYAML([]byte(yaml), "filebeat.yml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = loadConfig(t, outputWebsocket(t, root))
	return err
}

func TestMakeOutput_UnknownKeySuggestsTheSettingItProbablyMeant(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"compresion: true", "output.websocket.compresion: not a setting of this output, did you mean compression?"},
		{"ping_intervall: 5s", "output.websocket.ping_intervall: not a setting of this output, did you mean ping_interval?"},
		{"Hosts: ['ws://127.0.0.1:9/']", "output.websocket.Hosts: not a setting of this output, did you mean hosts?"},
		{"ack.enable: true", "output.websocket.ack.enable: not a setting of this output, did you mean ack.enabled?"},
		{"backoff.int: 1s", "output.websocket.backoff.int: not a setting of this output, did you mean backoff.init?"},
		{"ssl.certificate_authoritie: [/ca.pem]", "output.websocket.ssl.certificate_authoritie: not a setting of this output, did you mean ssl.certificate_authorities?"},
		{"ssl.verificaton_mode: none", "output.websocket.ssl.verificaton_mode: not a setting of this output, did you mean ssl.verification_mode?"},
		// Beats' names of settings are settings too.
		{"bulk_max_sise: 50", "output.websocket.bulk_max_sise: not a setting of this output, did you mean bulk_max_size?"},
		{"max_retires: 5", "output.websocket.max_retires: not a setting of this output, did you mean max_retries?"},
		{"workes: 2", "output.websocket.workes: not a setting of this output, did you mean worker or workers?"},
		// A dot written as an underscore, a misspelt part of a nested key,
		// a key at the wrong level.
		{"ack_timeout: 5s", "output.websocket.ack_timeout: not a setting of this output, did you mean ack.timeout?"},
		{"header.Authorization: Bearer x", "output.websocket.header.Authorization: not a setting of this output, did you mean headers.Authorization?"},
		{"verification_mode: none", "output.websocket.verification_mode: not a setting of this output, did you mean ssl.verification_mode?"},
		// Nothing close: the README lists the settings.
		{"pipelining: 2", "output.websocket.pipelining: not a setting of this output (the README lists them all)"},
		{"ssl.verify: none", "output.websocket.ssl.verify: not a setting of this output (the README lists them all)"},
	} {
		err := loadYAML(t, "output.websocket:\n  addr: 127.0.0.1:9\n  "+tc.key+"\n")
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.key, err, tc.want)
		}
	}
}

// Every error of output.websocket's settings starts with
// "output.websocket.KEY: ", whether this output's checks, go-ucfg (wrong
// types) or libbeat (ssl) found it.
func TestMakeOutput_EveryConfigErrorStartsWithOutputWebsocketAndTheKey(t *testing.T) {
	for _, tc := range badValues(writeNotPEM(t)) {
		full := withAddr(tc.settings)
		// As the unit tests build it and as Filebeat passes it: the
		// prefix does not depend on where the settings are.
		for name, loadFn := range map[string]func(*testing.T, map[string]interface{}) error{
			"alone":               func(t *testing.T, s map[string]interface{}) error { _, err := load(t, s); return err },
			"as output.websocket": func(t *testing.T, s map[string]interface{}) error { _, err := loadNested(t, s); return err },
		} {
			err := loadFn(t, full)
			if err == nil {
				t.Errorf("%v %s: accepted", tc.settings, name)
				continue
			}
			if msg := err.Error(); !strings.HasPrefix(msg, outputPrefix) || strings.Contains(msg, " accessing '") {
				t.Errorf("%v %s: error %q does not start with %q and the key", tc.settings, name, msg, outputPrefix)
			}
			// A key follows the prefix: a setting of this output, a group
			// of them (ssl), or a key given.
			keys := configKeys(reflect.TypeOf(config{}), "")
			for _, k := range keys {
				keys = append(keys, strings.SplitN(k, ".", 2)[0])
			}
			for k := range tc.settings {
				keys = append(keys, k)
			}
			named := false
			for _, k := range keys {
				rest, ok := strings.CutPrefix(err.Error(), outputPrefix+k)
				named = named || ok && strings.IndexAny(rest, ":[.") == 0
			}
			if !named {
				t.Errorf("%v %s: error %q does not start with one of the keys given", tc.settings, name, err)
			}
		}
	}
}

// go-ucfg's and libbeat's errors read as this output's own: the key first,
// without go-ucfg's "accessing '...'" and the file's name.
func TestMakeOutput_LibraryErrorsReadAsTheOutputsOwn(t *testing.T) {
	const addr = "addr: 127.0.0.1:9\n  "
	for _, tc := range []struct{ settings, want string }{
		{addr + "workers: abc", "output.websocket.workers: can not convert 'string' into 'int'"},
		{addr + "timeout: soon", `output.websocket.timeout: time: invalid duration "soon"`},
		{addr + "ack: true", "output.websocket.ack: required 'object', but found 'bool'"},
		{addr + "codec.json: yes", "output.websocket.codec.json: can not convert 'bool' into 'object'"},
		{addr + "schema: wss\n  ssl.key: /etc/client-key.pem", "output.websocket.ssl: certificate file not configured"},
		{"hosts: [{url: 'ws://127.0.0.1:9/'}]", "output.websocket.hosts[0]: can not convert 'object' into 'string'"},
		{addr + "username: \"${WSCLIENT_TEST_UNSET_USER:?set the user}\"", "output.websocket.username: set the user"},
		{addr + "headers.Authorization: \"${output.websocket.headers.Authorization}\"",
			"output.websocket.headers.Authorization: cyclic reference detected for key: 'output.websocket.headers.Authorization'"},
		// The output's own message, whole, whatever the value quoted in it.
		{addr + "frame: \"x accessing 'y'\"", `output.websocket.frame: "x accessing 'y'" is not supported, use "event" or "batch"`},
	} {
		err := loadYAML(t, "output.websocket:\n  "+tc.settings+"\n")
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.settings, err, tc.want)
		}
	}
}

func TestMakeOutput_UnsetVariableNamesTheKeyAndTheVariable(t *testing.T) {
	const token, host = "WSCLIENT_TEST_UNSET_TOKEN", "WSCLIENT_TEST_UNSET_HOST"
	for _, name := range []string{token, host} {
		if _, set := os.LookupEnv(name); set {
			t.Fatalf("%s is set in the environment", name)
		}
	}
	t.Setenv("WSCLIENT_TEST_SET_USER", "alice")
	const unset = ", a variable set neither in the environment nor in the keystore"
	for _, tc := range []struct{ settings, want string }{
		{"addr: 127.0.0.1:9\n  headers.Authorization: \"Bearer ${" + token + "}\"",
			"output.websocket.headers.Authorization: the value refers to ${" + token + "}" + unset},
		{"hosts: [\"ws://127.0.0.1:9/\", \"${" + host + "}\"]",
			"output.websocket.hosts[1]: the value refers to ${" + host + "}" + unset},
		{"addr: \"${" + host + "}\"",
			"output.websocket.addr: the value refers to ${" + host + "}" + unset},
		{"addr: 127.0.0.1:9\n  workers: ${" + token + "}",
			"output.websocket.workers: the value refers to ${" + token + "}" + unset},
		{"addr: 127.0.0.1:9\n  ssl.certificate_authorities: [\"${" + token + "}\"]",
			"output.websocket.ssl.certificate_authorities[0]: the value refers to ${" + token + "}" + unset},
		// A variable the environment sets is not named; several unset
		// ones are, and the value never is.
		{"addr: 127.0.0.1:9\n  username: u\n  password: \"${WSCLIENT_TEST_SET_USER}:${" + token + "}\"",
			"output.websocket.password: the value refers to ${" + token + "}" + unset},
		{"addr: 127.0.0.1:9\n  username: u\n  password: \"${" + host + "}:${" + token + "}\"",
			"output.websocket.password: the value refers to ${" + host + "} and ${" + token + "}, of which at least one is set neither in the environment nor in the keystore"},
	} {
		err := loadYAML(t, "output.websocket:\n  "+tc.settings+"\n")
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.settings, err, tc.want)
		}
	}
}

func TestSuggestKeys_EditDistanceCountsASwapAsOneEdit(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"path", "path", 0}, {"paht", "path", 1}, {"compresion", "compression", 1},
		{"addr", "add", 1}, {"ttl", "ssl", 2}, {"kitten", "sitting", 3},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
