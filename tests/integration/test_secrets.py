"""The upstream key: sent to the upstream as Authorization: Bearer <key> and nowhere else;
never in a response, an error or chatd's stderr. Client keys (CHATD_API_KEYS): 401
unauthorized without a valid one, and never forwarded upstream."""

import json

from chatd_harness import ChatdTestCase, UPSTREAM_KEY, chat_body

CLIENT_KEYS = ("client-key-1", "client-key-2")


class UpstreamKey(ChatdTestCase):
    CHATD_ENV = {"CHATD_UPSTREAM_FIRST_BYTE_TIMEOUT_MS": 500,
                 "CHATD_UPSTREAM_IDLE_TIMEOUT_MS": 500}

    def test_upstream_gets_bearer_key_and_nothing_else_carries_it(self):
        r = self.chat("hello")
        self.assertDone(r, "hello")
        recs = self.mock.chat_requests()
        self.assertEqual(len(recs), 1)
        self.upstream_auth_ok(recs[0])

    def test_key_never_in_responses_or_stderr(self):
        bodies = []
        for model in ("echo", "status-401", "status-400", "status-500", "error-mid",
                      "stall-first", "stall-mid", "reset-mid", "badjson"):
            r = self.chat("probe", model=model)
            self.assertIn(r.status, (200, 502, 504), model)
            bodies.append((model, bytes(r.body), r.headers))
        bodies.append(("healthz", bytes(self.get("/healthz").body), []))
        for model, body, headers in bodies:
            self.assertNoSecret(body, "the response to " + model)
            self.assertNoSecret(json.dumps(headers), "the headers of " + model)
        for rec in self.mock.chat_requests():
            self.upstream_auth_ok(rec)
        self.assertNoSecret(self.chatd.stderr(), "chatd's stderr")


class ClientKeys(ChatdTestCase):
    CHATD_ENV = {"CHATD_API_KEYS": ",".join(CLIENT_KEYS)}

    def unauthorized(self, headers):
        r = self.post(chat_body("hi", "echo"), headers=headers)
        self.assertJSONError(r, 401, "unauthorized")
        self.assertEqual(self.mock.chat_requests(), [], "an unauthorized request went upstream")
        for k in CLIENT_KEYS:
            self.assertNotIn(k, r.body.decode("utf-8", "replace"))
        self.assertHealthy()

    def test_no_authorization_is_401(self):
        self.unauthorized([])

    def test_wrong_key_is_401(self):
        self.unauthorized([("Authorization", "Bearer client-key-3")])

    def test_key_prefix_is_401(self):
        self.unauthorized([("Authorization", "Bearer client-key-")])

    def test_key_with_extra_is_401(self):
        self.unauthorized([("Authorization", "Bearer client-key-1x")])

    def test_whole_list_as_key_is_401(self):
        self.unauthorized([("Authorization", "Bearer " + ",".join(CLIENT_KEYS))])

    def test_basic_scheme_is_401(self):
        self.unauthorized([("Authorization", "Basic Y2xpZW50LWtleS0xOg==")])

    def test_each_listed_key_works_and_is_not_forwarded(self):
        for k in CLIENT_KEYS:
            self.mock.reset()
            r = self.post(chat_body("ok " + k, "echo"), headers=[("Authorization", "Bearer " + k)])
            self.assertDone(r, "ok " + k)
            recs = self.mock.chat_requests()
            self.assertEqual(len(recs), 1)
            self.upstream_auth_ok(recs[0])
            hs = json.dumps(recs[0]["headers"])
            self.assertNotIn(k, hs, "the client key was forwarded upstream")
        self.assertNotIn(UPSTREAM_KEY, self.chatd.stderr())
        for k in CLIENT_KEYS:
            self.assertNotIn(k, self.chatd.stderr(), "a client key was logged")
