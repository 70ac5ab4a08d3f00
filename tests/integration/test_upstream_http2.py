"""HTTP/2 to the upstream: chatd -> nginx (HTTP/2 over TLS, a certificate made for the
test and given to chatd as upstream_ca_file) -> the mock over HTTP/1.1. nginx's access
log tells which protocol and which connection each request came on: streams byte-exact
over HTTP/2, many streams multiplexed on one connection, a cancel or a vanished client
resetting only its own stream (the mock sees that response cut) while the others finish,
the per-upstream "http2" and "ca_file" of the model map, h2c refused on a libcurl that
cannot reuse its connections, and bad values refused at start."""

import json
import os
import socket
import subprocess
import tempfile
import time

import clusters
from chatd_harness import (Chatd, ChatdTestCase, _kill, _pdeathsig, chat_body, chatd_bin,
                           clean_env, free_port)

TEXT = "".join(clusters.CASES["mixed"])
NGINX = "/usr/sbin/nginx"


def libcurl_version():
    """(major, minor, patch) of the libcurl chatd links (the curl tool uses the same)."""
    out = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout
    lib = [w for w in out.split() if w.startswith("libcurl/")][0]
    return tuple(int(x) for x in lib.split("/")[1].split("-")[0].split(".")[:3])


class H2Front:
    """nginx speaking HTTP/2 over TLS to chatd and HTTP/1.1 to the mock, as one process."""

    def __init__(self, mock_port):
        self.tmp = tempfile.TemporaryDirectory(prefix="chatd-h2-")
        d = self.tmp.name
        os.makedirs(os.path.join(d, "tmp"))
        os.chmod(d, 0o755)
        self.cert = os.path.join(d, "cert.pem")
        key = os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
                        self.cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True,
                       capture_output=True)
        os.chmod(key, 0o644)
        self.port = free_port()
        self.log = os.path.join(d, "access.log")
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""
master_process off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 4096; }
http {
    log_format h2 '$server_protocol $connection $request_uri $status';
    access_log %(d)s/access.log h2;
    client_body_temp_path %(d)s/tmp/body;
    proxy_temp_path %(d)s/tmp/proxy;
    fastcgi_temp_path %(d)s/tmp/fastcgi;
    uwsgi_temp_path %(d)s/tmp/uwsgi;
    scgi_temp_path %(d)s/tmp/scgi;
    http2_max_concurrent_streams 256;
    server {
        listen 127.0.0.1:%(port)d ssl http2;
        ssl_certificate %(d)s/cert.pem;
        ssl_certificate_key %(d)s/key.pem;
        location / {
            proxy_pass http://127.0.0.1:%(mock)d;
            proxy_buffering off;
            proxy_http_version 1.1;
            proxy_read_timeout 120s;
        }
    }
}
""" % {"d": d, "port": self.port, "mock": mock_port})
        self.proc = subprocess.Popen([NGINX, "-p", d, "-c", conf, "-g", "daemon off;"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, preexec_fn=_pdeathsig)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start: %r" % self.proc.stderr.read())
                time.sleep(0.02)  # waiting for the port to listen, bounded by the deadline
        self.url = "https://127.0.0.1:%d/v1" % self.port

    def lines(self):
        """Access-log lines of chat requests: (protocol, connection, uri, status). nginx
        writes a line when the request ends."""
        out = []
        if os.path.exists(self.log):
            with open(self.log) as f:
                for ln in f:
                    p = ln.split()
                    if len(p) == 4 and p[2].startswith("/v1/chat"):
                        out.append(tuple(p))
        return out

    def wait_lines(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.lines()) < n and time.monotonic() < deadline:
            time.sleep(0.02)  # nginx logs at the request's end: poll, bounded
        return self.lines()

    def stop(self):
        # one process (master_process off): nothing is left behind when it goes
        _kill(self.proc)
        self.tmp.cleanup()


class H2FrontCase(ChatdTestCase):
    """The mock, and the HTTP/2 front in front of it, for the class's tests."""

    PER_TEST = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.front = H2Front(cls.mock.port)
        except BaseException:
            cls.mock.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.front.stop()
        super().tearDownClass()


class UpstreamHTTP2(H2FrontCase):

    @classmethod
    def start_chatd(cls, **override):
        # one worker: one curl multi handle, so every stream can share one connection
        env = {"CHATD_MODEL": "echo", "CHATD_UPSTREAM_CA_FILE": cls.front.cert,
               "CHATD_RESUME_GRACE_MS": "0", "CHATD_WORKERS": "1"}
        env.update(override)
        return Chatd(cls.front.url, env)

    def setUp(self):
        super().setUp()
        open(self.front.log, "w").close()  # nginx appends: each test reads its own lines

    def open_stream(self, text, model):
        c = self.client()
        r = c.request("POST", "/api/chat", chat_body(text, model))
        r.read_head()
        self.assertEqual(r.status, 200)
        return c, r

    def test_stream_over_http2_byte_exact(self):
        for model in ("split-1", "crlf+split-3", "tok-2"):
            r = self.chat(TEXT, model=model)
            self.assertDone(r, TEXT, clusters.CASES["mixed"])
        lines = self.front.wait_lines(3)
        self.assertEqual([ln[0] for ln in lines], ["HTTP/2.0"] * 3, lines)

    def test_concurrent_streams_share_one_connection(self):
        n = 40
        opened = [self.open_stream("stream %d 日本 👩‍💻" % i, "slow-10") for i in range(n)]
        for i, (c, r) in enumerate(opened):
            r.read_to_end()
            text = "stream %d 日本 👩‍💻" % i
            self.assertDone(r, text, clusters.segment(text))
        lines = self.front.wait_lines(n)
        self.assertEqual(len(lines), n)
        self.assertTrue(all(ln[0] == "HTTP/2.0" for ln in lines), lines)
        conns = {ln[1] for ln in lines}
        self.assertEqual(len(conns), 1, "40 streams on %d connections" % len(conns))

    def test_cancel_resets_only_its_stream(self):
        long_text = "x" * 300
        c1, r1 = self.open_stream(long_text, "slow-20")
        c2, r2 = self.open_stream("the other one", "slow-20")
        self.assertTrue(r1.read_until(lambda x: len(x.deltas()) >= 3))
        sid = r1.header("X-Chatd-Stream-Id")
        t0 = time.monotonic()
        cr = self.client().request("POST", "/api/streams/%s/cancel" % sid, b"", None,
                                   content_type=None)
        cr.read_head()
        self.assertEqual(cr.status, 202)
        ok, info = self.mock.wait_closed(1, 2.0)
        self.assertTrue(ok, info)
        rec = [q for q in info["requests"] if q["closed_by_peer"]][0]
        self.assertLess(rec["closed_at"] - t0, 0.2, "the upstream stream was reset %.3f s after"
                        % (rec["closed_at"] - t0))
        r1.read_to_end()
        self.assertEqual(r1.terminal[0].json["finish_reason"], "cancelled")
        r2.read_to_end()
        self.assertDone(r2, "the other one")
        conns = {ln[1] for ln in self.front.wait_lines(2)}
        self.assertEqual(len(conns), 1, "both on one connection: only the stream was reset")

    def test_vanished_client_stops_its_upstream_stream(self):
        c, r = self.open_stream("y" * 300, "slow-20")
        self.assertTrue(r.read_until(lambda x: len(x.deltas()) >= 3))
        t0 = time.monotonic()
        c.abort()
        ok, info = self.mock.wait_closed(1, 2.0)
        self.assertTrue(ok, info)
        rec = [q for q in info["requests"] if q["closed_by_peer"]][0]
        self.assertLess(rec["closed_at"] - t0, 0.5)
        self.assertDone(self.chat("after", model="echo"), "after")


class UpstreamHTTP2Map(H2FrontCase):
    """"http2" and "ca_file" per upstream in the model map; h2c where libcurl cannot reuse
    its connections, and bad values, refused at start."""

    def setUp(self):
        self.clients = []
        self.mock.reset()
        self.tmp = tempfile.TemporaryDirectory(prefix="chatd-h2map-")
        self.addCleanup(self.tmp.cleanup)

    def tearDown(self):
        for c in self.clients:
            c.close()

    def config(self, upstreams, models):
        path = os.path.join(self.tmp.name, "chatd.json")
        with open(path, "w") as f:
            json.dump({"upstreams": upstreams, "models": models}, f)
        return path

    def test_map_entries_http2_on_and_off(self):
        # Two origins (an address and a name for it): libcurl shares a connection between
        # transfers to one origin whatever HTTP version each asked for.
        h1_url = self.front.url.replace("127.0.0.1", "localhost")
        path = self.config(
            [{"name": "h2", "provider": "openai", "url": self.front.url, "http2": "on",
              "ca_file": self.front.cert},
             {"name": "h1", "provider": "openai", "url": h1_url, "http2": "off",
              "ca_file": self.front.cert}],
            [{"name": "one", "upstream": "h1", "model": "split-1"},
             {"name": "*", "upstream": "h2"}])
        self.chatd = Chatd(self.mock.url, {}, args=["--config", path])
        try:
            self.assertDone(self.chat(TEXT, model="split-1"), TEXT)
            self.assertDone(self.chat(TEXT, model="one"), TEXT)
        finally:
            self.chatd.stop()
        self.assertEqual([ln[0] for ln in self.front.wait_lines(2)], ["HTTP/2.0", "HTTP/1.1"])

    def test_h2c_needs_a_libcurl_that_reuses_its_connections(self):
        url = "http://127.0.0.1:%d/v1" % free_port()
        e = clean_env()
        e.update({"CHATD_LISTEN": "127.0.0.1:0", "CHATD_PROVIDER": "openai",
                  "CHATD_UPSTREAM_URL": url, "CHATD_UPSTREAM_HTTP2": "on"})
        p = subprocess.Popen([chatd_bin()], env=e, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, cwd=self.tmp.name, preexec_fn=_pdeathsig)
        if libcurl_version() >= (8, 0, 0):
            line = p.stderr.readline().decode()
            while line and "listening on" not in line:
                line = p.stderr.readline().decode()
            _kill(p)
            self.assertIn("listening on", line)
            return
        err = p.communicate(timeout=20)[1].decode().strip().splitlines()[-1]
        self.assertEqual(p.returncode, 2, err)
        self.assertRegex(err, r"^chatd: config: upstream: http2 \"on\" over http:// \(h2c\) "
                         r"needs libcurl 8\.0\.0 or later, this is 7\.\d+\.\d+ ")

    def test_bad_values_exit_2(self):
        path = self.config(
            [{"name": "h2", "provider": "openai", "url": self.front.url, "http2": "sometimes"}],
            [{"name": "*", "upstream": "h2"}])
        path2 = os.path.join(self.tmp.name, "ca.json")
        with open(path2, "w") as f:
            json.dump({"upstreams": [{"name": "h2", "provider": "openai", "url": self.front.url,
                                      "ca_file": "/nonexistent/ca.pem"}],
                       "models": [{"name": "*", "upstream": "h2"}]}, f)
        for args, env, word in ((["--config", path], {}, "http2"),
                                ([], {"CHATD_UPSTREAM_HTTP2": "maybe"}, "http2"),
                                (["--config", path2], {}, "ca_file"),
                                ([], {"CHATD_UPSTREAM_CA_FILE": "/nonexistent/ca.pem"}, "ca_file")):
            e = clean_env()
            e.update({"CHATD_LISTEN": "127.0.0.1:0", "CHATD_PROVIDER": "openai",
                      "CHATD_UPSTREAM_URL": self.front.url})
            e.update(env)
            p = subprocess.run([chatd_bin()] + args, env=e, capture_output=True, timeout=20,
                               cwd=self.tmp.name)
            self.assertEqual(p.returncode, 2, p.stderr)
            err = p.stderr.decode().strip().splitlines()[-1]  # after the configuration
            self.assertRegex(err, r"(?i)^chatd: config: .*%s" % word)
