// Runs the real chatd binary against the mock upstream, and a headless Chromium.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = path.join(WEB_ROOT, 'tests/artifacts');
export const CHATD_BIN = process.env.CHATD_BIN ? path.resolve(process.env.CHATD_BIN) : path.resolve(WEB_ROOT, '../build/chatd');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** The policy the server is expected to send; used to check the UI lives within it. */
export const EXPECTED_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** A loopback port nothing listens on (bound, then closed). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function startChatd(upstreamUrl, extraEnv = {}, args = []) {
  if (!fs.existsSync(CHATD_BIN)) {
    throw new Error(`chatd binary not found at ${CHATD_BIN}: build it first (make, in the repository root)`);
  }
  if (!fs.existsSync(path.join(WEB_ROOT, 'dist/app.js'))) {
    throw new Error('dist/app.js is missing: run make in client-web first');
  }
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME || '/tmp',
    CHATD_LISTEN: '127.0.0.1:0',
    CHATD_WEB_ROOT: WEB_ROOT,
    CHATD_PROVIDER: 'openai',
    CHATD_UPSTREAM_URL: upstreamUrl,
    CHATD_UPSTREAM_API_KEY: 'mock-upstream-key',
    CHATD_MODEL: 'mock-echo',
    CHATD_PACE: 'off',
    ...extraEnv,
  };
  // cwd: a folder without config/chatd.json, so only the settings above apply.
  const proc = spawn(CHATD_BIN, args, { env, cwd: ARTIFACTS, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`chatd did not report listening within 15 s:\n${log}`)), 15000);
    const onData = (d) => {
      log += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    };
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', onData);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', onData);
    proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`chatd exited early (${code ?? sig}):\n${log}`));
    });
  });
  return {
    base,
    proc,
    log: () => log,
    stop: () => new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      const t = setTimeout(() => proc.kill('SIGKILL'), 8000);
      proc.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      proc.kill('SIGTERM');
    }),
  };
}

export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A fresh context and page that records CSP violations, page errors and long tasks.
 * `problems()` lists what went wrong; a test ends by asserting it is empty.
 */
export async function openPage(browser, base, { viewport = { width: 1280, height: 860 }, colorScheme = 'light', permissions = [] } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, baseURL: base, permissions });
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile || ''}:${e.lineNumber || ''})`);
    });
    window.__longtasks = [];
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
      }).observe({ type: 'longtask', buffered: true });
    } catch {
      /* longtask not supported: the test that needs it will say so */
    }
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => d.accept());
  const problems = async () => {
    const csp = await page.evaluate(() => window.__csp).catch(() => []);
    return [...errors, ...csp.map((c) => `CSP violation: ${c}`)];
  };
  return { context, page, problems };
}

export function ensureDir(dir) {
  fs.mkdirSync(dir, { recursive: true });
}

export async function waitFor(fn, { timeout = 10000, interval = 50, message = 'condition' } = {}) {
  const until = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${message}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}
