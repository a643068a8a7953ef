// Command packaging makes a deb or an rpm from an nfpm configuration
// (host.nfpm.yaml, plugin.nfpm.yaml) and writes a .sha512 beside it, in
// the format of Elastic's downloads:
//
//	go run . -config host.nfpm.yaml -packager deb -target ../dist
//
// nfpm is used as a library, pinned in this folder's own go.mod. In the
// module that builds Filebeat and the plugin, its requirements would raise,
// by minimal version selection, modules both binaries contain
// (klauspost/compress, golang.org/x/crypto, x/net, x/sys) above the
// versions Beats 7.17.29 is built with, and change what plugincheck
// compares.
//
// Paths in a configuration are relative to its folder. Its ${VARIABLES}
// come from the environment, and one that is not set is an error: nfpm
// would make it an empty string and silently drop, say, a dependency.
package main

import (
	"crypto/sha512"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

func main() {
	config := flag.String("config", "", "the nfpm configuration (YAML)")
	format := flag.String("packager", "", "deb or rpm")
	target := flag.String("target", ".", "the folder to write the package and its .sha512 into")
	conflicts := flag.String("conflicts", "", "further packages, comma-separated, that this one conflicts with and, as a deb, replaces: another Beats line's, which install the same files")
	flag.Parse()
	if *config == "" || *format == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: packaging -config FILE -packager deb|rpm [-target DIR]")
		os.Exit(2)
	}
	path, err := makePackage(*config, *format, *target, splitList(*conflicts))
	if err != nil {
		fmt.Fprintf(os.Stderr, "packaging: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "packaged %s\n", path)
}

// splitList splits a comma-separated list, without empty items.
func splitList(s string) []string {
	var items []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// makePackage makes the package the configuration at configPath describes,
// in format, into the folder target, and returns its path. The package
// also conflicts with the packages in conflicts, and as a deb replaces
// them, so that dpkg takes their files over when it is installed in their
// stead (as the host package does with Elastic's filebeat; rpm's Obsoletes
// would swap them out on any upgrade, unasked).
func makePackage(configPath, format, target string, conflicts []string) (string, error) {
	target, err := filepath.Abs(target)
	if err != nil {
		return "", err
	}
	info, err := readConfig(configPath, format)
	if err != nil {
		return "", err
	}
	info.Conflicts = append(info.Conflicts, conflicts...)
	if format == "deb" {
		info.Replaces = append(info.Replaces, conflicts...)
	}
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", fmt.Errorf("%s: %w", configPath, err)
	}

	path := filepath.Join(target, packager.ConventionalFileName(info))
	if err := writeAtomically(path, func(w io.Writer) error { return packager.Package(info, w) }); err != nil {
		return "", fmt.Errorf("%s: %w", configPath, err)
	}
	return path, writeSHA512(path)
}

// readConfig reads the configuration at path for format, with its
// variables expanded from the environment.
func readConfig(path, format string) (*nfpm.Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var unset []string
	config, err := nfpm.ParseWithEnvMapping(f, func(name string) string {
		value, ok := os.LookupEnv(name)
		// nfpm itself looks up NFPM_PASSPHRASE and the like, which
		// are optional.
		if !ok && !strings.HasPrefix(name, "NFPM_") && !slices.Contains(unset, name) {
			unset = append(unset, name)
		}
		return value
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(unset) > 0 {
		return nil, fmt.Errorf("%s names environment variables that are not set: %s", path, strings.Join(unset, ", "))
	}
	info, err := config.Get(format)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dir := filepath.Dir(path)
	for _, c := range info.Contents {
		relativeTo(dir, &c.Source)
	}
	for _, script := range []*string{&info.Scripts.PreInstall, &info.Scripts.PostInstall, &info.Scripts.PreRemove, &info.Scripts.PostRemove} {
		relativeTo(dir, script)
	}
	return nfpm.WithDefaults(info), nil
}

// relativeTo makes a relative path relative to dir instead of the working
// folder.
func relativeTo(dir string, path *string) {
	if *path != "" && !filepath.IsAbs(*path) {
		*path = filepath.Join(dir, *path)
	}
}

// writeSHA512 writes path.sha512 as Elastic's downloads have it:
// "<sha512 in hex>  <file name>", without a newline (Beats'
// dev-tools/mage CreateSHA512File). sha512sum -c reads it.
func writeSHA512(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha512.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	line := hex.EncodeToString(h.Sum(nil)) + "  " + filepath.Base(path)
	return writeAtomically(path+".sha512", func(w io.Writer) error {
		_, err := io.WriteString(w, line)
		return err
	})
}

// writeAtomically writes a file by writing a temporary one beside it and
// renaming it over path, so that path is either what it was or complete.
func writeAtomically(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
