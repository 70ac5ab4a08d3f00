// Browser test: the UI behind nginx in front of two chatd replicas sharing a redis-server.
// nginx sends every POST to replica A and every GET to replica B (the UI, the resume), so a
// reload mid-answer resumes on the replica that did not produce the answer.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  startChatd, launchBrowser, openPage, ensureDir, waitFor, freePort, ARTIFACTS,
} from './harness.js';
import { startMock, FIXED_TEXT } from './mock-upstream.js';

let mock;
let redis;
let a;
let b;
let nginx;
let browser;
let base;
let tmp;

function listening(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

function stopProc(p) {
  return new Promise((resolve) => {
    if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    p.once('exit', () => { clearTimeout(t); resolve(); });
    p.kill('SIGTERM');
  });
}

async function metric(base_, name) {
  const text = await (await fetch(`${base_}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

before(async () => {
  ensureDir(ARTIFACTS);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-replicas-e2e-'));
  fs.mkdirSync(path.join(tmp, 'tmp'));
  mock = await startMock();
  const rport = await freePort();
  redis = spawn('redis-server', ['--port', String(rport), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor(() => listening(rport), { timeout: 10000, message: 'redis-server listens' });
  const env = { CHATD_REDIS_URL: `redis://127.0.0.1:${rport}` };
  a = await startChatd(mock.url, env);
  b = await startChatd(mock.url, env);
  const nport = await freePort();
  const conf = path.join(tmp, 'nginx.conf');
  fs.writeFileSync(conf, `
worker_processes 1;
pid ${tmp}/nginx.pid;
error_log ${tmp}/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${tmp}/tmp/body;
    proxy_temp_path ${tmp}/tmp/proxy;
    fastcgi_temp_path ${tmp}/tmp/fastcgi;
    uwsgi_temp_path ${tmp}/tmp/uwsgi;
    scgi_temp_path ${tmp}/tmp/scgi;
    upstream replica_a { server ${a.base.replace('http://', '')}; }
    upstream replica_b { server ${b.base.replace('http://', '')}; }
    map $request_method $replica { POST replica_a; default replica_b; }
    server {
        listen 127.0.0.1:${nport};
        location / {
            proxy_pass http://$replica;
            proxy_buffering off;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_read_timeout 120s;
        }
    }
}
`);
  nginx = spawn('nginx', ['-p', `${tmp}/`, '-c', conf, '-e', `${tmp}/error.log`, '-g', 'daemon off;'],
    { stdio: 'ignore' });
  await waitFor(() => listening(nport), { timeout: 10000, message: 'nginx listens' });
  base = `http://127.0.0.1:${nport}`;
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await stopProc(nginx);
  if (a) await a.stop();
  if (b) await b.stop();
  await stopProc(redis);
  if (mock) await mock.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const lastAssistant = (page) => page.evaluate(() => {
  const s = window.__chatd.state;
  const msgs = s.conversations[s.currentId].messages.filter((m) => m.role === 'assistant');
  return msgs[msgs.length - 1];
});

test('a reload mid-answer resumes on the other replica, nothing lost or repeated', async () => {
  const { context, page, problems } = await openPage(browser, base);
  try {
    const resumes = [];
    page.on('request', (r) => {
      if (/\/api\/streams\/[^/]+$/.test(r.url())) resumes.push(r.headers()['last-event-id'] || '(none)');
    });
    await page.goto('/');
    await page.waitForSelector('html.ready');
    const resumesBefore = await metric(b.base, 'chatd_resumes_total');
    await page.fill('#model', 'mock-fixed');
    await page.press('#model', 'Tab');
    await page.fill('#input', 'survive a reload on another replica');
    await page.press('#input', 'Enter');
    await waitFor(async () => ((await lastAssistant(page)) || { content: '' }).content.length >= 8,
      { message: 'some text before the reload' });
    await page.reload();
    await page.waitForSelector('html.ready');
    await page.waitForFunction(() => !window.__chatd.streaming, null, { timeout: 30000 });
    const msg = await lastAssistant(page);
    assert.equal(resumes.length, 1, 'resumed once after the reload');
    assert.equal(msg.status, 'done', JSON.stringify(msg.error || {}));
    assert.equal(msg.content, FIXED_TEXT, 'nothing lost or repeated across the reload');
    assert.equal(await metric(a.base, 'chatd_streams_total'), 1, 'replica A produced the answer');
    assert.equal(await metric(b.base, 'chatd_streams_total'), 0, 'replica B produced nothing');
    // Every GET goes to B (nginx's map); the page being unloaded lets its connection go
    // without a resume of its own, so B counts exactly the one that finished the answer.
    assert.equal(await metric(b.base, 'chatd_resumes_total'), resumesBefore + 1, 'replica B served the one resume');
    assert.deepEqual(await problems(), [], 'no CSP violations or page errors');
  } finally {
    await context.close();
  }
});
