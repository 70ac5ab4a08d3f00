import { test } from 'node:test';
import assert from 'node:assert/strict';
import { streamChat, cancelStream, describeError, parseRetryAfter, ChatError, listModels } from '../../src/api.js';
import { TOOL_EVENTS, toolWire } from './_tool-events.js';

const enc = new TextEncoder();
const TEXT = ['H', 'é', ' ', '你', '好', '👩‍💻', '🇯🇵', 'e\u0301', '\n', '!'];

function wire(from = 0, to = TEXT.length + 2, { terminal = 'done' } = {}) {
  let s = from === 0 ? 'retry: 3000\n\n' : '';
  const events = [['start', { stream_id: 'st1', model: 'mock' }]];
  for (const t of TEXT) events.push(['delta', { text: t }]);
  if (terminal === 'done') events.push(['done', { finish_reason: 'stop', usage: { completion_tokens: 10 } }]);
  else events.push(['error', { error: { type: 'upstream_error', message: 'boom', status: 502 } }]);
  events.forEach(([ev, data], id) => {
    if (id >= from && id < to) s += `id: ${id}\nevent: ${ev}\ndata: ${JSON.stringify(data)}\n\n`;
  });
  return s;
}

/** A body that sends `text` in small pieces and then either ends or fails. */
function body(text, { fail = false, piece = 7 } = {}) {
  const bytes = enc.encode(text);
  let i = 0;
  return new ReadableStream({
    pull(ctrl) {
      if (i < bytes.length) {
        ctrl.enqueue(bytes.slice(i, i + piece));
        i += piece;
      } else if (fail) ctrl.error(new TypeError('network error'));
      else ctrl.close();
    },
  });
}

function sseResponse(text, opts = {}) {
  return new Response(body(text, opts), {
    status: 200,
    headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'X-Chatd-Stream-Id': 'st1' },
  });
}

function jsonResponse(status, obj, headers = {}) {
  return new Response(JSON.stringify(obj), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

function collect() {
  const out = { text: '', reasoning: '', ids: [], starts: [], reconnects: 0 };
  out.handlers = {
    onStart: (s) => out.starts.push(s),
    onDelta: (t, id) => {
      out.text += t;
      out.ids.push(id);
    },
    onReasoning: (t) => (out.reasoning += t),
    onReconnect: () => out.reconnects++,
  };
  return out;
}

const noSleep = async () => {};

test('a normal stream: start, deltas in order, done', async () => {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    return sseResponse(wire());
  };
  const c = collect();
  const r = await streamChat({ body: { messages: [{ role: 'user', content: 'hi' }], model: 'x' }, fetch, ...c.handlers });
  assert.equal(r.status, 'done');
  assert.equal(r.finishReason, 'stop');
  assert.equal(r.streamId, 'st1');
  assert.equal(c.text, TEXT.join(''));
  assert.deepEqual(c.ids, TEXT.map((_, i) => i + 1));
  assert.deepEqual(c.starts, [{ streamId: 'st1', model: 'mock' }]);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, '/api/chat');
  assert.equal(calls[0].init.method, 'POST');
  assert.deepEqual(JSON.parse(calls[0].init.body), { messages: [{ role: 'user', content: 'hi' }], model: 'x' });
  assert.equal(calls[0].init.headers['Content-Type'], 'application/json');
});

test('an access key is sent as a bearer token', async () => {
  let seen;
  const fetch = async (url, init) => {
    seen = init.headers.Authorization;
    return sseResponse(wire());
  };
  await streamChat({ body: { messages: [] }, apiKey: 'k1', fetch });
  assert.equal(seen, 'Bearer k1');
});

test('a dropped connection resumes from the last event id without duplicates or gaps', async () => {
  // Every possible drop point: the first response stops after `cut` events; the resume
  // replays from a point at or before the last id the client saw (the server may resend).
  const total = TEXT.length + 2;
  for (let cut = 1; cut < total; cut++) {
    const calls = [];
    const fetch = async (url, init) => {
      calls.push({ url, init });
      if (calls.length === 1) return sseResponse(wire(0, cut), { fail: cut % 2 === 0 });
      const last = Number(init.headers['Last-Event-ID']);
      // resend one already-seen event to prove the client ignores it
      return sseResponse(wire(Math.max(0, last)));
    };
    const c = collect();
    const r = await streamChat({ body: { messages: [] }, fetch, sleep: noSleep, ...c.handlers });
    assert.equal(r.status, 'done', `cut ${cut}`);
    assert.equal(c.text, TEXT.join(''), `cut ${cut}`);
    assert.equal(calls.length, 2, `cut ${cut}`);
    assert.equal(calls[1].url, '/api/streams/st1');
    assert.equal(calls[1].init.headers['Last-Event-ID'], String(cut - 1));
    assert.equal(c.reconnects, 1);
  }
});

test('resume that keeps failing to connect gives up with a resume error', async () => {
  let n = 0;
  const fetch = async () => {
    n++;
    if (n === 1) return sseResponse(wire(0, 4), { fail: true });
    throw new TypeError('Failed to fetch');
  };
  await assert.rejects(
    streamChat({ body: { messages: [] }, fetch, sleep: noSleep, resumeAttempts: 3 }),
    (e) => e instanceof ChatError && e.kind === 'resume',
  );
  assert.equal(n, 4);
});

test('resume answered 404 fails at once with a resume error', async () => {
  let n = 0;
  const fetch = async () => (++n === 1 ? sseResponse(wire(0, 4), { fail: true }) : jsonResponse(404, { error: { type: 'not_found', message: 'no such stream' } }));
  const c = collect();
  await assert.rejects(streamChat({ body: { messages: [] }, fetch, sleep: noSleep, ...c.handlers }), (e) => e.kind === 'resume' && e.status === 404);
  assert.equal(c.text, TEXT.slice(0, 3).join(''));
  assert.equal(describeError(new ChatError({ kind: 'resume' })).title, 'Connection lost');
});

test('resuming a saved stream (after a reload) starts with GET and the saved id', async () => {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    return sseResponse(wire(6));
  };
  const c = collect();
  const r = await streamChat({ resume: { streamId: 'st1', lastEventId: 5 }, fetch, sleep: noSleep, ...c.handlers });
  assert.equal(r.status, 'done');
  assert.equal(calls[0].url, '/api/streams/st1');
  assert.equal(calls[0].init.headers['Last-Event-ID'], '5');
  assert.equal(c.text, TEXT.slice(5).join(''));
});

test('an error event ends the turn with a stream ChatError', async () => {
  const fetch = async () => sseResponse(wire(0, TEXT.length + 2, { terminal: 'error' }));
  const c = collect();
  await assert.rejects(streamChat({ body: { messages: [] }, fetch, ...c.handlers }), (e) => {
    assert.equal(e.kind, 'stream');
    assert.equal(e.type, 'upstream_error');
    assert.equal(e.serverMessage, 'boom');
    const d = describeError(e);
    assert.equal(d.title, 'Model provider error');
    assert.equal(d.detail, 'boom');
    return true;
  });
  assert.equal(c.text, TEXT.join(''));
});

test('HTTP errors before the stream become ChatErrors with status, type and Retry-After', async () => {
  const cases = [
    [400, 'invalid_request', 'Request not accepted'],
    [401, 'unauthorized', 'Access key needed'],
    [413, 'payload_too_large', 'Conversation too long'],
    [429, 'rate_limited', 'Too many requests'],
    [502, 'upstream_error', 'Model provider error'],
    [503, 'overloaded', 'Server busy'],
    [504, 'upstream_timeout', 'Model provider timed out'],
  ];
  for (const [status, type, title] of cases) {
    const fetch = async () => jsonResponse(status, { error: { type, message: `m${status}` } }, status === 429 ? { 'Retry-After': '7' } : {});
    await assert.rejects(streamChat({ body: { messages: [] }, fetch }), (e) => {
      assert.equal(e.kind, 'http');
      assert.equal(e.status, status);
      assert.equal(e.type, type);
      const d = describeError(e);
      assert.equal(d.title, title);
      assert.equal(d.detail, `m${status}`);
      if (status === 429) {
        assert.equal(e.retryAfter, 7);
        assert.match(d.text, /wait 7 seconds/);
      }
      return true;
    });
  }
});

test('errors without a JSON body are described by their status', async () => {
  const fetch = async () => new Response('<html>bad gateway</html>', { status: 502, headers: { 'Content-Type': 'text/html' } });
  await assert.rejects(streamChat({ body: { messages: [] }, fetch }), (e) => describeError(e).title === 'Model provider error');
  const fetch500 = async () => new Response('', { status: 500 });
  await assert.rejects(streamChat({ body: { messages: [] }, fetch: fetch500 }), (e) => /HTTP 500/.test(describeError(e).text));
});

test('a network failure before the response is a network error', async () => {
  const fetch = async () => {
    throw new TypeError('Failed to fetch');
  };
  await assert.rejects(streamChat({ body: { messages: [] }, fetch }), (e) => e.kind === 'network' && describeError(e).title === 'Connection problem');
});

test('a non-stream 200 is a protocol error', async () => {
  const fetch = async () => jsonResponse(200, { ok: true });
  await assert.rejects(streamChat({ body: { messages: [] }, fetch }), (e) => e.kind === 'protocol');
});

test('aborting mid-stream resolves as aborted and does not resume', async () => {
  const ctrl = new AbortController();
  let n = 0;
  const fetch = async (url, init) => {
    n++;
    const bytes = enc.encode(wire(0, 5));
    return new Response(new ReadableStream({
      start(c) {
        c.enqueue(bytes);
        init.signal.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError')));
      },
    }), { headers: { 'Content-Type': 'text/event-stream', 'X-Chatd-Stream-Id': 'st1' } });
  };
  const c = collect();
  const p = streamChat({ body: { messages: [] }, fetch, signal: ctrl.signal, ...c.handlers, onDelta: (t) => {
    c.text += t;
    if (c.text.length >= 2) ctrl.abort();
  } });
  const r = await p;
  assert.equal(r.status, 'aborted');
  assert.equal(r.streamId, 'st1');
  assert.equal(n, 1);
});

test('reasoning events are delivered separately from the answer', async () => {
  const s = 'id: 0\nevent: start\ndata: {"stream_id":"r1"}\n\nid: 1\nevent: reasoning\ndata: {"text":"hm"}\n\n'
    + 'id: 2\nevent: delta\ndata: {"text":"A"}\n\n: ping\n\nid: 3\nevent: done\ndata: {}\n\n';
  const c = collect();
  const r = await streamChat({ body: { messages: [] }, fetch: async () => sseResponse(s), ...c.handlers });
  assert.equal(r.status, 'done');
  assert.equal(r.streamId, 'r1');
  assert.equal(c.reasoning, 'hm');
  assert.equal(c.text, 'A');
});

test('cancelStream posts to the cancel endpoint and tolerates 404 and failures', async () => {
  const calls = [];
  assert.equal(await cancelStream({ streamId: 'a/b', fetch: async (url, init) => {
    calls.push([url, init.method]);
    return new Response('', { status: 404 });
  } }), false);
  assert.deepEqual(calls, [['/api/streams/a%2Fb/cancel', 'POST']]);
  assert.equal(await cancelStream({ streamId: 'x', fetch: async () => new Response('', { status: 202 }) }), true);
  assert.equal(await cancelStream({ streamId: 'x', fetch: async () => { throw new Error('down'); } }), false);
  assert.equal(await cancelStream({ streamId: null, fetch: async () => { throw new Error('unreachable'); } }), false);
});

test('listModels reads the OpenAI list shape', async () => {
  assert.deepEqual(await listModels({ fetch: async () => jsonResponse(200, { object: 'list', data: [{ id: 'a' }, { id: 'b' }] }) }), ['a', 'b']);
  assert.deepEqual(await listModels({ fetch: async () => jsonResponse(404, {}) }), []);
});

test('parseRetryAfter handles seconds and HTTP dates', () => {
  assert.equal(parseRetryAfter('12'), 12);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter('soon'), null);
  const now = Date.parse('2024-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Mon, 01 Jan 2024 00:01:30 GMT', now), 90);
});

/** The tool_call events of the fixture as onToolCall receives them, with their ids. */
const TOOL_CALL_EVENTS = TOOL_EVENTS.flatMap(([type, data], id) => (type === 'tool_call' ? [[data, id]] : []));

test('tool_call events are passed on with their event id, in order with the text', async () => {
  const seen = [];
  const r = await streamChat({
    body: { messages: [] },
    fetch: async () => sseResponse(toolWire()),
    onDelta: (t, id) => seen.push(['text', t, id]),
    onToolCall: (call, id) => seen.push(['tool', call, id]),
  });
  assert.equal(r.status, 'done');
  assert.equal(r.finishReason, 'tool_calls');
  const expected = TOOL_EVENTS.flatMap(([type, data], id) => {
    if (type === 'delta') return [['text', data.text, id]];
    if (type === 'tool_call') return [['tool', data, id]];
    return [];
  });
  assert.deepEqual(seen, expected);
});

test('a tool_call event that is not one is skipped; its id still counts', async () => {
  const s = 'id: 0\nevent: start\ndata: {"stream_id":"t1"}\n\n'
    + 'id: 1\nevent: tool_call\ndata: {"index":"0","name":"f"}\n\n'
    + 'id: 2\nevent: tool_call\ndata: {"index":0,"name":"f","arguments":"{}"}\n\n'
    + 'id: 3\nevent: tool_call\ndata: [1]\n\n'
    + 'id: 4\nevent: tool_call\ndata: {"index":0,"arguments":\n\n'
    + 'id: 5\nevent: done\ndata: {"finish_reason":"tool_calls"}\n\n';
  const seen = [];
  await streamChat({ body: { messages: [] }, fetch: async () => sseResponse(s), onToolCall: (call, id) => seen.push([call, id]) });
  assert.deepEqual(seen, [[{ index: 0, name: 'f', arguments: '{}' }, 2]]);
});

test('a dropped connection replays tool_call events from Last-Event-ID: each fragment once, in order', async () => {
  const total = TOOL_EVENTS.length;
  for (let cut = 1; cut < total; cut++) {
    const calls = [];
    const fetch = async (url, init) => {
      calls.push({ url, init });
      if (calls.length === 1) return sseResponse(toolWire(0, cut), { fail: cut % 2 === 1, piece: 5 });
      // the server may send again what the client already has: it must be skipped
      return sseResponse(toolWire(Math.max(0, Number(init.headers['Last-Event-ID']) - 1)), { piece: 3 });
    };
    const seen = [];
    const r = await streamChat({ body: { messages: [] }, fetch, sleep: noSleep, onToolCall: (call, id) => seen.push([call, id]) });
    assert.equal(r.status, 'done', `cut ${cut}`);
    assert.equal(calls.length, 2, `cut ${cut}`);
    assert.equal(calls[1].init.headers['Last-Event-ID'], String(cut - 1), `cut ${cut}`);
    assert.deepEqual(seen, TOOL_CALL_EVENTS, `cut ${cut}`);
  }
});
