// Browser tests: the real chatd binary, a mock OpenAI upstream, headless Chromium.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startChatd, launchBrowser, openPage, ensureDir, waitFor, ARTIFACTS, WEB_ROOT, EXPECTED_CSP,
} from './harness.js';
import {
  startMock, FIXED_TEXT, HOSTILE_TEXT, RICH_TEXT, REASONING_TEXT, TOOL_INTRO, TOOL_CALL,
} from './mock-upstream.js';
import { longMarkdown } from '../fixtures/long-markdown.js';

let mock;
let chatd;
let browser;

before(async () => {
  ensureDir(ARTIFACTS);
  mock = await startMock();
  chatd = await startChatd(mock.url);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (chatd) await chatd.stop();
  if (mock) await mock.close();
});

async function withPage(opts, fn) {
  const { context, page, problems } = await openPage(browser, chatd.base, opts);
  try {
    await page.goto('/');
    await page.waitForSelector('html.ready');
    await fn(page);
    assert.deepEqual(await problems(), [], 'no CSP violations or page errors');
  } finally {
    await context.close();
  }
}

async function setModel(page, model) {
  await page.fill('#model', model);
  await page.press('#model', 'Tab');
}

async function send(page, text, model) {
  if (model) await setModel(page, model);
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

const idle = (page, timeout = 30000) => page.waitForFunction(() => !window.__chatd.streaming, null, { timeout });

const lastAssistantContent = (page) => page.evaluate(() => {
  const s = window.__chatd.state;
  const conv = s.conversations[s.currentId];
  const msgs = conv.messages.filter((m) => m.role === 'assistant');
  return msgs[msgs.length - 1];
});

test('chatd serves the UI with the expected security headers', async () => {
  const res = await fetch(`${chatd.base}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  const csp = res.headers.get('content-security-policy') || '';
  for (const directive of EXPECTED_CSP.split('; ')) assert.ok(csp.includes(directive), `CSP has ${directive}: ${csp}`);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const html = await res.text();
  assert.match(html, /<script type="module" src="dist\/app\.js"><\/script>/);
  assert.doesNotMatch(html, /<script>|\sstyle="|\son[a-z]+=/i, 'no inline script, style attribute or handler');
  const js = await fetch(`${chatd.base}/dist/app.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /javascript/);
  const css = await fetch(`${chatd.base}/style.css`);
  assert.match(css.headers.get('content-type'), /^text\/css/);
});

test('an answer streams in visible steps and ends exactly as sent (CJK, emoji, combining marks)', async (t) => {
  await withPage({}, async (page) => {
    await page.evaluate(() => {
      window.__samples = [];
      const tick = () => {
        const all = document.querySelectorAll('.msg.assistant .md');
        const md = all[all.length - 1];
        if (md) window.__samples.push(md.textContent.length);
        if (window.__samples.length < 5000) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    await send(page, 'Say hello in several scripts', 'mock-fixed');
    await page.waitForSelector('.msg.assistant.streaming .caret');
    await idle(page);
    const samples = await page.evaluate(() => window.__samples);
    const steps = new Set(samples.filter((n) => n > 0));
    const final = Math.max(...samples);
    const partial = [...steps].filter((n) => n < final);
    t.diagnostic(`streaming: ${partial.length} distinct partial renders before the final one`);
    assert.ok(partial.length >= 5, `answer appeared in ${partial.length} partial steps`);
    const msg = await lastAssistantContent(page);
    assert.equal(msg.status, 'done');
    assert.equal(msg.content, FIXED_TEXT, 'stored text is byte-exact');
    const text = await page.locator('.msg.assistant .md').last().innerText();
    assert.ok(text.includes('Hello! 你好，世界。 Family: 👩‍👩‍👧‍👦, flag: 🇯🇵, cafe\u0301 and 한국어. Skin tone: 👋🏽.'), text);
    assert.ok(text.includes('Second paragraph with bold and code. Ends here ✅'), text);
    assert.equal(await page.locator('.msg.assistant .md strong').last().innerText(), 'bold');
    assert.equal(await page.locator('.msg.assistant .caret').count(), 0, 'caret gone when done');
    assert.equal(await page.locator('.msg.assistant').last().getAttribute('aria-busy'), 'false');
  });
});

test('Stop aborts the answer, and the upstream connection is closed', async (t) => {
  await withPage({}, async (page) => {
    const before = mock.requests.length;
    await send(page, 'Write slowly', 'mock-slow');
    await waitFor(async () => (await lastAssistantContent(page)).content.length > 20, { message: 'some text' });
    const cancel = page.waitForRequest((r) => /\/api\/streams\/[^/]+\/cancel$/.test(r.url()) && r.method() === 'POST');
    const t0 = Date.now();
    await page.click('#stop');
    const cancelReq = await cancel;
    const cancelRes = await cancelReq.response().catch(() => null);
    await idle(page);
    const msg = await lastAssistantContent(page);
    assert.equal(msg.status, 'stopped');
    assert.ok(msg.content.length > 20);
    assert.ok(await page.locator('.msg.assistant .msg-status', { hasText: 'Stopped' }).isVisible());
    assert.ok(await page.locator('#send').isVisible(), 'send button is back');
    const rec = mock.requests[before];
    assert.equal(rec.model, 'mock-slow');
    await waitFor(() => rec.closedEarly, { timeout: 10000, message: 'the upstream connection to close' });
    t.diagnostic(`stop: cancel answered ${cancelRes ? cancelRes.status() : 'nothing'}; upstream closed ${rec.closedAt - t0} ms after the click`);
    const got = msg.content.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await lastAssistantContent(page)).content.length, got, 'no text after Stop');
  });
});

test('conversations persist: reload restores them; the history is sent with each request', async () => {
  await withPage({}, async (page) => {
    await setModel(page, 'mock-echo');
    await page.click('#toggle-system');
    await page.fill('#system', 'Answer like a pirate.');
    await send(page, 'First question 你好');
    await idle(page);
    await send(page, 'Second question');
    await idle(page);
    const req = mock.requests[mock.requests.length - 1];
    assert.deepEqual(req.messages.map((m) => m.role), ['system', 'user', 'assistant', 'user']);
    assert.equal(req.messages[0].content, 'Answer like a pirate.');
    assert.equal(req.messages[2].content, 'You said: First question 你好 (2 messages)');
    assert.equal(req.model, 'mock-echo');

    // rename through the sidebar
    await page.click('.conv-item.active .conv-rename');
    await page.fill('.conv-rename-input', 'Pirate chat');
    await page.press('.conv-rename-input', 'Enter');
    assert.equal(await page.locator('#conv-title').innerText(), 'Pirate chat');

    // a second conversation
    await page.click('#new-chat');
    await send(page, 'Another topic');
    await idle(page);

    await page.reload();
    await page.waitForSelector('html.ready');
    const titles = await page.locator('.conv-open').allInnerTexts();
    assert.deepEqual(titles, ['Another topic', 'Pirate chat']);
    assert.equal(await page.locator('.msg').count(), 2);
    await page.click('.conv-open >> text=Pirate chat');
    assert.equal(await page.locator('.msg.user').count(), 2);
    assert.equal(await page.locator('.msg.assistant .md').last().innerText(), 'You said: Second question (4 messages)');
    assert.equal(await page.inputValue('#model'), 'mock-echo');
    assert.equal(await page.inputValue('#system'), 'Answer like a pirate.');

    // delete
    await page.click('.conv-item.active .conv-delete');
    assert.deepEqual(await page.locator('.conv-open').allInnerTexts(), ['Another topic']);
    await page.reload();
    await page.waitForSelector('html.ready');
    assert.deepEqual(await page.locator('.conv-open').allInnerTexts(), ['Another topic']);
  });
});

test('regenerate, and edit-and-resend of a user message', async () => {
  await withPage({}, async (page) => {
    await send(page, 'one', 'mock-echo');
    await idle(page);
    await send(page, 'two');
    await idle(page);
    const n = mock.requests.length;
    await page.locator('.msg.assistant').last().hover();
    await page.click('.msg.assistant >> nth=-1 >> .regen');
    await idle(page);
    assert.equal(mock.requests.length, n + 1);
    assert.equal(await page.locator('.msg').count(), 4, 'the answer was replaced, not added');
    assert.deepEqual(mock.requests[n].messages.map((m) => m.content), ['one', 'You said: one (1 messages)', 'two']);

    await page.locator('.msg.user').first().hover();
    await page.click('.msg.user >> nth=0 >> .edit-msg');
    await page.fill('.edit-box textarea', 'one, edited');
    await page.press('.edit-box textarea', 'Enter');
    await idle(page);
    assert.equal(await page.locator('.msg').count(), 2, 'messages after the edited one are dropped');
    assert.equal(await page.locator('.msg.assistant .md').innerText(), 'You said: one, edited (1 messages)');
  });
});

test('Enter sends, Shift+Enter makes a new line; sending is blocked while an answer streams', async () => {
  await withPage({}, async (page) => {
    await setModel(page, 'mock-slow');
    await page.click('#input');
    await page.keyboard.type('line one');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('line two');
    assert.equal(await page.inputValue('#input'), 'line one\nline two');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#stop:not([hidden])');
    assert.equal(await page.locator('.msg.user .bubble').innerText(), 'line one\nline two');
    const n = mock.requests.length;
    await page.keyboard.type('queued text');
    await page.keyboard.press('Enter');
    assert.equal(await page.inputValue('#input'), 'queued text', 'kept, not sent mid-answer');
    assert.equal(await page.locator('.msg.user').count(), 1);
    await page.keyboard.press('Escape'); // Escape stops, too
    await idle(page);
    assert.equal(mock.requests.length, n);
  });
});

test('auto-scroll follows the answer until the reader scrolls up; "jump to latest" returns', async () => {
  await withPage({ viewport: { width: 900, height: 500 } }, async (page) => {
    await send(page, 'Long slow answer', 'mock-tall');
    await waitFor(async () => page.evaluate(() => {
      const s = document.getElementById('scroller');
      return s.scrollHeight > s.clientHeight + 150;
    }), { timeout: 20000, message: 'the answer to overflow' });
    const gap = () => page.evaluate(() => {
      const s = document.getElementById('scroller');
      return s.scrollHeight - s.scrollTop - s.clientHeight;
    });
    assert.ok((await gap()) < 48, 'stuck to the bottom while streaming');
    await page.mouse.move(450, 200);
    await page.mouse.wheel(0, -400);
    await page.waitForSelector('#jump:not([hidden])');
    await new Promise((r) => setTimeout(r, 600));
    assert.ok((await gap()) > 100, 'stays where the reader scrolled');
    await page.click('#jump');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await gap()) < 48, 'back at the bottom');
    assert.ok(await page.locator('#jump').isHidden());
    await page.click('#stop');
    await idle(page);
  });
});

test('an upstream 429 before the stream is explained, with Retry', async (t) => {
  await withPage({}, async (page) => {
    const resp = page.waitForResponse((r) => r.url().endsWith('/api/chat'));
    await send(page, 'hi', 'mock-429');
    const status = (await resp).status();
    await idle(page);
    const box = page.locator('.msg.assistant .error-box');
    await box.waitFor();
    const text = await box.innerText();
    t.diagnostic(`upstream 429 reached the browser as HTTP ${status}`);
    if (status === 429) assert.match(text, /Too many requests[\s\S]*wait 7 seconds/);
    else assert.match(text, /Model provider error[\s\S]*429/);
    assert.equal(await box.getAttribute('role'), 'alert');
    assert.ok(await box.locator('button.retry').isVisible());
  });
});

test('HTTP errors before the stream read as plain words (401, 413, 429 with Retry-After, 502, 503, 504)', async () => {
  await withPage({}, async (page) => {
    const cases = {
      401: [{ type: 'unauthorized', message: 'missing or invalid API key' }, {}, /Access key needed/],
      413: [{ type: 'payload_too_large', message: 'request body too large' }, {}, /Conversation too long/],
      429: [{ type: 'rate_limited', message: 'slow down' }, { 'Retry-After': '5' }, /Too many requests[\s\S]*wait 5 seconds/],
      502: [{ type: 'upstream_error', message: 'upstream returned HTTP 500' }, {}, /Model provider error[\s\S]*upstream returned HTTP 500/],
      503: [{ type: 'overloaded', message: 'too many open streams' }, { 'Retry-After': '1' }, /Server busy/],
      504: [{ type: 'upstream_timeout', message: 'upstream did not connect in time' }, {}, /Model provider timed out/],
    };
    let current = null;
    await page.route('**/api/chat', (route) => {
      const [error, headers] = cases[current];
      route.fulfill({ status: Number(current), headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ error }) });
    });
    for (const status of Object.keys(cases)) {
      current = status;
      await page.click('#new-chat');
      await send(page, `provoke ${status}`, 'mock-echo');
      await idle(page);
      const box = page.locator('.msg.assistant .error-box');
      await box.waitFor();
      assert.match(await box.innerText(), cases[status][2], `HTTP ${status}`);
      if (status === '429') {
        assert.match(await box.locator('button.retry').innerText(), /Retry in \d+ seconds?/);
        assert.ok(await box.locator('button.retry').isDisabled(), 'Retry waits for Retry-After');
      }
    }
    await page.unroute('**/api/chat');
  });
});

test('a mid-stream upstream error keeps the partial answer and offers Retry', async () => {
  await withPage({}, async (page) => {
    await send(page, 'break please', 'mock-midstream-error');
    await idle(page);
    const msg = await lastAssistantContent(page);
    assert.equal(msg.status, 'error');
    assert.equal(msg.content, 'Partial answer before the failure');
    const box = page.locator('.msg.assistant .error-box');
    const text = await box.innerText();
    assert.match(text, /The model crashed mid-answer/);
    assert.match(text, /^(Model provider error|Answer interrupted)/);
    const n = mock.requests.length;
    await setModel(page, 'mock-echo');
    await box.locator('button.retry').click();
    await idle(page);
    assert.equal(mock.requests.length, n + 1);
    assert.equal((await lastAssistantContent(page)).status, 'done');
    assert.equal(await page.locator('.error-box').count(), 0);
  });
});

test('hostile markdown is rendered as inert text', async () => {
  await withPage({}, async (page) => {
    await send(page, 'be evil', 'mock-hostile');
    await idle(page);
    await new Promise((r) => setTimeout(r, 300)); // let any handler that slipped through fire
    const msg = await lastAssistantContent(page);
    assert.equal(msg.content, HOSTILE_TEXT);
    const report = await page.evaluate(() => {
      const root = document.querySelector('.msg.assistant .md');
      const bad = [];
      for (const el of root.querySelectorAll('*')) {
        for (const a of el.attributes) {
          if (/^on/i.test(a.name) || a.name === 'style') bad.push(`${el.localName}[${a.name}]`);
          if ((a.name === 'href' || a.name === 'src') && /^\s*(javascript|data:text)/i.test(a.value)) bad.push(`${el.localName}[${a.name}=${a.value}]`);
        }
      }
      return {
        pwned: window.__pwned,
        bad,
        dangerous: root.querySelectorAll('script, iframe, svg, style, img, object, embed, form').length,
        text: root.textContent,
      };
    });
    assert.equal(report.pwned, undefined, 'no payload ran');
    assert.deepEqual(report.bad, []);
    assert.equal(report.dangerous, 0);
    assert.ok(report.text.includes('<img src=x onerror="window.__pwned = \'img\'">'), 'raw HTML shown as text');
    assert.ok(report.text.includes('<script>window.__pwned = "script"</script>'));
    assert.ok(report.text.includes('click me'));
    assert.equal(await page.locator('.md a', { hasText: 'click me' }).getAttribute('href'), null);
    assert.equal(await page.locator('.md a.img-link').getAttribute('href'), 'https://tracker.invalid/pixel.png');
  });
});

test('code blocks are highlighted and their Copy button copies the code', async () => {
  await withPage({ permissions: ['clipboard-read', 'clipboard-write'] }, async (page) => {
    await send(page, 'show code', 'mock-rich');
    await idle(page);
    const block = page.locator('.msg.assistant .code-block').first();
    assert.equal(await block.locator('.code-lang').innerText(), 'javascript');
    assert.ok(await block.locator('.hljs-keyword').count() > 0, 'highlighted');
    await block.locator('.copy-btn').click();
    await page.waitForSelector('.copy-btn.copied');
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, `${RICH_TEXT.split('```javascript\n')[1].split('```')[0]}`);
    assert.equal(await block.locator('.copy-btn').innerText(), 'Copied');
  });
});

test('reasoning goes into a collapsible thinking area', async () => {
  await withPage({}, async (page) => {
    await send(page, 'greet me', 'mock-reasoning');
    await idle(page);
    const msg = await lastAssistantContent(page);
    assert.equal(msg.content, 'Hi there!');
    assert.equal(msg.reasoning, REASONING_TEXT);
    const details = page.locator('.msg.assistant details.thinking');
    assert.ok(await details.isVisible());
    assert.equal(await details.getAttribute('open'), null, 'collapsed by default');
    await details.locator('summary').click();
    assert.equal(await details.locator('.thinking-text').innerText(), REASONING_TEXT);
  });
});

test('a tool call shows as a collapsed block with its name, and expands to its arguments', async () => {
  await withPage({}, async (page) => {
    await send(page, 'weather in Zürich?', 'mock-tool');
    const block = page.locator('.msg.assistant details.tool-call');
    await block.waitFor();
    await idle(page);
    const msg = await lastAssistantContent(page);
    assert.equal(msg.status, 'done', JSON.stringify(msg.error || {}));
    assert.equal(msg.finishReason, 'tool_calls');
    assert.equal(msg.content, TOOL_INTRO);
    assert.deepEqual(msg.toolCalls, [{ index: 0, id: TOOL_CALL.id, name: TOOL_CALL.name, arguments: TOOL_CALL.arguments, at: TOOL_INTRO.length }]);

    const pretty = JSON.stringify(JSON.parse(TOOL_CALL.arguments), null, 2);
    assert.equal(await block.count(), 1);
    assert.equal(await block.getAttribute('open'), null, 'collapsed');
    assert.equal(await block.locator('summary').innerText(), 'Tool call: get_weather');
    assert.equal(await block.locator('.tool-args').isVisible(), false, 'arguments hidden while collapsed');
    const order = await page.evaluate(() => [...document.querySelectorAll('.msg.assistant .msg-body > :not([hidden])')]
      .map((el) => el.className.split(' ')[0]));
    assert.deepEqual(order.slice(0, 2), ['md', 'tool-call'], 'the block comes after the text that came before it');

    // The keyboard reaches the summary and opens the block.
    await block.locator('summary').focus();
    assert.equal(await page.evaluate(() => document.activeElement.matches('details.tool-call > summary')), true);
    await page.keyboard.press('Enter');
    assert.equal(await block.getAttribute('open'), '', 'Enter expands it');
    assert.equal(await block.locator('.tool-args').innerText(), pretty);

    // Saved with the conversation: after a reload it is there again, collapsed.
    await page.reload();
    await page.waitForSelector('html.ready');
    const again = page.locator('.msg.assistant details.tool-call');
    assert.equal(await again.count(), 1);
    assert.equal(await again.getAttribute('open'), null);
    assert.equal(await again.locator('summary').innerText(), 'Tool call: get_weather');
    await again.locator('summary').click();
    assert.equal(await again.locator('.tool-args').innerText(), pretty);
  });
});

test('a dropped connection resumes from Last-Event-ID without losing or repeating characters', async () => {
  await withPage({}, async (page) => {
    const resumes = [];
    page.on('request', (r) => {
      if (/\/api\/streams\/[^/]+$/.test(r.url())) resumes.push(r.headers()['last-event-id']);
    });
    // Let the real answer through but cut it after the 12th event, as a dropped
    // connection would (the body simply ends, no terminal event).
    await page.route('**/api/chat', async (route) => {
      const res = await route.fetch();
      const body = await res.text();
      const events = body.split('\n\n');
      await route.fulfill({ status: res.status(), headers: res.headers(), body: `${events.slice(0, 13).join('\n\n')}\n\n` });
    }, { times: 1 });
    await send(page, 'resume me', 'mock-fixed');
    await idle(page);
    const msg = await lastAssistantContent(page);
    assert.deepEqual(resumes, ['11'], 'one resume, from the last event received');
    assert.equal(msg.status, 'done', JSON.stringify(msg.error || {}));
    assert.equal(msg.content, FIXED_TEXT);
  });
});

test('reloading the page mid-answer picks the answer up where it was', async () => {
  await withPage({}, async (page) => {
    const resumes = [];
    page.on('request', (r) => {
      if (/\/api\/streams\/[^/]+$/.test(r.url())) resumes.push(r.headers()['last-event-id'] || '(none)');
    });
    await send(page, 'survive a reload', 'mock-fixed');
    await waitFor(async () => (await lastAssistantContent(page)).content.length >= 8, { message: 'some text' });
    await page.reload();
    await page.waitForSelector('html.ready');
    await idle(page);
    const msg = await lastAssistantContent(page);
    assert.equal(resumes.length, 1, 'resumed once after the reload');
    assert.equal(msg.status, 'done', JSON.stringify(msg.error || {}));
    assert.equal(msg.content, FIXED_TEXT, 'nothing lost or repeated across the reload');
    assert.equal(await page.locator('.msg').count(), 2);
  });
});

test('keyboard and screen-reader basics: labelled controls, live log, focus order', async () => {
  await withPage({}, async (page) => {
    await send(page, 'hello', 'mock-echo');
    await idle(page);
    const unlabelled = await page.evaluate(() => {
      const bad = [];
      for (const b of document.querySelectorAll('button')) {
        if (!(b.getAttribute('aria-label') || b.textContent.trim())) bad.push(b.outerHTML.slice(0, 80));
      }
      for (const f of document.querySelectorAll('input, textarea')) {
        const labelled = f.getAttribute('aria-label') || (f.id && document.querySelector(`label[for="${f.id}"]`));
        if (!labelled) bad.push(f.outerHTML.slice(0, 80));
      }
      return bad;
    });
    assert.deepEqual(unlabelled, []);
    const log = page.locator('#messages');
    assert.equal(await log.getAttribute('role'), 'log');
    assert.equal(await log.getAttribute('aria-live'), 'polite');
    assert.equal(await page.locator('#announcer').getAttribute('role'), 'status');
    // The message box is focused after load; Tab from the box reaches Send only when there is text.
    await page.focus('#input');
    await page.keyboard.type('x');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'send');
    await page.keyboard.press('Enter');
    await idle(page);
    assert.equal(await page.locator('.msg.user').count(), 2, 'Send works from the keyboard');
  });
});

test('a resume that the server cannot serve shows the error with Retry', async () => {
  await withPage({}, async (page) => {
    await page.route('**/api/chat', (route) => route.fulfill({
      status: 200,
      headers: { 'Content-Type': 'text/event-stream', 'X-Chatd-Stream-Id': 'no-such-stream' },
      body: 'id: 0\nevent: start\ndata: {"stream_id":"no-such-stream","model":"m"}\n\nid: 1\nevent: delta\ndata: {"text":"A"}\n\n',
    }), { times: 1 });
    await send(page, 'drop me', 'mock-echo');
    await idle(page);
    const box = page.locator('.msg.assistant .error-box');
    assert.match(await box.innerText(), /Connection lost/);
    await box.locator('button.retry').click();
    await idle(page);
    assert.equal((await lastAssistantContent(page)).content, 'You said: drop me (1 messages)');
  });
});

test('a 15,000-character markdown answer at full speed keeps the page responsive', async (t) => {
  await withPage({}, async (page) => {
    await setModel(page, 'mock-long');
    await page.fill('#input', 'Write a long answer');
    await page.evaluate(() => {
      window.__longtasks.length = 0;
      window.__frames = 0;
      const tick = () => {
        window.__frames++;
        if (window.__frames < 100000) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    const t0 = await page.evaluate(() => performance.now());
    await page.press('#input', 'Enter');
    await idle(page, 60000);
    const t1 = await page.evaluate(() => performance.now());
    await new Promise((r) => setTimeout(r, 200));
    const { tasks, frames, blocks, stats } = await page.evaluate(() => ({
      tasks: window.__longtasks,
      frames: window.__frames,
      blocks: document.querySelectorAll('.msg.assistant .md > *').length,
      stats: window.__chatd.stats,
    }));
    const msg = await lastAssistantContent(page);
    const expected = longMarkdown(15000);
    assert.equal(msg.content, expected);
    const inWindow = tasks.filter((t) => t.start >= t0 - 1 && t.start <= t1 + 200);
    const max = inWindow.reduce((m, t) => Math.max(m, t.duration), 0);
    const tbt = inWindow.reduce((s, t) => s + Math.max(0, t.duration - 50), 0);
    const figures = {
      characters: Array.from(expected).length,
      stream_ms: Math.round(t1 - t0),
      animation_frames: frames,
      render_frames: stats.frames,
      longest_render_frame_ms: Math.round(stats.frameMsMax),
      top_level_blocks: blocks,
      long_tasks: inWindow.length,
      longest_task_ms: Math.round(max),
      total_blocking_time_ms: Math.round(tbt),
    };
    t.diagnostic(`long answer: ${JSON.stringify(figures)}`);
    ensureDir(ARTIFACTS);
    fs.writeFileSync(path.join(ARTIFACTS, 'long-answer-figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
    assert.ok(max < 200, `longest main-thread task ${max} ms`);
    assert.ok(tbt < 1000, `total blocking time ${tbt} ms`);
    const fences = expected.split('\n').filter((l) => l.startsWith('```')).length / 2;
    assert.equal(await page.locator('.msg.assistant .code-block .copy-btn').count(), fences);
    assert.equal(await page.locator('.msg.assistant .caret').count(), 0);
  });
});

test('screenshots: light, dark and phone width', async () => {
  ensureDir(path.join(WEB_ROOT, 'docs'));
  for (const scheme of ['light', 'dark']) {
    await withPage({ colorScheme: scheme, viewport: { width: 1280, height: 860 } }, async (page) => {
      await send(page, 'How do I reverse a string without breaking emoji?', 'mock-rich');
      await idle(page);
      await page.evaluate(() => window.__chatd && document.activeElement && document.activeElement.blur());
      await page.click('.conv-item.active .conv-rename');
      await page.fill('.conv-rename-input', 'Reversing strings safely');
      await page.press('.conv-rename-input', 'Enter');
      assert.equal((await lastAssistantContent(page)).content, RICH_TEXT);
      await page.locator('#scroller').evaluate((s) => (s.scrollTop = 0));
      await page.focus('#input');
      const file = path.join(ARTIFACTS, `chat-${scheme}.png`);
      await page.screenshot({ path: file });
      fs.copyFileSync(file, path.join(WEB_ROOT, 'docs', `screenshot-${scheme}.png`));
    });
  }
  await withPage({ viewport: { width: 390, height: 844 } }, async (page) => {
    await send(page, 'Show me a table and some code', 'mock-rich');
    await idle(page);
    await page.screenshot({ path: path.join(ARTIFACTS, 'chat-phone.png') });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal page scroll on a phone (${overflow}px)`);
    await page.click('#open-sidebar');
    await page.waitForSelector('.sidebar-open');
    await new Promise((r) => setTimeout(r, 400)); // the slide-in transition
    await page.screenshot({ path: path.join(ARTIFACTS, 'chat-phone-sidebar.png') });
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('.app.sidebar-open').count(), 0);
  });
});
