package transport

import (
	"net/url"
	"testing"
)

func TestDisplay_ShowsNoUserInformation(t *testing.T) {
	for raw, want := range map[string]string{
		"http://alice:Sup3rSecret@proxy.example:3128":   "http://proxy.example:3128",
		"http://alice@proxy.example:3128":               "http://proxy.example:3128",
		"ws://logs.example/in?token=Sup3rSecret&a=b":    "ws://logs.example/in?a=xxxxx&token=xxxxx",
		"wss://logs.example:8443/in":                    "wss://logs.example:8443/in",
		"socks5://alice:Sup3rSecret@proxy.example:1080": "socks5://proxy.example:1080",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := Display(u); got != want {
			t.Errorf("Display(%s) = %s, want %s", raw, got, want)
		}
	}
}

func TestMalformed_ProxyURLsWhosePasswordEndedTheAuthority(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://proxy.example:3128":            false,
		"http://alice:S3cret@proxy.example:80": false,
		"http://alice:1234/ss@proxy.example":   true,
		"http://alice:1234#ss@proxy.example":   true,
		"http://alice:1234?ss@proxy.example":   true,
		"http://alice:pa@proxy.example/x@y":    true, // an '@' left over: refused rather than guessed
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := malformed(u); got != want {
			t.Errorf("malformed(%s) = %v, want %v", raw, got, want)
		}
	}
}
