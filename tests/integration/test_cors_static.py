"""CORS (off by default; an allow-list answers preflights and marks responses) and the
static web UI from CHATD_WEB_ROOT: MIME types, ETag / 304, security headers, index.html,
no directory listing, nothing outside the root reachable (.., encoded forms, dot-files,
symlinks, NUL)."""

import json
import os
import tempfile

from chatd_harness import ChatdTestCase, chat_body

ORIGIN = "http://a.test"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
SECRET = "TOP-SECRET-OUTSIDE-THE-ROOT-3f9a1c"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18"
       b"\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
FILES = {
    "index.html": b"<!doctype html><title>chatd test ui</title>\n",
    "app.js": b"console.log('app');\n",
    "style.css": b"body { color: #123; }\n",
    "logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\n',
    "img.png": PNG,
    "data.json": b'{"ok":true}\n',
    "sub/page.html": b"<p>sub page</p>\n",
    "sub/.hidden2": b"hidden in sub " + SECRET.encode() + b"\n",
    ".hidden": b"dot file " + SECRET.encode() + b"\n",
    ".well/x.txt": b"in a dot dir " + SECRET.encode() + b"\n",
}
MIME = {
    "index.html": "text/html", "app.js": ("text/javascript", "application/javascript"),
    "style.css": "text/css", "logo.svg": "image/svg+xml", "img.png": "image/png",
    "data.json": "application/json",
}


def origin(o=ORIGIN):
    return [("Origin", o)]


class CorsOff(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo"}

    def test_no_cors_headers_by_default(self):
        r = self.chat("hi", headers=origin())
        self.assertDone(r, "hi")
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))
        r = self.get("/healthz", headers=origin())
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))

    def test_preflight_is_not_granted(self):
        c = self.client()
        r = c.request("OPTIONS", "/api/chat", b"", origin() + [
            ("Access-Control-Request-Method", "POST")], content_type=None)
        r.read_head()
        r.read_to_end()
        self.assertNotIn(r.status, (200, 204), "a preflight succeeded with CORS off")
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))
        self.assertIsNone(r.header("Access-Control-Allow-Methods"))


class CorsOn(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_CORS_ORIGINS": ORIGIN}

    def preflight(self, path="/api/chat", o=ORIGIN, method="POST",
                  headers="content-type, authorization"):
        c = self.client()
        hs = [("Origin", o), ("Access-Control-Request-Method", method)]
        if headers:
            hs.append(("Access-Control-Request-Headers", headers))
        r = c.request("OPTIONS", path, b"", hs, content_type=None)
        r.read_head()
        r.read_to_end()
        return r

    def test_preflight_from_the_allowed_origin(self):
        for path in ("/api/chat", "/v1/chat/completions", "/api/streams/" + "0" * 24):
            with self.subTest(path=path):
                r = self.preflight(path)
                self.assertEqual(r.status, 204, bytes(r.body[:200]))
                self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN)
                methods = [m.strip().upper() for m in
                           (r.header("Access-Control-Allow-Methods") or "").split(",")]
                self.assertIn("POST", methods)
                self.assertIn("GET", methods)
                allowed = [h.strip().lower() for h in
                           (r.header("Access-Control-Allow-Headers") or "").split(",")]
                for h in ("content-type", "authorization", "last-event-id"):
                    self.assertIn(h, allowed)
                self.assertIn("origin", (r.header("Vary") or "").lower())

    def test_preflight_from_another_origin_is_403(self):
        for o in ("http://b.test", "http://a.test.evil", "https://a.test", "http://a.tes",
                  "null", "http://a.test:8080"):
            with self.subTest(origin=o):
                r = self.preflight(o=o)
                self.assertJSONError(r, 403, "forbidden")
                self.assertIsNone(r.header("Access-Control-Allow-Origin"))

    def test_actual_request_from_the_allowed_origin(self):
        r = self.chat("cors", headers=origin())
        self.assertDone(r, "cors")
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN)
        self.assertIn("origin", (r.header("Vary") or "").lower())
        exposed = (r.header("Access-Control-Expose-Headers") or "").lower()
        self.assertIn("x-chatd-stream-id", exposed)

    def test_error_responses_from_the_allowed_origin_carry_cors(self):
        r = self.post(b"{bad", headers=origin())
        self.assertJSONError(r, 400, "invalid_request")
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN)

    def test_actual_request_from_another_origin_gets_no_allow_origin(self):
        r = self.post(chat_body("x", "echo"), headers=origin("http://b.test"))
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))
        self.assertNotEqual(r.header("Access-Control-Allow-Origin"), "*")


class CorsAny(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_CORS_ORIGINS": "*"}

    def test_star_admits_any_origin(self):
        c = self.client()
        r = c.request("OPTIONS", "/api/chat", b"", [("Origin", "http://z.test"),
                                                    ("Access-Control-Request-Method", "POST")],
                      content_type=None)
        r.read_head()
        r.read_to_end()
        self.assertEqual(r.status, 204)
        self.assertIn(r.header("Access-Control-Allow-Origin"), ("*", "http://z.test"))


class StaticFiles(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo"}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="chatd-static-")
        cls.addClassCleanup(cls.tmp.cleanup)
        base = cls.tmp.name
        root = os.path.join(base, "root")
        cls.root = root
        for name, data in FILES.items():
            path = os.path.join(root, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        os.makedirs(os.path.join(root, "emptydir"))
        with open(os.path.join(base, "secret.txt"), "w") as f:
            f.write(SECRET + "\n")
        os.makedirs(os.path.join(base, "root-evil"))
        with open(os.path.join(base, "root-evil", "secret.txt"), "w") as f:
            f.write(SECRET + " sibling\n")
        os.symlink(os.path.join(base, "secret.txt"), os.path.join(root, "link_out"))
        os.symlink("../secret.txt", os.path.join(root, "link_rel_out.html"))
        os.symlink("../root-evil/secret.txt", os.path.join(root, "link_sibling.txt"))
        os.symlink(base, os.path.join(root, "linkdir_out"))
        os.symlink("index.html", os.path.join(root, "link_in.html"))
        cls.CHATD_ENV = dict(cls.CHATD_ENV, CHATD_WEB_ROOT=root)
        super().setUpClass()


    def assertNoSecret_(self, r, path):
        self.assertNotIn(SECRET.encode(), bytes(r.body), "%s leaked a file outside the "
                                                         "root or a dot-file" % path)

    def assertRefused(self, path):
        r = self.get(path)
        self.assertIn(r.status, (400, 404), "%s -> %d %r" % (path, r.status, bytes(r.body[:100])))
        self.assertJSONError(r, r.status, "not_found" if r.status == 404 else "invalid_request")
        self.assertNoSecret_(r, path)
        return r

    def test_mime_types_and_contents(self):
        for name, want in MIME.items():
            with self.subTest(name=name):
                r = self.get("/" + name)
                self.assertEqual(r.status, 200)
                ct = (r.header("Content-Type") or "").split(";")[0].strip().lower()
                self.assertIn(ct, want if isinstance(want, tuple) else (want,))
                self.assertEqual(bytes(r.body), FILES[name])

    def test_security_headers_on_files(self):
        for name in ("index.html", "app.js", "img.png"):
            with self.subTest(name=name):
                r = self.get("/" + name)
                self.assertEqual(r.header("Content-Security-Policy"), CSP)
                self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
                self.assertEqual(r.header("Referrer-Policy"), "no-referrer")
                self.assertEqual(r.header("Cache-Control"), "no-cache")

    def test_etag_and_if_none_match(self):
        r = self.get("/app.js")
        etag = r.header("ETag")
        self.assertTrue(etag and etag.startswith('"') and etag.endswith('"'), etag)
        r304 = self.get("/app.js", headers=[("If-None-Match", etag)])
        self.assertEqual(r304.status, 304)
        self.assertEqual(bytes(r304.body), b"")
        self.assertEqual(r304.header("ETag"), etag)
        other = self.get("/app.js", headers=[("If-None-Match", '"not-it"')])
        self.assertEqual(other.status, 200)
        self.assertEqual(bytes(other.body), FILES["app.js"])
        self.assertNotEqual(self.get("/style.css").header("ETag"), etag)

    def test_etag_changes_with_the_file(self):
        path = os.path.join(self.root, "data.json")
        before = self.get("/data.json").header("ETag")

        def write(data):
            with open(path, "wb") as f:
                f.write(data)

        write(b'{"ok":true,"changed":1}\n')
        self.addCleanup(write, FILES["data.json"])
        r = self.get("/data.json", headers=[("If-None-Match", before)])
        self.assertEqual(r.status, 200, "a stale ETag must not get 304")
        self.assertNotEqual(r.header("ETag"), before)

    def test_root_serves_index_html(self):
        r = self.get("/")
        self.assertEqual(r.status, 200)
        self.assertEqual(bytes(r.body), FILES["index.html"])
        self.assertEqual((r.header("Content-Type") or "").split(";")[0], "text/html")
        self.assertEqual(r.header("Content-Security-Policy"), CSP)

    def test_query_string_is_ignored(self):
        r = self.get("/app.js?v=123")
        self.assertEqual(r.status, 200)
        self.assertEqual(bytes(r.body), FILES["app.js"])

    def test_subdirectory_file(self):
        self.assertEqual(bytes(self.get("/sub/page.html").body), FILES["sub/page.html"])

    def test_no_directory_listing(self):
        for path in ("/sub", "/sub/", "/emptydir", "/emptydir/"):
            with self.subTest(path=path):
                r = self.assertRefused(path)
                self.assertNotIn(b"page.html", bytes(r.body))

    def test_unknown_file_404(self):
        self.assertRefused("/nope.html")

    def test_dot_files_are_not_served(self):
        for path in ("/.hidden", "/%2ehidden", "/%2Ehidden", "/.well/x.txt", "/sub/.hidden2",
                     "/sub/%2ehidden2", "/./index.html", "/sub/./page.html"):
            with self.subTest(path=path):
                self.assertRefused(path)

    def test_traversal_never_leaves_the_root(self):
        paths = [
            "/../secret.txt", "/../../secret.txt", "/sub/../../secret.txt",
            "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/%2e./secret.txt", "/.%2e/secret.txt",
            "/sub/%2e%2e/%2e%2e/secret.txt", "/%2F../secret.txt", "/%2f%2e%2e%2fsecret.txt",
            "/..%2Fsecret.txt", "/sub%2F..%2F..%2Fsecret.txt", "/sub/..%2f..%2fsecret.txt",
            "/..%5Csecret.txt", "/..\\secret.txt", "/%5C..%5Csecret.txt",
            "/%252e%252e/secret.txt", "/..;/secret.txt", "/.../secret.txt",
            "/%c0%ae%c0%ae/secret.txt", "/%e0%80%ae%e0%80%ae/secret.txt",
            "/root-evil/secret.txt", "/../root-evil/secret.txt",
            "/link_out", "/link_rel_out.html", "/link_sibling.txt", "/linkdir_out/secret.txt",
            "//secret.txt",
            "/index.html%00", "/index.html%00.png", "/%00", "/%00/../secret.txt",
            "/secret.txt", "/etc/passwd", "/../../../../../../../../etc/passwd",
        ]
        for path in paths:
            with self.subTest(path=path):
                r = self.assertRefused(path)
                self.assertNotIn(b"root:", bytes(r.body))
        self.assertHealthy()

    def test_symlink_inside_the_root_is_served(self):
        r = self.get("/link_in.html")
        self.assertEqual(r.status, 200)
        self.assertEqual(bytes(r.body), FILES["index.html"])

    def test_other_methods_are_405(self):
        for method in ("POST", "PUT", "DELETE"):
            with self.subTest(method=method):
                c = self.client()
                r = c.request(method, "/index.html", b"{}")
                r.read_head()
                r.read_to_end()
                self.assertJSONError(r, 405, "method_not_allowed")
                self.assertIn("GET", r.header("Allow") or "")

    def test_api_json_errors_are_not_static_pages(self):
        r = self.get("/api/nope")
        self.assertJSONError(r, 404, "not_found")
        self.assertIsNotNone(json.loads(bytes(r.body)))
