package transport

import (
	"encoding/base64"
	"errors"
	"net/url"
	"sort"
	"strings"
)

// How URLs are shown: never with any part of their user information, and
// with the values of their query masked. A password with a '#', '/' or '?'
// ends a URL's user information early, so that the rest of it lands in the
// host, path, query or fragment, or makes url.Parse fail with an error that
// quotes it: such URLs are refused without being shown.

// ErrUserinfo is why a URL with credentials that do not parse is refused;
// it says what to fix without showing any of the URL.
var ErrUserinfo = errors.New("the user information (user:password@) does not parse: a '#', '/', '?', '%' or space in the username or password must be percent-encoded, such as %23 for '#' (the URL is not shown, as it holds a password)")

// ParseURL is url.Parse with an error that shows none of the URL: not the
// URL, which may hold a password, nor, if the URL has user information,
// url.Parse's own error, which quotes the part it stumbled on, such as a
// password's digits taken for a port.
func ParseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	if err != nil && strings.Contains(s, "@") {
		err = ErrUserinfo
	}
	return u, err
}

// CredentialsParsed says whether the '@' of a URL that has one ended its
// user information, as it should: a '#', '/' or '?' in a password ends the
// URL's authority before the '@', leaving it, and the rest of the password,
// in the host, path, query or fragment.
func CredentialsParsed(u *url.URL) bool {
	return u.User != nil && !strings.Contains(u.Host+u.Path+u.RawQuery+u.Fragment+u.Opaque, "@")
}

// Display names a URL in logs and errors: without its user information, and
// with the values of its query, where a token may be, masked.
func Display(u *url.URL) string {
	masked := *u
	masked.User = nil
	if u.RawQuery == "" {
		return masked.String()
	}
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = url.QueryEscape(k) + "=xxxxx"
	}
	masked.RawQuery = strings.Join(keys, "&")
	return masked.String()
}

// BasicAuth is the value of an Authorization (or Proxy-Authorization)
// header for HTTP basic authentication, without its "Basic " prefix.
func BasicAuth(username, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(username + ":" + password))
}
