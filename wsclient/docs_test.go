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

	"github.com/elastic/beats/v7/libbeat/common"
	"github.com/elastic/beats/v7/libbeat/common/transport/tlscommon"
	"github.com/elastic/beats/v7/libbeat/monitoring"
)

// noDefault are the keys without a default value (the README's table says
// "none"); keys under ssl. take libbeat's tlscommon defaults.
var noDefault = []string{"codec", "hosts", "addr", "headers", "username", "password", "proxy_url", "proxy_headers"}

// commentedInExample are the keys filebeat.yml.example shows commented out:
// those without a default, and schema and path, which go with addr, the
// alternative to hosts. The example sets hosts to a sample URL.
var commentedInExample = []string{"codec", "schema", "addr", "path", "headers", "username", "password", "proxy_url", "proxy_headers"}

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

func TestDocs_ExampleConfigShowsEveryKeyWithItsDefault(t *testing.T) {
	raw, err := os.ReadFile("../filebeat.yml.example")
	if err != nil {
		t.Fatal(err)
	}
	all, err := common.NewConfigWithYAML(raw, "filebeat.yml.example")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := all.Child("output.websocket", -1)
	if err != nil {
		t.Fatal(err)
	}
	// The values shown are the defaults; the keys shown are checked below.
	got := defaultConfig()
	if err := ws.Unpack(&got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Hosts, []string{exampleHost}) {
		t.Fatalf("filebeat.yml.example's hosts are %q, want [%q]", got.Hosts, exampleHost)
	}
	got.Hosts = nil
	if want := defaultConfig(); !reflect.DeepEqual(got, want) {
		t.Fatalf("filebeat.yml.example's output.websocket\n got %+v\nwant the defaults %+v", got, want)
	}

	var shown []string
	for _, k := range ws.FlattenedKeys() {
		// Child keeps the full path in the keys it flattens, and a list's
		// elements are keys of their own.
		k = listIndex.ReplaceAllString(strings.TrimPrefix(k, "output.websocket."), "")
		if !slices.Contains(shown, k) {
			shown = append(shown, k)
		}
	}
	sort.Strings(shown)
	// Beats' names are shown commented out, as setting both names of one
	// setting is an error, with the default of the setting they name.
	for _, n := range beatsNames {
		m := regexp.MustCompile(`(?m)^\s*#\s*` + n.beats + `: *(.*)$`).FindSubmatch(raw)
		if m == nil {
			t.Errorf("filebeat.yml.example does not show %s (commented out), Beats' name of %s", n.beats, n.ours)
			continue
		}
		got := defaultConfig()
		if err := unpackYAML(t, n.beats+": "+string(m[1]), &got); err != nil || !reflect.DeepEqual(got, defaultConfig()) {
			t.Errorf("filebeat.yml.example shows %s: %s, not the default of %s (%v)", n.beats, m[1], n.ours, err)
		}
	}
	var uncommented []string
	for _, k := range configKeys(reflect.TypeOf(config{}), "") {
		if ourName(k) != "" {
			continue // checked above
		}
		if slices.Contains(commentedInExample, k) || isSSL(k) {
			if !regexp.MustCompile(`(?m)^\s*#\s*` + regexp.QuoteMeta(k) + `[:.]`).Match(raw) {
				t.Errorf("filebeat.yml.example does not show %s (commented out)", k)
			}
			continue
		}
		uncommented = append(uncommented, k)
	}
	if fmt.Sprint(shown) != fmt.Sprint(uncommented) {
		t.Fatalf("filebeat.yml.example sets keys %v, want %v", shown, uncommented)
	}

	// And it is a configuration that works as it is.
	settings := map[string]interface{}{}
	if err := ws.Unpack(&settings); err != nil {
		t.Fatal(err)
	}
	if _, err := load(t, settings); err != nil {
		t.Fatalf("filebeat.yml.example's output.websocket does not load: %v", err)
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

// Every connection metric the output registers is described in
// docs/metrics.md, by its full name under libbeat.output.websocket.
func TestDocs_MetricsPageDescribesEveryConnectionMetric(t *testing.T) {
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	reg := outputRegistry(nil)
	newConnMetrics(reg)
	snap := monitoring.CollectFlatSnapshot(reg, monitoring.Full, false)
	names := map[string]bool{} // the histogram's are ints and floats
	for name := range snap.Ints {
		names[name] = true
	}
	for name := range snap.Floats {
		names[name] = true
	}
	if len(names) < 10 {
		t.Fatalf("only %d metrics registered: %v", len(names), names)
	}
	for name := range names {
		if i := strings.Index(name, ".histogram."); i >= 0 {
			name = name[:i+len(".histogram")]
		}
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/metrics.md does not describe %s", name)
		}
	}
}
