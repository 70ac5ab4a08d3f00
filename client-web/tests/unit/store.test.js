import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  initialState, reducer, buildRequest, titleFrom, loadState, saveConversation, saveIndex,
  removeConversation, lastUserIndex, savePrefs, loadPrefs,
} from '../../src/store.js';

class MemoryStorage {
  constructor() {
    this.m = new Map();
  }
  getItem(k) {
    return this.m.has(k) ? this.m.get(k) : null;
  }
  setItem(k, v) {
    this.m.set(k, String(v));
  }
  removeItem(k) {
    this.m.delete(k);
  }
}

function run(actions, state = initialState()) {
  return actions.reduce(reducer, state);
}

function chatWith(turns) {
  const acts = [{ type: 'conversation/new', id: 'c1', now: 1, model: 'm1' }];
  turns.forEach(([q, a], i) => {
    acts.push({ type: 'message/user', convId: 'c1', id: `u${i}`, content: q, now: 2 });
    if (a !== undefined) {
      acts.push({ type: 'message/assistant', convId: 'c1', id: `a${i}` });
      acts.push({ type: 'message/append', convId: 'c1', id: `a${i}`, text: a, lastEventId: a.length });
      acts.push({ type: 'message/finish', convId: 'c1', id: `a${i}`, status: 'done' });
    }
  });
  return run(acts);
}

test('new conversation becomes current and first in the list', () => {
  const s = run([{ type: 'conversation/new', id: 'a', now: 1 }, { type: 'conversation/new', id: 'b', now: 2 }]);
  assert.deepEqual(s.order, ['b', 'a']);
  assert.equal(s.currentId, 'b');
  assert.equal(s.conversations.a.title, '');
});

test('the first user message titles the conversation; rename overrides it for good', () => {
  let s = chatWith([['  What is   the capital of France? Please answer in one short sentence only.', 'Paris.']]);
  assert.equal(s.conversations.c1.title, 'What is the capital of France? Please answer in…');
  s = reducer(s, { type: 'conversation/rename', id: 'c1', title: '  Geography ' });
  assert.equal(s.conversations.c1.title, 'Geography');
  s = reducer(s, { type: 'conversation/rename', id: 'c1', title: '   ' });
  assert.equal(s.conversations.c1.title, 'Geography', 'an empty title is ignored');
  assert.equal(titleFrom('👩‍💻'.repeat(3)), '👩‍💻👩‍💻👩‍💻');
  assert.equal(titleFrom(''), 'New chat');
});

test('streaming appends text and reasoning; finish sets status', () => {
  let s = run([
    { type: 'conversation/new', id: 'c', now: 1 },
    { type: 'message/user', convId: 'c', id: 'u', content: 'hi' },
    { type: 'message/assistant', convId: 'c', id: 'a', model: 'm' },
    { type: 'message/meta', convId: 'c', id: 'a', streamId: 's9' },
    { type: 'message/append', convId: 'c', id: 'a', text: '你', reasoning: 'think', lastEventId: 1 },
    { type: 'message/append', convId: 'c', id: 'a', text: '好', lastEventId: 2 },
  ]);
  const a = s.conversations.c.messages[1];
  assert.deepEqual({ ...a }, { id: 'a', role: 'assistant', content: '你好', reasoning: 'think', status: 'streaming', model: 'm', streamId: 's9', lastEventId: 2 });
  const before = s;
  s = reducer(s, { type: 'message/append', convId: 'c', id: 'a', text: '' });
  assert.equal(s, before, 'an empty append is a no-op');
  s = reducer(s, { type: 'message/finish', convId: 'c', id: 'a', status: 'error', error: { title: 't', text: 'x' } });
  assert.equal(s.conversations.c.messages[1].status, 'error');
  s = reducer(s, { type: 'message/finish', convId: 'c', id: 'a', status: 'done' });
  assert.equal(s.conversations.c.messages[1].error, undefined);
});

test('the reducer never mutates the previous state', () => {
  const s1 = chatWith([['q', 'a']]);
  const frozen = JSON.stringify(s1);
  run([
    { type: 'message/append', convId: 'c1', id: 'a0', text: 'more' },
    { type: 'message/regenerate', convId: 'c1' },
    { type: 'conversation/rename', id: 'c1', title: 'x' },
    { type: 'conversation/delete', id: 'c1' },
  ], s1);
  assert.equal(JSON.stringify(s1), frozen);
});

test('regenerate drops the answers after the last user message', () => {
  let s = chatWith([['q1', 'a1'], ['q2', 'a2']]);
  s = reducer(s, { type: 'message/regenerate', convId: 'c1' });
  assert.deepEqual(s.conversations.c1.messages.map((m) => m.id), ['u0', 'a0', 'u1']);
  assert.equal(lastUserIndex(s.conversations.c1), 2);
  const same = reducer(s, { type: 'message/regenerate', convId: 'c1' });
  assert.equal(same, s, 'nothing to drop');
});

test('editing a user message replaces it and drops everything after it', () => {
  let s = chatWith([['q1', 'a1'], ['q2', 'a2']]);
  s = reducer(s, { type: 'message/edit', convId: 'c1', id: 'u0', content: 'q1 edited' });
  assert.deepEqual(s.conversations.c1.messages.map((m) => [m.id, m.content]), [['u0', 'q1 edited']]);
  const t = reducer(s, { type: 'message/edit', convId: 'c1', id: 'nope', content: 'x' });
  assert.equal(t, s);
});

test('delete picks another current conversation', () => {
  let s = run([{ type: 'conversation/new', id: 'a' }, { type: 'conversation/new', id: 'b' }]);
  s = reducer(s, { type: 'conversation/delete', id: 'b' });
  assert.equal(s.currentId, 'a');
  assert.deepEqual(s.order, ['a']);
  s = reducer(s, { type: 'conversation/delete', id: 'a' });
  assert.equal(s.currentId, null);
  assert.deepEqual(s.conversations, {});
});

test('a new user message moves its conversation to the top', () => {
  let s = run([{ type: 'conversation/new', id: 'a' }, { type: 'conversation/new', id: 'b' }]);
  s = reducer(s, { type: 'message/user', convId: 'a', id: 'u', content: 'x' });
  assert.deepEqual(s.order, ['a', 'b']);
});

test('buildRequest: system prompt first, finished and stopped answers only, model when set', () => {
  let s = chatWith([['q1', 'a1'], ['q2', 'partial'], ['q3']]);
  s = reducer(s, { type: 'message/finish', convId: 'c1', id: 'a1', status: 'stopped' });
  s = reducer(s, { type: 'conversation/settings', id: 'c1', system: 'Be brief.', model: ' gpt-x ' });
  s = reducer(s, { type: 'message/assistant', convId: 'c1', id: 'a2' });
  s = reducer(s, { type: 'message/append', convId: 'c1', id: 'a2', text: 'half' });
  s = reducer(s, { type: 'message/finish', convId: 'c1', id: 'a2', status: 'error' });
  s = reducer(s, { type: 'message/user', convId: 'c1', id: 'u9', content: 'q4' });
  assert.deepEqual(buildRequest(s.conversations.c1), {
    model: 'gpt-x',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'q1' },
      { role: 'assistant', content: 'a1' },
      { role: 'user', content: 'q2' },
      { role: 'assistant', content: 'partial' },
      { role: 'user', content: 'q3' },
      { role: 'user', content: 'q4' },
    ],
  });
  s = reducer(s, { type: 'conversation/settings', id: 'c1', system: '  ', model: '' });
  const b = buildRequest(s.conversations.c1);
  assert.equal(b.model, undefined);
  assert.equal(b.messages[0].role, 'user');
});

test('persistence round trip; a streaming answer comes back as interrupted', () => {
  const st = new MemoryStorage();
  let s = chatWith([['q1', 'a1']]);
  s = run([
    { type: 'conversation/new', id: 'c2' },
    { type: 'message/user', convId: 'c2', id: 'x', content: 'emoji 👩‍💻 你好' },
    { type: 'message/assistant', convId: 'c2', id: 'y' },
    { type: 'message/meta', convId: 'c2', id: 'y', streamId: 'sid' },
    { type: 'message/append', convId: 'c2', id: 'y', text: 'par', lastEventId: 3 },
  ], s);
  for (const id of s.order) saveConversation(st, s.conversations[id]);
  saveIndex(st, s);
  const back = loadState(st);
  assert.deepEqual(back.order, s.order);
  assert.equal(back.currentId, 'c2');
  assert.deepEqual(back.conversations.c1, s.conversations.c1);
  const y = back.conversations.c2.messages[1];
  assert.equal(y.status, 'interrupted');
  assert.equal(y.streamId, 'sid');
  assert.equal(y.lastEventId, 3);
  assert.equal(back.conversations.c2.messages[0].content, 'emoji 👩‍💻 你好');
});

test('loadState survives missing and corrupt entries', () => {
  const st = new MemoryStorage();
  assert.deepEqual(loadState(st), initialState());
  st.setItem('chatd.v1.index', '{not json');
  assert.deepEqual(loadState(st), initialState());
  st.setItem('chatd.v1.index', JSON.stringify({ order: ['a', 'b', 'c'], currentId: 'zzz' }));
  st.setItem('chatd.v1.conv.a', '{broken');
  st.setItem('chatd.v1.conv.b', JSON.stringify({ id: 'b', title: 't', messages: [{ role: 'user', content: 'x' }, { role: 'evil', content: 1 }] }));
  const s = loadState(st);
  assert.deepEqual(s.order, ['b']);
  assert.equal(s.currentId, 'b');
  assert.equal(s.conversations.b.messages.length, 1);
  removeConversation(st, 'b');
  assert.equal(st.getItem('chatd.v1.conv.b'), null);
});

test('prefs round trip', () => {
  const st = new MemoryStorage();
  assert.deepEqual(loadPrefs(st), {});
  savePrefs(st, { apiKey: 'k', model: 'm' });
  assert.deepEqual(loadPrefs(st), { apiKey: 'k', model: 'm' });
});
