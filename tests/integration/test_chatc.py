"""chatc, the terminal client, against chatd and the mock upstream: exact text on a pipe,
--json parsed back, prompts from stdin, a connection cut mid-answer resumed byte-exact,
Ctrl-C cancelling upstream, each exit code, --resume, reasoning and tool calls, and the
interactive mode driven through tmux and read off its screen."""

import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time

import mock_upstream
from chatd_harness import ChatdTestCase, chat_body, clean_env

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHATC = os.path.abspath(os.environ.get("CHATC_BIN", os.path.join(ROOT, "build", "chatc")))

MIXED = "日本語の文 👩‍💻 🇯🇵 👍🏽 e\u0301 café ❤️\n中文 ok"


class CutProxy:
    """A TCP proxy in front of chatd that cuts its first connection after `cut` bytes of
    the response (both directions closed), and passes later ones whole. It records the
    request head of each connection."""

    def __init__(self, port, cut):
        self.target = port
        self.cut = cut
        self.heads = []
        self.conns = 0
        self.lock = threading.Lock()
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            with self.lock:
                first = self.conns == 0
                self.conns += 1
            threading.Thread(target=self._serve, args=(c, first), daemon=True).start()

    def _serve(self, c, first):
        u = socket.create_connection(("127.0.0.1", self.target))
        head = b""
        sent = 0
        try:
            while True:
                r, _, _ = select.select([c, u], [], [], 30)
                if not r:
                    return
                if c in r:
                    d = c.recv(65536)
                    if not d:
                        return
                    if b"\r\n\r\n" not in head:
                        head += d
                        if b"\r\n\r\n" in head:
                            with self.lock:
                                self.heads.append(head.split(b"\r\n\r\n")[0].decode("latin-1"))
                    u.sendall(d)
                if u in r:
                    d = u.recv(65536)
                    if not d:
                        return
                    if first and sent + len(d) >= self.cut:
                        c.sendall(d[:self.cut - sent])
                        return  # the cut: both sockets close below
                    sent += len(d)
                    c.sendall(d)
        except OSError:
            return
        finally:
            c.close()
            u.close()

    def close(self):
        self.stop = True
        self.ls.close()


class Chatc(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_PACE": "off"}

    def url(self, port=None):
        return "http://127.0.0.1:%d" % (port or self.chatd.port)

    def run_chatc(self, *args, stdin=b"", env=None, timeout=30, url=None):
        e = clean_env()
        e["CHATD_URL"] = url or self.url()
        e.update(env or {})
        p = subprocess.run([CHATC] + list(args), input=stdin, capture_output=True, env=e,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")

    # -- text, json, prompts --

    def test_exact_text_on_a_pipe_whatever_the_upstream_split(self):
        for model in ("echo", "split-1", "crlf+split-3", "escaped+tok-2"):
            rc, out, err = self.run_chatc("-m", model, MIXED)
            self.assertEqual(rc, 0, err)
            self.assertEqual(out.decode("utf-8"), MIXED, model)
            self.assertNotIn(b"\x1b", out, "no escape codes into a pipe")

    def test_json_one_object_per_event(self):
        rc, out, err = self.run_chatc("--json", "-m", "split-1", MIXED)
        self.assertEqual(rc, 0, err)
        lines = out.decode("utf-8").splitlines()
        evs = [json.loads(ln) for ln in lines]
        self.assertEqual([e["id"] for e in evs], list(range(len(evs))))
        self.assertEqual(evs[0]["event"], "start")
        self.assertRegex(evs[0]["data"]["stream_id"], r"^[0-9a-f]+$")
        self.assertEqual(evs[-1]["event"], "done")
        self.assertEqual(evs[-1]["data"]["finish_reason"], "stop")
        deltas = [e["data"]["text"] for e in evs if e["event"] == "delta"]
        self.assertEqual("".join(deltas), MIXED)
        self.assertIn("👩‍💻", deltas, "a ZWJ sequence is one event")

    def test_prompt_from_stdin_follows_the_arguments(self):
        diff = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new ✓\n"
        rc, out, err = self.run_chatc("review this", stdin=diff.encode())
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.decode(), "review this\n\n" + diff)
        rc, out, err = self.run_chatc(stdin="only stdin".encode())
        self.assertEqual((rc, out.decode()), (0, "only stdin"))

    def test_model_and_system_reach_the_upstream(self):
        rc, out, err = self.run_chatc("-m", "echo+tok-2", "-s", "Be brief.", "hello")
        self.assertEqual(rc, 0, err)
        body = self.mock.chat_requests()[-1]["body_json"]
        self.assertEqual(body["model"], "echo+tok-2")
        self.assertEqual(body["messages"][0], {"role": "system", "content": "Be brief."})
        self.assertEqual(body["messages"][-1], {"role": "user", "content": "hello"})

    def test_reasoning_on_stderr_only_when_asked(self):
        rc, out, err = self.run_chatc("-m", "reasoning", "the answer")
        self.assertEqual((rc, out.decode()), (0, "the answer"))
        self.assertNotIn(mock_upstream.REASONING_TEXT, err)
        rc, out, err = self.run_chatc("--reasoning", "-m", "reasoning", "the answer")
        self.assertEqual((rc, out.decode()), (0, "the answer"))
        self.assertIn(mock_upstream.REASONING_TEXT, err)
        self.assertNotIn("\x1b", err, "stderr is not a terminal: no escape codes")

    def test_tool_calls_printed_as_such(self):
        rc, out, err = self.run_chatc("-m", "tools-only", "weather?")
        self.assertEqual(rc, 0, err)
        text = out.decode("utf-8")
        for call in mock_upstream.TOOL_CALLS:
            line = "[tool_call %s id=%s] %s" % (call["name"], call["id"], "".join(call["fragments"]))
            self.assertIn(line + "\n", text)

    # -- resuming --

    def test_connection_cut_mid_answer_is_resumed_byte_exact(self):
        text = "".join(chr(0x4E00 + i % 300) if i % 4 else "👩‍💻" for i in range(600))
        proxy = CutProxy(self.chatd.port, cut=3000)
        try:
            rc, out, err = self.run_chatc("-m", "slow-2", text, url=self.url(proxy.port))
        finally:
            proxy.close()
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.decode("utf-8"), text, "nothing lost, nothing repeated")
        self.assertEqual(len(proxy.heads), 2, proxy.heads)
        self.assertTrue(proxy.heads[0].startswith("POST /api/chat "))
        second = proxy.heads[1]
        self.assertRegex(second, r"^GET /api/streams/[0-9a-f]+ HTTP/1.1")
        self.assertRegex(second, r"(?im)^Last-Event-ID: [1-9][0-9]*$")
        self.assertEqual(len(self.mock.chat_requests()), 1, "one upstream request")

    def test_resume_a_stream_by_id_from_the_start_or_after_an_id(self):
        r = self.chat(MIXED, model="split-1")
        start, _ = self.assertDone(r, MIXED)
        sid = start.json["stream_id"]
        rc, out, err = self.run_chatc("--resume", sid)
        self.assertEqual((rc, out.decode("utf-8")), (0, MIXED), err)
        rc, out, err = self.run_chatc("--resume", sid, "--after", "5")
        deltas = r.deltas()
        self.assertEqual((rc, out.decode("utf-8")), (0, "".join(deltas[5:])), err)
        # after the terminal event: chatd answers 204, nothing more will come
        rc, out, err = self.run_chatc("--resume", sid, "--after", r.events[-1].id)
        self.assertEqual((rc, out, err), (0, b"", ""))

    # -- Ctrl-C --

    def test_ctrl_c_cancels_upstream_within_200ms_and_exits_130(self):
        e = clean_env()
        e["CHATD_URL"] = self.url()
        p = subprocess.Popen([CHATC, "-m", "slow-20", "x" * 400], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=e)
        try:
            got = b""
            deadline = time.monotonic() + 10
            while len(got) < 5 and time.monotonic() < deadline:
                r, _, _ = select.select([p.stdout], [], [], deadline - time.monotonic())
                if r:
                    got += os.read(p.stdout.fileno(), 100)
            self.assertGreaterEqual(len(got), 5, "the answer arrives as it comes, on a pipe")
            t0 = time.monotonic()
            p.send_signal(signal.SIGINT)
            rc = p.wait(10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(rc, 130)
        ok, info = self.mock.wait_closed(1, 2.0)
        self.assertTrue(ok, info)
        rec = self.mock.chat_requests()[-1]
        self.assertLess(rec["closed_at"] - t0, 0.2, "upstream closed %.3f s after Ctrl-C"
                        % (rec["closed_at"] - t0))
        log = "".join(self.chatd.stderr_lines[self._err_mark:])
        self.assertRegex(log, r'"path":"/api/streams/[0-9a-f]+/cancel","status":202')

    # -- exit codes --

    def test_exit_codes(self):
        rc, out, err = self.run_chatc("-m", "error-mid", "some text")
        self.assertEqual(rc, 1)
        self.assertEqual(out.decode(), "some text", "the text before the error")
        self.assertRegex(err, r"^chatc: upstream_error: .+\n$")
        rc, out, err = self.run_chatc("-m", "status-500", "x")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^chatc: upstream_error: .*\(HTTP 502\)\n$")
        rc, out, err = self.run_chatc("--bogus")
        self.assertEqual(rc, 2)
        self.assertIn("unknown option --bogus", err)
        rc, out, err = self.run_chatc("--resume", "abc", "a prompt")
        self.assertEqual(rc, 2)
        rc, out, err = self.run_chatc("--help")
        self.assertEqual(rc, 0)
        for part in ("SYNOPSIS", "OPTIONS", "EXIT STATUS", "CHATD_CLIENT_KEY", "--resume"):
            self.assertIn(part, out.decode())
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]  # bound, not listening: refused
            rc, out, err = self.run_chatc("x", url="http://127.0.0.1:%d" % dead)
        self.assertEqual(rc, 3)
        self.assertRegex(err, r"^chatc: cannot reach chatd at http://127\.0\.0\.1:\d+: .+\n$")
        rc, out, err = self.run_chatc("--resume", "0123456789abcdef01234567")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^chatc: not_found: .*\(HTTP 404\)\n$")


class ChatcClientKey(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_PACE": "off", "CHATD_API_KEYS": "k-one,k-two"}

    def test_client_key_from_the_environment(self):
        e = clean_env()
        e["CHATD_URL"] = "http://127.0.0.1:%d" % self.chatd.port
        p = subprocess.run([CHATC, "hi"], capture_output=True, env=e, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr.decode(), r"^chatc: unauthorized: .*\(HTTP 401\)\n$")
        e["CHATD_CLIENT_KEY"] = "k-two"
        p = subprocess.run([CHATC, "hi"], capture_output=True, env=e, timeout=30)
        self.assertEqual((p.returncode, p.stdout), (0, b"hi"), p.stderr)


class ChatcInteractive(ChatdTestCase):
    """chatc -i in a real terminal (tmux), read off the screen."""

    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_PACE": "off"}

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.TemporaryDirectory(prefix="chatc-tmux-")
        self.sock = os.path.join(self.tmp.name, "tmux.sock")
        self.addCleanup(self.tmp.cleanup)
        self.addCleanup(lambda: subprocess.run(["tmux", "-S", self.sock, "kill-server"],
                                               capture_output=True))

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), capture_output=True,
                              text=True, timeout=10)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "t").stdout

    def wait_screen(self, pred, what, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.05)  # polling the screen for a condition, bounded by the deadline
        self.fail("the screen never showed %s:\n%s" % (what, self.screen()))

    def test_conversation_ctrl_c_stops_an_answer_ctrl_d_leaves(self):
        # Ctrl-C goes to the terminal's whole foreground group: the shell that reports
        # chatc's status must outlive it.
        cmd = "trap '' INT; CHATD_URL=%s %s -i -m slow-30 -s 'Be brief.'; echo EXIT=$?; sleep 60" % (
            "http://127.0.0.1:%d" % self.chatd.port, CHATC)
        r = self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "100", "-y", "30",
                      "env", "-i", "PATH=/usr/bin:/bin", "TERM=xterm", "sh", "-c", cmd)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_screen(lambda s: s.rstrip().endswith(">"), "the prompt")
        self.tmux("send-keys", "-t", "t", "-l", "first 日本 👩‍💻")
        self.tmux("send-keys", "-t", "t", "Enter")
        self.wait_screen(lambda s: s.count("first 日本 👩‍💻") >= 2 and s.rstrip().endswith(">"),
                         "the first answer and a new prompt")
        # a second turn carries the history; Ctrl-C stops its answer
        self.tmux("send-keys", "-t", "t", "-l", "second question that is long enough to stop")
        self.tmux("send-keys", "-t", "t", "Enter")
        ok, info = self.mock.wait_requests(2, 5.0)
        self.assertTrue(ok, info)
        self.wait_screen(lambda s: s.count("second q") >= 2, "the second answer beginning")
        t0 = time.monotonic()
        self.tmux("send-keys", "-t", "t", "C-c")
        s = self.wait_screen(lambda s: "chatc: stopped" in s, "the answer stopped")
        ok, info = self.mock.wait_closed(1, 2.0)
        self.assertTrue(ok, info)
        rec = self.mock.chat_requests()[1]
        self.assertLess(rec["closed_at"] - t0, 0.5)
        self.assertNotIn("EXIT=", s, "Ctrl-C during an answer does not leave")
        msgs = rec["body_json"]["messages"]
        self.assertEqual([m["role"] for m in msgs], ["system", "user", "assistant", "user"])
        self.assertEqual(msgs[2]["content"], "first 日本 👩‍💻")
        # Ctrl-D at the prompt leaves with status 0
        self.wait_screen(lambda s: s.rstrip().endswith(">"), "the prompt after the stop")
        self.tmux("send-keys", "-t", "t", "C-d")
        self.wait_screen(lambda s: "EXIT=0" in s, "chatc leaving with status 0")
