module github.com/beats-websocket/websocket-output/transport

go 1.26.8
