// The `eventsource` npm package (the WHATWG EventSource for Node), unmodified, following a
// stream across replicas: it reads a stream that replica A produces through replica B; the
// connection is cut mid-answer, and the package's own reconnect (Last-Event-ID, after the
// stream's `retry:`) lands on replica C. Three chatd on one redis-server of the test's own.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { EventSource } from 'eventsource';
import { freePort, startChatdFor, startMock, stopAndCheck, withTimeout, UPSTREAM_KEY } from './harness.mjs';

const TEXT = 'Replicas: 東京 👩\u200d💻 e\u0301 ' + 'abcdefghij'.repeat(8); // ~6 s at 50 ms a character

let mock;
let redis;
let nodes = [];

async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50)); // polling a condition, bounded
  }
}

const listening = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.on('connect', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

// A TCP proxy whose first connection goes to `first`, every later one to `then`; cut()
// closes the connections it carries.
function proxy(first, then) {
  const open = new Set();
  let n = 0;
  const server = net.createServer((down) => {
    const up = net.connect(n++ === 0 ? first : then, '127.0.0.1');
    open.add(down);
    open.add(up);
    down.pipe(up).pipe(down);
    const end = () => { down.destroy(); up.destroy(); open.delete(down); open.delete(up); };
    down.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: server.address().port,
    connections: () => n,
    cut: () => { for (const s of open) s.destroy(); },
    close: () => new Promise((r) => { for (const s of open) s.destroy(); server.close(r); }),
  })));
}

before(async () => {
  mock = await startMock('openai');
  const port = await freePort();
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' });
  await until(() => listening(port), 10000, 'redis-server listens');
  for (let i = 0; i < 3; i++)
    nodes.push(await startChatdFor('openai', mock, { CHATD_REDIS_URL: `redis://127.0.0.1:${port}`, CHATD_RESUME_GRACE_MS: '5000' }));
});

after(async () => {
  for (const n of nodes) await stopAndCheck(n);
  if (redis) redis.kill('SIGTERM');
  if (mock) mock.close();
});

test('EventSource reconnects to another replica and gets every character once, in order', { timeout: 40000 }, async () => {
  const [a, b, c] = nodes;
  // Replica A produces the answer (its first events prove the stream exists).
  const post = await fetch(`${a.url}/api/chat`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'slow-50', messages: [{ role: 'user', content: TEXT }] }),
  });
  assert.equal(post.status, 200);
  const id = post.headers.get('x-chatd-stream-id');
  assert.match(id, /^[0-9a-f]{24}$/);
  const reader = post.body.getReader();
  let whole = '';
  const producerDone = (async () => {
    const dec = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      whole += dec.decode(value, { stream: true });
    }
  })();

  const px = await proxy(b.port, c.port);
  const texts = [];
  const ids = [];
  const lastIds = [];
  let cut = false;
  const ended = new Promise((resolve, reject) => {
    const es = new EventSource(`http://127.0.0.1:${px.port}/api/streams/${id}`, {
      fetch: (input, init) => {
        lastIds.push(new Headers(init?.headers).get('last-event-id'));
        return fetch(input, init);
      },
    });
    es.addEventListener('delta', (e) => {
      texts.push(JSON.parse(e.data).text);
      ids.push(Number(e.lastEventId));
      if (!cut && texts.length === 10) {
        cut = true;
        px.cut(); // mid-answer: the package must reconnect by itself
      }
    });
    es.addEventListener('done', () => { es.close(); resolve(); });
    es.addEventListener('error', (e) => {
      if (e.data) { es.close(); reject(new Error(`error event: ${e.data}`)); }
    });
  });
  await withTimeout(ended, 35000, 'the stream through the replicas');
  await producerDone;
  await px.close();
  assert.ok(cut, 'the connection was cut mid-answer');
  assert.equal(px.connections(), 2, 'one reconnect, to the other replica');
  assert.equal(lastIds[0], null, 'the first request has no Last-Event-ID');
  assert.equal(Number(lastIds[1]), ids[9], 'the reconnect says the last id it saw');
  assert.deepEqual(ids, ids.map((_, i) => i + 1), 'ids 1.. once each, in order');
  assert.equal(texts.join(''), TEXT, 'every character exactly once');
  const produced = [...whole.matchAll(/^event: delta\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]).text).join('');
  assert.equal(produced, TEXT, "the producer's own reader got the same text");
  assert.ok(!whole.includes(UPSTREAM_KEY));
});
