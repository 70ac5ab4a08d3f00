// The official `@anthropic-ai/sdk`, unmodified, against chatd's Anthropic-compatible
// endpoint (POST /v1/messages, baseURL http://HOST:PORT) in front of each provider's mock
// upstream (tests/mock): text one grapheme per delta, tool use with the upstream's
// arguments, and, in front of the Anthropic mock, the same final message as the SDK gets
// from the mock itself.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import {
  ANTHROPIC_TOOLS, FIXTURES, OPENAI_TOOLS, PROVIDERS, TEST_TIMEOUT_MS, TEXT, graphemes,
  mockKind, show, startChatdFor, sharedMock, stopAndCheck, upstreamIds, upstreamPath,
} from './harness.mjs';

const messages = [{ role: 'user', content: TEXT }];
const MAX_TOKENS = 256;

// Streams a request; returns the final message and every raw event.
async function streamFinal(client, body) {
  const events = [];
  const stream = client.messages.stream(body);
  stream.on('streamEvent', (e) => events.push(e));
  const message = await stream.finalMessage();
  return { message, events };
}

// The final message's content in a comparable shape.
const blocks = (m) =>
  m.content.map((b) =>
    b.type === 'text' ? { type: 'text', text: b.text } : { type: b.type, id: b.id, name: b.name, input: b.input },
  );

// Event-level checks: text deltas one grapheme each, blocks opened and closed in order
// with indexes from 0, and per tool_use block the concatenated partial_json.
function checkEvents(events, what) {
  const names = events.map((e) => e.type);
  assert.equal(names[0], 'message_start', what);
  assert.equal(names.at(-1), 'message_stop', what);
  const open = new Map();
  const args = {};
  let next = 0;
  for (const e of events) {
    if (e.type === 'content_block_start') {
      assert.equal(e.index, next++, `${what}: block indexes in order from 0`);
      open.set(e.index, e.content_block.type);
      if (e.content_block.type === 'tool_use') args[e.index] = '';
    } else if (e.type === 'content_block_delta') {
      const kind = open.get(e.index);
      assert.ok(kind, `${what}: a ${e.delta.type} for block ${e.index}, which is not open ` +
        '(Anthropic streams one block at a time: a call that arrives interleaved must wait for its block)');
      if (e.delta.type === 'text_delta') {
        assert.equal(kind, 'text', `${what}: a text delta into a ${kind} block`);
        assert.equal(graphemes(e.delta.text).length, 1, `${what}: text delta ${show(e.delta.text)}`);
      } else if (e.delta.type === 'input_json_delta') {
        assert.equal(kind, 'tool_use', `${what}: input_json_delta into a ${kind} block`);
        args[e.index] += e.delta.partial_json;
      }
    } else if (e.type === 'content_block_stop') {
      assert.ok(open.delete(e.index), `${what}: stop of block ${e.index}, which is not open`);
    }
  }
  assert.equal(open.size, 0, `${what}: blocks left open`);
  return Object.values(args);
}

function checkToolUses(provider, message, partials, what) {
  const uses = message.content.filter((b) => b.type === 'tool_use');
  assert.deepEqual(uses.map((b) => b.name), FIXTURES.calls.map((c) => c.name), what);
  assert.deepEqual(uses.map((b) => b.input), FIXTURES.calls.map((c) => JSON.parse(c.arguments)), what);
  if (provider === 'ollama') {
    for (const b of uses) assert.ok(b.id, `${what}: an id`);
    if (partials)
      assert.deepEqual(partials.map((p) => JSON.parse(p)), FIXTURES.calls.map((c) => JSON.parse(c.arguments)));
  } else {
    assert.deepEqual(uses.map((b) => b.id), upstreamIds(provider), `${what}: the upstream's ids`);
    if (partials)
      assert.deepEqual(partials, FIXTURES.calls.map((c) => c.arguments), `${what}: partial_json byte for byte`);
  }
}

for (const provider of PROVIDERS) {
  describe(`@anthropic-ai/sdk through chatd /v1/messages (${provider} upstream)`, () => {
    let mock, chatd, client, direct;
    const path = upstreamPath(provider);

    before(async () => {
      mock = await sharedMock(mockKind(provider));
      chatd = await startChatdFor(provider, mock);
      client = new Anthropic({ baseURL: chatd.url, apiKey: 'k', maxRetries: 0, timeout: 15000 });
      if (provider === 'anthropic')
        direct = new Anthropic({ baseURL: mock.origin, apiKey: 'k', maxRetries: 0, timeout: 15000 });
    });

    after(async () => {
      await stopAndCheck(chatd);
    });

    test('messages.stream(): text, one grapheme per delta', { timeout: TEST_TIMEOUT_MS }, async () => {
      const body = { model: 'echo', max_tokens: MAX_TOKENS, messages };
      const { message, events } = await streamFinal(client, body);
      checkEvents(events, 'text');
      assert.equal(message.role, 'assistant');
      assert.deepEqual(blocks(message), [{ type: 'text', text: TEXT }]);
      assert.equal(message.stop_reason, 'end_turn');
      assert.ok(message.usage.output_tokens > 0, `usage ${show(message.usage)}`);
      if (direct) {
        const { message: want } = await streamFinal(direct, body);
        assert.deepEqual(blocks(message), blocks(want));
        assert.equal(message.stop_reason, want.stop_reason);
        assert.equal(message.usage.input_tokens, want.usage.input_tokens);
        assert.equal(message.usage.output_tokens, want.usage.output_tokens);
      }
    });

    test('messages.stream() with tools: text, then two tool_use blocks', { timeout: TEST_TIMEOUT_MS }, async () => {
      await mock.reset();
      const body = { model: 'tools', max_tokens: MAX_TOKENS, messages, tools: ANTHROPIC_TOOLS };
      const { message, events } = await streamFinal(client, body);
      const partials = checkEvents(events, 'tools');
      assert.equal(message.stop_reason, 'tool_use');
      assert.deepEqual(blocks(message)[0], { type: 'text', text: TEXT });
      checkToolUses(provider, message, partials, 'streamed');

      const [up] = await mock.requests(path);
      assert.ok(up, `no request reached ${path}`);
      if (provider === 'anthropic') assert.deepEqual(up.body_json.tools, ANTHROPIC_TOOLS, 'the tools as sent');
      else assert.deepEqual(up.body_json.tools, OPENAI_TOOLS, "the tools in the upstream's shape");
      if (direct) {
        const { message: want } = await streamFinal(direct, body);
        assert.deepEqual(blocks(message), blocks(want), 'the same message as from the mock');
      }
    });

    test('messages.create() with tools, without stream', { timeout: TEST_TIMEOUT_MS }, async () => {
      const body = { model: 'tools', max_tokens: MAX_TOKENS, messages, tools: ANTHROPIC_TOOLS };
      const message = await client.messages.create(body);
      assert.equal(message.type, 'message');
      assert.equal(message.stop_reason, 'tool_use');
      assert.deepEqual(blocks(message)[0], { type: 'text', text: TEXT });
      checkToolUses(provider, message, null, 'whole');
      if (direct) assert.deepEqual(blocks(message), blocks(await direct.messages.create(body)));
    });

    if (provider === 'openai') {
      test('calls one after the other, no text: tool_use blocks 0 and 1', { timeout: TEST_TIMEOUT_MS }, async () => {
        const body = { model: 'tools-only', max_tokens: MAX_TOKENS, messages, tools: ANTHROPIC_TOOLS };
        const { message, events } = await streamFinal(client, body);
        const partials = checkEvents(events, 'tools-only');
        assert.deepEqual(message.content.map((b) => b.type), ['tool_use', 'tool_use']);
        checkToolUses(provider, message, partials, 'tools-only');
      });

      test('text before, between and after the calls: separate blocks in order', { timeout: TEST_TIMEOUT_MS }, async () => {
        const body = { model: 'tools-mixed', max_tokens: MAX_TOKENS, messages, tools: ANTHROPIC_TOOLS };
        const { message, events } = await streamFinal(client, body);
        const partials = checkEvents(events, 'tools-mixed');
        checkToolUses(provider, message, partials, 'tools-mixed');
        const text = message.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
        assert.equal(text, TEXT);
        const kinds = message.content.map((b) => b.type);
        assert.ok(kinds.indexOf('text', kinds.indexOf('tool_use')) > 0, `text after a call: ${show(kinds)}`);
      });
    }

    if (provider === 'anthropic') {
      test('a tool without arguments (partial_json "") has input {}', { timeout: TEST_TIMEOUT_MS }, async () => {
        const tools = [...ANTHROPIC_TOOLS, { name: FIXTURES.noargs.name, input_schema: { type: 'object', properties: {} } }];
        const body = { model: 'tools-noargs', max_tokens: MAX_TOKENS, messages, tools };
        const { message, events } = await streamFinal(client, body);
        checkEvents(events, 'noargs');
        const { message: want } = await streamFinal(direct, body);
        assert.deepEqual(blocks(message), blocks(want));
        assert.deepEqual(message.content.at(-1).input, {});
      });
    }
  });
}
