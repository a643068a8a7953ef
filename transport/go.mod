module github.com/beats-websocket/websocket-output/transport

go 1.26.8

// Each requirement is at most the version in the oldest line's host (the
// Filebeat 7.17.29 the root module builds): a module graph raises it to
// each host's, and a plugin must carry the host's versions of every module
// both contain.
require (
	github.com/gorilla/websocket v1.5.3
	github.com/jpillora/backoff v1.0.0
	golang.org/x/net v0.38.0
	golang.org/x/sys v0.31.0
)

require (
	go.uber.org/goleak v1.3.0
	golang.org/x/text v0.23.0 // indirect
)
