package wsclient

import (
	"strings"
	"testing"
)

// No part of a URL's user information may appear in any message: not when
// a '#', '/', '?' or '%' in the password makes the URL parse otherwise than
// meant, or not at all.

// credentialURL is a URL with user information, the parts of it that must
// never be shown, and whether the key accepts it.
type credentialURL struct {
	key     string // hosts or proxy_url
	url     string
	secrets []string
	valid   bool
}

var credentialURLs = []credentialURL{
	{"proxy_url", "http://alice:Sup3rSecret#1@proxy.example:3128", []string{"alice", "Sup3r", "Secret"}, false},
	{"proxy_url", "http://alice:Sup3r/Secret@proxy.example:3128", []string{"alice", "Sup3r", "Secret"}, false},
	{"proxy_url", "http://alice:Sup3r?Secret@proxy.example:3128", []string{"alice", "Sup3r", "Secret"}, false},
	{"proxy_url", "http://alice:31337/Secret@proxy.example:3128", []string{"alice", "31337", "Secret"}, false}, // parses, the password's digits as a port
	{"proxy_url", "http://alice:31337?Secret@proxy.example:3128", []string{"alice", "31337", "Secret"}, false},
	{"proxy_url", "http://alice:31337#Secret@proxy.example:3128", []string{"alice", "31337", "Secret"}, false},
	{"proxy_url", "http://alice:Sup3r%zzSecret@proxy.example:3128", []string{"alice", "Sup3r", "Secret", "%zz"}, false},
	{"proxy_url", "http://alice:Sup3r Secret@proxy.example:3128", []string{"alice", "Sup3r", "Secret"}, false},
	{"proxy_url", "http://alice:Sup3rSecret@proxy.example:99999", []string{"alice", "Sup3rSecret"}, false},
	{"proxy_url", "socks5://alice:Sup3r#Secret@proxy.example:1080", []string{"alice", "Sup3r", "Secret"}, false},
	{"proxy_url", "http://alice:Sup3r%23Secret@proxy.example:3128", []string{"alice", "Sup3r", "Secret"}, true},
	{"proxy_url", "http://alice:Sup3r@Secret@proxy.example:3128", []string{"alice", "Sup3r", "Secret"}, true},
	{"proxy_url", "http://alice@proxy.example:3128", []string{"alice"}, true},
	{"hosts", "ws://alice:Sup3rSecret#1@logs.example:8080/in", []string{"alice", "Sup3r", "Secret"}, false},
	{"hosts", "ws://alice:31337/Secret@logs.example:8080/in", []string{"alice", "31337", "Secret"}, false},
	{"hosts", "wss://alice:Sup3r%zzSecret@logs.example/in", []string{"alice", "Sup3r", "Secret"}, false},
	{"hosts", "ws://alice:Sup3rSecret@logs.example:8080/in", []string{"alice", "Sup3rSecret"}, false},
	{"hosts", "ws://alice@logs.example:8080/in", []string{"alice"}, false},
	{"hosts", "alice:Sup3rSecret@logs.example:8080/in", []string{"alice", "Sup3rSecret"}, false},
}

func (c credentialURL) settings() map[string]interface{} {
	if c.key == "hosts" {
		return map[string]interface{}{"hosts": []string{c.url}}
	}
	return map[string]interface{}{"addr": "127.0.0.1:9", c.key: c.url}
}

func TestConfig_URLCredentialsNeverAppearInErrorsOrTheStartUpLine(t *testing.T) {
	logs := observeOutputLogs(t)
	for _, tc := range credentialURLs {
		logs.TakeAll()
		_, err := load(t, tc.settings())
		var said []string
		for _, entry := range logs.TakeAll() {
			said = append(said, entry.Message)
		}
		if err != nil {
			said = append(said, err.Error())
		}
		switch {
		case tc.valid && err != nil:
			t.Errorf("%s: %s refused: %v", tc.key, tc.url, err)
		case !tc.valid && err == nil:
			t.Errorf("%s: %s accepted", tc.key, tc.url)
		case !tc.valid && !strings.Contains(err.Error(), tc.key):
			t.Errorf("%s: %s: the error %q does not name the key", tc.key, tc.url, err)
		}
		for _, s := range said {
			for _, secret := range tc.secrets {
				if strings.Contains(s, secret) {
					t.Errorf("%s: %s: %q shows %q", tc.key, tc.url, s, secret)
				}
			}
		}
	}
}
