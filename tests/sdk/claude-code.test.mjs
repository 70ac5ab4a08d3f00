// Claude Code itself (the `claude` CLI, pinned in package.json), unmodified, with
// ANTHROPIC_BASE_URL pointing at chatd in front of the OpenAI mock upstream: one agent
// run in print mode that reads a file with its Read tool. The run needs every part of
// /v1/messages: Claude Code's real request (system turns, deferred tools, adaptive
// thinking, output_config, context_management, cache_control), the streamed tool_use
// block with input_json_delta, the tool result going back up as an OpenAI tool message,
// and the final text.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startChatdFor, sharedMock, stopAndCheck } from './harness.mjs';

const RUN_TIMEOUT_MS = 60000;
// The file the agent reads: non-ASCII, a ZWJ sequence, a combining mark.
const FILE_TEXT = 'Grüße aus 東京 👩\u200d💻 cafe\u0301';

// The platform's native binary, which the wrapper package's postinstall would copy
// over its placeholder (install scripts do not run here: the binary is used directly).
function claudeBinary() {
  const require = createRequire(import.meta.url);
  const pkg = `@anthropic-ai/claude-code-${process.platform}-${process.arch}`;
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'claude');
  } catch {
    assert.fail(`${pkg} is not installed: Claude Code ships a native binary per platform`);
  }
}

// Runs `claude -p` in dir with home as its HOME; resolves { code, stdout, stderr }.
function runClaude(baseURL, dir, home, prompt, model) {
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    ANTHROPIC_BASE_URL: baseURL,
    ANTHROPIC_API_KEY: 'sk-ant-test',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_ERROR_REPORTING: '1',
  };
  const args = ['-p', prompt, '--model', model, '--allowedTools', 'Read', '--output-format', 'json'];
  return new Promise((resolve) => {
    execFile(claudeBinary(), args, { cwd: dir, env, timeout: RUN_TIMEOUT_MS, encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? err.signal) : 0, stdout, stderr }));
  });
}

describe('Claude Code through /v1/messages (OpenAI upstream)', { timeout: RUN_TIMEOUT_MS + 20000 }, () => {
  let mock, chatd, work;
  before(async () => {
    mock = await sharedMock('openai');
    chatd = await startChatdFor('openai', mock);
    work = mkdtempSync(path.join(tmpdir(), 'chatd-claude-'));
    mkdirSync(path.join(work, 'home'));
    mkdirSync(path.join(work, 'proj'));
    writeFileSync(path.join(work, 'proj', 'notes.txt'), `${FILE_TEXT}\n`);
  });
  after(async () => {
    await stopAndCheck(chatd);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('an agent turn with the Read tool, then the answer', async () => {
    await mock.reset();
    const file = path.join(work, 'proj', 'notes.txt');
    const r = await runClaude(chatd.url, path.join(work, 'proj'), path.join(work, 'home'),
      `Read ${file} and tell me what it says.`, 'agent-read');
    assert.equal(r.code, 0, `claude exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\n${chatd.log()}`);
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    assert.ok(line, `no JSON result on stdout: ${r.stdout}`);
    const out = JSON.parse(line);
    assert.equal(out.is_error, false, `${line}\n${chatd.log()}`);
    assert.equal(out.num_turns, 2, line);
    assert.deepEqual(out.permission_denials, [], line);

    // Every request Claude Code made was taken as it was: it falls back to fewer betas
    // after a 400, which would hide a field chatd refused.
    const refused = chatd.log().split('\n').filter((l) => l.includes('"path":"/v1/messages"') && !l.includes('"status":200'));
    assert.deepEqual(refused, [], 'a /v1/messages request was not answered 200');

    // Upstream: the first request carries Claude Code's tools in OpenAI's shape; the
    // second the call chatd streamed back and Claude Code's Read result for it.
    const reqs = (await mock.requests('/v1/chat/completions')).map((q) => q.body_json);
    assert.equal(reqs.length, 2, JSON.stringify(reqs.map((q) => q.messages.length)));
    const read = reqs[0].tools.find((t) => t.function.name === 'Read');
    assert.ok(read, `Read among the tools: ${reqs[0].tools.map((t) => t.function.name)}`);
    assert.equal(read.type, 'function');
    assert.equal(read.function.parameters.type, 'object');
    assert.ok(read.function.parameters.properties.file_path, 'Read takes file_path');
    assert.ok(reqs[0].messages.some((m) => m.role === 'system'), 'the system prompt went up');

    const msgs = reqs[1].messages;
    const call = msgs.find((m) => m.role === 'assistant' && m.tool_calls);
    assert.ok(call, 'the assistant turn with the tool call went back up');
    assert.equal(call.tool_calls.length, 1);
    assert.equal(call.tool_calls[0].id, 'call_agentRead1', 'the upstream id kept through tool_use');
    assert.equal(call.tool_calls[0].function.name, 'Read');
    assert.deepEqual(JSON.parse(call.tool_calls[0].function.arguments), { file_path: file });
    const result = msgs.find((m) => m.role === 'tool');
    assert.ok(result, 'the tool result went back up as a tool message');
    assert.equal(result.tool_call_id, 'call_agentRead1');
    assert.ok(result.content.includes(FILE_TEXT), `the file's text in the result: ${JSON.stringify(result.content)}`);

    // The answer the mock streamed, reassembled by Claude Code from one-grapheme deltas.
    assert.equal(out.result, `The file says: ${result.content}`);
  });
});
