import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEventStreamDecoder, readEventStream } from '../../src/sse.js';
import { TOOL_EVENTS, toolWire } from './_tool-events.js';

// A stream that exercises every rule: BOM, comments, retry, LF / CR / CRLF line ends,
// an event without id (last id carried over), multi-line data, multi-byte characters
// (CJK, ZWJ emoji, flag, combining mark), and an unterminated event at the end.
const WIRE =
  '\uFEFF' +
  ': hello\r\n' +
  'retry: 3000\r\n\r\n' +
  'id: 0\nevent: start\ndata: {"stream_id":"s1","model":"m"}\n\n' +
  'id: 1\revent: delta\rdata: {"text":"你"}\r\r' +
  'id: 2\r\nevent: delta\r\ndata: {"text":"👩‍💻"}\r\n\r\n' +
  'event: delta\ndata: {"text":"🇯🇵"}\n\n' +
  'id: 4\nevent: delta\ndata: {"text":"e\u0301"}\n: ping\n\n' +
  'data: multi\ndata:line\r\n\n' +
  'id: 5\nevent: done\ndata: {"finish_reason":"stop"}\n\n' +
  'id: 6\nevent: delta\ndata: {"text":"lost"}';

const EXPECTED = [
  { type: 'start', data: '{"stream_id":"s1","model":"m"}', id: '0', lastEventId: '0' },
  { type: 'delta', data: '{"text":"你"}', id: '1', lastEventId: '1' },
  { type: 'delta', data: '{"text":"👩‍💻"}', id: '2', lastEventId: '2' },
  { type: 'delta', data: '{"text":"🇯🇵"}', id: undefined, lastEventId: '2' },
  { type: 'delta', data: '{"text":"e\u0301"}', id: '4', lastEventId: '4' },
  { type: 'message', data: 'multi\nline', id: undefined, lastEventId: '4' },
  { type: 'done', data: '{"finish_reason":"stop"}', id: '5', lastEventId: '5' },
];

const BYTES = new TextEncoder().encode(WIRE);

function parseChunks(chunks) {
  const events = [];
  const retries = [];
  const comments = [];
  const dec = createEventStreamDecoder({
    onEvent: (e) => events.push(e),
    onRetry: (ms) => retries.push(ms),
    onComment: (c) => comments.push(c),
  });
  for (const c of chunks) dec.push(c);
  dec.end();
  return { events, retries, comments, lastEventId: dec.lastEventId };
}

function check(result, label) {
  assert.deepEqual(result.events, EXPECTED, label);
  assert.deepEqual(result.retries, [3000], label);
  assert.deepEqual(result.comments, ['hello', 'ping'], label);
  assert.equal(result.lastEventId, '5', label);
}

test('the wire really splits multi-byte characters at some byte positions', () => {
  let inside = 0;
  for (let i = 1; i < BYTES.length; i++) if ((BYTES[i] & 0xc0) === 0x80) inside++;
  assert.ok(inside >= 15, 'fixture should contain many UTF-8 continuation bytes');
});

test('one chunk', () => {
  check(parseChunks([BYTES]), 'whole');
});

test('split into two chunks at every byte position', () => {
  for (let i = 0; i <= BYTES.length; i++) {
    check(parseChunks([BYTES.subarray(0, i), BYTES.subarray(i)]), `split at ${i}`);
  }
});

test('one byte per chunk', () => {
  const chunks = [];
  for (let i = 0; i < BYTES.length; i++) chunks.push(BYTES.subarray(i, i + 1));
  check(parseChunks(chunks), 'bytewise');
});

test('three chunks at many pairs of positions', () => {
  let seed = 42;
  const rnd = (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let k = 0; k < 3000; k++) {
    const a = rnd(BYTES.length + 1);
    const b = a + rnd(BYTES.length + 1 - a);
    check(parseChunks([BYTES.subarray(0, a), BYTES.subarray(a, b), BYTES.subarray(b)]), `split at ${a},${b}`);
  }
});

test('a CR at the end of a chunk followed by LF is one line end, not two', () => {
  const enc = new TextEncoder();
  const r = parseChunks([enc.encode('id: 1\r'), enc.encode('\nevent: delta\r'), enc.encode('\ndata: x\r'), enc.encode('\n\r'), enc.encode('\n')]);
  assert.deepEqual(r.events, [{ type: 'delta', data: 'x', id: '1', lastEventId: '1' }]);
});

test('an id containing NUL is ignored; an empty id resets the last id', () => {
  const r = parseChunks([new TextEncoder().encode('id: 3\ndata: a\n\nid: 4\u0000\ndata: b\n\nid\ndata: c\n\n')]);
  assert.deepEqual(r.events.map((e) => e.lastEventId), ['3', '3', '']);
});

test('readEventStream reads a ReadableStream to the end, byte by byte', async () => {
  let i = 0;
  const body = new ReadableStream({
    pull(ctrl) {
      if (i >= BYTES.length) ctrl.close();
      else ctrl.enqueue(BYTES.slice(i, ++i));
    },
  });
  const events = [];
  const last = await readEventStream(body, { onEvent: (e) => events.push(e) });
  assert.deepEqual(events, EXPECTED);
  assert.equal(last, '5');
});

test('readEventStream rejects when the connection drops, after delivering what it had', async () => {
  const half = BYTES.subarray(0, 120);
  let sent = false;
  const body = new ReadableStream({
    pull(ctrl) {
      if (!sent) {
        sent = true;
        ctrl.enqueue(half);
      } else ctrl.error(new TypeError('network error'));
    },
  });
  const events = [];
  await assert.rejects(readEventStream(body, { onEvent: (e) => events.push(e) }), /network error/);
  assert.ok(events.length >= 1 && events.length < EXPECTED.length);
  assert.deepEqual(events, EXPECTED.slice(0, events.length));
});

test('a large buffered chunk is parsed in slices that let the event loop run', async () => {
  let wire = '';
  for (let i = 0; i < 40000; i++) wire += `id: ${i}\nevent: delta\ndata: {"text":"字"}\n\n`;
  const bytes = new TextEncoder().encode(wire);
  const body = new ReadableStream({
    start(ctrl) {
      ctrl.enqueue(bytes);
      ctrl.close();
    },
  });
  let timerRanAt = -1;
  let count = 0;
  setTimeout(() => (timerRanAt = count), 0);
  const last = await readEventStream(body, { onEvent: () => count++ });
  assert.equal(count, 40000);
  assert.equal(last, '39999');
  assert.ok(timerRanAt >= 0 && timerRanAt < 40000, `a timer ran mid-parse (after ${timerRanAt} events)`);
});

test('tool_call events come through whole at every split: escaped quotes, multi-byte characters', () => {
  const bytes = new TextEncoder().encode(toolWire());
  const expected = TOOL_EVENTS.map(([type, data], id) => ({ type, data: JSON.stringify(data), id: String(id), lastEventId: String(id) }));
  assert.ok(expected.some((e) => e.type === 'tool_call' && e.data.includes('\\\\\\"')), 'an escaped quote inside the arguments');
  for (let i = 0; i <= bytes.length; i++) {
    const r = parseChunks([bytes.subarray(0, i), bytes.subarray(i)]);
    assert.deepEqual(r.events, expected, `split at ${i}`);
  }
  const bytewise = [];
  for (let i = 0; i < bytes.length; i++) bytewise.push(bytes.subarray(i, i + 1));
  const r = parseChunks(bytewise);
  assert.deepEqual(r.events, expected, 'byte by byte');
  const calls = r.events.filter((e) => e.type === 'tool_call').map((e) => JSON.parse(e.data));
  assert.deepEqual(calls[0], { index: 0, id: 'call_a', name: 'get_weather', arguments: '' });
  assert.equal(calls[3].arguments, 'ty":"Z\u00fc');
});
