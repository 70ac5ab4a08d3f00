// A small OpenAI-format upstream for the SDK tests.
//
// POST /v1/chat/completions always answers as a stream (chatd asks with "stream": true);
// the request's model picks the behaviour:
//
//   mock-text          TEXT, split into PIECES whose boundaries cut grapheme clusters, each
//                      event written to the socket in two parts cut inside a UTF-8 sequence;
//                      then a finish chunk, a usage chunk ("choices": []) and [DONE]
//   mock-500           HTTP 500 with an OpenAI error body, before any stream
//   mock-error-mid     the first ERROR_AFTER pieces, then data: {"error":{...}} and the end
//   mock-slow          one piece every SLOW_INTERVAL_MS until the client goes away (ends
//                      by itself after SLOW_MAX_MS)
//
// Every request is recorded; 'request' and 'closed' events let a test wait for them.
// Run directly (node mock-upstream.mjs [port]) it serves until killed and prints its URL.

import http from 'node:http';
import { EventEmitter } from 'node:events';
import { pathToFileURL } from 'node:url';

// CJK, ZWJ sequences, flags, a skin tone, a combining mark, CRLF, quotes, backslashes,
// U+2028 and U+2029, a tab, fullwidth letters.
export const PIECES = [
  'Hello, 世',
  '界！こんにちは 👩',
  '\u200d💻 and family 👨\u200d',
  '👩\u200d👧\u200d👦 flags 🇯',
  '🇵🇫',
  '🇷 café (e',
  '\u0301) and "quoted" back\\',
  'slash C:\\dir\\ end\r',
  '\nline two\u2028after LS\u2029after PS\tthumb 👍',
  '🏽 ＡＢＣ 漢字 한국어 ',
  'Ω≈ç√ done.',
];
export const TEXT = PIECES.join('');
export const USAGE = { prompt_tokens: 11, completion_tokens: 22, total_tokens: 33 };
export const ERROR_AFTER = 3;
export const ERROR_MESSAGE = 'boom';
export const SLOW_INTERVAL_MS = 10;
export const SLOW_MAX_MS = 15000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function chunk(obj) {
  return Buffer.from(`data: ${JSON.stringify(obj)}\n\n`, 'utf8');
}

function contentChunk(id, text) {
  return chunk({
    id,
    object: 'chat.completion.chunk',
    created: 0,
    model: 'mock',
    choices: [{ index: 0, delta: { content: text }, finish_reason: null }],
  });
}

// Cut a buffer at the byte just after the first lead byte of a multi-byte sequence, so that
// the upstream's reads split a UTF-8 character; anywhere in the middle if there is none.
function splitPoint(buf) {
  for (let i = 0; i < buf.length; i++) if (buf[i] >= 0xc0) return i + 1;
  return buf.length >> 1;
}

export async function startMock({ port = 0, host = '127.0.0.1' } = {}) {
  const events = new EventEmitter();
  const requests = [];
  let nextId = 1;

  const server = http.createServer(async (req, res) => {
    // chatd's readiness probe lists the models now and then: answer it, record chats only.
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"object":"list","data":[]}');
      return;
    }
    const body = await new Promise((resolve) => {
      const parts = [];
      req.on('data', (d) => parts.push(d));
      req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    });
    let json = null;
    try {
      json = JSON.parse(body);
    } catch {}
    const rec = {
      id: nextId++,
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: json,
      model: json?.model,
      finished: false,
      closedAt: null,
    };
    rec.closed = new Promise((resolve) => {
      res.on('close', () => {
        rec.closedAt = performance.now();
        events.emit('closed', rec);
        resolve(rec);
      });
    });
    requests.push(rec);
    events.emit('request', rec);

    if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'no such path', type: 'invalid_request_error' } }));
      return;
    }
    if (rec.model === 'mock-500') {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'the mock failed', type: 'server_error' } }));
      rec.finished = true;
      return;
    }

    // No Content-Length: node answers HTTP/1.1 with Transfer-Encoding: chunked.
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    const cid = `chatcmpl-mock${rec.id}`;
    let gone = false;
    res.on('close', () => (gone = true));
    const send = async (buf, split) => {
      if (gone) return;
      if (split) {
        const at = splitPoint(buf);
        res.write(buf.subarray(0, at));
        await sleep(2);
        if (gone) return;
        res.write(buf.subarray(at));
      } else {
        res.write(buf);
      }
      await sleep(2);
    };

    if (rec.model === 'mock-slow') {
      const until = performance.now() + SLOW_MAX_MS;
      for (let i = 0; !gone && performance.now() < until; i++) {
        await send(contentChunk(cid, PIECES[i % PIECES.length]), false);
        await sleep(SLOW_INTERVAL_MS);
      }
    } else if (rec.model === 'mock-error-mid') {
      for (const p of PIECES.slice(0, ERROR_AFTER)) await send(contentChunk(cid, p), true);
      await send(chunk({ error: { message: ERROR_MESSAGE, type: 'server_error' } }), false);
    } else {
      for (const p of PIECES) await send(contentChunk(cid, p), true);
      await send(
        chunk({
          id: cid,
          object: 'chat.completion.chunk',
          created: 0,
          model: 'mock',
          choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
        }),
        false,
      );
      await send(
        chunk({ id: cid, object: 'chat.completion.chunk', created: 0, model: 'mock', choices: [], usage: USAGE }),
        false,
      );
      await send(Buffer.from('data: [DONE]\n\n'), false);
    }
    if (!gone) {
      rec.finished = true;
      res.end();
    }
  });
  server.keepAliveTimeout = 1000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const addr = server.address();
  return {
    port: addr.port,
    url: `http://${host}:${addr.port}/v1`,
    events,
    requests,
    // Resolves with the first recorded request matching pred (past or future).
    waitRequest(pred, timeoutMs) {
      const seen = requests.find(pred);
      if (seen) return Promise.resolve(seen);
      return withTimeout(
        new Promise((resolve) => {
          const on = (rec) => {
            if (pred(rec)) {
              events.off('request', on);
              resolve(rec);
            }
          };
          events.on('request', on);
        }),
        timeoutMs,
        'no matching upstream request',
      );
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const mock = await startMock({ port: Number(process.argv[2] ?? 0) });
  console.log(`mock upstream on ${mock.url}`);
}
