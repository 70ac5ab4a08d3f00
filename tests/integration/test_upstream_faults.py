"""Upstream failures. Before the first upstream byte chatd answers with an HTTP status and
a JSON error (502 upstream_error keeping the upstream's status, 504 upstream_timeout);
after the stream started it ends with an error event of the right type, the text sent so
far intact. chatd also drops the upstream connection it gave up on."""

import socket
import time

import clusters
from chatd_harness import ChatdTestCase, Chatd, Client, free_port

CL = clusters.CASES["mixed"]
TEXT = clusters.text_of(CL)
TIMEOUTS = {"CHATD_UPSTREAM_FIRST_BYTE_TIMEOUT_MS": 500,
            "CHATD_UPSTREAM_IDLE_TIMEOUT_MS": 500,
            "CHATD_UPSTREAM_CONNECT_TIMEOUT_MS": 500}


class FaultsBeforeTheStream(ChatdTestCase):
    CHATD_ENV = TIMEOUTS

    def upstream_status(self, status):
        r = self.chat(TEXT, model="status-%d" % status)
        err = self.assertJSONError(r, 502, "upstream_error")
        self.assertTrue(err.get("status") == status or str(status) in err["message"],
                        "the upstream's status %d is kept: %r" % (status, err))
        self.assertHealthy()
        return err

    def test_upstream_401_is_502_without_the_key(self):
        err = self.upstream_status(401)
        self.assertNotIn("***", err["message"])

    def test_upstream_400_quoting_the_key_is_502_without_the_key(self):
        self.upstream_status(400)

    def test_upstream_429_is_502(self):
        self.upstream_status(429)

    def test_upstream_500_is_502(self):
        self.upstream_status(500)

    def test_upstream_503_is_502(self):
        self.upstream_status(503)

    def test_no_first_byte_is_504_after_the_first_byte_timeout(self):
        t0 = time.monotonic()
        r = self.chat(TEXT, model="stall-first")
        took = time.monotonic() - t0
        self.assertJSONError(r, 504, "upstream_timeout")
        self.assertGreaterEqual(took, 0.45, "answered before the 500 ms timeout")
        self.assertLess(took, 3.0, "the 500 ms first-byte timeout took %.2f s" % took)
        ok, info = self.mock.wait_closed(1, 1.0)
        self.assertTrue(ok, "chatd did not close the stalled upstream connection")
        self.assertHealthy()

    def via_other_upstream(self, url):
        """Starts a second chatd with the given upstream URL, sends one request, returns
        (response, seconds taken)."""
        other = Chatd(url, TIMEOUTS)
        try:
            c = Client(other.port)
            self.clients.append(c)
            t0 = time.monotonic()
            r = self.post(b'{"messages":[{"role":"user","content":"hi"}],"model":"echo"}',
                          client=c)
            took = time.monotonic() - t0
            self.assertNoSecret(other.stderr(), "chatd's stderr")
            return r, took
        finally:
            other.stop()

    def test_upstream_refusing_connections_is_502(self):
        r, _ = self.via_other_upstream("http://127.0.0.1:%d/v1" % free_port())
        self.assertJSONError(r, 502, "upstream_error")

    def test_upstream_connect_timeout_is_504(self):
        # A listener with a full accept queue: the kernel drops further SYNs, so the
        # connect hangs until chatd's 500 ms connect timeout.
        lst = socket.socket()
        self.addCleanup(lst.close)
        lst.bind(("127.0.0.1", 0))
        lst.listen(0)
        filler = socket.create_connection(lst.getsockname())
        self.addCleanup(filler.close)
        r, took = self.via_other_upstream("http://127.0.0.1:%d/v1" % lst.getsockname()[1])
        self.assertJSONError(r, 504, "upstream_timeout")
        self.assertGreaterEqual(took, 0.45, "answered before the 500 ms connect timeout")
        self.assertLess(took, 3.0, "the 500 ms connect timeout took %.2f s" % took)

    def test_idle_timeout_is_not_a_total_timeout(self):
        # 20 tokens 100 ms apart: 2 s in all, never 500 ms of silence.
        text = "abcdefghijklmnopqrst"
        r = self.chat(text, model="slow-100")
        self.assertDone(r, text, list(text), model="slow-100")


class FaultsMidStream(ChatdTestCase):
    CHATD_ENV = TIMEOUTS

    def ended_with(self, model, etype):
        r = self.chat(TEXT, model=model)
        err = self.assertErrorEvent(r, etype, text_prefix=TEXT)
        got = r.deltas()
        self.assertIn(got, (CL, CL[:-1]),
                      "every cluster the upstream completed before the fault is delivered")
        self.assertHealthy()
        return r, err

    def test_stall_mid_stream_is_error_upstream_timeout(self):
        r, _ = self.ended_with("stall-mid", "upstream_timeout")
        # The upstream sends everything at once, then nothing: the error comes one idle
        # timeout (500 ms) after the start.
        took = r.events[-1].t - r.events[0].t
        self.assertGreaterEqual(took, 0.45, "the idle timeout is 500 ms")
        self.assertLess(took, 3.0, "the 500 ms idle timeout took %.2f s" % took)
        ok, _ = self.mock.wait_closed(1, 1.0)
        self.assertTrue(ok, "chatd did not close the silent upstream connection")

    def test_reset_mid_stream_is_error_upstream_error(self):
        self.ended_with("reset-mid", "upstream_error")

    def test_clean_close_without_finish_is_error_upstream_error(self):
        self.ended_with("close-mid", "upstream_error")

    def test_eof_inside_chunked_body_is_error_upstream_error(self):
        self.ended_with("eof-mid", "upstream_error")

    def test_error_object_mid_stream_is_error_upstream_error(self):
        _, err = self.ended_with("error-mid", "upstream_error")
        self.assertNoSecret(err["message"], "the error event")

    def test_unparseable_data_line_is_error_upstream_error(self):
        self.ended_with("badjson", "upstream_error")

    def test_faults_in_one_byte_reads(self):
        self.ended_with("reset-mid+split-1", "upstream_error")

    def test_invalid_utf8_from_upstream_never_reaches_the_client(self):
        # The upstream sends the text, then a content string holding the raw byte 0xFF,
        # then "ok". chatd may end with an error or go on (dropping or replacing the
        # byte), but every delta stays valid UTF-8 and one whole cluster.
        r = self.chat(TEXT, model="badutf8")
        _, _, term = self.assertStreamFrame(r)  # includes: no broken UTF-8 on the wire
        got = r.text()
        self.assertEqual(r.deltas(), clusters.segment(got), "one cluster per delta")
        if term.event == "done":
            self.assertIn(got, (TEXT + "ok", TEXT + "\ufffdok"))
        else:
            self.assertEqual(term.json["error"]["type"], "upstream_error")
            self.assertIn(r.deltas(), (CL, CL[:-1]))
        self.assertHealthy()
