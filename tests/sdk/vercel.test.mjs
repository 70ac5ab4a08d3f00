// The Vercel AI SDK (`ai` with `@ai-sdk/openai-compatible`), unmodified: streamText with
// tools through chatd's OpenAI-compatible API in front of each provider's mock upstream
// resolves the upstream's tool calls, the same as straight from the OpenAI-format mock.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { jsonSchema, streamText, tool } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import {
  FIXTURES, PROVIDERS, TEST_TIMEOUT_MS, TEXT, graphemes, mockKind, show, startChatdFor,
  sharedMock, stopAndCheck, upstreamIds,
} from './harness.mjs';

const tools = Object.fromEntries(
  FIXTURES.calls.map((c) => [
    c.name,
    tool({ description: `The mock's ${c.name}`, inputSchema: jsonSchema(FIXTURES.schemas[c.name]) }),
  ]),
);

// Runs streamText to the end; returns the resolved text, calls, finish reason, usage, and
// the stream's parts (errors among them).
async function run(baseURL, model) {
  const provider = createOpenAICompatible({ name: 'chatd', baseURL, apiKey: 'k', includeUsage: true });
  const result = streamText({
    model: provider(model),
    messages: [{ role: 'user', content: TEXT }],
    tools,
    maxRetries: 0,
    onError: () => {}, // errors are asserted on from the stream's parts
  });
  const parts = [];
  for await (const p of result.fullStream) parts.push(p);
  const errors = parts.filter((p) => p.type === 'error').map((p) => String(p.error?.message ?? p.error));
  assert.deepEqual(errors, [], 'no error parts');
  return {
    text: await result.text,
    toolCalls: await result.toolCalls,
    finishReason: await result.finishReason,
    usage: await result.usage,
    parts,
  };
}

const shape = (calls) => calls.map((c) => ({ toolName: c.toolName, input: c.input }));

describe('Vercel AI SDK straight from the OpenAI-format mock (the reference)', () => {
  let mock;
  before(async () => (mock = await sharedMock('openai')));

  test('streamText resolves both calls from the mock', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await run(mock.urlFor('openai'), 'tools');
    assert.equal(r.text, TEXT);
    assert.deepEqual(shape(r.toolCalls), FIXTURES.calls.map((c) => ({ toolName: c.name, input: JSON.parse(c.arguments) })));
    assert.equal(r.finishReason, 'tool-calls');
  });
});

for (const provider of PROVIDERS) {
  describe(`Vercel AI SDK streamText through chatd (${provider} upstream)`, () => {
    let mock, chatd, reference;

    before(async () => {
      mock = await sharedMock(mockKind(provider));
      chatd = await startChatdFor(provider, mock);
      reference = await run((await sharedMock('openai')).urlFor('openai'), 'tools');
    });

    after(async () => {
      await stopAndCheck(chatd);
    });

    test('streamText with tools: toolCalls resolved, text kept', { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await run(chatd.baseURL, 'tools');
      assert.equal(r.text, TEXT);
      for (const p of r.parts.filter((x) => x.type === 'text-delta'))
        assert.equal(graphemes(p.text).length, 1, `text part ${show(p.text)}`);
      assert.deepEqual(shape(r.toolCalls), shape(reference.toolCalls), 'the same calls as from the mock');
      if (provider !== 'ollama')
        assert.deepEqual(r.toolCalls.map((c) => c.toolCallId), upstreamIds(provider), "the upstream's ids");
      for (const c of r.toolCalls) assert.ok(c.toolCallId, 'an id');
      assert.equal(r.finishReason, 'tool-calls');
      assert.deepEqual([r.usage.inputTokens, r.usage.outputTokens], FIXTURES.usage[provider]);
      // The streamed argument deltas of each call join to its arguments.
      const deltas = {};
      for (const p of r.parts.filter((x) => x.type === 'tool-input-delta'))
        deltas[p.id] = (deltas[p.id] ?? '') + p.delta;
      for (const [i, c] of r.toolCalls.entries()) {
        const want = FIXTURES.calls[i].arguments;
        if (provider === 'ollama') assert.deepEqual(JSON.parse(deltas[c.toolCallId]), JSON.parse(want));
        else assert.equal(deltas[c.toolCallId], want, `call ${i}: argument deltas byte for byte`);
      }
    });
  });
}
