#!/usr/bin/env python3
"""A mock of two more upstream formats for chatd's integration tests: Anthropic's Messages
API (POST /v1/messages, an event stream of typed events) and Ollama's native chat API
(POST /api/chat, newline-delimited JSON). Both on one port on 127.0.0.1, printed as the
first stdout line: "PORT 12345".

The scenario is chosen by the request's "model", as in mock_upstream.py: a main scenario
optionally joined with modifiers by "+", e.g. "echo", "split-3", "thinking+tok-2".
Every scenario streams the text of the last user message byte for byte, so a test picks
the text and checks what chatd re-emits.

Main scenarios (both formats unless said otherwise)
  echo        the text in tokens of 1, 2, 3, 4, 1, ... code points, then a normal end
              (Anthropic: stop_reason end_turn; Ollama: done_reason "stop"), with usage
              (Anthropic: ANTHROPIC_INPUT_TOKENS / ANTHROPIC_OUTPUT_TOKENS; Ollama:
              OLLAMA_PROMPT_EVAL_COUNT / OLLAMA_EVAL_COUNT)
  thinking    THINKING_TEXT as thinking (Anthropic: a thinking block with thinking_delta
              and signature_delta; Ollama: message.thinking), then the text
  length      like echo, ending for the token limit (stop_reason max_tokens /
              done_reason "length")
  error-mid   the text, then an error (Anthropic: "event: error" with an overloaded_error;
              Ollama: a {"error": "..."} line), then the body ends
  nostop      the text, then the body ends without any end marker
  badjson     the text, then an event / line that is not JSON
  status-NNN  HTTP status NNN with the provider's own error body
  stall-first read the request, send nothing
  slow[-MS]   one code point per token, one token every MS (default 50) ms

Tool-call scenarios (the calls of mock_upstream.TOOL_CALLS: the same names and arguments;
Anthropic ids ANTHROPIC_TOOL_IDS, Ollama ids OLLAMA_TOOL_IDS). With "stream" not true in
the request they answer one message (Anthropic) / one object (Ollama) instead.
  tools           Anthropic: message_start, ping, a text block (index 0), then two tool_use
                  blocks (indexes 1 and 2), each content_block_start with input {}, an
                  input_json_delta with partial_json "", the argument fragments with pings
                  between, content_block_stop; message_delta with stop_reason "tool_use"
                  and usage, message_stop.
                  Ollama: the text, then one line whose message.tool_calls holds both calls
                  whole (id, function.index, function.name, function.arguments as an
                  object), then done with done_reason "stop" and the counts
  tools-only      no text (Anthropic: the tool_use blocks at indexes 0 and 1)
  tools-thinking  (Anthropic) a thinking block (0), the text (1), the tool_use blocks (2, 3)
  tools-noargs    Anthropic: the text, then one tool_use block of NOARGS_TOOL whose only
                  delta is partial_json ""; Ollama: the call with arguments {}
  tools-lines     (Ollama) one line per call, without id or index (as older servers send)

Modifiers
  split-N     the body written in N-byte pieces (one HTTP chunk each), cutting UTF-8
              sequences, JSON and lines; one code point per token
  tok-N       N code points per token
  crlf        (Anthropic) event lines end with CRLF
  escaped     JSON with \\uXXXX escapes for everything outside ASCII (surrogate pairs
              for astral characters)
  extras      (Anthropic) ping events, an event type the API may add later and an empty
              text delta between the tokens, all of which a client must ignore

Control endpoints (the same as mock_upstream.py)
  GET  /_mock/requests                       JSON list of the recorded requests
  GET  /_mock/wait-closed?n=K&timeout=S      200 once K recorded responses were cut by the
                                             peer closing the connection, else 408
  GET  /_mock/wait-requests?n=K&timeout=S    200 once K requests arrived, else 408
  POST /_mock/reset                          forget the recorded requests

GET /v1/models (Anthropic) and GET /api/tags (Ollama) answer readiness probes; they are
not recorded.
"""

import json
import re
import time
from urllib.parse import parse_qs, urlsplit

from mock_upstream import REG, TOOL_CALLS, MockHandler, PeerClosed, serve, tokens_of

ANTHROPIC_INPUT_TOKENS = 31
ANTHROPIC_OUTPUT_TOKENS = 47
OLLAMA_PROMPT_EVAL_COUNT = 13
OLLAMA_EVAL_COUNT = 19
THINKING_TEXT = "Hmm\u2026 2+2=4 \u2234 \U0001F914 \u00e9t\u00e9"
ANTHROPIC_ERROR_MID = "Overloaded"
OLLAMA_ERROR_MID = "model runner has unexpectedly stopped"
STALL_HOLD_S = 60.0
SPLIT_PAUSE_S = 0.0003
ANTHROPIC_TOOL_IDS = ["toolu_01WeatherMock", "toolu_02TimeMock"]
OLLAMA_TOOL_IDS = ["call_ollama0", "call_ollama1"]
NOARGS_TOOL = {"id": "toolu_03NoArgsMock", "name": "get_status"}
TOOL_SCENARIOS = {"anthropic": ("tools", "tools-only", "tools-thinking", "tools-noargs"),
                  "ollama": ("tools", "tools-only", "tools-noargs", "tools-lines")}




def parse_scenario(model):
    sc = {"main": "echo", "split": 0, "tok": None, "crlf": False, "escaped": False,
          "extras": False, "param": None}
    for part in (model or "echo").split("+"):
        m = re.fullmatch(r"([a-z-]+?)(?:-(\d+))?", part)
        if not m:
            sc["main"] = part
            continue
        name, p1 = m.group(1), m.group(2)
        if name == "split" and p1:
            sc["split"] = int(p1)
            sc["tok"] = sc["tok"] or 1
        elif name == "tok" and p1:
            sc["tok"] = int(p1)
        elif name in ("crlf", "escaped", "extras"):
            sc[name] = True
        else:
            sc["main"] = name
            sc["param"] = int(p1) if p1 else None
    return sc


def content_text(content):
    """A message's text: a string, or the text blocks of a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content
                       if isinstance(b, dict) and b.get("type") == "text")
    return ""


def last_user_text(body):
    for m in reversed(body.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "user":
            return content_text(m.get("content"))
    return ""


class Handler(MockHandler):
    server_version = "mock-providers/1"

    # ---- plumbing -------------------------------------------------------------------

    def start_body(self, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        REG.update(self.rec, phase="streaming", headers_sent_at=time.monotonic())
        self.carry = b""

    def emit(self, data):
        n = self.sc["split"]
        if not n:
            self.chunk(data)
            return
        self.carry += data
        while len(self.carry) >= n:
            piece, self.carry = self.carry[:n], self.carry[n:]
            self.chunk(piece)
            time.sleep(SPLIT_PAUSE_S)


    def dumps(self, obj):
        return json.dumps(obj, ensure_ascii=self.sc["escaped"], separators=(",", ":"))

    def pause_between(self, i, n):
        """For slow scenarios: waits between tokens, noticing at once when chatd leaves."""
        if self.sc["main"] != "slow" or i + 1 >= n:
            return
        self.flush_carry()
        ms = self.sc["param"] if self.sc["param"] is not None else 50
        if self.peer_closed_within(ms / 1000.0):
            raise PeerClosed()

    def text_tokens(self, text):
        tok = self.sc["tok"] or (1 if self.sc["main"] == "slow" else None)
        return tokens_of(text, tok)

    def stall(self):
        REG.update(self.rec, phase="stalled")
        if self.peer_closed_within(STALL_HOLD_S):
            raise PeerClosed()
        self.close_connection = True

    # ---- Anthropic ------------------------------------------------------------------

    def a_event(self, name, obj):
        eol = "\r\n" if self.sc["crlf"] else "\n"
        data = obj if isinstance(obj, str) else self.dumps(obj)
        self.emit(("event: %s%sdata: %s%s%s" % (name, eol, data, eol, eol)).encode("utf-8"))

    def a_status(self, status):
        kinds = {400: "invalid_request_error", 401: "authentication_error",
                 403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}
        kind = kinds.get(status, "api_error")
        msg = {401: "invalid x-api-key", 529: "Overloaded",
               429: "Number of request tokens has exceeded your per-minute rate limit"}.get(
                   status, "mock error %d" % status)
        extra = [("request-id", "req_mock%d" % self.rec["id"])]
        if status in (429, 529):
            extra.append(("retry-after", "2"))
        self.send_json(status, {"type": "error", "error": {"type": kind, "message": msg}},
                       extra)
        REG.update(self.rec, completed=True, ended_at=time.monotonic())

    def a_text_block(self, index, text):
        sc = self.sc
        self.a_event("content_block_start", {"type": "content_block_start", "index": index,
                                             "content_block": {"type": "text", "text": ""}})
        toks = self.text_tokens(text)
        for i, t in enumerate(toks):
            self.a_event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                 "delta": {"type": "text_delta", "text": t}})
            if sc["extras"]:
                self.a_event("ping", {"type": "ping"})
                self.a_event("content_block_delta",
                             {"type": "content_block_delta", "index": index,
                              "delta": {"type": "text_delta", "text": ""}})
                self.a_event("future_event", {"type": "future_event", "detail": {"x": 1}})
            self.pause_between(i, len(toks))
        self.a_event("content_block_stop", {"type": "content_block_stop", "index": index})

    def a_thinking_block(self, index):
        self.a_event("content_block_start", {"type": "content_block_start", "index": index,
                                             "content_block": {"type": "thinking",
                                                               "thinking": ""}})
        for t in tokens_of(THINKING_TEXT, self.sc["tok"]):
            self.a_event("content_block_delta", {
                "type": "content_block_delta", "index": index,
                "delta": {"type": "thinking_delta", "thinking": t}})
        self.a_event("content_block_delta", {
            "type": "content_block_delta", "index": index,
            "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA"}})
        self.a_event("content_block_stop", {"type": "content_block_stop", "index": index})

    def a_tool_block(self, index, tool_id, name, fragments):
        self.a_event("content_block_start", {"type": "content_block_start", "index": index,
                                             "content_block": {"type": "tool_use", "id": tool_id,
                                                               "name": name, "input": {}}})
        for k, f in enumerate([""] + fragments):
            self.a_event("content_block_delta", {
                "type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": f}})
            if k % 2:
                self.a_event("ping", {"type": "ping"})
        self.a_event("content_block_stop", {"type": "content_block_stop", "index": index})

    def a_tools_blocks(self, main, text):
        """The content blocks of a tools-* scenario, as [(kind, fields)], in order."""
        blocks = []
        if main == "tools-thinking":
            blocks.append(("thinking", {}))
        if main != "tools-only":
            blocks.append(("text", {"text": text}))
        if main == "tools-noargs":
            blocks.append(("tool_use", dict(NOARGS_TOOL, fragments=[])))
        else:
            for tid, c in zip(ANTHROPIC_TOOL_IDS, TOOL_CALLS):
                blocks.append(("tool_use", {"id": tid, "name": c["name"],
                                            "fragments": c["fragments"]}))
        return blocks

    def a_message(self, blocks, stop):
        content = []
        for kind, f in blocks:
            if kind == "thinking":
                content.append({"type": "thinking", "thinking": THINKING_TEXT,
                                "signature": "EqQBCgIYAhIM1gbcDa9GJwZA"})
            elif kind == "text":
                content.append({"type": "text", "text": f["text"]})
            else:
                args = "".join(f["fragments"])
                content.append({"type": "tool_use", "id": f["id"], "name": f["name"],
                                "input": json.loads(args) if args else {}})
        self.send_json(200, {
            "id": "msg_mock%d" % self.rec["id"], "type": "message", "role": "assistant",
            "model": self.model, "content": content, "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": ANTHROPIC_INPUT_TOKENS,
                      "output_tokens": ANTHROPIC_OUTPUT_TOKENS}})
        REG.update(self.rec, completed=True, ended_at=time.monotonic())

    def a_tools(self, body, text):
        main = self.sc["main"]
        if main not in TOOL_SCENARIOS["anthropic"]:
            return self.a_status(400)
        blocks = self.a_tools_blocks(main, text)
        if body.get("stream") is not True:
            return self.a_message(blocks, "tool_use")
        self.start_body("text/event-stream; charset=utf-8")
        self.a_message_start()
        for index, (kind, f) in enumerate(blocks):
            if kind == "thinking":
                self.a_thinking_block(index)
            elif kind == "text":
                self.a_text_block(index, f["text"])
            else:
                self.a_tool_block(index, f["id"], f["name"], f["fragments"])
        self.a_event("message_delta", {"type": "message_delta",
                                       "delta": {"stop_reason": "tool_use",
                                                 "stop_sequence": None},
                                       "usage": {"output_tokens": ANTHROPIC_OUTPUT_TOKENS}})
        self.a_event("message_stop", {"type": "message_stop"})
        self.end_body()

    def a_message_start(self):
        self.a_event("message_start", {"type": "message_start", "message": {
            "id": "msg_mock%d" % self.rec["id"], "type": "message", "role": "assistant",
            "model": self.model, "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": ANTHROPIC_INPUT_TOKENS, "output_tokens": 1}}})
        self.a_event("ping", {"type": "ping"})

    def anthropic(self, body):
        sc, text = self.sc, last_user_text(body)
        main = sc["main"]
        if main.startswith("tools"):
            return self.a_tools(body, text)
        if main == "status":
            return self.a_status(sc["param"] or 500)
        if main == "stall-first":
            return self.stall()
        self.start_body("text/event-stream; charset=utf-8")
        self.a_message_start()
        index = 0
        if main == "thinking":
            self.a_thinking_block(0)
            index = 1
        if main == "error-mid":
            self.a_text_block(index, text)
            self.a_event("error", {"type": "error", "error": {"type": "overloaded_error",
                                                              "message": ANTHROPIC_ERROR_MID}})
            return self.end_body()
        if main == "badjson":
            self.a_text_block(index, text)
            self.a_event("content_block_delta", '{"type":"content_block_delta","index":0,"del')
            self.a_event("message_stop", {"type": "message_stop"})
            return self.end_body()
        self.a_text_block(index, text)
        if main == "nostop":
            return self.end_body()
        stop = "max_tokens" if main == "length" else "end_turn"
        self.a_event("message_delta", {"type": "message_delta",
                                       "delta": {"stop_reason": stop, "stop_sequence": None},
                                       "usage": {"output_tokens": ANTHROPIC_OUTPUT_TOKENS}})
        self.a_event("message_stop", {"type": "message_stop"})
        self.end_body()

    # ---- Ollama ---------------------------------------------------------------------

    def o_line(self, obj):
        data = obj if isinstance(obj, str) else self.dumps(obj)
        self.emit((data + "\n").encode("utf-8"))

    def o_chunk(self, content=None, thinking=None):
        msg = {"role": "assistant", "content": content or ""}
        if thinking is not None:
            msg["thinking"] = thinking
        return {"model": self.model, "created_at": "2024-06-01T12:00:00.000000Z",
                "message": msg, "done": False}

    def o_status(self, status):
        msg = {404: "model \"%s\" not found, try pulling it first" % self.model}.get(
            status, "mock error %d" % status)
        self.send_json(status, {"error": msg})
        REG.update(self.rec, completed=True, ended_at=time.monotonic())

    def o_text(self, text):
        toks = self.text_tokens(text)
        for i, t in enumerate(toks):
            self.o_line(self.o_chunk(t))
            self.pause_between(i, len(toks))

    def o_tool_calls(self, main):
        """The message.tool_calls of a tools-* scenario, arguments as objects."""
        if main == "tools-noargs":
            return [{"id": OLLAMA_TOOL_IDS[0],
                     "function": {"index": 0, "name": NOARGS_TOOL["name"], "arguments": {}}}]
        calls = []
        for i, (cid, c) in enumerate(zip(OLLAMA_TOOL_IDS, TOOL_CALLS)):
            fn = {"index": i, "name": c["name"], "arguments": json.loads(c["arguments"])}
            call = {"id": cid, "function": fn}
            if main == "tools-lines":
                del call["id"], fn["index"]
            calls.append(call)
        return calls

    def o_final(self, reason):
        final = self.o_chunk("")
        final.update({"done": True, "done_reason": reason,
                      "total_duration": 5191566416, "load_duration": 2154458,
                      "prompt_eval_count": OLLAMA_PROMPT_EVAL_COUNT,
                      "prompt_eval_duration": 383809000, "eval_count": OLLAMA_EVAL_COUNT,
                      "eval_duration": 4799921000})
        return final

    def o_tools(self, body, text):
        main = self.sc["main"]
        if main not in TOOL_SCENARIOS["ollama"]:
            return self.o_status(400)
        calls = self.o_tool_calls(main)
        if main == "tools-only":
            text = ""
        if body.get("stream") is False:  # Ollama streams unless told not to
            final = self.o_final("stop")
            final["message"] = {"role": "assistant", "content": text, "tool_calls": calls}
            self.send_json(200, final)
            REG.update(self.rec, completed=True, ended_at=time.monotonic())
            return
        self.start_body("application/x-ndjson")
        self.o_text(text)
        groups = [[c] for c in calls] if main == "tools-lines" else [calls]
        for g in groups:
            line = self.o_chunk("")
            line["message"]["tool_calls"] = g
            self.o_line(line)
        self.o_line(self.o_final("stop"))
        self.end_body()

    def ollama(self, body):
        sc, text = self.sc, last_user_text(body)
        main = sc["main"]
        if main.startswith("tools"):
            return self.o_tools(body, text)
        if main == "status":
            return self.o_status(sc["param"] or 500)
        if main == "stall-first":
            return self.stall()
        self.start_body("application/x-ndjson")
        if main == "thinking":
            for t in tokens_of(THINKING_TEXT, sc["tok"]):
                self.o_line(self.o_chunk("", thinking=t))
        self.o_text(text)
        if main == "error-mid":
            self.o_line({"error": OLLAMA_ERROR_MID})
            return self.end_body()
        if main == "badjson":
            self.o_line('{"model":"x","message":{"role":"assistant","content":"y"')
            return self.end_body()
        if main == "nostop":
            return self.end_body()
        self.o_line(self.o_final("length" if main == "length" else "stop"))
        self.end_body()

    # ---- HTTP methods ---------------------------------------------------------------

    def do_POST(self):
        path = urlsplit(self.path).path
        if path == "/_mock/reset":
            self.read_body()
            REG.reset()
            return self.send_json(200, {"ok": True})
        raw = self.read_body()
        rec = {
            "conn_id": self.conn_id, "method": "POST", "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": raw.decode("utf-8", "replace"), "body_json": None, "model": None,
            "t_start": time.monotonic(), "phase": "request", "sent_bytes": 0,
            "completed": False, "closed_by_peer": False, "closed_at": None,
        }
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        rec["body_json"] = body
        self.rec = rec
        REG.add(rec)
        if path not in ("/v1/messages", "/api/chat"):
            return self.send_json(404, {"error": "unknown path " + path})
        if not isinstance(body, dict):
            return self.send_json(400, {"error": "invalid JSON body"})
        self.model = body.get("model") if isinstance(body.get("model"), str) else ""
        rec["model"] = self.model
        self.sc = parse_scenario(self.model)
        try:
            if path == "/v1/messages":
                self.anthropic(body)
            else:
                self.ollama(body)
        except (PeerClosed, BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.mark_closed()

    def do_GET(self):
        u = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        if self.serve_registry(u.path, q):
            return
        if u.path == "/v1/models":
            return self.send_json(200, {"data": [{"type": "model", "id": "echo",
                                                  "display_name": "Echo"}],
                                        "has_more": False, "first_id": "echo",
                                        "last_id": "echo"})
        if u.path == "/api/tags":
            return self.send_json(200, {"models": [{"name": "echo:latest", "model": "echo:latest",
                                                    "size": 1}]})
        self.send_json(404, {"error": "unknown path " + u.path})


if __name__ == "__main__":
    serve(Handler)
