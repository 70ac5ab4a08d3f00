// LangChain's ChatOpenAI (`@langchain/openai`), unmodified: bindTools(...).invoke() and
// .stream() through chatd's OpenAI-compatible API in front of each provider's mock
// upstream parse the upstream's tool calls, the same as straight from the OpenAI-format
// mock.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatOpenAI } from '@langchain/openai';
import { HumanMessage } from '@langchain/core/messages';
import {
  FIXTURES, OPENAI_TOOLS, PROVIDERS, TEST_TIMEOUT_MS, TEXT, mockKind, startChatdFor, sharedMock,
  stopAndCheck, upstreamIds,
} from './harness.mjs';

const WANT = FIXTURES.calls.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) }));
const shape = (calls) => calls.map((c) => ({ name: c.name, args: c.args }));

function model(baseURL) {
  const llm = new ChatOpenAI({
    model: 'tools',
    apiKey: 'k',
    configuration: { baseURL },
    maxRetries: 0,
    timeout: 15000,
  });
  return llm.bindTools(OPENAI_TOOLS);
}

async function invoke(baseURL) {
  return model(baseURL).invoke([new HumanMessage(TEXT)]);
}

async function stream(baseURL) {
  let acc;
  for await (const chunk of await model(baseURL).stream([new HumanMessage(TEXT)]))
    acc = acc === undefined ? chunk : acc.concat(chunk);
  return acc;
}

function check(provider, msg, what) {
  assert.deepEqual(msg.invalid_tool_calls ?? [], [], `${what}: no invalid tool calls`);
  assert.deepEqual(shape(msg.tool_calls), WANT, `${what}: tool_calls parsed`);
  assert.equal(msg.content, TEXT, `${what}: the text`);
  const ids = msg.tool_calls.map((c) => c.id);
  if (provider === 'ollama') for (const id of ids) assert.ok(id, `${what}: an id`);
  else assert.deepEqual(ids, upstreamIds(provider), `${what}: the upstream's ids`);
}

describe('LangChain straight from the OpenAI-format mock (the reference)', () => {
  let mock;
  before(async () => (mock = await sharedMock('openai')));

  test('invoke and stream parse both calls', { timeout: TEST_TIMEOUT_MS }, async () => {
    check('openai', await invoke(mock.urlFor('openai')), 'invoke');
    check('openai', await stream(mock.urlFor('openai')), 'stream');
  });
});

for (const provider of PROVIDERS) {
  describe(`LangChain ChatOpenAI.bindTools through chatd (${provider} upstream)`, () => {
    let mock, chatd;

    before(async () => {
      mock = await sharedMock(mockKind(provider));
      chatd = await startChatdFor(provider, mock);
    });

    after(async () => {
      await stopAndCheck(chatd);
    });

    test('invoke(): tool_calls parsed (non-streaming)', { timeout: TEST_TIMEOUT_MS }, async () => {
      const msg = await invoke(chatd.baseURL);
      check(provider, msg, 'invoke');
      assert.equal(msg.response_metadata?.finish_reason, 'tool_calls');
    });

    test('stream(): the chunks concatenate to the parsed tool_calls', { timeout: TEST_TIMEOUT_MS }, async () => {
      const msg = await stream(chatd.baseURL);
      check(provider, msg, 'stream');
      assert.deepEqual([...new Set(msg.tool_call_chunks.map((c) => c.index))].sort(), [0, 1]);
      if (provider !== 'ollama')
        assert.deepEqual(
          msg.tool_call_chunks.map((c) => c.args),
          FIXTURES.calls.map((c) => c.arguments),
          'argument fragments join byte for byte',
        );
    });
  });
}
