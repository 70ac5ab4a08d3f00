// Browser test: chatd with a model map. The model field offers every routable name
// (GET /v1/models), and a model whose upstream cannot be reached is answered by its
// fallback: one clean answer, recorded as coming from the model that answered.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startChatd, launchBrowser, openPage, ensureDir, waitFor, freePort, ARTIFACTS } from './harness.js';
import { startMock, FIXED_TEXT } from './mock-upstream.js';

let mock;
let chatd;
let browser;
let tmp;

before(async () => {
  ensureDir(ARTIFACTS);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-models-e2e-'));
  mock = await startMock();
  const dead = await freePort();
  const config = path.join(tmp, 'chatd.json');
  fs.writeFileSync(config, JSON.stringify({
    upstreams: [
      { name: 'mock', provider: 'openai', url: mock.url, api_key_env: 'E2E_MOCK_KEY' },
      { name: 'dead', provider: 'openai', url: `http://127.0.0.1:${dead}/v1` },
    ],
    models: [
      { name: 'Fast', upstream: 'mock', model: 'mock-fixed' },
      { name: 'Careful', upstream: 'dead', model: 'mock-fixed', fallbacks: ['Fast'] },
    ],
  }));
  chatd = await startChatd(mock.url, { CHATD_MODEL: 'Fast', E2E_MOCK_KEY: 'mock-upstream-key' },
    ['--config', config]);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (chatd) await chatd.stop();
  if (mock) await mock.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the model field offers the routable models; a fallback answers the one that cannot', async () => {
  const { context, page, problems } = await openPage(browser, chatd.base);
  try {
    await page.goto('/');
    await page.waitForSelector('html.ready');
    const listId = await page.getAttribute('#model', 'list');
    await waitFor(async () => (await page.$$(`#${listId} option`)).length === 2,
      { message: 'the model list is filled from /v1/models' });
    const offered = await page.$$eval(`#${listId} option`, (os_) => os_.map((o) => o.value));
    assert.deepEqual(offered, ['Fast', 'Careful']);
    await page.fill('#model', 'Careful');
    await page.press('#model', 'Tab');
    await page.fill('#input', 'which model answers?');
    await page.press('#input', 'Enter');
    await page.waitForFunction(() => {
      const s = window.__chatd.state;
      const ms = s.conversations[s.currentId].messages;
      return !window.__chatd.streaming && ms.length === 2 && ms[1].status !== 'streaming';
    }, null, { timeout: 30000 });
    const msg = await page.evaluate(() => {
      const s = window.__chatd.state;
      return s.conversations[s.currentId].messages[1];
    });
    assert.equal(msg.status, 'done', JSON.stringify(msg.error || {}));
    assert.equal(msg.content, FIXED_TEXT, 'one clean answer, from the fallback');
    assert.equal(msg.model, 'Fast', 'recorded as the model that answered');
    assert.deepEqual(await problems(), [], 'no CSP violations or page errors');
  } finally {
    await context.close();
  }
});
