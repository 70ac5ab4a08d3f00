// The official `openai` npm SDK, unmodified, against chatd's OpenAI-compatible API
// (/v1/chat/completions, /v1/models). Run with `node --test` (see run.sh).
//
// CHATD_BIN: the server binary (relative to the current directory; default
// ../../build/chatd from this folder).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { startMock, withTimeout, TEXT, PIECES, USAGE, ERROR_AFTER, ERROR_MESSAGE } from './mock-upstream.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHATD_BIN = process.env.CHATD_BIN
  ? path.resolve(process.env.CHATD_BIN)
  : path.resolve(HERE, '../../build/chatd');
const MODEL = 'mock-text'; // chatd's default model in the mock-backed servers
const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 10000;
const TEST_TIMEOUT_MS = 20000;

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });
const graphemes = (s) => Array.from(segmenter.segment(s), (g) => g.segment);
const show = (s) => JSON.stringify(s);

// ---- chatd process ----

// Starts chatd with a clean CHATD_* environment plus `env`, in a fresh temporary cwd (so no
// config/chatd.json is picked up), and resolves once it prints its listening address.
async function startChatd(env) {
  const cwd = mkdtempSync(path.join(tmpdir(), 'chatd-sdk-'));
  const base = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('CHATD_') && k !== 'OPENAI_API_KEY' && k !== 'ANTHROPIC_API_KEY') base[k] = v;
  const child = spawn(CHATD_BIN, [], {
    cwd,
    env: { ...base, CHATD_LISTEN: '127.0.0.1:0', CHATD_PACE: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.stdout.setEncoding('utf8').on('data', (d) => (log += d));
  child.stderr.setEncoding('utf8');
  const port = await withTimeout(
    new Promise((resolve, reject) => {
      child.on('error', reject);
      child.stderr.on('data', (d) => {
        log += d;
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
        if (m) resolve(Number(m[1]));
      });
      exited.then(({ code, signal }) =>
        reject(new Error(`chatd exited before listening (code ${code}, signal ${signal}):\n${log}`)),
      );
    }),
    START_TIMEOUT_MS,
    'chatd start',
  ).catch((e) => {
    child.kill('SIGKILL');
    rmSync(cwd, { recursive: true, force: true });
    throw e;
  });
  return {
    port,
    baseURL: `http://127.0.0.1:${port}/v1`,
    log: () => log,
    // SIGTERM, then the exit status (the caller asserts it is 0).
    async stop() {
      child.kill('SIGTERM');
      try {
        return await withTimeout(exited, STOP_TIMEOUT_MS, 'chatd stop after SIGTERM');
      } catch (e) {
        child.kill('SIGKILL');
        throw e;
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    },
  };
}

async function stopAndCheck(server) {
  if (!server) return;
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `chatd died by signal ${signal}:\n${server.log()}`);
  assert.equal(code, 0, `chatd exit code after SIGTERM:\n${server.log()}`);
}

// ---- stream helpers ----

// Reads a whole SDK stream; returns its chunks and the concatenated content.
async function collect(stream) {
  const chunks = [];
  let text = '';
  for await (const c of stream) {
    chunks.push(c);
    text += c.choices[0]?.delta?.content ?? '';
  }
  return { chunks, text };
}

// The per-chunk invariants of a successful chat.completion.chunk stream.
function checkChunkStream(chunks, text, { usage }) {
  assert.ok(chunks.length > 0, 'no chunks');
  const id = chunks[0].id;
  assert.match(id, /^chatcmpl-./);
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.id, id, 'every chunk carries the same id');
    assert.equal(typeof c.created, 'number');
    assert.equal(typeof c.model, 'string');
  }
  const withChoice = chunks.filter((c) => c.choices.length > 0);
  assert.ok(withChoice.length > 0, 'no chunk with a choice');
  assert.equal(withChoice[0].choices[0].delta.role, 'assistant', 'first chunk has delta.role "assistant"');

  // Every chunk that carries text carries exactly one grapheme cluster; an empty string is
  // allowed only alongside the role.
  const contents = [];
  for (const [i, c] of withChoice.entries()) {
    const content = c.choices[0].delta?.content;
    if (content === undefined || content === null) continue;
    if (content === '' && i === 0) continue;
    const g = graphemes(content);
    assert.equal(g.length, 1, `chunk ${i} content ${show(content)} is ${g.length} grapheme clusters`);
    contents.push(content);
  }
  assert.equal(contents.join(''), text);
  assert.equal(contents.length, graphemes(text).length, 'one content chunk per grapheme cluster');

  const last = withChoice.at(-1).choices[0];
  assert.equal(last.finish_reason, 'stop', 'the last choice chunk has finish_reason "stop"');
  for (const c of withChoice.slice(0, -1))
    assert.equal(c.choices[0].finish_reason ?? null, null, 'only the last choice chunk has a finish_reason');

  const usageChunks = chunks.filter((c) => c.usage);
  if (usage) {
    assert.equal(usageChunks.length, 1, 'exactly one chunk with usage');
    const final = chunks.at(-1);
    assert.equal(final, usageChunks[0], 'the usage chunk is the final chunk');
    assert.deepEqual(final.choices, []);
    assert.equal(final.usage.prompt_tokens, usage.prompt_tokens);
    assert.equal(final.usage.completion_tokens, usage.completion_tokens);
    assert.equal(final.usage.total_tokens, usage.total_tokens);
  } else {
    assert.equal(usageChunks.length, 0, 'no usage chunk unless stream_options.include_usage');
  }
}

const messages = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Say something with emoji 👩‍💻 and "quotes" \\ back' },
];

// ---- tests against the mock upstream ----

describe('chatd (openai provider, mock upstream)', () => {
  let mock, chatd, client;

  before(async () => {
    mock = await startMock();
    chatd = await startChatd({
      CHATD_PROVIDER: 'openai',
      CHATD_UPSTREAM_URL: mock.url,
      CHATD_MODEL: MODEL,
      CHATD_RESUME_GRACE_MS: '0',
    });
    client = new OpenAI({ baseURL: chatd.baseURL, apiKey: 'k', maxRetries: 0, timeout: 15000 });
  });

  after(async () => {
    try {
      await stopAndCheck(chatd);
    } finally {
      await mock?.close();
    }
  });

  test('the mock text cuts clusters between its pieces', () => {
    // Guards the fixture itself: some piece boundary must fall inside a grapheme cluster.
    let at = 0;
    const bounds = new Set(Array.from(segmenter.segment(TEXT), (g) => g.index));
    const cuts = PIECES.slice(0, -1).map((p) => (at += p.length)).filter((i) => !bounds.has(i));
    assert.ok(cuts.length >= 5, `only ${cuts.length} piece boundaries cut a cluster`);
  });

  test('streaming: one grapheme cluster per chunk, text byte for byte', { timeout: TEST_TIMEOUT_MS }, async () => {
    const stream = await client.chat.completions.create({ model: MODEL, messages, stream: true });
    const { chunks, text } = await collect(stream);
    assert.equal(Buffer.compare(Buffer.from(text, 'utf8'), Buffer.from(TEXT, 'utf8')), 0,
      `text differs:\n got  ${show(text)}\n want ${show(TEXT)}`);
    checkChunkStream(chunks, TEXT, { usage: null });

    // What chatd sent upstream.
    const up = mock.requests.at(-1);
    assert.equal(up.url, '/v1/chat/completions');
    assert.equal(up.body.model, MODEL);
    assert.equal(up.body.stream, true);
    assert.deepEqual(up.body.messages, messages);
  });

  test('streaming with stream_options.include_usage: final chunk has usage', { timeout: TEST_TIMEOUT_MS }, async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const { chunks, text } = await collect(stream);
    assert.equal(text, TEXT);
    checkChunkStream(chunks, TEXT, { usage: USAGE });
  });

  test('streaming without a model uses CHATD_MODEL', { timeout: TEST_TIMEOUT_MS }, async () => {
    // The SDK types require a model; the wire format lets a chatd client omit it.
    const stream = await client.chat.completions.create({ messages, stream: true });
    const { text } = await collect(stream);
    assert.equal(text, TEXT);
    assert.equal(mock.requests.at(-1).body.model, MODEL);
  });

  test('non-streaming: one chat.completion object', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages, stream: false });
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-./);
    assert.equal(typeof r.created, 'number');
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].index, 0);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, TEXT, `got ${show(r.choices[0].message.content)}`);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.ok(r.usage, 'usage present');
    assert.equal(r.usage.prompt_tokens, USAGE.prompt_tokens);
    assert.equal(r.usage.completion_tokens, USAGE.completion_tokens);
    assert.equal(r.usage.total_tokens, USAGE.total_tokens);
  });

  test('models.list() includes CHATD_MODEL', { timeout: TEST_TIMEOUT_MS }, async () => {
    const ids = [];
    for await (const m of client.models.list()) {
      assert.equal(m.object, 'model');
      ids.push(m.id);
    }
    assert.ok(ids.includes(MODEL), `models: ${show(ids)}`);
  });

  test('bad request (messages: []) → BadRequestError 400', { timeout: TEST_TIMEOUT_MS }, async () => {
    await assert.rejects(client.chat.completions.create({ model: MODEL, messages: [] }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.status, 400);
      assert.equal(e.type, 'invalid_request_error');
      assert.ok(e.message, 'has a message');
      return true;
    });
    await assert.rejects(client.chat.completions.create({ model: MODEL, messages: [], stream: true }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.status, 400);
      return true;
    });
  });

  test('upstream HTTP 500 before the stream → APIError 502', { timeout: TEST_TIMEOUT_MS }, async () => {
    for (const stream of [true, false]) {
      await assert.rejects(client.chat.completions.create({ model: 'mock-500', messages, stream }), (e) => {
        assert.ok(e instanceof OpenAI.APIError, `got ${e?.constructor?.name}: ${e?.message}`);
        assert.equal(e.status, 502, `stream: ${stream}: ${e.message}`);
        assert.match(e.message, /500/, 'the message names the upstream status');
        return true;
      });
    }
  });

  test('upstream error mid-stream → the iteration throws APIError', { timeout: TEST_TIMEOUT_MS }, async () => {
    const stream = await client.chat.completions.create({ model: 'mock-error-mid', messages, stream: true });
    let text = '';
    const err = await (async () => {
      try {
        for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
      } catch (e) {
        return e;
      }
      return null;
    })();
    assert.ok(err, `the stream ended without an error; text ${show(text)}`);
    assert.ok(err instanceof OpenAI.APIError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.match(err.message, new RegExp(ERROR_MESSAGE));
    assert.ok(TEXT.startsWith(text), `received text ${show(text)} is not a prefix of the mock text`);
    const sent = PIECES.slice(0, ERROR_AFTER).join('');
    assert.ok(sent.startsWith(text), `received ${show(text)} beyond what the upstream sent`);
  });

  test('abort: the upstream connection closes within 1 s', { timeout: TEST_TIMEOUT_MS }, async () => {
    const before = mock.requests.length;
    const stream = await client.chat.completions.create({ model: 'mock-slow', messages, stream: true });
    const up = await mock.waitRequest((r) => r.id > before && r.model === 'mock-slow', 5000);
    const it = stream[Symbol.asyncIterator]();
    let got = 0;
    while (got < 5) {
      const { value, done } = await it.next();
      assert.ok(!done, 'stream ended early');
      if (value.choices[0]?.delta?.content) got++;
    }
    const t0 = performance.now();
    stream.controller.abort();
    const rec = await withTimeout(up.closed, 1000, 'upstream connection close after abort');
    assert.equal(rec.finished, false, 'the mock had not finished the answer');
    assert.ok(rec.closedAt - t0 < 1000, `closed after ${Math.round(rec.closedAt - t0)} ms`);
    // The iterator settles (done, or an abort error) rather than hanging.
    await withTimeout(it.next().catch(() => ({ done: true })), 2000, 'iterator after abort');
  });

  test('chatd still serves after the faults', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages });
    assert.equal(r.choices[0].message.content, TEXT);
  });
});

// ---- client API keys ----

describe('chatd with CHATD_API_KEYS', () => {
  let mock, chatd;

  before(async () => {
    mock = await startMock();
    chatd = await startChatd({
      CHATD_PROVIDER: 'openai',
      CHATD_UPSTREAM_URL: mock.url,
      CHATD_MODEL: MODEL,
      CHATD_API_KEYS: 'good',
    });
  });

  after(async () => {
    try {
      await stopAndCheck(chatd);
    } finally {
      await mock?.close();
    }
  });

  test('a wrong key → AuthenticationError 401', { timeout: TEST_TIMEOUT_MS }, async () => {
    const bad = new OpenAI({ baseURL: chatd.baseURL, apiKey: 'bad', maxRetries: 0 });
    const isAuth = (e) => {
      assert.ok(e instanceof OpenAI.AuthenticationError, `got ${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.status, 401);
      return true;
    };
    await assert.rejects(bad.chat.completions.create({ model: MODEL, messages }), isAuth);
    await assert.rejects(bad.chat.completions.create({ model: MODEL, messages, stream: true }), isAuth);
    await assert.rejects(bad.models.list(), isAuth);
    assert.equal(mock.requests.length, 0, 'nothing reached the upstream');
  });

  test('the right key works', { timeout: TEST_TIMEOUT_MS }, async () => {
    const good = new OpenAI({ baseURL: chatd.baseURL, apiKey: 'good', maxRetries: 0 });
    const ids = [];
    for await (const m of good.models.list()) ids.push(m.id);
    assert.ok(ids.includes(MODEL), `models: ${show(ids)}`);
    const r = await good.chat.completions.create({ model: MODEL, messages });
    assert.equal(r.choices[0].message.content, TEXT);
    const { chunks, text } = await collect(await good.chat.completions.create({ model: MODEL, messages, stream: true }));
    assert.equal(text, TEXT);
    checkChunkStream(chunks, TEXT, { usage: null });
    // The client key is chatd's, not the upstream's.
    for (const r of mock.requests) assert.notEqual(r.headers.authorization, 'Bearer good');
  });
});

// ---- the built-in demo provider ----

describe('chatd (demo provider)', () => {
  let chatd;

  before(async () => {
    chatd = await startChatd({ CHATD_PROVIDER: 'demo' });
  });

  after(async () => {
    await stopAndCheck(chatd);
  });

  test('streaming create returns text and finish_reason "stop"', { timeout: TEST_TIMEOUT_MS }, async () => {
    const client = new OpenAI({ baseURL: chatd.baseURL, apiKey: 'k', maxRetries: 0 });
    let model;
    for await (const m of client.models.list()) model ??= m.id;
    assert.ok(model, 'the demo lists a model');
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Some Japanese, please' }], // a short answer
      stream: true,
      stream_options: { include_usage: true },
    });
    const { chunks, text } = await collect(stream);
    assert.ok(text.length > 0, 'non-empty text');
    const withChoice = chunks.filter((c) => c.choices.length > 0);
    assert.equal(withChoice.at(-1).choices[0].finish_reason, 'stop');
    for (const c of withChoice) {
      const content = c.choices[0].delta?.content;
      if (content) assert.equal(graphemes(content).length, 1, `chunk ${show(content)}`);
    }
  });
});
