import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTurn, outcomeAnnouncement } from '../../src/chat-turn.js';
import { reducer, initialState, saveConversation, saveIndex, loadState } from '../../src/store.js';
import { ChatError, describeError, streamChat } from '../../src/api.js';
import { fakeStreamChat, settle, MemoryStorage } from './_fakes.js';
import { TOOL_EVENTS, TOOL_CALLS, TOOL_TEXT, toolWire } from './_tool-events.js';

/** A conversation with one question (and optionally an interrupted answer), and a turn's deps. */
function setup({ interrupted = false } = {}) {
  let state = [
    { type: 'conversation/new', id: 'c', now: 1, model: 'm1' },
    { type: 'message/user', convId: 'c', id: 'u1', content: 'hi' },
  ].reduce(reducer, initialState());
  if (interrupted) {
    state = [
      { type: 'message/assistant', convId: 'c', id: 'a0' },
      { type: 'message/append', convId: 'c', id: 'a0', text: 'Hel', lastEventId: 3 },
      { type: 'message/finish', convId: 'c', id: 'a0', status: 'interrupted' },
    ].reduce(reducer, state);
  }
  const log = { saves: 0, texts: 0, reconnects: 0, cancels: [] };
  const streamChat = fakeStreamChat();
  let ids = 0;
  const deps = {
    getState: () => state,
    dispatch: (a) => (state = reducer(state, a)),
    save: () => log.saves++,
    getApiKey: () => 'key1',
    newId: (p) => `${p}${++ids}`,
    now: () => 1000,
    streamChat,
    cancelStream: (args) => log.cancels.push(args),
    describeError,
    onText: () => log.texts++,
    onReconnect: () => log.reconnects++,
  };
  const answer = (id) => state.conversations.c.messages.find((m) => m.id === id);
  return { deps, log, streamChat, answer, get state() { return state; } };
}

test('a turn adds an empty answer, sends the history and buffers text until drained', async () => {
  const t = setup();
  const turn = startTurn(t.deps, 'c');
  assert.equal(turn.msgId, 'm1');
  assert.deepEqual(t.answer('m1'), { id: 'm1', role: 'assistant', content: '', reasoning: '', status: 'streaming', model: 'm1' });
  const running = turn.run();
  const call = t.streamChat.calls[0];
  assert.deepEqual(call.args.body, { messages: [{ role: 'user', content: 'hi' }], model: 'm1' });
  assert.equal(call.args.apiKey, 'key1');
  assert.equal(call.args.resume, null);

  call.args.onStreamId('s1');
  assert.equal(turn.streamId, 's1');
  assert.equal(t.answer('m1').streamId, 's1');
  assert.equal(t.log.saves, 1, 'saved at once so that a reload can resume');
  call.args.onStart({ model: 'real-model' });
  call.args.onReasoning('hmm', 1);
  call.args.onDelta('你', 2);
  call.args.onDelta('好', 3);
  assert.equal(t.log.texts, 3);
  assert.equal(t.answer('m1').content, '', 'nothing in the state before a drain');
  assert.equal(turn.drain(), true);
  assert.equal(turn.drain(), false, 'nothing new: nothing to drain');
  assert.deepEqual(
    { content: t.answer('m1').content, reasoning: t.answer('m1').reasoning, lastEventId: t.answer('m1').lastEventId, model: t.answer('m1').model },
    { content: '你好', reasoning: 'hmm', lastEventId: 3, model: 'real-model' },
  );

  call.args.onDelta('!', 4);
  call.resolve({ status: 'done', finishReason: 'stop' });
  const outcome = await running;
  assert.deepEqual(outcome, { status: 'done', finishReason: 'stop' });
  assert.equal(t.answer('m1').content, '你好!', 'the rest is drained when the stream ends');
  assert.equal(t.answer('m1').status, 'streaming', 'finish() records the outcome, run() does not');
  turn.finish(outcome);
  assert.equal(t.answer('m1').status, 'done');
  assert.equal(t.log.saves, 2);
  assert.equal(outcomeAnnouncement(outcome), 'Answer complete.');
});

test('stop cancels the stream on the server, aborts the fetch and ends as stopped', async () => {
  const t = setup();
  const turn = startTurn(t.deps, 'c');
  const running = turn.run();
  t.streamChat.calls[0].args.onStreamId('s7');
  t.streamChat.calls[0].args.onDelta('partial', 1);
  turn.stop();
  assert.equal(turn.stopping, true);
  assert.deepEqual(t.log.cancels, [{ streamId: 's7', apiKey: 'key1' }]);
  assert.equal(t.streamChat.calls[0].args.signal.aborted, true);
  const outcome = await running;
  assert.deepEqual(outcome, { status: 'stopped' });
  turn.finish(outcome);
  assert.equal(t.answer('m1').content, 'partial');
  assert.equal(t.answer('m1').status, 'stopped');
  assert.equal(outcomeAnnouncement(outcome), 'Stopped.');
});

test('leaving the page drops the connection without cancelling or resuming, and records nothing', async () => {
  const t = setup();
  const turn = startTurn(t.deps, 'c');
  const running = turn.run();
  t.streamChat.calls[0].args.onStreamId('s8');
  t.streamChat.calls[0].args.onDelta('par', 2);
  turn.drain();
  turn.leave();
  assert.equal(t.streamChat.calls[0].args.signal.aborted, true, 'the fetch is aborted, so no resume starts here');
  assert.deepEqual(t.log.cancels, [], 'the stream is not cancelled: the next page resumes it');
  const outcome = await running;
  assert.deepEqual(outcome, { status: 'left' });
  assert.equal(t.answer('m1').status, 'streaming', 'saved as still streaming');
  assert.equal(t.answer('m1').lastEventId, 2);
});

test('a stream cancelled on the server ends as stopped too', async () => {
  const t = setup();
  const turn = startTurn(t.deps, 'c');
  const running = turn.run();
  t.streamChat.calls[0].resolve({ status: 'done', finishReason: 'cancelled' });
  assert.deepEqual(await running, { status: 'stopped' });
});

test('errors become words, with the time Retry is allowed again', async () => {
  const t = setup();
  const turn = startTurn(t.deps, 'c');
  const running = turn.run();
  t.streamChat.calls[0].reject(new ChatError({ kind: 'http', status: 429, type: 'rate_limited', message: 'slow down', retryAfter: 7 }));
  const outcome = await running;
  assert.equal(outcome.status, 'error');
  assert.equal(outcome.error.retryAt, 1000 + 7000);
  assert.equal(outcome.error.detail, 'slow down');
  assert.match(outcome.error.title, /Too many requests/);
  turn.finish(outcome);
  assert.deepEqual(t.answer('m1').error, outcome.error);
  assert.equal(outcomeAnnouncement(outcome), `${outcome.error.title}. ${outcome.error.text}`);

  const t2 = setup();
  const turn2 = startTurn(t2.deps, 'c');
  const running2 = turn2.run();
  t2.streamChat.calls[0].reject(new TypeError('boom'));
  const o2 = await running2;
  assert.equal(o2.error.title, 'Something went wrong');
  assert.equal(o2.error.retryAt, null);
});

test('reconnecting is shown until text flows again', async () => {
  const t = setup();
  const turn = startTurn(t.deps, 'c');
  const running = turn.run();
  const { args } = t.streamChat.calls[0];
  args.onDelta('a', 1);
  args.onReconnect(1);
  assert.equal(turn.reconnecting, true);
  assert.equal(t.log.reconnects, 1);
  args.onReasoning('r', 2);
  assert.equal(turn.reconnecting, true, 'reasoning alone does not clear it');
  args.onDelta('b', 3);
  assert.equal(turn.reconnecting, false);
  args.onReconnect(1);
  t.streamChat.calls[0].resolve({ status: 'done', finishReason: 'stop' });
  await running;
  assert.equal(turn.reconnecting, false, 'cleared when the turn ends');
});

test('resuming continues the interrupted answer from its last event id', async () => {
  const t = setup({ interrupted: true });
  const turn = startTurn(t.deps, 'c', { msgId: 'a0', streamId: 's0', lastEventId: 3 });
  assert.equal(turn.msgId, 'a0');
  assert.equal(turn.streamId, 's0');
  assert.equal(t.answer('a0').status, 'streaming');
  assert.equal(t.state.conversations.c.messages.length, 2, 'no new answer added');
  const running = turn.run();
  const { args } = t.streamChat.calls[0];
  assert.deepEqual(args.resume, { streamId: 's0', lastEventId: 3 });
  assert.deepEqual(args.body.messages, [{ role: 'user', content: 'hi' }], 'the unfinished answer is not sent as history');
  args.onDelta('lo', 4);
  t.streamChat.calls[0].resolve({ status: 'done', finishReason: 'stop' });
  turn.finish(await running);
  assert.equal(t.answer('a0').content, 'Hello');
  assert.equal(t.answer('a0').lastEventId, 4);
});

test('no turn for a conversation that does not exist', async () => {
  const t = setup();
  assert.equal(startTurn(t.deps, 'nope'), null);
  await settle();
  assert.equal(t.streamChat.calls.length, 0);
});

/** Feeds the fixture's events from `from` to a turn's handlers, draining after each. */
function feed(args, turn, from = 0, drainEvery = 1) {
  TOOL_EVENTS.forEach(([type, data], id) => {
    if (id < from) return;
    if (type === 'delta') args.onDelta(data.text, id);
    if (type === 'tool_call') args.onToolCall({ ...data }, id);
    if (id % drainEvery === 0) turn.drain();
  });
}

test('a turn assembles tool calls by index, each where it came in the text, and drains them with the text', async () => {
  for (const drainEvery of [1, 2, 3, 100]) {
    const t = setup();
    const turn = startTurn(t.deps, 'c');
    const running = turn.run();
    const { args } = t.streamChat.calls[0];
    args.onDelta('O', 1);
    args.onDelta('k', 2);
    args.onDelta('.', 3);
    args.onToolCall({ index: 0, id: 'call_a', name: 'get_weather', arguments: '' }, 4);
    assert.equal(t.answer('m1').toolCalls, undefined, 'nothing in the state before a drain');
    assert.equal(t.log.texts, 4, 'a tool call asks for a frame like text does');
    feed(args, turn, 5, drainEvery);
    t.streamChat.calls[0].resolve({ status: 'done', finishReason: 'tool_calls' });
    const outcome = await running;
    assert.deepEqual(outcome, { status: 'done', finishReason: 'tool_calls' });
    turn.finish(outcome);
    const m = t.answer('m1');
    assert.equal(m.content, TOOL_TEXT, `drain every ${drainEvery}`);
    assert.deepEqual(m.toolCalls, TOOL_CALLS, `drain every ${drainEvery}`);
    assert.equal(m.lastEventId, TOOL_EVENTS.length - 2, 'the last event before done');
    assert.equal(m.status, 'done');
  }
});

test('a tool call alone is something to drain, and clears reconnecting', () => {
  const t = setup();
  const turn = startTurn(t.deps, 'c');
  turn.run();
  const { args } = t.streamChat.calls[0];
  args.onReconnect(1);
  args.onToolCall({ index: 0, id: 'x', name: 'f', arguments: '' }, 1);
  assert.equal(turn.reconnecting, false);
  assert.equal(turn.drain(), true);
  assert.equal(turn.drain(), false);
  assert.deepEqual(t.answer('m1').toolCalls, [{ index: 0, id: 'x', name: 'f', arguments: '', at: 0 }]);
  assert.equal(t.answer('m1').lastEventId, 1);
  const before = t.answer('m1').toolCalls;
  args.onToolCall({ index: 0, arguments: '{}' }, 2);
  turn.drain();
  assert.equal(before[0].arguments, '', 'the state is replaced, not changed in place');
  assert.equal(t.answer('m1').toolCalls[0].arguments, '{}');
});

/** The real streamChat over a fake fetch that serves the fixture: the first response is
 * cut after `cut` events, and a resume replays from Last-Event-ID (one event early). */
function realStream(cut, { failResume = false } = {}) {
  const requests = [];
  const fetch = async (url, init) => {
    requests.push({ url, headers: init.headers });
    const last = init.headers['Last-Event-ID'];
    if (!url.endsWith('/api/chat') && failResume) throw new TypeError('offline');
    const from = last === undefined ? 0 : Math.max(0, Number(last) - 1);
    const to = url.endsWith('/api/chat') ? cut : TOOL_EVENTS.length;
    const bytes = new TextEncoder().encode(toolWire(from, to));
    return new Response(new ReadableStream({
      start(ctrl) {
        for (let i = 0; i < bytes.length; i += 4) ctrl.enqueue(bytes.slice(i, i + 4));
        ctrl.close();
      },
    }), { headers: { 'Content-Type': 'text/event-stream', 'X-Chatd-Stream-Id': 'tc1' } });
  };
  const fn = (args) => streamChat({ ...args, fetch, sleep: async () => {}, resumeAttempts: failResume ? 1 : 5 });
  return { fn, requests };
}

test('a connection dropped anywhere in the answer is resumed into the same text and tool calls', async () => {
  for (let cut = 1; cut < TOOL_EVENTS.length; cut++) {
    const t = setup();
    const real = realStream(cut);
    const turn = startTurn({ ...t.deps, streamChat: real.fn }, 'c');
    turn.finish(await turn.run());
    const m = t.answer('m1');
    assert.equal(real.requests.length, 2, `cut ${cut}`);
    assert.equal(m.status, 'done', `cut ${cut}`);
    assert.equal(m.content, TOOL_TEXT, `cut ${cut}`);
    assert.deepEqual(m.toolCalls, TOOL_CALLS, `cut ${cut}`);
  }
});

test('an answer cut off by a reload is resumed from its saved calls into the same calls', async () => {
  for (let cut = 1; cut < TOOL_EVENTS.length; cut++) {
    // The first page: the stream drops, the resume fails, the answer is saved as it was.
    const t = setup();
    const first = realStream(cut, { failResume: true });
    const turn = startTurn({ ...t.deps, streamChat: first.fn }, 'c');
    const outcome = await turn.run();
    assert.equal(outcome.status, 'error', `cut ${cut}`);
    const storage = new MemoryStorage();
    const streaming = reducer(t.state, { type: 'message/finish', convId: 'c', id: 'm1', status: 'streaming' });
    saveConversation(storage, streaming.conversations.c);
    saveIndex(storage, streaming);

    // The page again: the answer comes back interrupted and is resumed from its last id.
    let state = loadState(storage);
    const saved = state.conversations.c.messages[1];
    assert.equal(saved.status, 'interrupted');
    const second = realStream(cut);
    const deps = { ...t.deps, getState: () => state, dispatch: (a) => (state = reducer(state, a)), streamChat: second.fn };
    assert.equal(saved.streamId, 'tc1');
    const again = startTurn(deps, 'c', { msgId: 'm1', streamId: saved.streamId, lastEventId: saved.lastEventId });
    again.finish(await again.run());
    const m = state.conversations.c.messages[1];
    assert.equal(second.requests[0].url, '/api/streams/tc1', `cut ${cut}`);
    assert.equal(second.requests[0].headers['Last-Event-ID'], saved.lastEventId == null ? undefined : String(saved.lastEventId));
    assert.equal(m.status, 'done', `cut ${cut}`);
    assert.equal(m.content, TOOL_TEXT, `cut ${cut}`);
    assert.deepEqual(m.toolCalls, TOOL_CALLS, `cut ${cut}`);
  }
});
