package wsclient

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/common"
	"github.com/elastic/beats/v7/libbeat/common/transport/tlscommon"
)

// noDefault are the keys without a default value (the README's table says
// "none"); keys under ssl. take libbeat's tlscommon defaults.
var noDefault = []string{"codec", "hosts", "addr", "headers", "username", "password", "proxy_url", "proxy_headers"}

// requiredInExample are the keys filebeat.yml.example sets, not commented
// out: what must be set. hosts has no default; the example's value is a
// sample URL.
var requiredInExample = []string{"hosts"}

const exampleHost = "ws://localhost:8080/echo"

var listIndex = regexp.MustCompile(`\.\d+$`)

func isSSL(key string) bool { return strings.HasPrefix(key, "ssl.") }

// ourName is the setting a key is Beats' name of, or "".
func ourName(key string) string {
	for _, n := range beatsNames {
		if n.beats == key {
			return n.ours
		}
	}
	return ""
}

// sslDefaults are the ssl keys the README gives a default, libbeat's: the
// example shows them with it. The other ssl keys have none; the example
// shows a sample value.
var sslDefaults = []string{"ssl.verification_mode", "ssl.renegotiation"}

// commentedSetting is a line commented out in filebeat.yml.example, in the
// reference file's style: "#key: value" starts a setting (prose is "#
// text"), "#  ..." continues its value.
var commentedSetting = regexp.MustCompile(`^(\s*)#(\S.*|  .*)$`)

// exampleOutput returns filebeat.yml.example's output.websocket as written
// (set), and its commented-out settings, uncommented: commented[key] is
// the YAML of that setting alone.
func exampleOutput(t *testing.T) (set *rawConfig, commented map[string]string) {
	t.Helper()
	raw, err := os.ReadFile("../filebeat.yml.example")
	if err != nil {
		t.Fatal(err)
	}
	all, err := common.NewConfigWithYAML(raw, "filebeat.yml.example")
	if err != nil {
		t.Fatal(err)
	}
	if set, err = all.Child("output.websocket", -1); err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\noutput.websocket:\n")
	if !ok {
		t.Fatal("filebeat.yml.example has no output.websocket: section")
	}
	commented = map[string]string{}
	var key string
	for _, line := range strings.Split(section, "\n") {
		m := commentedSetting.FindStringSubmatch(line)
		switch {
		case m == nil:
			key = ""
		case m[1] == "  " && !strings.HasPrefix(m[2], " "):
			name, _, ok := strings.Cut(m[2], ":")
			if !ok {
				t.Fatalf("filebeat.yml.example: %q is neither a setting nor prose (\"# ...\")", line)
			}
			if _, twice := commented[name]; twice {
				t.Fatalf("filebeat.yml.example shows #%s twice", name)
			}
			key = name
			commented[key] = m[2] + "\n"
		case key != "":
			commented[key] += m[2] + "\n" // the value's lines: "#  Authorization: ..."
		default:
			t.Fatalf("filebeat.yml.example: %q continues no setting", line)
		}
	}
	return set, commented
}

func TestDocs_ExampleConfigSetsWhatMustBeSetAndShowsEveryOtherKeyCommentedOut(t *testing.T) {
	set, commented := exampleOutput(t)

	// Set: hosts alone, and the example works as it is.
	var shown []string
	for _, k := range set.FlattenedKeys() {
		// Child keeps the full path in the keys it flattens, and a list's
		// elements are keys of their own.
		k = listIndex.ReplaceAllString(strings.TrimPrefix(k, "output.websocket."), "")
		if !slices.Contains(shown, k) {
			shown = append(shown, k)
		}
	}
	if !slices.Equal(shown, requiredInExample) {
		t.Fatalf("filebeat.yml.example sets %v, want only what must be set, %v", shown, requiredInExample)
	}
	got := defaultConfig()
	if err := set.Unpack(&got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Hosts, []string{exampleHost}) {
		t.Fatalf("filebeat.yml.example's hosts are %q, want [%q]", got.Hosts, exampleHost)
	}
	settings := map[string]interface{}{}
	if err := set.Unpack(&settings); err != nil {
		t.Fatal(err)
	}
	if _, err := load(t, settings); err != nil {
		t.Fatalf("filebeat.yml.example's output.websocket does not load: %v", err)
	}

	// Commented out: every other key, none unknown.
	want := slices.DeleteFunc(configKeys(reflect.TypeOf(config{}), ""), func(k string) bool { return slices.Contains(requiredInExample, k) })
	var keys []string
	for _, yaml := range commented {
		cfg, err := common.NewConfigWithYAML([]byte(yaml), "filebeat.yml.example")
		if err != nil {
			t.Fatalf("filebeat.yml.example: #%s is not YAML: %v", yaml, err)
		}
		for _, f := range cfg.FlattenedKeys() {
			f = listIndex.ReplaceAllString(f, "")
			switch first, _, _ := strings.Cut(f, "."); first {
			case "headers", "proxy_headers", "codec":
				f = first // names of the user's choice, or libbeat's codec
			}
			if !slices.Contains(keys, f) {
				keys = append(keys, f)
			}
		}
	}
	sort.Strings(keys)
	if fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Fatalf("filebeat.yml.example shows commented out\n %v\nwant every key but %v:\n %v", keys, requiredInExample, want)
	}
}

// Each default shown (#key: value) is the code's: uncommented over the
// defaults with that setting zeroed, it restores them. A key without a
// default shows a sample value that is valid for it.
func TestDocs_ExampleConfigShowsTheDefaults(t *testing.T) {
	_, commented := exampleOutput(t)
	// The samples' ${VARS}, as the keystore or the environment would set them.
	for _, yaml := range commented {
		for _, m := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(yaml, -1) {
			t.Setenv(m[1], "sample")
		}
	}
	var ssl string // the ssl samples, together: certificate and key go in pairs
	for key, yaml := range commented {
		line := strings.TrimSpace(yaml)
		switch {
		case isSSL(key):
			ssl += strings.TrimPrefix(yaml, "ssl.")
			var got tlscommon.Config
			if err := unpackYAML(t, strings.TrimPrefix(yaml, "ssl."), &got); slices.Contains(sslDefaults, key) && (err != nil || !reflect.DeepEqual(got, tlscommon.Config{})) {
				t.Errorf("filebeat.yml.example shows #%s, not libbeat's default (%v)", line, err)
			}
		case slices.Contains(noDefault, strings.SplitN(key, ".", 2)[0]):
			// The sample loads, with hosts (addr is the alternative) and
			// what it goes with.
			sample := yaml
			if key != "addr" {
				sample += "hosts: [" + exampleHost + "]\n"
			}
			if key == "password" {
				sample += commented["username"]
			}
			cfg, err := newConfigWithYAML([]byte(sample), "filebeat.yml.example")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := loadConfig(t, cfg); err != nil {
				t.Errorf("filebeat.yml.example: #%s is not a valid value: %v", line, err)
			}
		default:
			ours := key
			if n := ourName(key); n != "" {
				ours = n // Beats' name: the default of the setting it names
			}
			got := defaultConfig()
			setZero(t, &got, ours)
			if err := unpackYAML(t, yaml, &got); err != nil {
				t.Fatalf("filebeat.yml.example: #%s: %v", line, err)
			}
			got.useBeatsNames()
			if !reflect.DeepEqual(got, defaultConfig()) {
				t.Errorf("filebeat.yml.example shows #%s; the code's default differs", line)
			}
		}
	}
	if err := unpackYAML(t, ssl, &tlscommon.Config{}); err != nil {
		t.Errorf("filebeat.yml.example's ssl samples are not valid settings: %v\n%s", err, ssl)
	}
}

// One duration style: every duration with its unit ("30s", not 30).
func TestDocs_ExampleConfigWritesDurationsWithAUnit(t *testing.T) {
	_, commented := exampleOutput(t)
	duration := regexp.MustCompile(`^[0-9]+(ms|s|m|h)$`)
	checked := 0
	for _, key := range configKeys(reflect.TypeOf(config{}), "") {
		v, ok := field(reflect.ValueOf(&config{}).Elem(), key)
		if !ok || v.Type() != reflect.TypeOf(time.Duration(0)) {
			continue
		}
		_, value, _ := strings.Cut(strings.TrimSpace(commented[key]), ": ")
		if !duration.MatchString(value) {
			t.Errorf("filebeat.yml.example shows %s as %q, want a number with its unit such as 30s", key, value)
		}
		checked++
	}
	if checked < 6 {
		t.Fatalf("checked %d durations; config has ping_interval, ping_timeout, timeout, backoff.init, backoff.max and ack.timeout", checked)
	}
}

var tableRow = regexp.MustCompile("^\\| `([a-z0-9_.]+)` \\| (none|`[^`]*`) \\|")

func TestDocs_ReadmeTableListsEveryKeyWithItsDefault(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, l := range strings.Split(string(readme), "\n") {
		m := tableRow.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		key, def := m[1], strings.Trim(m[2], "`")
		keys = append(keys, key)
		ours := ourName(key)
		switch {
		case ours != "":
			// Beats' name of a setting: the row says which, and shows its
			// default.
			if !strings.Contains(l, "`"+ours+"`") {
				t.Errorf("README's row for %s does not name %s, the setting it is Beats' name of", key, ours)
			}
			got := defaultConfig()
			setZero(t, &got, ours)
			if err := unpackYAML(t, key+": "+def, &got); err != nil {
				t.Fatalf("README default for %s (%q): %v", key, def, err)
			}
			if !reflect.DeepEqual(got, defaultConfig()) {
				t.Errorf("README says %s defaults to %q; %s's default differs", key, def, ours)
			}
		case def == "none":
			if !slices.Contains(noDefault, key) && !isSSL(key) {
				t.Errorf("README says %s has no default; the code has one", key)
			}
		case isSSL(key):
			// The documented default must be what leaving it unset means.
			var got tlscommon.Config
			if err := unpackYAML(t, strings.TrimPrefix(key, "ssl.")+": "+def, &got); err != nil {
				t.Fatalf("README default for %s (%q): %v", key, def, err)
			}
			if !reflect.DeepEqual(got, tlscommon.Config{}) {
				t.Errorf("README says %s defaults to %q; unset, libbeat's is different", key, def)
			}
		default:
			// Unpack the documented default over the real defaults, with
			// the key's value zeroed first: it must restore the default.
			got := defaultConfig()
			setZero(t, &got, key)
			if err := unpackYAML(t, key+": "+def, &got); err != nil {
				t.Fatalf("README default for %s (%q): %v", key, def, err)
			}
			if !reflect.DeepEqual(got, defaultConfig()) {
				t.Errorf("README says %s defaults to %q; the code's default differs", key, def)
			}
		}
	}
	for _, n := range beatsNames {
		if !slices.Contains(keys, n.beats) {
			t.Errorf("README's table has no row for %s, Beats' name of %s", n.beats, n.ours)
		}
	}
	sort.Strings(keys)
	if want := configKeys(reflect.TypeOf(config{}), ""); fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Fatalf("README's tables list %v, the code has %v", keys, want)
	}
}

func unpackYAML(t *testing.T, yaml string, to interface{}) error {
	t.Helper()
	cfg, err := common.NewConfigWithYAML([]byte(yaml), "README")
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Unpack(to)
}

// setZero sets the field behind key to its zero value.
func setZero(t *testing.T, c *config, key string) {
	t.Helper()
	v, ok := field(reflect.ValueOf(c).Elem(), key)
	if !ok {
		t.Fatalf("no config field for %s", key)
	}
	v.Set(reflect.Zero(v.Type()))
}

// field finds the field behind a dotted key, looking into inline structs.
func field(v reflect.Value, key string) (reflect.Value, bool) {
	part, rest, nested := strings.Cut(key, ".")
	for i := 0; i < v.NumField(); i++ {
		name, opts, _ := strings.Cut(v.Type().Field(i).Tag.Get("config"), ",")
		switch {
		case opts == "inline":
			if f, ok := field(v.Field(i), key); ok {
				return f, true
			}
		case name == part && !nested:
			return v.Field(i), true
		case name == part && v.Field(i).Kind() == reflect.Struct:
			return field(v.Field(i), rest)
		}
	}
	return reflect.Value{}, false
}
