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
	"github.com/elastic/beats/v7/libbeat/outputs/codec"
)

// unsetByDefault are the keys with no default value: the example shows them
// commented out and the README's table says "none".
var unsetByDefault = []string{"codec"}

// configKeys lists the dotted keys of the config struct, from its tags.
func configKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := prefix + strings.Split(f.Tag.Get("config"), ",")[0]
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(codec.Config{}) {
			keys = append(keys, configKeys(f.Type, key+".")...)
		} else {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	return keys
}

func TestDocs_ExampleConfigShowsEveryKeyWithItsDefault(t *testing.T) {
	all, err := common.LoadFile("../filebeat.yml.example")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := all.Child("output.websocket", -1)
	if err != nil {
		t.Fatal(err)
	}
	// Unpacked over zero values, so a key missing from the example shows.
	var got config
	if err := ws.Unpack(&got); err != nil {
		t.Fatal(err)
	}
	if want := defaultConfig(); got != want {
		t.Fatalf("filebeat.yml.example's output.websocket\n got %+v\nwant the defaults %+v", got, want)
	}
	var shown []string
	for _, k := range ws.FlattenedKeys() {
		// Child keeps the full path in the keys it flattens.
		shown = append(shown, strings.TrimPrefix(k, "output.websocket."))
	}
	sort.Strings(shown)
	var want []string
	for _, k := range configKeys(reflect.TypeOf(config{}), "") {
		if !slices.Contains(unsetByDefault, k) {
			want = append(want, k)
		}
	}
	if fmt.Sprint(shown) != fmt.Sprint(want) {
		t.Fatalf("filebeat.yml.example shows keys %v, the code has %v", shown, want)
	}
}

var tableRow = regexp.MustCompile("^\\| `([a-z_.]+)` \\| (none|`[^`]*`) \\|")

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
		if def == "none" {
			if !slices.Contains(unsetByDefault, key) {
				t.Errorf("README says %s has no default; the code has one", key)
			}
			continue
		}
		cfg, err := common.NewConfigWithYAML([]byte(key+": "+def), "README")
		if err != nil {
			t.Fatalf("README default for %s: %v", key, err)
		}
		// Unpack the documented default over the real defaults, with the
		// key's value zeroed first: it must restore exactly the default.
		got := zeroKey(t, key)
		if err := cfg.Unpack(&got); err != nil {
			t.Fatalf("README default for %s (%q): %v", key, def, err)
		}
		if got != defaultConfig() {
			t.Errorf("README says %s defaults to %q; the code's default differs", key, def)
		}
	}
	sort.Strings(keys)
	if want := configKeys(reflect.TypeOf(config{}), ""); fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Fatalf("README's table lists %v, the code has %v", keys, want)
	}
}

// zeroKey returns the defaults with the field behind key set to its zero value.
func zeroKey(t *testing.T, key string) config {
	c := defaultConfig()
	v := reflect.ValueOf(&c).Elem()
	for _, part := range strings.Split(key, ".") {
		found := false
		for i := 0; i < v.NumField(); i++ {
			if strings.Split(v.Type().Field(i).Tag.Get("config"), ",")[0] == part {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			t.Fatalf("README lists %s, which the config does not have", key)
		}
	}
	v.Set(reflect.Zero(v.Type()))
	return c
}
