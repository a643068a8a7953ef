package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// program finds a program the tests need from Debian's packages, which
// .ci/run and ./build.sh test install. Missing, the test fails: a skipped
// scenario proves nothing.
func program(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	t.Fatalf("%s is not installed; the tests need it (Debian: apt-get install nginx-light tinyproxy, which ./build.sh test does as root)", name)
	return ""
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, p *process, addr string) {
	t.Helper()
	waitFor(t, 10*time.Second, addr+" to listen", func() bool {
		if !p.running() {
			t.Fatalf("%s exited: %v; its log:\n%s", filepath.Base(p.cmd.Path), p.err, p.tail())
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// nginx is a TLS-terminating WebSocket reverse proxy in front of backend
// (host:port), with p's server certificate; with mtls it requires client
// certificates signed by p's CA.
type nginx struct {
	*process
	addr, accessLog string
}

func startNginx(t *testing.T, dir, backend string, p pki, mtls bool) *nginx {
	t.Helper()
	dir = filepath.Join(dir, fmt.Sprintf("nginx-%d", receivers.Add(1)))
	addr := freeAddr(t)
	clientAuth := ""
	if mtls {
		clientAuth = fmt.Sprintf("ssl_client_certificate %s;\n    ssl_verify_client on;", p.ca)
	}
	proc := runNginx(t, dir, fmt.Sprintf(`  access_log %[1]s/access.log;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen %[2]s ssl;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    %[5]s
    location / {
      proxy_pass http://%[6]s;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }
`, dir, addr, p.serverCert, p.serverKey, clientAuth, backend))
	waitListening(t, proc, addr)
	return &nginx{process: proc, addr: addr, accessLog: filepath.Join(dir, "access.log")}
}

// runNginx starts nginx in the foreground with everything it writes in
// dir and http as the body of its http block.
func runNginx(t *testing.T, dir, http string) *process {
	t.Helper()
	bin := program(t, "nginx")
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
  client_body_temp_path %[1]s/tmp/body;
  proxy_temp_path %[1]s/tmp/proxy;
  fastcgi_temp_path %[1]s/tmp/fastcgi;
  uwsgi_temp_path %[1]s/tmp/uwsgi;
  scgi_temp_path %[1]s/tmp/scgi;
%[2]s}
`, dir, http)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return start(t, filepath.Join(dir, "nginx.out"), bin, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", confPath)
}

// tinyproxy is a real HTTP proxy; its log shows every CONNECT.
type tinyproxy struct {
	*process
	addr, log string
}

func startTinyproxy(t *testing.T, dir string) *tinyproxy {
	t.Helper()
	bin := program(t, "tinyproxy")
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	logPath := filepath.Join(dir, "tinyproxy.log")
	conf := fmt.Sprintf(`Port %s
Listen 127.0.0.1
Timeout 600
LogFile %q
LogLevel Info
MaxClients 50
Allow 127.0.0.1
DisableViaHeader Yes
`, port, logPath)
	confPath := filepath.Join(dir, "tinyproxy.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	proc := start(t, filepath.Join(dir, "tinyproxy.out"), bin, "-d", "-c", confPath)
	waitListening(t, proc, addr)
	return &tinyproxy{process: proc, addr: addr, log: logPath}
}

// connects counts the CONNECT requests to target in the proxy's log.
func (p *tinyproxy) connects(target string) int {
	b, _ := os.ReadFile(p.log)
	return strings.Count(string(b), "CONNECT "+target+" ")
}
