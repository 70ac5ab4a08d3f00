// The official `openai` SDK with tools, through chatd in front of each provider's mock
// upstream (tests/mock): streamed and whole answers carry the upstream's tool calls with
// their exact arguments, the request's tools reach the upstream (translated where the
// provider's format differs), and tool results go back up. Where the mock speaks
// OpenAI's format, the SDK's answer through chatd equals its answer from the mock itself.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  FIXTURES, OPENAI_TOOLS, PROVIDERS, TEST_TIMEOUT_MS, TEXT, graphemes, mockKind, show,
  startChatdFor, sharedMock, stopAndCheck, upstreamIds, upstreamPath,
} from './harness.mjs';

const messages = [
  { role: 'system', content: 'Use the tools.' },
  { role: 'user', content: TEXT },
];

// The calls an OpenAI message carries, in a comparable shape. Arguments are compared as
// text when the upstream streamed text (OpenAI, Anthropic), as JSON when it sent objects
// (Ollama: chatd serialises them).
function checkCalls(provider, calls, what) {
  assert.ok(Array.isArray(calls), `${what}: no tool_calls`);
  assert.deepEqual(calls.map((c) => c.function.name), FIXTURES.calls.map((c) => c.name), what);
  for (const [i, c] of calls.entries()) {
    assert.equal(c.type, 'function', what);
    const want = FIXTURES.calls[i].arguments;
    if (provider === 'ollama') assert.deepEqual(JSON.parse(c.function.arguments), JSON.parse(want), what);
    else assert.equal(c.function.arguments, want, `${what}: call ${i} arguments byte for byte`);
  }
  const ids = calls.map((c) => c.id);
  if (provider === 'ollama') {
    for (const id of ids) assert.ok(typeof id === 'string' && id.length > 0, `${what}: id ${show(id)}`);
    assert.equal(new Set(ids).size, ids.length, `${what}: distinct ids`);
  } else {
    assert.deepEqual(ids, upstreamIds(provider), `${what}: the upstream's ids`);
  }
}

// The stream's shape: text one grapheme per chunk, each call's id/type/name once in its
// first entry, indexes counted over the calls from 0.
function checkChunks(chunks, what) {
  const seen = new Map();
  for (const c of chunks) {
    const d = c.choices[0]?.delta;
    if (!d) continue;
    if (d.content) assert.equal(graphemes(d.content).length, 1, `${what}: content chunk ${show(d.content)}`);
    for (const tc of d.tool_calls ?? []) {
      if (!seen.has(tc.index)) {
        assert.equal(typeof tc.id, 'string', `${what}: first entry of index ${tc.index} has the id`);
        assert.equal(tc.type, 'function', `${what}: first entry of index ${tc.index} has the type`);
        assert.equal(typeof tc.function?.name, 'string', `${what}: first entry has the name`);
        seen.set(tc.index, 0);
      } else {
        assert.equal(tc.id, undefined, `${what}: id once per index`);
        assert.equal(tc.function?.name, undefined, `${what}: name once per index`);
      }
      seen.set(tc.index, seen.get(tc.index) + 1);
    }
  }
  assert.deepEqual([...seen.keys()].sort(), [0, 1], `${what}: tool call indexes`);
}

async function streamFinal(client, body) {
  const chunks = [];
  const runner = client.chat.completions.stream(body);
  runner.on('chunk', (c) => chunks.push(c));
  const final = await runner.finalChatCompletion();
  return { final, chunks };
}

// The tools of the recorded upstream request, in OpenAI's shape whatever the provider.
function upstreamTools(provider, body) {
  if (provider !== 'anthropic') return body.tools;
  return body.tools?.map((t) => ({
    type: 'function',
    function: { name: t.name, description: t.description, parameters: t.input_schema },
  }));
}

for (const provider of PROVIDERS) {
  describe(`openai SDK, tools, through chatd (${provider} upstream)`, () => {
    let mock, chatd, client, direct;
    const path = upstreamPath(provider);

    before(async () => {
      mock = await sharedMock(mockKind(provider));
      chatd = await startChatdFor(provider, mock);
      client = new OpenAI({ baseURL: chatd.baseURL, apiKey: 'k', maxRetries: 0, timeout: 15000 });
      if (provider === 'openai')
        direct = new OpenAI({ baseURL: mock.urlFor('openai'), apiKey: 'k', maxRetries: 0, timeout: 15000 });
    });

    after(async () => {
      await stopAndCheck(chatd);
    });

    test('stream() with tools: finalChatCompletion() has both calls, exact arguments', { timeout: TEST_TIMEOUT_MS }, async () => {
      await mock.reset();
      const body = { model: 'tools', messages, tools: OPENAI_TOOLS, stream_options: { include_usage: true } };
      const { final, chunks } = await streamFinal(client, body);
      const choice = final.choices[0];
      assert.equal(choice.finish_reason, 'tool_calls');
      assert.equal(choice.message.content, TEXT, 'the text before the calls');
      checkCalls(provider, choice.message.tool_calls, 'streamed');
      checkChunks(chunks, 'streamed');
      const usage = chunks.at(-1).usage;
      assert.ok(usage, 'the last chunk carries usage');
      assert.deepEqual([usage.prompt_tokens, usage.completion_tokens], FIXTURES.usage[provider]);

      const [up] = await mock.requests(path);
      assert.ok(up, `no request reached ${path}`);
      assert.deepEqual(upstreamTools(provider, up.body_json), OPENAI_TOOLS, 'the tools reach the upstream');

      if (direct) {
        const { final: want } = await streamFinal(direct, { ...body, stream_options: { include_usage: true } });
        assert.deepEqual(choice.message.tool_calls, want.choices[0].message.tool_calls, 'same calls as from the mock');
        assert.equal(choice.message.content, want.choices[0].message.content);
        // chatd changes model/stream/stream_options only: the rest of the body goes as sent.
        const [, viaMock] = await mock.requests(path);
        const strip = ({ stream, stream_options, ...rest }) => rest;
        assert.deepEqual(strip(up.body_json), strip(viaMock.body_json));
      }
    });

    test('create() without stream, with tools: message.tool_calls', { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await client.chat.completions.create({ model: 'tools', messages, tools: OPENAI_TOOLS });
      assert.equal(r.object, 'chat.completion');
      const choice = r.choices[0];
      assert.equal(choice.finish_reason, 'tool_calls');
      assert.equal(choice.message.content, TEXT);
      checkCalls(provider, choice.message.tool_calls, 'whole');
      if (direct) {
        const want = await direct.chat.completions.create({ model: 'tools', messages, tools: OPENAI_TOOLS });
        assert.deepEqual(choice.message.tool_calls, want.choices[0].message.tool_calls, 'same calls as from the mock');
      }
    });

    test('tool results go back up with their call ids', { timeout: TEST_TIMEOUT_MS }, async () => {
      const { final } = await streamFinal(client, { model: 'tools', messages, tools: OPENAI_TOOLS });
      const calls = final.choices[0].message.tool_calls;
      const results = ['{"temp":21,"sky":"☀️"}', '13:37 JST'];
      const history = [
        ...messages,
        { role: 'assistant', content: null, tool_calls: calls },
        ...calls.map((c, i) => ({ role: 'tool', tool_call_id: c.id, content: results[i] })),
      ];
      await mock.reset();
      const r = await client.chat.completions.create({ model: 'echo', messages: history, tools: OPENAI_TOOLS });
      assert.equal(r.choices[0].finish_reason, 'stop');
      const [up] = await mock.requests(path);
      assert.ok(up, `no request reached ${path}`);
      const sent = up.body_json.messages;
      if (provider === 'openai') {
        assert.deepEqual(sent, JSON.parse(JSON.stringify(history)), 'the messages go unchanged');
      } else if (provider === 'anthropic') {
        const text = (c) => (typeof c === 'string' ? c : c.map((b) => b.text).join(''));
        assert.equal(text(up.body_json.system), 'Use the tools.', 'system goes to the top-level field');
        const assistant = sent.find((m) => m.role === 'assistant');
        assert.ok(assistant, `no assistant turn: ${show(sent)}`);
        const uses = assistant.content.filter((b) => b.type === 'tool_use');
        assert.deepEqual(
          uses.map((b) => [b.id, b.name, b.input]),
          calls.map((c) => [c.id, c.function.name, JSON.parse(c.function.arguments)]),
        );
        const last = sent.at(-1);
        assert.equal(last.role, 'user', 'the tool results are one user turn');
        const res = last.content.filter((b) => b.type === 'tool_result');
        assert.deepEqual(res.map((b) => b.tool_use_id), calls.map((c) => c.id));
        assert.deepEqual(res.map((b) => text(b.content)), results);
      } else {
        const assistant = sent.find((m) => m.role === 'assistant');
        assert.ok(assistant?.tool_calls, `no assistant tool_calls: ${show(sent)}`);
        assert.deepEqual(
          assistant.tool_calls.map((c) => [c.function.name, c.function.arguments]),
          calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]),
          'Ollama takes arguments as objects',
        );
        assert.deepEqual(sent.filter((m) => m.role === 'tool').map((m) => m.content), results);
      }
    });

    if (provider === 'openai') {
      test('text before, between and after the calls, and a chunk with both', { timeout: TEST_TIMEOUT_MS }, async () => {
        const body = { model: 'tools-mixed', messages, tools: OPENAI_TOOLS };
        const { final, chunks } = await streamFinal(client, body);
        const { final: want } = await streamFinal(direct, body);
        assert.equal(final.choices[0].message.content, TEXT);
        assert.deepEqual(final.choices[0].message.tool_calls, want.choices[0].message.tool_calls);
        checkCalls(provider, final.choices[0].message.tool_calls, 'mixed');
        checkChunks(chunks, 'mixed');
        // The order of text and calls is kept: some text comes after the first call.
        const kinds = chunks.flatMap((c) => {
          const d = c.choices[0]?.delta ?? {};
          return [...(d.content ? ['c'] : []), ...(d.tool_calls ? ['t'] : [])];
        });
        const runs = kinds.filter((k, i) => i === 0 || kinds[i - 1] !== k).join('');
        assert.equal(runs, 'ctctc', 'text, calls, text, calls, text');
      });
    }

    if (provider === 'anthropic') {
      test('a tool without arguments (partial_json "" only): arguments parse to {}', { timeout: TEST_TIMEOUT_MS }, async () => {
        const tools = [...OPENAI_TOOLS, {
          type: 'function',
          function: { name: FIXTURES.noargs.name, parameters: { type: 'object', properties: {} } },
        }];
        for (const stream of [true, false]) {
          const body = { model: 'tools-noargs', messages, tools };
          const r = stream ? (await streamFinal(client, body)).final : await client.chat.completions.create(body);
          const [call, ...more] = r.choices[0].message.tool_calls ?? [];
          assert.deepEqual(more, [], `stream ${stream}: one call`);
          assert.deepEqual([call?.id, call?.function.name], [FIXTURES.noargs.id, FIXTURES.noargs.name]);
          assert.deepEqual(JSON.parse(call.function.arguments || 'null'), {}, `stream ${stream}: arguments ${show(call.function.arguments)}`);
        }
      });

      test('thinking and text blocks do not count in the tool indexes', { timeout: TEST_TIMEOUT_MS }, async () => {
        const { final, chunks } = await streamFinal(client, { model: 'tools-thinking', messages, tools: OPENAI_TOOLS });
        checkCalls(provider, final.choices[0].message.tool_calls, 'after thinking');
        checkChunks(chunks, 'after thinking');
        assert.equal(final.choices[0].message.content, TEXT);
      });
    }
  });
}
