package wsclient

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	ucfg "github.com/elastic/go-ucfg"
	"github.com/elastic/go-ucfg/parse"
)

// Every error in output.websocket's settings reads "output.websocket.KEY:
// what is wrong", whichever check found it: the checks of the
// configuration as written (rawcheck.go, beatsnames.go), go-ucfg while
// unpacking (a value of the wrong type, an unset ${VAR}), Validate
// (validate.go), libbeat loading the ssl settings or the codec. The
// messages in the code start with the key; configError adds the prefix.
// Filebeat prints the error after "error initializing publisher: ".

// outputPrefix starts every configuration error of this output.
const outputPrefix = "output.websocket."

// configError is an error in output.websocket's settings: the message,
// which starts with the key, after outputPrefix.
type configError struct{ err error }

func (e configError) Error() string { return outputPrefix + e.err.Error() }
func (e configError) Unwrap() error { return e.err }

// asConfigError turns an error of reading cfg into a configError: go-ucfg's
// errors, which end in "accessing 'output.websocket.KEY'", are said the
// same way as this output's own, and an unset variable says so.
func asConfigError(cfg *rawConfig, err error) error {
	if err == nil || errors.As(err, new(configError)) {
		return err
	}
	var uerr ucfg.Error
	if !errors.As(err, &uerr) {
		return configError{err}
	}
	// A nested setting's Validate wraps the error of the setting within it,
	// with the outer path: the innermost names the key.
	for {
		inner, ok := uerr.Reason().(ucfg.Error)
		if !ok || !ucfgMessage.MatchString(inner.Message()) {
			break
		}
		uerr = inner
	}
	// go-ucfg's Path is empty for the errors of Validate methods; its
	// message always names the path. A message that is the reason's, as
	// Validate's errors are, is taken whole: a value quoted in it could
	// look like the form.
	full, reason := uerr.Message(), uerr.Reason().Error()
	start := 0
	if strings.HasPrefix(full, reason) {
		start = len(reason)
	}
	m := ucfgMessage.FindStringSubmatchIndex(full[start:])
	if m == nil {
		// Not in the form of a setting's error: none is known to reach here.
		return fmt.Errorf("%s: %w", strings.TrimSuffix(outputPrefix, "."), err)
	}
	msg, path := full[:start+m[3]], ""
	if m[4] >= 0 {
		path = strings.TrimPrefix(strings.TrimPrefix(full[start+m[4]:start+m[5]], cfg.Path()), ".")
	}
	if uerr.Reason() == ucfg.ErrMissing {
		if names := unsetVariables(cfg, path); len(names) > 0 {
			return configError{unsetVariableError(keyOf(path), names)}
		}
	}
	if path == "" {
		// output.websocket's own Validate: its messages start with the key.
		return configError{errors.New(msg)}
	}
	return configError{fmt.Errorf("%s: %s", keyOf(path), msg)}
}

// ucfgMessage is the form of go-ucfg's error messages (its messagePath and
// raiseExpectedObject): what is wrong, then " accessing 'PATH'" or " in
// field 'PATH'" (" accessing config" for the top), perhaps followed by the
// file.
var ucfgMessage = regexp.MustCompile(`^(.*?)(?: accessing | in field )(?:'([^']*)'|config)`)

// keyOf writes go-ucfg's path of a setting (hosts.0) as the messages name
// it (hosts[0]).
func keyOf(path string) string {
	var b strings.Builder
	for i, part := range strings.Split(path, ".") {
		if _, err := strconv.Atoi(part); err == nil {
			fmt.Fprintf(&b, "[%s]", part)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
	}
	return b.String()
}

// unsetVariableError says that the value of key refers to variables (names,
// as ${NAME}) of which one is set neither in the environment nor in
// Filebeat's keystore.
func unsetVariableError(key string, names []string) error {
	if len(names) == 1 {
		return fmt.Errorf("%s: the value refers to %s, a variable set neither in the environment nor in the keystore", key, names[0])
	}
	return fmt.Errorf("%s: the value refers to %s, of which at least one is set neither in the environment nor in the keystore", key, strings.Join(names, " and "))
}

// unsetVariables names, as ${NAME}, the variables in the value at path
// (relative to cfg) that the environment does not set: go-ucfg's error of
// an unset variable names the key, not the variable. go-ucfg resolves the
// value again here, with the environment and then a resolver that notes
// each name it is asked for. Filebeat's keystore, which the plugin cannot
// reach, is not asked, so a name set only there can be among them; the
// first resolution failed, so at least one of them is unset.
func unsetVariables(cfg *rawConfig, path string) []string {
	var names []string
	note := func(name string) (string, parse.Config, error) {
		names = append(names, "${"+name+"}")
		return "x", parse.DefaultConfig, nil // go on, to note every unset name
	}
	// go-ucfg asks the resolvers last to first: the environment, then note.
	_, _ = (*ucfg.Config)(cfg).String(path, -1, ucfg.PathSep("."), ucfg.VarExp, ucfg.Resolve(note), ucfg.ResolveEnv)
	return names
}
