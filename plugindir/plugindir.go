// Package plugindir makes the Filebeat this project builds load, besides
// the plugins given with --plugin, every plugin in the plugins folder under
// its home path, where the packages install them: the folder takes the
// place of a --plugin on every command line.
//
// libbeat's --plugin flag (libbeat/plugin/cli.go) stays the flag; its
// values come here instead of libbeat's list, and the plugins are loaded
// with libbeat's plugin.LoadPlugins before the command runs: Filebeat
// exits if an output type is registered twice, so a plugin given both
// ways, or twice, is loaded once (one real path, or one file under two
// names), which libbeat's list cannot do. A plugin in the folder is loaded
// only if it passes the check Filebeat makes of its configuration files
// (--strict.perms).
package plugindir

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/elastic/beats/v7/libbeat/cmd"
	"github.com/elastic/beats/v7/libbeat/common"
	"github.com/elastic/beats/v7/libbeat/outputs"
	"github.com/elastic/beats/v7/libbeat/plugin"
	"github.com/spf13/cobra"
)

// Folder is the plugins folder's name in Filebeat's home path.
const Folder = "plugins"

// outputType is the output type this project's plugin registers.
const outputType = "websocket"

// Plugins holds the values of --plugin, in the order given.
type Plugins struct {
	given []string
}

// String and Set make Plugins the --plugin flag's value.
func (p *Plugins) String() string { return strings.Join(p.given, ",") }

// Set adds a --plugin value.
func (p *Plugins) Set(v string) error {
	p.given = append(p.given, v)
	return nil
}

// TakeFlag makes libbeat's --plugin flag fill the Plugins it returns
// instead of libbeat's own list, which then loads nothing. Call it before
// the root command is built, which copies the flag; nil when this Filebeat
// has no --plugin flag (built without cgo).
func TakeFlag() *Plugins {
	f := flag.CommandLine.Lookup("plugin")
	if f == nil {
		return nil
	}
	p := &Plugins{}
	f.Value = p
	f.Usage = "Load additional plugins (those in the plugins folder of path.home are loaded without it)"
	return p
}

// LoadBeforeCommands makes every command of root that sets Filebeat up
// load the plugins first, at the point where libbeat would load those of
// --plugin: after the flags are parsed, before the configuration is read.
// `version`, `completion` and `help` load none, as with libbeat. A plugin
// that fails to load stops Filebeat with "Exiting: " and the reason, as
// libbeat does.
func (p *Plugins) LoadBeforeCommands(root *cmd.BeatsRootCmd) {
	if p == nil {
		return
	}
	root.PersistentPreRun = func(c *cobra.Command, _ []string) {
		if c == root.VersionCmd || c == root.CompletionCmd || c.Name() == "help" {
			return
		}
		if err := p.Load(homePath()); err != nil {
			fmt.Fprintf(os.Stderr, "Exiting: %v\n", err)
			os.Exit(1)
		}
	}
}

// Load loads the given plugins and those in home's plugins folder, each
// once. If none registers the websocket output, it registers one whose
// creation fails, saying how to load the plugin: an output.websocket
// configured without it then says more than libbeat's "output type
// websocket undefined".
func (p *Plugins) Load(home string) error {
	dir := filepath.Join(home, Folder)
	paths, err := plan(p.given, dir, common.IsStrictPerms())
	if err != nil {
		return err
	}
	var loaded []string
	for _, path := range paths {
		if err := plugin.LoadPlugins(path); err != nil {
			return explain(err, path, loaded, dir)
		}
		loaded = append(loaded, path)
	}
	if outputs.FindFactory(outputType) == nil {
		// libbeat's words first: "output type websocket undefined".
		registerMissing(fmt.Errorf("output type websocket undefined: websocket is a plugin, and no plugin loaded registers it: "+
			"install websocket.so in %s, whose plugins Filebeat loads at every start (the package filebeat-output-websocket does), or start Filebeat with --plugin /path/to/websocket.so",
			dir))
	}
	return nil
}

// plan returns the plugins to load in order: the given ones, then those
// in dir (the files named *.so, by name), each file once: one real path,
// or one file under another name (a hard link). With strict on, a plugin
// in dir must pass the check Filebeat makes of its
// configuration files (libbeat's common.OwnerHasExclusiveWritePerms):
// owned by the user running Filebeat or root, and writable by no one else.
func plan(given []string, dir string, strict bool) ([]string, error) {
	found, err := list(dir)
	if err != nil {
		return nil, err
	}
	if strict {
		for _, path := range found {
			if err := common.OwnerHasExclusiveWritePerms(path); err != nil {
				return nil, fmt.Errorf("refusing the plugin %s: Filebeat checks the plugins in %s as it checks its configuration files: "+
					"%w; or start Filebeat with --strict.perms=false to turn the check off", path, dir, err)
			}
		}
	}
	var paths []string
	var files []fs.FileInfo
	seen := map[string]bool{}
	for _, path := range slices.Concat(given, found) {
		real := realPath(path)
		if seen[real] || sameAsAny(path, files) {
			continue
		}
		seen[real] = true
		if fi, err := os.Stat(path); err == nil {
			files = append(files, fi)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// sameAsAny says whether path is one of files under another name, a hard
// link for instance, which realPath does not see; a file that cannot be
// read is left to the loader, which says why.
func sameAsAny(path string, files []fs.FileInfo) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(files, func(f fs.FileInfo) bool { return os.SameFile(f, fi) })
}

// list returns the plugins in dir, the regular files (or links to them)
// named *.so, sorted; none if dir does not exist.
func list(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the plugins folder: %w", err)
	}
	var found []string
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if filepath.Ext(e.Name()) != ".so" {
			continue
		}
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() {
			found = append(found, path)
		}
	}
	return found, nil // os.ReadDir sorts by name
}

// realPath is path without links and relative parts, which names one file
// however it is written; path itself if it cannot be resolved.
func realPath(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// explain adds the fix to Go's error for a plugin that did not load, for
// the mistakes Go's words do not explain.
func explain(err error, path string, loaded []string, dir string) error {
	switch {
	case isMissing(path):
		return fmt.Errorf("%w: there is no file %s: "+
			"--plugin takes the path of a plugin file such as websocket.so; or install the plugin in %s, whose plugins Filebeat loads without --plugin",
			err, path, dir)
	case strings.HasSuffix(err.Error(), "plugin already loaded"):
		from := "one of " + strings.Join(loaded, ", ")
		if len(loaded) == 1 {
			from = loaded[0]
		}
		return fmt.Errorf("%w: %s is another copy of the plugin loaded from %s; give each plugin once: "+
			"the plugins in %s are loaded without --plugin", err, path, from, dir)
	}
	return err
}

func isMissing(path string) bool {
	_, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// homePath is Filebeat's home path as libbeat resolves it before reading
// the configuration (cfgfile.HandleFlags): path.home from the command line
// (--path.home, or -E path.home=, both kept in the -E flag's settings),
// else the folder of the binary as started (os.Args[0]). A path.home in
// filebeat.yml, read later, does not move the plugins folder.
func homePath() string {
	if e := flag.CommandLine.Lookup("E"); e != nil {
		if g, ok := e.Value.(flag.Getter); ok {
			// *common.Config in 7.17, *config.C in 9.5.
			if settings, ok := g.Get().(interface {
				String(name string, idx int) (string, error)
			}); ok {
				if home, err := settings.String("path.home", -1); err == nil && home != "" {
					return home
				}
			}
		}
	}
	home, err := filepath.Abs(filepath.Dir(os.Args[0]))
	if err != nil {
		return filepath.Dir(os.Args[0])
	}
	return home
}
