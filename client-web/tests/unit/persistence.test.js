import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPersistence, safeStorage } from '../../src/persistence.js';
import { reducer, initialState, loadState } from '../../src/store.js';
import { MemoryStorage, manualTimers } from './_fakes.js';
import { TOOL_CALLS, TOOL_TEXT } from './_tool-events.js';

function setup(storage = new MemoryStorage()) {
  const timers = manualTimers();
  const errors = [];
  const p = createPersistence({ storage, onError: (e) => errors.push(e), setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout });
  let state = p.loadState();
  const apply = (action) => {
    const prev = state;
    state = reducer(state, action);
    p.track(prev, state);
    return state;
  };
  return { p, storage, timers, errors, apply, get state() { return state; } };
}

test('changes are written once, after the delay, and only for conversations that changed', () => {
  const t = setup();
  t.apply({ type: 'conversation/new', id: 'a', now: 1 });
  t.apply({ type: 'conversation/new', id: 'b', now: 2 });
  t.p.flush();
  const before = t.storage.writes;
  t.apply({ type: 'message/user', convId: 'a', id: 'u1', content: 'hello', now: 3 });
  t.p.schedule(250);
  t.p.schedule(1500); // already pending: keeps the first timer
  assert.deepEqual(t.timers.delays(), [250]);
  t.timers.advance(249);
  assert.equal(t.storage.writes, before, 'nothing written before the delay');
  t.timers.advance(1);
  assert.equal(t.p.pending, false);
  // conversation a and the index (a moved to the top); b untouched
  assert.equal(t.storage.writes, before + 2);
  assert.deepEqual(loadState(t.storage).conversations.a.messages.map((m) => m.content), ['hello']);
  assert.deepEqual(loadState(t.storage).order, ['a', 'b']);
});

test('flush writes at once and cancels the pending timer', () => {
  const t = setup();
  t.apply({ type: 'conversation/new', id: 'a', now: 1 });
  t.p.schedule(1500);
  t.p.flush();
  assert.equal(t.timers.size, 0);
  assert.equal(loadState(t.storage).currentId, 'a');
  const writes = t.storage.writes;
  t.p.flush();
  assert.equal(t.storage.writes, writes, 'nothing dirty: nothing written');
});

test('a deleted conversation is removed from storage straight away', () => {
  const t = setup();
  t.apply({ type: 'conversation/new', id: 'a', now: 1 });
  t.apply({ type: 'message/user', convId: 'a', id: 'u', content: 'x' });
  t.p.flush();
  assert.ok(t.storage.getItem('chatd.v1.conv.a'));
  t.apply({ type: 'conversation/delete', id: 'a' });
  assert.equal(t.storage.getItem('chatd.v1.conv.a'), null);
  t.p.flush();
  assert.deepEqual(loadState(t.storage).order, []);
});

test('a failing storage is reported, not thrown', () => {
  const storage = new MemoryStorage();
  storage.setItem = () => {
    throw new Error('QuotaExceededError');
  };
  const t = setup(storage);
  t.apply({ type: 'conversation/new', id: 'a', now: 1 });
  assert.doesNotThrow(() => t.p.flush());
  assert.equal(t.errors.length, 1);
  assert.match(t.errors[0].message, /Quota/);
});

test('loading restores what was saved, and prefs round-trip', () => {
  const storage = new MemoryStorage();
  const t = setup(storage);
  t.apply({ type: 'conversation/new', id: 'a', now: 1 });
  t.apply({ type: 'message/user', convId: 'a', id: 'u', content: 'q' });
  t.p.flush();
  t.p.savePrefs({ model: 'm1', apiKey: 'k' });
  const again = createPersistence({ storage });
  assert.deepEqual(again.loadState().conversations.a.messages[0].content, 'q');
  assert.deepEqual(again.loadPrefs(), { model: 'm1', apiKey: 'k' });
  assert.deepEqual(createPersistence({ storage: new MemoryStorage() }).loadState(), initialState());
});

test('safeStorage uses localStorage when it works and memory when it is blocked', () => {
  const local = new MemoryStorage();
  assert.equal(safeStorage({ localStorage: local }), local);
  assert.equal(local.getItem('__chatd_probe'), null, 'the probe is cleaned up');
  const blocked = {};
  Object.defineProperty(blocked, 'localStorage', { get() { throw new Error('SecurityError'); } });
  const s = safeStorage(blocked);
  s.setItem('k', 1);
  assert.equal(s.getItem('k'), '1');
  s.removeItem('k');
  assert.equal(s.getItem('k'), null);
});

test('tool calls are saved with the answer and restored on reload, a cut-off answer with its calls so far', () => {
  const storage = new MemoryStorage();
  const t = setup(storage);
  t.apply({ type: 'conversation/new', id: 'a', now: 1 });
  t.apply({ type: 'message/user', convId: 'a', id: 'u', content: 'weather?' });
  t.apply({ type: 'message/assistant', convId: 'a', id: 'm1' });
  t.apply({ type: 'message/append', convId: 'a', id: 'm1', text: TOOL_TEXT, toolCalls: TOOL_CALLS, lastEventId: 13 });
  t.apply({ type: 'message/finish', convId: 'a', id: 'm1', status: 'done', finishReason: 'tool_calls' });
  t.apply({ type: 'message/user', convId: 'a', id: 'u2', content: 'again' });
  t.apply({ type: 'message/assistant', convId: 'a', id: 'm2' });
  t.apply({ type: 'message/meta', convId: 'a', id: 'm2', streamId: 's2' });
  t.apply({ type: 'message/append', convId: 'a', id: 'm2', text: 'Ok.', toolCalls: [{ ...TOOL_CALLS[0], arguments: '{"ci' }], lastEventId: 5 });
  t.p.flush();

  const loaded = createPersistence({ storage }).loadState().conversations.a.messages;
  assert.deepEqual(loaded[1], t.state.conversations.a.messages[1], 'a finished answer comes back as it was');
  assert.deepEqual(loaded[1].toolCalls, TOOL_CALLS);
  assert.equal(loaded[3].status, 'interrupted');
  assert.deepEqual(loaded[3].toolCalls, [{ ...TOOL_CALLS[0], arguments: '{"ci' }], 'raw arguments so far, as received');
  assert.equal(loaded[3].lastEventId, 5);
  assert.equal(loaded[3].streamId, 's2');
});

test('saved tool calls that are not calls are dropped on load', () => {
  const storage = new MemoryStorage();
  storage.setItem('chatd.v1.index', JSON.stringify({ order: ['a'], currentId: 'a' }));
  storage.setItem('chatd.v1.conv.a', JSON.stringify({
    id: 'a',
    messages: [
      { id: 'm1', role: 'assistant', content: 'ab', status: 'done', toolCalls: [{ index: 0, name: 'f', arguments: '{}', at: 1 }, { index: 'x' }, 7] },
      { id: 'm2', role: 'assistant', content: 'ab', status: 'done', toolCalls: 'nonsense' },
      { id: 'm3', role: 'assistant', content: 'ab', status: 'done' },
    ],
  }));
  const [m1, m2, m3] = loadState(storage).conversations.a.messages;
  assert.deepEqual(m1.toolCalls, [{ index: 0, id: '', name: 'f', arguments: '{}', at: 1 }]);
  assert.equal('toolCalls' in m2, false);
  assert.equal('toolCalls' in m3, false);
});
