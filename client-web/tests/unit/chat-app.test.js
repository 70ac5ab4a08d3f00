import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createChatApp } from '../../src/chat-app.js';
import { createPersistence } from '../../src/persistence.js';
import { reducer, initialState, saveConversation, saveIndex, loadState } from '../../src/store.js';
import { describeError } from '../../src/api.js';
import { MemoryStorage, manualTimers, manualFrames, fakeStreamChat, settle } from './_fakes.js';

/** Views as plain objects that remember what they were asked to show. */
function fakeViews() {
  const shown = new Map(); // message id -> content painted
  const log = [];
  const messages = {
    edits: [],
    render: (msgs) => {
      shown.clear();
      for (const m of msgs) shown.set(m.id, m.content);
      log.push('render');
    },
    sync: (msgs) => {
      for (const m of msgs) if (!shown.has(m.id)) shown.set(m.id, m.content);
      for (const id of [...shown.keys()]) if (!msgs.some((m) => m.id === id)) shown.delete(id);
    },
    append: (m) => shown.set(m.id, m.content),
    has: (id) => shown.has(id),
    paint: (m) => {
      shown.set(m.id, m.content);
      return true;
    },
    refreshActions: () => {},
    startEdit: (m, onSubmit) => messages.edits.push({ m, onSubmit }),
  };
  let text = '';
  const composer = {
    busy: false,
    update: (busy) => (composer.busy = busy),
    onInput: () => {},
    text: () => text.trim(),
    clear: () => (text = ''),
    type: (t) => (text = t),
    get value() {
      return text;
    },
  };
  const views = {
    sidebar: { render: () => log.push('sidebar'), startRename: (id, title, done) => done('Renamed') },
    header: { render: () => {}, markSystem: () => {}, setModels: (ids) => log.push(`models ${ids.join(',')}`) },
    messages,
    composer,
    scroll: { toBottom: () => {}, follow: () => {}, afterPaint: () => {} },
    notices: { announce: (t) => log.push(`announce ${t}`), toast: (t) => log.push(`toast ${t}`) },
  };
  return { views, shown, log, composer, messages };
}

function setup({ storage = new MemoryStorage(), confirm = () => true } = {}) {
  const timers = manualTimers();
  const frames = manualFrames();
  const persistence = createPersistence({ storage, setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout });
  const streamChat = fakeStreamChat();
  const cancels = [];
  const v = fakeViews();
  let n = 0;
  const app = createChatApp({
    persistence,
    api: { streamChat, cancelStream: (a) => cancels.push(a), describeError, listModels: async () => ['m1', 'm2'] },
    views: v.views,
    confirm,
    requestFrame: frames.request,
    now: () => 5000,
    newId: (p) => `${p}${++n}`,
  });
  const conv = () => app.state.conversations[app.state.currentId];
  const last = () => conv().messages.at(-1);
  return { app, storage, timers, frames, streamChat, cancels, conv, last, ...v };
}

test('start drops stray empty conversations, opens one and loads the model list', async () => {
  const storage = new MemoryStorage();
  let s = [
    { type: 'conversation/new', id: 'empty', now: 1 },
    { type: 'conversation/new', id: 'full', now: 2 },
    { type: 'message/user', convId: 'full', id: 'u', content: 'q' },
  ].reduce(reducer, initialState());
  for (const c of Object.values(s.conversations)) saveConversation(storage, c);
  saveIndex(storage, s);
  const t = setup({ storage });
  t.app.start();
  assert.deepEqual(t.app.state.order, ['full']);
  assert.equal(t.app.state.currentId, 'full');
  assert.ok(t.log.includes('render'));
  await settle();
  assert.ok(t.log.includes('models m1,m2'));

  const fresh = setup();
  fresh.app.start();
  assert.equal(fresh.app.state.order.length, 1, 'a new conversation when there was none');
});

test('send: the answer streams through frames, one answer at a time, and is saved', async () => {
  const t = setup();
  t.app.start();
  t.composer.type('  Hello  ');
  const done = t.app.submit();
  assert.equal(t.composer.value, '', 'the box is cleared');
  assert.equal(t.app.busy, true);
  assert.equal(t.composer.busy, true);
  assert.deepEqual(t.conv().messages.map((m) => [m.role, m.content]), [['user', 'Hello'], ['assistant', '']]);
  assert.equal(t.conv().title, 'Hello');
  assert.ok(t.log.includes('announce The assistant is answering.'));

  t.composer.type('second question');
  t.app.submit();
  assert.equal(t.composer.value, 'second question', 'blocked while streaming: the text stays');
  assert.equal(t.streamChat.calls.length, 1);

  const { args } = t.streamChat.calls[0];
  assert.deepEqual(args.body.messages, [{ role: 'user', content: 'Hello' }]);
  args.onStreamId('s1');
  args.onDelta('Hi', 1);
  args.onDelta(' there', 2);
  assert.equal(t.frames.requests, 1, 'one frame for a burst of text');
  assert.equal(t.last().content, '', 'buffered until the frame');
  t.frames.flush();
  assert.equal(t.last().content, 'Hi there');
  assert.equal(t.shown.get(t.last().id), 'Hi there');
  assert.deepEqual(t.timers.delays(), [1500], 'saving is spread out while an answer streams');

  args.onDelta('!', 3);
  t.streamChat.calls[0].resolve({ status: 'done', finishReason: 'stop' });
  await done;
  assert.equal(t.app.busy, false);
  assert.equal(t.composer.busy, false);
  assert.equal(t.last().status, 'done');
  assert.equal(t.app.streaming, true, 'the last frame is still to be painted');
  t.frames.flush();
  assert.equal(t.app.streaming, false);
  assert.equal(t.shown.get(t.last().id), 'Hi there!');
  assert.equal(t.log.at(-1), 'announce Answer complete.');
  assert.equal(t.timers.size, 0, 'saved at once when the answer ended');
  const saved = loadState(t.storage);
  assert.equal(saved.conversations[t.conv().id].messages[1].content, 'Hi there!');
  assert.equal(t.app.stats.frames, 2);
});

test('stop cancels the stream on the server and keeps the partial answer', async () => {
  const t = setup();
  t.app.start();
  t.composer.type('Tell me a story');
  const done = t.app.submit();
  const { args } = t.streamChat.calls[0];
  args.onStreamId('s9');
  args.onDelta('Once', 1);
  t.app.stop();
  assert.deepEqual(t.cancels, [{ streamId: 's9', apiKey: undefined }]);
  await done;
  assert.equal(t.last().status, 'stopped');
  assert.equal(t.last().content, 'Once');
  assert.equal(t.log.at(-1), 'announce Stopped.');
  t.app.stop(); // nothing streaming: nothing happens
  assert.equal(t.cancels.length, 1);
});

test('deleting the conversation being answered stops the answer; a declined confirm keeps it', async () => {
  let answer = false;
  const t = setup({ confirm: () => answer });
  t.app.start();
  t.composer.type('q');
  const done = t.app.submit();
  const id = t.app.state.currentId;
  t.app.deleteConversation(id);
  assert.ok(t.app.state.conversations[id], 'kept when the person says no');
  assert.equal(t.app.busy, true);
  answer = true;
  t.app.deleteConversation(id);
  assert.equal(t.app.state.conversations[id], undefined);
  assert.equal(t.streamChat.calls[0].args.signal.aborted, true);
  assert.equal(t.storage.getItem(`chatd.v1.conv.${id}`), null);
  assert.ok(t.log.includes('announce Conversation deleted'));
  await done;
  assert.equal(t.app.busy, false);
});

test('a reload mid-answer resumes it from the saved stream id and last event id', async () => {
  const storage = new MemoryStorage();
  const s = [
    { type: 'conversation/new', id: 'c', now: 1 },
    { type: 'message/user', convId: 'c', id: 'u', content: 'q' },
    { type: 'message/assistant', convId: 'c', id: 'a' },
    { type: 'message/meta', convId: 'c', id: 'a', streamId: 's5' },
    { type: 'message/append', convId: 'c', id: 'a', text: 'Hal', lastEventId: 4 },
  ].reduce(reducer, initialState());
  saveConversation(storage, s.conversations.c);
  saveIndex(storage, s);
  const t = setup({ storage });
  t.app.start();
  assert.equal(t.last().status, 'interrupted');
  const done = t.app.resumeInterrupted();
  assert.equal(t.last().status, 'streaming');
  const { args } = t.streamChat.calls[0];
  assert.deepEqual(args.resume, { streamId: 's5', lastEventId: 4 });
  args.onDelta('lo', 5);
  t.streamChat.calls[0].resolve({ status: 'done', finishReason: 'stop' });
  await done;
  assert.equal(t.last().content, 'Hallo');
  assert.equal(t.conv().messages.length, 2);
});

test('leaving the page saves the text received so far', () => {
  const t = setup();
  t.app.start();
  t.composer.type('q');
  t.app.submit();
  t.streamChat.calls[0].args.onDelta('partial', 1);
  t.app.pageHide();
  const saved = loadState(t.storage).conversations[t.conv().id];
  assert.equal(saved.messages[1].content, 'partial');
  assert.equal(saved.messages[1].status, 'interrupted');
});

test('leaving mid-answer lets the connection go unresumed; back from the cache, it resumes', async () => {
  const t = setup();
  t.app.start();
  t.composer.type('q');
  const first = t.app.submit();
  const call = t.streamChat.calls[0];
  call.args.onStreamId('s9');
  call.args.onDelta('par', 3);
  t.app.pageHide();
  assert.equal(call.args.signal.aborted, true, 'the dying page does not resume the cut connection');
  assert.deepEqual(t.cancels, [], 'nor cancels the stream');
  call.resolve({ status: 'aborted' });
  await first;
  assert.equal(t.last().status, 'streaming', 'nothing recorded: the next page resumes it');
  assert.equal(t.app.pageShow(false), undefined, 'a fresh page resumes through resumeInterrupted');
  const again = t.app.pageShow(true);
  assert.equal(t.streamChat.calls.length, 2);
  assert.deepEqual(t.streamChat.calls[1].args.resume, { streamId: 's9', lastEventId: 3 });
  t.streamChat.calls[1].args.onDelta('tial', 4);
  t.streamChat.calls[1].resolve({ status: 'done', finishReason: 'stop' });
  await again;
  assert.equal(t.last().content, 'partial');
  assert.equal(t.last().status, 'done');
  assert.equal(t.app.pageShow(true), undefined, 'only once');
});

test('regenerate and edit-and-resend answer the question again', async () => {
  const t = setup();
  t.app.start();
  t.composer.type('first');
  let done = t.app.submit();
  t.streamChat.calls[0].resolve({ status: 'done', finishReason: 'stop' });
  await done;
  const firstAnswer = t.last().id;

  done = t.app.regenerate();
  assert.equal(t.conv().messages.length, 2);
  assert.notEqual(t.last().id, firstAnswer, 'the old answer is replaced');
  assert.equal(t.app.regenerate(), undefined, 'not while answering');
  assert.equal(t.streamChat.calls.length, 2);
  t.streamChat.calls[1].resolve({ status: 'done', finishReason: 'stop' });
  await done;

  const userId = t.conv().messages[0].id;
  t.app.editMessage(userId);
  assert.equal(t.messages.edits.length, 1);
  t.messages.edits[0].onSubmit('changed');
  assert.equal(t.conv().messages[0].content, 'changed');
  assert.deepEqual(t.streamChat.calls[2].args.body.messages, [{ role: 'user', content: 'changed' }]);
  t.app.editMessage(userId);
  assert.equal(t.messages.edits.length, 1, 'no editing while answering');
  t.streamChat.calls[2].resolve({ status: 'done', finishReason: 'stop' });
});

test('settings: model and access key are kept as preferences', async () => {
  const t = setup();
  t.app.start();
  t.app.setModel(' big-model ');
  assert.equal(t.conv().model, 'big-model');
  assert.equal(t.app.prefs.model, 'big-model');
  await t.app.setApiKey('  secret ');
  assert.equal(t.app.prefs.apiKey, 'secret');
  assert.ok(t.log.includes('toast Access key saved.'));
  assert.deepEqual(JSON.parse(t.storage.getItem('chatd.v1.prefs')), { model: 'big-model', apiKey: 'secret' });
  t.composer.type('q');
  t.app.submit();
  assert.equal(t.streamChat.calls[0].args.apiKey, 'secret');
  assert.equal(t.streamChat.calls[0].args.body.model, 'big-model');
  t.app.newChat();
  assert.equal(t.conv().model, 'big-model', 'a new chat keeps the model');
  t.app.renameConversation(t.conv().id); // the fake sidebar answers 'Renamed'
  assert.equal(t.conv().title, 'Renamed');
});
