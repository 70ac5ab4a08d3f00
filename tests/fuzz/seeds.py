#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets into tests/fuzz/corpus/<target>/seed-*.

Seeds are real-format inputs (OpenAI and Anthropic event streams, Ollama NDJSON, chat
request bodies, error bodies, emoji / CJK / combining text, invalid UTF-8) wrapped in each
target's input layout (see fuzz.h and the head comment of each target). Only seed-* files
are written; other files in the corpus (reproducers of past failures) are left alone.
Run it again after changing a layout: python3 tests/fuzz/seeds.py
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# The feed plans of fuzz.h: byte 0 = plan length | (target bits << 3), then the lengths.
PLANS = {
    "whole": bytes([0]),
    "bytewise": bytes([1, 1]),
    "mixed": bytes([3, 7, 1, 13]),
    "empties": bytes([4, 0, 2, 0, 5]),
}


def planned(target, name, payload, plans=("whole", "bytewise", "mixed")):
    for p in plans:
        write(target, f"{name}-{p}", PLANS[p] + payload)


def stopping(target, name, payload, at):
    """The same payload with the callback stopping at call `at` (byte 0's high bits)."""
    write(target, f"{name}-stop{at}", bytes([2 | (at << 3), 5, 1]) + payload)


def sse(*events):
    out = b""
    for ev in events:
        out += ev.encode() if isinstance(ev, str) else ev
        out += b"\n\n"
    return out


def oai_chunk(delta, finish=None, usage=None):
    c = {"id": "chatcmpl-9x", "object": "chat.completion.chunk", "created": 1700000000,
         "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        c["choices"] = []
        c["usage"] = usage
    return "data: " + json.dumps(c, ensure_ascii=False, separators=(",", ":"))


OPENAI = sse(
    oai_chunk({"role": "assistant", "content": ""}),
    oai_chunk({"content": "Hel"}),
    oai_chunk({"content": "lo 👩\u200d"}),
    oai_chunk({"content": "💻 漢字 e\u0301"}),
    oai_chunk({}, "stop"),
    oai_chunk({}, usage={"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}),
    "data: [DONE]",
)

OPENAI_REASONING = sse(
    oai_chunk({"role": "assistant", "reasoning_content": "Let me think"}),
    oai_chunk({"reasoning": " about it."}),
    oai_chunk({"content": "Answer: 42", "reasoning_content": "!"}),
    oai_chunk({}, "length"),
    "data: [DONE]",
)

# Two parallel tool calls as OpenAI streams them: text first, then per index the start (id,
# type, name, arguments "") and fragments, interleaved by index; one chunk with text too.
OPENAI_TOOLS = sse(
    oai_chunk({"role": "assistant", "content": None}),
    oai_chunk({"content": "Checking 🌦"}),
    oai_chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                               "function": {"name": "get_weather", "arguments": ""}}]}),
    oai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":\"Z"}}]}),
    oai_chunk({"content": " and", "tool_calls": [{"index": 1, "id": "call_b", "type": "function",
               "function": {"name": "now", "arguments": "{}"}}]}),
    oai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "ürich 👩‍💻\"}"}}]}),
    oai_chunk({"tool_calls": [{"index": 1, "function": {"arguments": ""}}]}),
    oai_chunk({}, "tool_calls"),
    oai_chunk({}, usage={"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39}),
    "data: [DONE]",
)

OPENAI_ERROR = sse(
    oai_chunk({"content": "partial"}),
    'data: {"error":{"message":"The server had an error\\nwhile processing","type":"server_error","code":null}}',
)

OPENAI_ERROR_EVENT = sse(
    oai_chunk({"content": "x"}),
    'event: error\ndata: {"message":"rate limited","code":"rate_limit_exceeded"}',
)

# CRLF line ends, a BOM, comments, id and retry fields, data on two lines, no final blank line.
SSE_ODDITIES = (b"\xef\xbb\xbf: keep-alive\r\nretry: 1500\r\nid: 7\r\n"
                + oai_chunk({"content": "a"}).encode() + b"\r\n\r\n"
                + b"data: {\"choices\":[{\"delta\":\r\ndata: {\"content\":\"b\"}}]}\r\r"
                + b"event: ping\ndata: {}\n\n"
                + b"id\nretry: 12x\n:comment\n"
                + oai_chunk({"content": "c"}, "stop").encode())


def ant(etype, obj):
    obj = dict(obj, type=etype)
    return f"event: {etype}\ndata: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


ANTHROPIC = sse(
    ant("message_start", {"message": {"id": "msg_1", "role": "assistant", "model": "claude",
                                      "usage": {"input_tokens": 25, "output_tokens": 1}}}),
    ant("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
    ant("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm…"}}),
    ant("content_block_delta", {"index": 0, "delta": {"type": "signature_delta", "signature": "abc"}}),
    ant("content_block_stop", {"index": 0}),
    ant("content_block_start", {"index": 1, "content_block": {"type": "text", "text": "Bon"}}),
    "event: ping\ndata: {\"type\": \"ping\"}",
    ant("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "jour 🇫🇷 👍🏽"}}),
    ant("content_block_stop", {"index": 1}),
    ant("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 15}}),
    ant("message_stop", {}),
)

ANTHROPIC_ERROR = sse(
    ant("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "par"}}),
    'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
)


# Tool calls as Anthropic streams them: a text block, then two tool_use blocks (content
# blocks 1 and 2, tool calls 0 and 1) whose input_json_delta fragments start with "" and
# carry non-ASCII text, a ping between; a call without arguments (no fragment at all), text
# after the calls, stop_reason "tool_use".
def tool_start(i, tid, name):
    return ant("content_block_start", {"index": i, "content_block": {
        "type": "tool_use", "id": tid, "name": name, "input": {}}})


def tool_args(i, frag):
    return ant("content_block_delta", {"index": i, "delta": {"type": "input_json_delta",
                                                             "partial_json": frag}})


ANTHROPIC_TOOLS = sse(
    ant("message_start", {"message": {"id": "msg_2", "role": "assistant", "model": "claude",
                                      "usage": {"input_tokens": 472, "output_tokens": 2}}}),
    ant("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
    ant("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Checking 🌦"}}),
    ant("content_block_stop", {"index": 0}),
    tool_start(1, "toolu_01A09q90qw90lq917835lq9", "get_weather"),
    tool_args(1, ""),
    "event: ping\ndata: {\"type\": \"ping\"}",
    tool_args(1, "{\"city\": \"Z"),
    tool_args(1, "\u00fcrich 👩\u200d💻\"}"),
    ant("content_block_stop", {"index": 1}),
    tool_start(2, "toolu_01B", "now"),
    ant("content_block_stop", {"index": 2}),
    ant("content_block_start", {"index": 3, "content_block": {"type": "text", "text": "Done"}}),
    ant("content_block_stop", {"index": 3}),
    ant("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 89}}),
    ant("message_stop", {}),
)


def ndjson(*objs):
    return b"".join(json.dumps(o, ensure_ascii=False).encode() + b"\n" for o in objs)


OLLAMA = ndjson(
    {"model": "llama3.2", "created_at": "2024-01-01T00:00:00Z",
     "message": {"role": "assistant", "content": "", "thinking": "Thinking…"}, "done": False},
    {"model": "llama3.2", "message": {"role": "assistant", "content": "Привет, "}, "done": False},
    {"model": "llama3.2", "message": {"role": "assistant", "content": "世界 🌍"}, "done": False},
    {"model": "llama3.2", "message": {"role": "assistant", "content": ""}, "done": True,
     "done_reason": "stop", "prompt_eval_count": 26, "eval_count": 298},
)

# Ollama sends each tool call whole: text, then two calls in one line (one with its own id),
# a third in a line of its own, a call without arguments, done_reason "stop".
OLLAMA_TOOLS = ndjson(
    {"model": "qwen3", "message": {"role": "assistant", "content": "Checking 🌦",
                                   "thinking": "two cities"}, "done": False},
    {"model": "qwen3", "message": {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_x1", "function": {"index": 0, "name": "get_weather",
                                       "arguments": {"city": "Paris", "days": [1, 2.5]}}},
        {"function": {"index": 1, "name": "get_weather", "arguments": {"city": "Zürich"}}}]},
     "done": False},
    {"model": "qwen3", "message": {"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "now", "arguments": {}}}]}, "done": False},
    {"model": "qwen3", "message": {"role": "assistant", "content": ""}, "done": True,
     "done_reason": "stop", "prompt_eval_count": 122, "eval_count": 33},
)

OLLAMA_CRLF_ERROR = (b'{"message":{"role":"assistant","content":"a"},"done":false}\r\n'
                     b"   \r\n\n"
                     b'{"error":"model \\"x\\" not found, try pulling it first"}')

ERROR_BODIES = {
    "err-openai": b'{"error":{"message":"Incorrect API key provided: sk-abc.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}',
    "err-fastapi": b'{"detail":[{"loc":["body","messages"],"msg":"field required","type":"value_error.missing"}]}',
    "err-anthropic": b'{"type":"error","error":{"type":"not_found_error","message":"model: claude-x"}}',
    "err-ollama": b'{"error":"model \\"llama9\\" not found"}',
    "err-html": b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\t\tnginx</body></html>",
    "err-utf8": "{\"message\":\"Fehler: Überlastung — bitte später 🙏\"}".encode(),
    "err-invalid-utf8": b'{"error":"bad \xc3\x28 byte \xe2\x82"}',
}

TEXTS = {
    "ascii": b"Hello, world!\r\nSecond line.\n",
    "emoji-zwj": "👩‍👩‍👧‍👦 👨🏿‍🚀 🏳️‍🌈 ❤️‍🔥".encode(),
    "flags": "🇯🇵🇺🇸🇪🇺🇦".encode(),
    "skin-tone": "👍🏽👋🏻".encode(),
    "combining": "e\u0301 n\u0303 a\u0308\u0304 Z\u0351\u0364\u036b".encode(),
    "hangul": "\u1100\u1161\u11a8 한국어".encode(),
    "indic": "नमस्ते க்ஷ".encode(),
    "cjk": "漢字かなカナ、。".encode(),
    "thai": "ภาษาไทย".encode(),
    "invalid": b"a\xc0\x80b\xed\xa0\x80c\xf4\x90\x80\x80d\xe2\x82e\xff\xfe\x80f\xf0\x9f\x98",
    "nul-ctl": b"x\x00y\x7f\x1b[0m\t",
    "long-marks": b"a" + "\u0301".encode() * 600 + b"b",
}


def req_body(obj):
    return json.dumps(obj, ensure_ascii=False).encode()


REQS = {
    "simple": req_body({"messages": [{"role": "user", "content": "Hi"}]}),
    "full": req_body({"messages": [{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": "Show me some emoji 👩‍💻"},
                                   {"role": "assistant", "content": "漢字 e\u0301"}],
                      "model": "gpt-4o-mini", "temperature": 0.7, "max_tokens": 256,
                      "stream": True, "stream_options": {"include_usage": True}}),
    "parts": req_body({"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}),
    "nulls": req_body({"messages": [{"role": "user", "content": "x"}], "model": None,
                       "temperature": None, "max_tokens": None, "stream": None}),
    "escapes": b'{"messages":[{"role":"user","content":"\\ud83d\\ude00 \\u00e9 \\u0000 \\n\\t\\"\\\\"}]}',
    "bad-surrogate": b'{"messages":[{"role":"user","content":"\\ud83d x"}]}',
    "invalid-utf8": b'{"messages":[{"role":"user","content":"\xc3\x28"}]}',
    "trailing": b'{"messages":[{"role":"user","content":"Hi"}]} x',
    "bad-range": req_body({"messages": [{"role": "user", "content": "x"}], "temperature": 2.5,
                           "max_tokens": 1.5}),
    "bad-role": req_body({"messages": [{"role": "tool", "content": "x"}]}),
    "many": req_body({"messages": [{"role": "user", "content": str(i)} for i in range(5)]}),
    "deep": b"[" * 200 + b"]" * 200,
    "deep-64": b'{"messages":' + b"[" * 63 + b"]" * 63 + b"}",
    "strict-json": b'{"messages":[{"role":"user","content":"a\tb"}],"max_tokens":01,"temperature":1.}',
    "raw-control": b'{"messages":[{"role":"user","content":"a\x01b"}]}',
    "nul-escape": b'{"messages":[{"role":"user","content":"a\\u0000b"}]}',
    "numbers": b'{"messages":[{"role":"user","content":"x"}],"temperature":-0.0e+0,"max_tokens":1E3}',
    "bom-space": b'\xef\xbb\xbf {"messages":[{"role":"user","content":"x"}]} \r\n',
    "tools-whole": req_body({
        "model": "gpt-4o", "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "system", "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]},
            {"role": "user", "content": [
                {"type": "text", "text": "What is this? 👩‍💻"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                {"type": "file", "file": {"file_id": "file-1", "filename": "a.pdf"}}]},
            {"role": "assistant", "content": None, "reasoning_content": "hm", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Zürich\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "21"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": True, "response_format": {"type": "json_object"},
        "stop": ["END"], "seed": 7, "top_p": 0.5, "frequency_penalty": 1, "presence_penalty": -1,
        "logit_bias": {"1": 2}, "user": "u", "metadata": {"a": "b"},
        "max_completion_tokens": 50, "n": 1, "stream": True, "x-unknown": [1]}),
    "tools-bad-call": req_body({"messages": [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": {}}}]}]}),
    "tool-no-id": req_body({"messages": [{"role": "tool", "content": "x"}]}),
    "parts-bad": req_body({"messages": [{"role": "system", "content": [
        {"type": "image_url", "image_url": {"url": "http://x"}}]}]}),
}


# fuzz_xlat: request bodies, OpenAI's (each provider builds them) and Anthropic's (anth_in
# translates them); from the translation tables of the unit tests.
USER_HI = {"role": "user", "content": "Hi"}
XLAT = {
    "oai-tools-whole": REQS["tools-whole"],
    "oai-parts": REQS["parts"],
    "oai-roles": req_body({"messages": [
        {"role": "system", "content": "A"}, {"role": "user", "content": "u1"},
        {"role": "developer", "content": [{"type": "text", "text": "B"}]},
        {"role": "assistant", "content": "A", "refusal": None},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
        {"role": "user", "content": ""}]}),
    "oai-images": req_body({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "DATA:image/jpeg;BASE64,/9j/", "detail": "auto"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp"}}]}]}),
    "oai-tool-round": req_body({"messages": [
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {"role": "assistant", "content": None, "reasoning_content": "Two cities.", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}},
            {"id": "call_3", "function": {"name": "add", "arguments": {"x": 1}}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
        {"role": "user", "content": "Thanks"}]}),
    "oai-tools-choice": req_body({"messages": [USER_HI], "tools": [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                          "parameters": {"type": "object", "properties": {
                                              "city": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "now"}}],
        "tool_choice": {"type": "function", "function": {"name": "now"}},
        "parallel_tool_calls": False}),
    "oai-params": req_body({"messages": [USER_HI], "temperature": 0, "top_p": 0.9, "top_k": 40,
                            "min_p": 0.05, "max_tokens": 10, "max_completion_tokens": 20,
                            "stop": ["a", "", "\n\n"], "seed": 42, "presence_penalty": 0,
                            "frequency_penalty": 0.5, "user": "u-42", "n": 1, "logprobs": False,
                            "logit_bias": {}, "modalities": ["text"], "keep_alive": "10m"}),
    "oai-formats": req_body({"messages": [USER_HI], "response_format": {
        "type": "json_schema", "json_schema": {"name": "p", "schema": {
            "type": "object", "properties": {"age": {"type": "integer"}}}}}}),
    "oai-effort": req_body({"messages": [USER_HI], "reasoning_effort": "high",
                            "max_completion_tokens": 10000}),
    "oai-refused": req_body({"messages": [USER_HI], "n": 2, "logit_bias": {"50256": -100},
                             "prediction": {"type": "content", "content": "x"}, "frobnicate": 1}),
    "oai-dup-keys": b'{"model":"a","messages":[{"role":"user","content":"x"}],"stream":false,'
                    b'"model":"b","stream_options":{"include_usage":false,"x":1},"z":[1.5e3,-0.0]}',
    "anth-tool-round": req_body({"system": [{"type": "text", "text": "a"}], "max_tokens": 64,
                                 "messages": [USER_HI, {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hm", "signature": "sig"},
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Zürich"}},
        {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "12 C"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True,
             "content": [{"type": "text", "text": "no"}]},
            {"type": "text", "text": "and?"}]}]}),
    "anth-tools": req_body({"messages": [USER_HI], "stop_sequences": ["END"],
                            "metadata": {"user_id": "u1"}, "tools": [
        {"name": "get_weather", "description": "Weather", "input_schema": {
            "type": "object", "properties": {"city": {"type": "string"}}},
         "cache_control": {"type": "ephemeral"}}],
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        "thinking": {"type": "enabled", "budget_tokens": 10000}}),
    "anth-images": req_body({"system": "be brief", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "see"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}},
        {"type": "document", "title": "r.pdf", "source": {
            "type": "base64", "media_type": "application/pdf", "data": "JVBE"}}]}]}),
}


# ---- fuzz_stream programs (see fuzz_stream.c) ----
def add(kind, data):
    out = b""
    while True:  # one length byte per op: long text takes several ops
        piece, data = data[:255], data[255:]
        out += bytes([kind, len(piece)]) + piece
        if not data:
            return out


def text(data):
    return add(0, data)


def reasoning(data):
    return add(1, data)


PUMP = bytes([2 | (1 << 3)])


def step(reader, room=0):
    return bytes([3 | ((room * 3 + reader) << 3)])


def finish(reason):
    return bytes([4, len(reason)]) + reason


def usage(p, c):
    return bytes([5, p // 1000, p % 1000 % 256, c // 1000, c % 1000 % 256])


END, CANCEL = bytes([6]), bytes([6 | (1 << 3)])


def fail(type_index, msg):
    n = (len(msg) + 1) // 2
    return bytes([7 | (type_index << 3), n]) + msg + b" " * (2 * n - len(msg))


def header(usage=False, model=None, pace=None):
    """pace: fixed pacing at 50 * pace characters a second (1..32), else off."""
    h = (0x80 if usage else 0) | (0x40 if model is not None else 0)
    if pace is not None:
        h |= 0x20 | (pace - 1)
    return bytes([h]) + (bytes([len(model)]) + model if model is not None else b"")


def pump(ms):
    return bytes([2 | (ms << 3)])


STREAMS = {
    "plain": text("Hello 👋 world".encode()) + PUMP + step(0) + step(1) + step(2) + END,
    "reasoning": reasoning("Let me think…".encode()) + PUMP + step(0, 2) + text(b"Yes.")
    + finish(b"stop") + usage(9, 12) + PUMP + step(1, 1) + END,
    "split-emoji": text("👩\u200d".encode()[:5]) + PUMP + step(0) + text("👩\u200d💻".encode()[5:])
    + text("e".encode()) + text("\u0301".encode()) + END,
    "fail": text("partial 漢".encode()) + PUMP + step(0) + step(1)
    + fail(0, "upstream error: the model is overloaded".encode()),
    "fail-long-utf8": text(b"x") + fail(0, "é".encode() * 200),
    "cancel": text(b"abc") + CANCEL + text(b"ignored"),
    "empty": PUMP + step(0) + END + PUMP + step(0),
    "invalid": text(b"a\xc3") + reasoning(b"\xa9b") + text(b"\xff\xfe") + END,
    "long-marks": text(b"a" + "\u0301".encode() * 700) + END,
    "finish-long": text(b"x") + finish("ñ".encode() * 20) + END,
    "include-usage": header(usage=True) + text(b"hi") + usage(1000, 2) + END,
    "model": header(model="llama3.2:1b-instruct-q4_K_M \"ü\"".encode()) + text(b"hi") + END,
    # 100 characters a second: a pump of 31 ms releases about three, readers read between
    "paced": header(pace=2) + text("Hello 👋 wörld, paced".encode()) + pump(31) + step(0)
    + step(1) + pump(31) + step(0, 1) + reasoning(b"hm") + pump(31) + step(1) + END + pump(31)
    + step(0),
    "paced-cancel": header(pace=1) + text(b"a long answer cut short") + pump(20) + step(0)
    + CANCEL + pump(1) + step(0) + step(1),
    "paced-fail": header(usage=True, pace=1) + text("漢字 text".encode()) + pump(30) + step(1)
    + fail(1, b"upstream timed out") + step(2),
}
HEADED = ("include-usage", "model", "paced", "paced-cancel", "paced-fail")
STREAMS = {k: (v if k in HEADED else header() + v) for k, v in STREAMS.items()}


# fuzz_jsonv: byte 0 is the control byte (see fuzz_jsonv.c), then one chunk's JSON text.
def chunk_json(delta, finish=None):
    return oai_chunk(delta, finish)[len("data: "):].encode()


JSONV = {
    "chunk": chunk_json({"content": "Hel"}),
    "chunk-role": chunk_json({"role": "assistant", "content": ""}),
    "chunk-utf8": chunk_json({"content": "lo 👩\u200d💻 漢字 e\u0301"}),
    "chunk-finish": chunk_json({}, "stop"),
    "chunk-reasoning": chunk_json({"reasoning_content": "hm", "reasoning": "x", "content": "A"}),
    "chunk-escapes": b'{"choices":[{"delta":{"content":"a\\n\\"q\\" \\u00e9\\ud83d\\ude00\\/\\t"},'
                     b'"finish_reason":"st\\u006fp"}]}',
    "chunk-escaped-keys": b'{"ch\\u006fices":[{"d\\u0065lta":{"c\\u006fntent":"k"}}]}',
    "chunk-dup-keys": b'{"choices":[{"delta":{"content":"1","content":"2"}}],'
                      b'"choices":[{"delta":{"content":"3"}}]}',
    "chunk-dup-delta": b'{"choices":[{"delta":{},"delta":{"content":"no"}}]}',
    "chunk-types": b'{"choices":[{"delta":{"content":7,"reasoning":["r"],"reasoning_content":null},'
                   b'"finish_reason":true}]}',
    "chunk-second-choice": b'{"choices":[{"delta":{}},{"delta":{"content":"second"}}]}',
    "chunk-choices-object": b'{"choices":{"0":{"delta":{"content":"x"}}}}',
    "chunk-ws": b' \r\n{ "choices" :\t[ { "delta" : { "content" : "w" } , '
                b'"finish_reason" : "length" } ] }\n ',
    "chunk-lone-surrogate": b'{"choices":[{"delta":{"content":"\\ud83d"}}]}',
    "chunk-lone-low": b'{"id":"\\ude00","choices":[{"delta":{"content":"x"}}]}',
    "chunk-nul": b'{"choices":[{"delta":{"content":"a\\u0000b"}}]}',
    "chunk-lenient": b'{"choices":[{"delta":{"content":"a"}}],"n":01}',
    "chunk-usage": b'{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12}}',
    "chunk-usage-null": b'{"choices":[{"delta":{"content":"u"}}],"usage":null}',
    "chunk-error": b'{"error":{"message":"boom","type":"server_error"}}',
    "chunk-error-null": b'{"error":null,"choices":[{"delta":{"content":"e"}}]}',
    "long-number": b'{"choices":[{"delta":{"content":"n"}}],"x":' + b"1" * 70 + b"}",
    "generic": b'{"a":{"b":[1,{"a":"\\u00e9"}],"a":2},"b":"x","":[],"\xc3\xa9":true}',
    "generic-array": b'[[["deep"]],{"a":null,"b":-0.5e+3},"\\ud83d\\ude00"]',
    "bad": b'{"a":[1,]}',
    "chunk-tool-start": chunk_json({"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "call_a", "type": "function",
         "function": {"name": "get_weather", "arguments": ""}}]}),
    "chunk-tool-args": chunk_json({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":\"é\"}"}}]}),
    "chunk-text-and-tools": chunk_json({"content": "x", "tool_calls": [
        {"index": 1, "id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        "tool_calls"),
}


def main():
    for name, body in (("openai", OPENAI), ("openai-reasoning", OPENAI_REASONING),
                       ("openai-error", OPENAI_ERROR), ("openai-error-event", OPENAI_ERROR_EVENT),
                       ("oddities", SSE_ODDITIES), ("anthropic", ANTHROPIC),
                       ("anthropic-error", ANTHROPIC_ERROR), ("anthropic-tools", ANTHROPIC_TOOLS), ("openai-tools", OPENAI_TOOLS)):
        planned("fuzz_ssep", name, body)
        planned("fuzz_prov", name, body)
    stopping("fuzz_ssep", "openai", OPENAI, 3)
    stopping("fuzz_prov", "anthropic", ANTHROPIC, 4)
    stopping("fuzz_prov", "anthropic-tools", ANTHROPIC_TOOLS, 3)
    planned("fuzz_ssep", "bom-split", b"\xef\xbb\xbfdata: x\n\n", ("bytewise", "empties"))
    planned("fuzz_ssep", "bom-partial", b"\xef\xbbdata: x\r\n\r\n", ("whole", "bytewise"))
    planned("fuzz_prov", "ollama", OLLAMA)
    planned("fuzz_prov", "ollama-crlf-error", OLLAMA_CRLF_ERROR)
    stopping("fuzz_prov", "ollama", OLLAMA, 2)
    planned("fuzz_prov", "ollama-tools", OLLAMA_TOOLS)
    stopping("fuzz_prov", "ollama-tools", OLLAMA_TOOLS, 3)
    for name, body in ERROR_BODIES.items():
        write("fuzz_prov", name, PLANS["whole"] + body)
    for name, body in TEXTS.items():
        planned("fuzz_seg", name, body, ("whole", "bytewise", "mixed", "empties"))
    stopping("fuzz_seg", "emoji-zwj", TEXTS["emoji-zwj"], 2)
    for name, body in REQS.items():
        write("fuzz_req", name, body)
    for name, body in XLAT.items():
        write("fuzz_xlat", name, body)
    for name, prog in STREAMS.items():
        write("fuzz_stream", name, prog)
    for name, text in JSONV.items():
        write("fuzz_jsonv", name, b"\x00" + text)
    write("fuzz_jsonv", "chunk-reasoning-stop1", b"\x01" + JSONV["chunk-reasoning"])
    write("fuzz_jsonv", "chunk-reasoning-no-text", b"\x04" + JSONV["chunk-reasoning"])
    # the wrapped layouts (bits 5-6): delta members, choice members, content's inside
    write("fuzz_jsonv", "wrap-delta", b"\x20" + b'"reasoning":"a\\tb","content":"c\\u00e9"')
    write("fuzz_jsonv", "wrap-choice",
          b"\x40" + b'"delta":{"content":"x"},"finish_reason":"st\\u006fp"')
    write("fuzz_jsonv", "wrap-content", b"\x60" + b'line\\n\\ud83d\\ude00 \\"q\\" \xe6\x97\xa5')


if __name__ == "__main__":
    main()
