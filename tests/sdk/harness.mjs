// What the SDK suites share: chatd started the way run.sh's environment says, the Python
// mock upstreams of tests/mock (OpenAI's format, and Anthropic's and Ollama's) in child
// processes, their recorded requests, and the tool calls their tools-* scenarios stream.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MOCK_DIR = path.resolve(HERE, '../mock');
export const CHATD_BIN = process.env.CHATD_BIN
  ? path.resolve(process.env.CHATD_BIN)
  : path.resolve(HERE, '../../build/chatd');
// The interpreter itself, not a version manager's shim (which can take seconds a start).
const PYTHON = execFileSync(process.env.PYTHON ?? 'python3', ['-c', 'import sys; print(sys.executable)'], {
  encoding: 'utf8',
}).trim();
const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 10000;
export const TEST_TIMEOUT_MS = 20000;
export const UPSTREAM_KEY = 'sk-test-SECRET123';

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });
export const graphemes = (s) => Array.from(segmenter.segment(s), (g) => g.segment);
export const show = (s) => JSON.stringify(s);

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

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The environment without anything that would configure chatd or reach a real service.
function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(CHATD_|OPENAI_|ANTHROPIC_|LANGCHAIN_|LANGSMITH_|AI_GATEWAY_)/.test(k)) env[k] = v;
  return env;
}

// ---- chatd ----

// Starts chatd with a clean environment plus `env`, in a fresh temporary cwd (so no
// config/chatd.json is picked up); resolves once it prints its listening address.
export async function startChatd(env) {
  const cwd = mkdtempSync(path.join(tmpdir(), 'chatd-sdk-'));
  const child = spawn(CHATD_BIN, [], {
    cwd,
    env: { ...cleanEnv(), CHATD_LISTEN: '127.0.0.1:0', CHATD_PACE: 'off', ...env },
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
    url: `http://127.0.0.1:${port}`,
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

export async function stopAndCheck(server) {
  if (!server) return;
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `chatd died by signal ${signal}:\n${server.log()}`);
  assert.equal(code, 0, `chatd exit code after SIGTERM:\n${server.log()}`);
}

// ---- the Python mock upstreams ----

// kind 'openai': mock_upstream.py (POST /v1/chat/completions); kind 'providers':
// mock_providers.py (Anthropic's POST /v1/messages and Ollama's POST /api/chat).
export async function startMock(kind) {
  const script = path.join(MOCK_DIR, kind === 'openai' ? 'mock_upstream.py' : 'mock_providers.py');
  // Its stdin stays open while this process lives: when the process dies, so does the mock.
  const child = spawn(PYTHON, [script], {
    env: { ...cleanEnv(), MOCK_EXIT_ON_STDIN_EOF: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const killer = () => child.kill('SIGKILL');
  process.on('exit', killer); // never outlives the test file
  child.on('exit', () => process.off('exit', killer));
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const port = await withTimeout(
    new Promise((resolve, reject) => {
      let out = '';
      child.on('error', reject);
      child.stdout.setEncoding('utf8').on('data', (d) => {
        out += d;
        const m = /^PORT (\d+)\n/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', (code) => reject(new Error(`${script} exited (${code}): ${err}`)));
    }),
    START_TIMEOUT_MS,
    `${kind} mock start`,
  ).catch((e) => {
    child.kill('SIGKILL');
    throw e;
  });
  // The mock does not keep the test file's process alive; the process kills it on exit.
  child.unref();
  child.stdin.unref();
  child.stdout.unref();
  child.stderr.unref();
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    // What a provider's URL setting takes: OpenAI's and Anthropic's under /v1, Ollama's bare.
    urlFor(provider) {
      return provider === 'ollama' ? origin : `${origin}/v1`;
    },
    // The recorded POSTs (path, headers, body_json, ...), optionally only those to a path.
    async requests(pathPrefix = '/') {
      const r = await fetch(`${origin}/_mock/requests`);
      const all = await r.json();
      return all.filter((x) => x.path.startsWith(pathPrefix));
    },
    async reset() {
      await fetch(`${origin}/_mock/reset`, { method: 'POST' });
    },
    close() {
      child.kill('SIGTERM');
    },
  };
}

// One mock of a kind per test file, started on first use, gone when the file's process
// exits; the suites use it in turn (they run one after the other).
const shared = new Map();
export function sharedMock(kind) {
  if (!shared.has(kind)) shared.set(kind, startMock(kind));
  return shared.get(kind);
}

// The tool calls the mocks' tools-* scenarios stream, and the ids each mock gives them.
export const FIXTURES = JSON.parse(
  execFileSync(
    PYTHON,
    [
      '-c',
      `import json, sys
sys.path.insert(0, sys.argv[1])
import mock_upstream as u, mock_providers as p
print(json.dumps({"calls": [{k: c[k] for k in ("id", "name", "arguments", "fragments")}
                            for c in u.TOOL_CALLS],
                  "schemas": u.TOOL_SCHEMAS,
                  "anthropic_ids": p.ANTHROPIC_TOOL_IDS, "ollama_ids": p.OLLAMA_TOOL_IDS,
                  "noargs": p.NOARGS_TOOL,
                  "usage": {"openai": [u.USAGE_PROMPT, u.USAGE_COMPLETION],
                            "anthropic": [p.ANTHROPIC_INPUT_TOKENS, p.ANTHROPIC_OUTPUT_TOKENS],
                            "ollama": [p.OLLAMA_PROMPT_EVAL_COUNT, p.OLLAMA_EVAL_COUNT]}}))`,
      MOCK_DIR,
    ],
    { encoding: 'utf8', env: cleanEnv() },
  ),
);

// The ids a provider's tools scenario gives its calls upstream.
export function upstreamIds(provider) {
  if (provider === 'anthropic') return FIXTURES.anthropic_ids;
  if (provider === 'ollama') return FIXTURES.ollama_ids;
  return FIXTURES.calls.map((c) => c.id);
}

// The two tools in OpenAI's request shape.
export const OPENAI_TOOLS = FIXTURES.calls.map((c) => ({
  type: 'function',
  function: { name: c.name, description: `The mock's ${c.name}`, parameters: FIXTURES.schemas[c.name] },
}));

// The two tools in Anthropic's request shape.
export const ANTHROPIC_TOOLS = FIXTURES.calls.map((c) => ({
  name: c.name,
  description: `The mock's ${c.name}`,
  input_schema: FIXTURES.schemas[c.name],
}));

// A text with clusters that a careless splitter breaks: a ZWJ sequence, a flag, a
// combining mark, CJK, a quote and a backslash.
export const TEXT = 'Checking 👩\u200d💻 🇯🇵 e\u0301 東京 "q" \\ ok';

// chatd in front of a provider's mock, serving every model (scenarios by model name).
export async function startChatdFor(provider, mock, extra = {}) {
  return startChatd({
    CHATD_PROVIDER: provider,
    CHATD_UPSTREAM_URL: mock.urlFor(provider),
    CHATD_UPSTREAM_API_KEY: UPSTREAM_KEY,
    CHATD_MODEL: 'echo',
    CHATD_RESUME_GRACE_MS: '0',
    ...extra,
  });
}

// The mock kind that speaks a provider's format.
export const mockKind = (provider) => (provider === 'openai' ? 'openai' : 'providers');

// The path a provider's chat requests take on its mock.
export const upstreamPath = (provider) =>
  ({ openai: '/v1/chat/completions', anthropic: '/v1/messages', ollama: '/api/chat' })[provider];

export const PROVIDERS = ['openai', 'anthropic', 'ollama'];
