package wsclient

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"github.com/elastic/beats/v7/libbeat/outputs/codec"
)

// Checks of the configuration as written, before it is unpacked: which keys
// are given, and in what shape. go-ucfg would convert some wrong shapes
// rather than refuse them, and the unpacked config, with its defaults, no
// longer shows which keys were written. Their names start with check; the
// checks of the unpacked values (validate.go) with validate.

// checkServerKeys checks that the configuration names the server one way:
// hosts (full URLs) or schema, addr and path. It reads which keys were
// written, which the unpacked config, with its defaults, no longer shows.
func checkServerKeys(cfg *rawConfig) error {
	var parts []string
	for _, k := range []string{"schema", "addr", "path"} {
		if cfg.HasField(k) {
			parts = append(parts, k)
		}
	}
	hosts := cfg.HasField("hosts")
	switch {
	case hosts && len(parts) > 0:
		return fmt.Errorf("hosts: set together with %s: give the server either as hosts (full URLs such as \"wss://logs.example.com/ingest\") or as schema, addr and path", strings.Join(parts, ", "))
	case !hosts && !cfg.HasField("addr"):
		return errors.New("hosts: no server given: set hosts (full URLs such as \"ws://localhost:8080/echo\") or addr (host:port, with schema and path)")
	}
	if n, err := cfg.CountField("hosts"); hosts && (err != nil || n == 0) {
		return errors.New("hosts: the list is empty: give at least one URL such as \"ws://localhost:8080/echo\"")
	}
	if addr, err := cfg.String("addr", -1); !hosts && err == nil && addr == "" {
		return errors.New("addr: must not be empty, give host:port such as \"localhost:8080\" (or hosts: full URLs)")
	}
	return nil
}

// checkShapes checks, before unpacking, the keys whose wrong shape go-ucfg
// would convert instead of refusing: a list given for headers becomes
// headers named "0", "1", ...; an object given for hosts becomes a list of
// its values; a value given for ssl fails with a stack trace.
func checkShapes(cfg *rawConfig) error {
	for _, key := range []string{"headers", "proxy_headers"} {
		if sub, err := cfg.Child(key, -1); err == nil && sub.IsArray() {
			return fmt.Errorf("%s: give header names with their values, such as %s: {X-Tenant: blue}, not a list", key, key)
		}
	}
	if sub, err := cfg.Child("hosts", -1); err == nil && sub.IsDict() {
		return fmt.Errorf("hosts: give a list of URLs, such as [\"ws://localhost:8080/echo\"], not an object")
	}
	if _, err := cfg.Child("ssl", -1); cfg.HasField("ssl") && err != nil {
		return fmt.Errorf("ssl: give settings such as ssl.certificate_authorities, not a single value")
	}
	// go-ucfg truncates a fraction given for a number: max_len: 0.5 would
	// become 0, no limit.
	for _, key := range []string{"workers", "batch_size", "retry_limit", "worker", "bulk_max_size", "max_retries", "compression_level", "max_len"} {
		if f, err := cfg.Float(key, -1); err == nil && f != math.Trunc(f) {
			return fmt.Errorf("%s: %v is not a whole number", key, f)
		}
	}
	return checkKeys(cfg)
}

// checkKeys refuses keys this output does not have: a misspelt key would
// otherwise be ignored, and ack.enable: true give no acknowledgements. The
// error suggests the keys it probably meant (suggestKeys).
func checkKeys(cfg *rawConfig) error {
	known := map[string]bool{"enabled": true} // output.websocket.enabled is libbeat's
	for _, k := range configKeys(reflect.TypeOf(config{}), "") {
		for i := range k {
			if k[i] == '.' {
				known[k[:i]] = true // ssl: {} is ssl with no settings
			}
		}
		known[k] = true
	}
	for _, k := range givenKeys(cfg, "") {
		first, _, _ := strings.Cut(k, ".")
		switch {
		case known[k], first == "headers", first == "proxy_headers", first == "codec":
			// headers are names of the user's choice; codec is libbeat's.
		default:
			if s := suggestKeys(k, known); len(s) > 0 {
				return fmt.Errorf("%s: not a setting of this output, did you mean %s?", k, strings.Join(s, " or "))
			}
			return fmt.Errorf("%s: not a setting of this output (the README lists them all)", k)
		}
	}
	return nil
}

// givenKeys lists the dotted keys set in cfg, relative to it (FlattenedKeys
// would give output.websocket.addr), lists counting as one key.
func givenKeys(cfg *rawConfig, prefix string) []string {
	var keys []string
	for _, name := range cfg.GetFields() {
		if sub, err := cfg.Child(name, -1); err == nil && sub.IsDict() {
			keys = append(keys, givenKeys(sub, prefix+name+".")...)
			continue
		}
		keys = append(keys, prefix+name)
	}
	return keys
}

// configKeys lists the dotted keys of a config struct, sorted, from its
// config tags: it follows inline and nested structs and the ssl settings;
// codec is one key.
func configKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("config"), ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case opts == "inline":
			keys = append(keys, configKeys(ft, prefix)...)
		case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(codec.Config{}):
			keys = append(keys, configKeys(ft, prefix+name+".")...)
		default:
			keys = append(keys, prefix+name)
		}
	}
	sort.Strings(keys)
	return keys
}
