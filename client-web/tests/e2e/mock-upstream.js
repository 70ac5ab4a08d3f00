// A small OpenAI-compatible streaming upstream for the browser tests. The request's
// model name picks the scenario. Every request is recorded, with whether its connection
// was closed before the answer was complete (that is how Stop is observed end to end).

import http from 'node:http';
import { longMarkdown } from '../fixtures/long-markdown.js';

// Pieces as an upstream might send them: some split a grapheme cluster (a ZWJ family,
// a flag, a base letter and its combining accent) across two chunks.
export const FIXED_PIECES = [
  'Hello', '! ', '你好', '，', '世界', '。', ' Family', ': ', '👩‍👩', '‍👧‍👦', ', flag', ': ', '🇯', '🇵',
  ', cafe', '\u0301', ' and ', '한국어', '.', ' Skin', ' tone', ': ', '👋', '🏽', '.', '\n\n',
  'Second', ' paragraph', ' with', ' **bold**', ' and', ' `code`', '.', ' Ends', ' here', ' ✅',
];
export const FIXED_TEXT = FIXED_PIECES.join('');

export const HOSTILE_TEXT = [
  'Hostile content follows.',
  '',
  '<img src=x onerror="window.__pwned = \'img\'">',
  '',
  '<script>window.__pwned = "script"</script>',
  '',
  '[click me](javascript:window.__pwned=\'link\')',
  '',
  '<a href="JaVaScRiPt:window.__pwned=\'a\'">upper-case scheme</a>',
  '',
  '<svg onload="window.__pwned=\'svg\'"><circle r="4"/></svg>',
  '',
  '<iframe src="javascript:window.__pwned=\'iframe\'"></iframe>',
  '',
  '<div style="position:fixed;inset:0;background:red">overlay</div>',
  '',
  '![tracker](https://tracker.invalid/pixel.png)',
  '',
  'Inline <b onmouseover="window.__pwned=\'b\'">bold tag</b> and <style>body{display:none}</style> end.',
].join('\n');

export const RICH_TEXT = [
  '## Reversing a string',
  '',
  'Here are two ways to reverse a string **by grapheme**, so emoji like 👩‍💻 and flags like 🇯🇵 stay whole:',
  '',
  '1. Use `Intl.Segmenter` in JavaScript',
  '2. Use the `grapheme` package in Python',
  '',
  '```javascript',
  'function reverse(text) {',
  "  const seg = new Intl.Segmenter('en', { granularity: 'grapheme' });",
  "  return [...seg.segment(text)].map((s) => s.segment).reverse().join('');",
  '}',
  '```',
  '',
  '| Language | Built in? | Handles ZWJ emoji |',
  '|:---------|:---------:|:-----------------:|',
  '| JavaScript | yes | ✅ |',
  '| Python | no | ✅ with a package |',
  '',
  '> Tip: never reverse by code unit — it breaks surrogate pairs.',
].join('\n');

export const REASONING_TEXT = 'The user wants a short greeting. Keep it brief.';
export const SLOW_TEXT = 'This answer is written slowly so that it can be stopped part way through. '.repeat(20);

function chunk(obj) {
  return `data: ${JSON.stringify(obj)}\n\n`;
}

function deltaChunk(content, extra = {}) {
  return chunk({
    id: 'chatcmpl-mock',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'mock',
    choices: [{ index: 0, delta: { content, ...extra }, finish_reason: null }],
  });
}

function finishChunk(reason = 'stop') {
  return chunk({ id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1700000000, model: 'mock', choices: [{ index: 0, delta: {}, finish_reason: reason }] });
}

// A reply that calls a tool, as OpenAI streams one: some text, then the call's id and
// name with empty arguments, then the arguments in fragments that split a string and a
// multi-byte character's neighbours; it ends with finish_reason "tool_calls".
export const TOOL_INTRO = 'Let me check the weather.';
export const TOOL_ARG_PIECES = ['{"ci', 'ty":"Z', 'ürich","un', 'it":"celsius"', ',"days":[1,', '2]}'];
export const TOOL_CALL = { id: 'call_mock1', name: 'get_weather', arguments: TOOL_ARG_PIECES.join('') };

function toolCallChunk(call) {
  return chunk({
    id: 'chatcmpl-mock',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'mock',
    choices: [{ index: 0, delta: { tool_calls: [call] }, finish_reason: null }],
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function splitEvery(text, n) {
  const chars = Array.from(text);
  const out = [];
  for (let i = 0; i < chars.length; i += n) out.push(chars.slice(i, i + n).join(''));
  return out;
}

export async function startMock() {
  const requests = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (raw += d));
    req.on('end', () => handle(req, res, raw));
  });

  async function handle(req, res, raw) {
    if (req.method === 'GET' && req.url.endsWith('/models')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'mock-fixed', object: 'model' }] }));
      return;
    }
    if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"error":{"message":"not found"}}');
      return;
    }
    let body = {};
    try {
      body = JSON.parse(raw);
    } catch {
      body = {};
    }
    const rec = {
      model: body.model,
      messages: body.messages,
      stream: body.stream,
      startedAt: Date.now(),
      closedEarly: false,
      closedAt: null,
      completed: false,
      sent: 0,
    };
    requests.push(rec);
    res.on('close', () => {
      if (!rec.completed) {
        rec.closedEarly = true;
        rec.closedAt = Date.now();
      }
    });
    const alive = () => !rec.closedEarly && !res.destroyed;
    const model = String(body.model || '');

    if (model === 'mock-429') {
      res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '7' });
      res.end(JSON.stringify({ error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } }));
      rec.completed = true;
      return;
    }

    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const send = (s) => {
      if (!alive()) return false;
      res.write(s);
      rec.sent++;
      return true;
    };
    const end = (reason) => {
      if (!alive()) return;
      send(finishChunk(reason));
      send('data: [DONE]\n\n');
      rec.completed = true;
      res.end();
    };
    const stream = async (pieces, delay) => {
      send(deltaChunk('', { role: 'assistant' }));
      for (const p of pieces) {
        if (!send(deltaChunk(p))) return false;
        if (delay) await sleep(delay);
      }
      return true;
    };

    const lastUser = [...(body.messages || [])].reverse().find((m) => m.role === 'user');
    switch (model) {
      case 'mock-fixed':
        if (await stream(FIXED_PIECES, 45)) end();
        break;
      case 'mock-rich':
        if (await stream(splitEvery(RICH_TEXT, 6), 0)) end();
        break;
      case 'mock-hostile':
        if (await stream(splitEvery(HOSTILE_TEXT, 5), 2)) end();
        break;
      case 'mock-long': {
        // Full speed: everything written at once, in small upstream chunks.
        const pieces = splitEvery(longMarkdown(15000), 12);
        send(deltaChunk('', { role: 'assistant' }));
        res.write(pieces.map((p) => deltaChunk(p)).join(''));
        end();
        break;
      }
      case 'mock-slow':
        if (await stream(splitEvery(SLOW_TEXT, 1), 40)) end();
        break;
      case 'mock-tall': {
        // Quickly taller than the window, then slow: for the auto-scroll test.
        const paras = Array.from({ length: 40 }, (_, i) => `Paragraph ${i + 1} of a tall answer.\n\n`);
        if (await stream([...paras, ...splitEvery(SLOW_TEXT, 1)], 30)) end();
        break;
      }
      case 'mock-midstream-error':
        if (await stream(['Partial ', 'answer ', 'before ', 'the ', 'failure'], 20)) {
          send(chunk({ error: { message: 'The model crashed mid-answer', type: 'server_error' } }));
          rec.completed = true;
          res.end();
        }
        break;
      case 'mock-reasoning':
        send(deltaChunk('', { role: 'assistant' }));
        for (const p of splitEvery(REASONING_TEXT, 4)) {
          send(chunk({ id: 'r', object: 'chat.completion.chunk', model: 'mock', choices: [{ index: 0, delta: { reasoning_content: p }, finish_reason: null }] }));
          await sleep(5);
        }
        if (await stream(['Hi', ' there', '!'], 5)) end();
        break;
      case 'mock-tool':
        if (!(await stream(splitEvery(TOOL_INTRO, 5), 5))) break;
        send(toolCallChunk({ index: 0, id: TOOL_CALL.id, type: 'function', function: { name: TOOL_CALL.name, arguments: '' } }));
        for (const p of TOOL_ARG_PIECES) {
          await sleep(5);
          if (!send(toolCallChunk({ index: 0, function: { arguments: p } }))) break;
        }
        end('tool_calls');
        break;
      default: {
        // Echo: says what it was asked, and how many messages it got.
        const text = `You said: ${lastUser ? lastUser.content : ''} (${(body.messages || []).length} messages)`;
        if (await stream(splitEvery(text, 3), 2)) end();
      }
    }
  }

  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
