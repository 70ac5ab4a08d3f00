// The chat app: wires the store, the chatd client and the streaming markdown view.

import { streamChat, cancelStream, describeError, listModels, formatSeconds } from './api.js';
import {
  reducer, loadState, saveConversation, saveIndex, removeConversation, buildRequest,
  newId, loadPrefs, savePrefs, lastUserIndex,
} from './store.js';
import { createMarkdown } from './markdown.js';
import { copyText } from './clipboard.js';

const $ = (id) => document.getElementById(id);
const el = {
  app: $('app'),
  sidebar: $('sidebar'),
  scrim: $('scrim'),
  openSidebar: $('open-sidebar'),
  closeSidebar: $('close-sidebar'),
  newChat: $('new-chat'),
  convList: $('conv-list'),
  title: $('conv-title'),
  model: $('model'),
  modelList: $('model-list'),
  toggleSystem: $('toggle-system'),
  systemPanel: $('system-panel'),
  system: $('system'),
  scroller: $('scroller'),
  empty: $('empty'),
  messages: $('messages'),
  jump: $('jump'),
  composer: $('composer'),
  input: $('input'),
  send: $('send'),
  stop: $('stop'),
  settings: $('settings'),
  openSettings: $('open-settings'),
  apiKey: $('api-key'),
  toast: $('toast'),
  announcer: $('announcer'),
};

const storage = safeStorage();
const MD = createMarkdown(window);
let prefs = loadPrefs(storage);
let state = loadState(storage);
let active = null; // the turn being streamed
const views = new Map(); // message id -> its DOM
let stick = true; // auto-scroll while the reader is at the bottom

// ---------------------------------------------------------------- state + saving

const dirty = new Set();
let indexDirty = false;
let saveTimer = 0;

function dispatch(action) {
  const prev = state;
  state = reducer(state, action);
  if (state === prev) return;
  for (const id of Object.keys(state.conversations)) {
    if (state.conversations[id] !== prev.conversations[id]) dirty.add(id);
  }
  for (const id of Object.keys(prev.conversations)) {
    if (!state.conversations[id]) {
      dirty.delete(id);
      try {
        removeConversation(storage, id);
      } catch {
        /* storage gone: nothing to remove */
      }
    }
  }
  if (state.order !== prev.order || state.currentId !== prev.currentId) indexDirty = true;
  scheduleSave(active ? 1500 : 250);
}

function scheduleSave(delay) {
  if (saveTimer) return;
  saveTimer = setTimeout(saveNow, delay);
}

function saveNow() {
  clearTimeout(saveTimer);
  saveTimer = 0;
  try {
    for (const id of dirty) if (state.conversations[id]) saveConversation(storage, state.conversations[id]);
    dirty.clear();
    if (indexDirty) saveIndex(storage, state);
    indexDirty = false;
  } catch (e) {
    toast("Couldn't save your conversations in this browser (storage is full or blocked).");
  }
}

function safeStorage() {
  try {
    const s = window.localStorage;
    const k = '__chatd_probe';
    s.setItem(k, '1');
    s.removeItem(k);
    return s;
  } catch {
    const m = new Map();
    return {
      getItem: (k) => (m.has(k) ? m.get(k) : null),
      setItem: (k, v) => m.set(k, String(v)),
      removeItem: (k) => m.delete(k),
    };
  }
}

const current = () => (state.currentId ? state.conversations[state.currentId] : null);

function ensureConversation() {
  if (!current()) dispatch({ type: 'conversation/new', id: newId('c'), now: Date.now(), model: prefs.model || '' });
  return current();
}

// ---------------------------------------------------------------- sidebar

function renderSidebar() {
  const frag = document.createDocumentFragment();
  for (const id of state.order) {
    const conv = state.conversations[id];
    if (!conv || (!conv.messages.length && id !== state.currentId)) continue;
    const li = document.createElement('li');
    li.className = 'conv-item';
    li.dataset.id = id;
    if (id === state.currentId) li.classList.add('active');
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'conv-open';
    open.textContent = conv.title || 'New chat';
    if (id === state.currentId) open.setAttribute('aria-current', 'page');
    const rename = iconButton('rename', `Rename “${conv.title || 'New chat'}”`, 'conv-rename');
    const del = iconButton('delete', `Delete “${conv.title || 'New chat'}”`, 'conv-delete');
    li.append(open, rename, del);
    frag.append(li);
  }
  el.convList.replaceChildren(frag);
}

const ICONS = {
  rename: '<path d="M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4"/>',
  delete: '<path d="M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13"/>',
  copy: '<rect x="9" y="9" width="11" height="11" rx="2"/><path d="M5 15V5a1 1 0 0 1 1-1h9"/>',
  edit: '<path d="M4 20h4L19 9l-4-4L4 16v4z"/>',
  regenerate: '<path d="M20 12a8 8 0 1 1-2.3-5.6M20 4v5h-5"/>',
};

function iconButton(name, label, cls) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `icon-btn small ${cls}`;
  b.setAttribute('aria-label', label);
  b.title = label;
  b.append(svgIcon(name));
  return b;
}

function svgIcon(name) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  svg.innerHTML = ICONS[name]; // constant markup of the app itself
  return svg;
}

function startRename(li) {
  const id = li.dataset.id;
  const conv = state.conversations[id];
  if (!conv) return;
  const input = document.createElement('input');
  input.className = 'conv-rename-input';
  input.value = conv.title || '';
  input.setAttribute('aria-label', 'New name for the conversation');
  const btn = li.querySelector('.conv-open');
  btn.replaceWith(input);
  input.focus();
  input.select();
  let done = false;
  const finish = (save) => {
    if (done) return;
    done = true;
    if (save && input.value.trim()) dispatch({ type: 'conversation/rename', id, title: input.value });
    renderSidebar();
    renderHeader();
    const again = el.convList.querySelector(`li[data-id="${CSS.escape(id)}"] .conv-rename`);
    if (again) again.focus();
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      finish(true);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      finish(false);
    }
  });
  input.addEventListener('blur', () => finish(true));
}

el.convList.addEventListener('click', (e) => {
  const li = e.target.closest('li.conv-item');
  if (!li) return;
  const id = li.dataset.id;
  if (e.target.closest('.conv-open')) {
    selectConversation(id);
    closeSidebar();
  } else if (e.target.closest('.conv-rename')) {
    startRename(li);
  } else if (e.target.closest('.conv-delete')) {
    const conv = state.conversations[id];
    if (!conv) return;
    if (!window.confirm(`Delete “${conv.title || 'New chat'}”? This cannot be undone.`)) return;
    if (active && active.convId === id) stop();
    dispatch({ type: 'conversation/delete', id });
    saveNow();
    renderAll();
    announce('Conversation deleted');
  }
});

function selectConversation(id) {
  if (id === state.currentId) return;
  pruneEmpty();
  dispatch({ type: 'conversation/select', id });
  renderAll();
  scrollToBottom();
}

/** An empty conversation left behind is not worth keeping. */
function pruneEmpty() {
  const conv = current();
  if (conv && !conv.messages.length && !(active && active.convId === conv.id)) {
    dispatch({ type: 'conversation/delete', id: conv.id });
  }
}

el.newChat.addEventListener('click', () => {
  const conv = current();
  if (!conv || conv.messages.length) {
    pruneEmpty();
    dispatch({ type: 'conversation/new', id: newId('c'), now: Date.now(), model: (conv && conv.model) || prefs.model || '' });
    renderAll();
  }
  closeSidebar();
  el.input.focus();
});

function openSidebar() {
  el.app.classList.add('sidebar-open');
  el.scrim.hidden = false;
  el.openSidebar.setAttribute('aria-expanded', 'true');
  el.newChat.focus();
}

function closeSidebar() {
  if (!el.app.classList.contains('sidebar-open')) return;
  el.app.classList.remove('sidebar-open');
  el.scrim.hidden = true;
  el.openSidebar.setAttribute('aria-expanded', 'false');
}

el.openSidebar.addEventListener('click', openSidebar);
el.closeSidebar.addEventListener('click', () => {
  closeSidebar();
  el.openSidebar.focus();
});
el.scrim.addEventListener('click', closeSidebar);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && el.app.classList.contains('sidebar-open')) {
    closeSidebar();
    el.openSidebar.focus();
  }
});

// ---------------------------------------------------------------- header / settings

function renderHeader() {
  const conv = current();
  el.title.textContent = (conv && conv.title) || 'New chat';
  document.title = conv && conv.title ? `${conv.title} · chatd` : 'chatd';
  if (document.activeElement !== el.model) el.model.value = (conv && conv.model) || '';
  if (document.activeElement !== el.system) el.system.value = (conv && conv.system) || '';
  el.toggleSystem.classList.toggle('on', !!(conv && conv.system && conv.system.trim()));
}

el.model.addEventListener('change', () => {
  const conv = ensureConversation();
  dispatch({ type: 'conversation/settings', id: conv.id, model: el.model.value });
  prefs = { ...prefs, model: el.model.value.trim() };
  savePrefs(storage, prefs);
  renderSidebar();
});

el.system.addEventListener('input', () => {
  const conv = ensureConversation();
  dispatch({ type: 'conversation/settings', id: conv.id, system: el.system.value });
  el.toggleSystem.classList.toggle('on', !!el.system.value.trim());
  renderSidebar();
});

el.toggleSystem.addEventListener('click', () => {
  const show = el.systemPanel.hidden;
  el.systemPanel.hidden = !show;
  el.toggleSystem.setAttribute('aria-expanded', String(show));
  if (show) el.system.focus();
});

el.openSettings.addEventListener('click', () => {
  el.apiKey.value = prefs.apiKey || '';
  el.settings.showModal();
});

el.settings.addEventListener('close', () => {
  if (el.settings.returnValue === 'save') {
    prefs = { ...prefs, apiKey: el.apiKey.value.trim() };
    savePrefs(storage, prefs);
    toast(prefs.apiKey ? 'Access key saved.' : 'Access key removed.');
    loadModels();
  }
});

async function loadModels() {
  const ids = await listModels({ apiKey: prefs.apiKey });
  el.modelList.replaceChildren(...ids.map((id) => {
    const o = document.createElement('option');
    o.value = id;
    return o;
  }));
}

// ---------------------------------------------------------------- messages

function renderAll() {
  renderSidebar();
  renderHeader();
  renderMessages();
  updateComposer();
}

function renderMessages() {
  views.clear();
  const conv = current();
  const frag = document.createDocumentFragment();
  const msgs = conv ? conv.messages : [];
  for (const m of msgs) frag.append(buildMessage(m));
  el.messages.replaceChildren(frag);
  el.empty.hidden = msgs.length > 0;
  for (const m of msgs) if (m.role === 'assistant') paintAssistant(m);
  refreshActions();
}

/** Brings the message list in line with the conversation without rebuilding what is
 * already there (messages are only ever added at the end or cut from the end). */
function syncMessages() {
  const conv = current();
  const msgs = conv ? conv.messages : [];
  const ids = new Set(msgs.map((m) => m.id));
  for (const [id, v] of views) {
    if (!ids.has(id)) {
      v.art.remove();
      views.delete(id);
    }
  }
  for (const m of msgs) {
    const v = views.get(m.id);
    if (!v) {
      el.messages.append(buildMessage(m));
      if (m.role === 'assistant') paintAssistant(m);
    } else if (m.role === 'user' && v.bubble.textContent !== m.content) {
      v.bubble.textContent = m.content;
    }
  }
  el.empty.hidden = msgs.length > 0;
  refreshActions();
}

function buildMessage(m) {
  const art = document.createElement('article');
  art.className = `msg ${m.role}`;
  art.dataset.id = m.id;
  const view = { art, role: m.role };
  if (m.role === 'user') {
    art.setAttribute('aria-label', 'You said');
    const bubble = document.createElement('div');
    bubble.className = 'bubble';
    bubble.textContent = m.content;
    const actions = document.createElement('div');
    actions.className = 'msg-actions';
    actions.append(iconButton('edit', 'Edit message', 'edit-msg'), iconButton('copy', 'Copy message', 'copy-msg'));
    art.append(bubble, actions);
    view.bubble = bubble;
    view.actions = actions;
  } else {
    art.setAttribute('aria-label', 'Assistant said');
    const avatar = document.createElement('div');
    avatar.className = 'avatar';
    avatar.setAttribute('aria-hidden', 'true');
    avatar.textContent = '✦';
    const body = document.createElement('div');
    body.className = 'msg-body';
    const thinking = document.createElement('details');
    thinking.className = 'thinking';
    thinking.hidden = true;
    const summary = document.createElement('summary');
    summary.textContent = 'Thinking';
    const thinkingText = document.createElement('div');
    thinkingText.className = 'thinking-text';
    const thinkingNode = document.createTextNode('');
    thinkingText.append(thinkingNode);
    thinking.append(summary, thinkingText);
    const md = document.createElement('div');
    md.className = 'md';
    const status = document.createElement('div');
    status.className = 'msg-status';
    const actions = document.createElement('div');
    actions.className = 'msg-actions';
    actions.append(iconButton('copy', 'Copy answer', 'copy-msg'), iconButton('regenerate', 'Regenerate answer', 'regen'));
    body.append(thinking, md, status, actions);
    art.append(avatar, body);
    Object.assign(view, { thinking, summary, thinkingNode, md, status, actions, sm: new MD.StreamingMarkdown(md), shownReasoning: 0 });
  }
  views.set(m.id, view);
  return art;
}

/**
 * Brings an assistant message's DOM up to date; cheap when only the tail changed.
 * `budgeted`: show at most frameChars more characters (a burst is spread over frames).
 * Returns false while some text is still held back.
 */
function paintAssistant(m, budgeted = false) {
  const v = views.get(m.id);
  if (!v) return true;
  const streaming = m.status === 'streaming';
  const opts = budgeted ? { maxAdvance: frameChars } : {};
  let caughtUp = true;
  if (streaming) caughtUp = v.sm.update(m.content, opts);
  else if (!v.sm.finished || v.sm.seen !== m.content.length) caughtUp = v.sm.update(m.content, { ...opts, final: true });
  const busy = streaming || !caughtUp;
  v.art.classList.toggle('streaming', busy);
  v.art.setAttribute('aria-busy', String(busy));
  const r = m.reasoning || '';
  if (r.length !== v.shownReasoning) {
    if (r.length < v.shownReasoning) v.thinkingNode.data = r;
    else v.thinkingNode.appendData(r.slice(v.shownReasoning));
    v.shownReasoning = r.length;
  }
  v.thinking.hidden = !r;
  const summary = streaming && !m.content ? 'Thinking…' : 'Thinking';
  if (v.summary.textContent !== summary) v.summary.textContent = summary;
  if (!busy || m.status !== 'done') paintStatus(m, v);
  return caughtUp;
}

function paintStatus(m, v) {
  const s = v.status;
  const reconnecting = m.status === 'streaming' && active && active.msgId === m.id && active.reconnecting;
  const key = `${m.status}|${m.error ? m.error.title + m.error.text : ''}|${reconnecting}`;
  if (v.statusKey === key) return;
  v.statusKey = key;
  s.replaceChildren();
  s.className = 'msg-status';
  if (m.status === 'stopped') {
    s.textContent = 'Stopped.';
    s.classList.add('note');
  } else if (m.status === 'interrupted') {
    s.append(errorBox({ title: 'Answer interrupted', text: 'The page was closed or reloaded while this answer was being written.' }));
  } else if (m.status === 'error' && m.error) {
    s.append(errorBox(m.error));
  } else if (reconnecting) {
    s.textContent = 'Connection lost, reconnecting…';
    s.classList.add('note');
  }
}

function errorBox(err) {
  const box = document.createElement('div');
  box.className = 'error-box';
  box.setAttribute('role', 'alert');
  const t = document.createElement('strong');
  t.textContent = err.title || 'Something went wrong';
  const p = document.createElement('p');
  p.textContent = err.text || '';
  box.append(t, p);
  if (err.detail) {
    const d = document.createElement('p');
    d.className = 'detail';
    d.textContent = `Server said: ${err.detail}`;
    box.append(d);
  }
  const retry = document.createElement('button');
  retry.type = 'button';
  retry.className = 'btn retry';
  retry.textContent = 'Retry';
  box.append(retry);
  if (err.retryAt && err.retryAt > Date.now()) countdown(retry, err.retryAt);
  return box;
}

function countdown(btn, until) {
  let first = true;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0 || (!first && !btn.isConnected)) {
      btn.disabled = false;
      btn.textContent = 'Retry';
      return;
    }
    first = false;
    btn.disabled = true;
    btn.textContent = `Retry in ${formatSeconds(left)}`;
    setTimeout(tick, 250);
  };
  tick();
}

/** Edit / regenerate are offered only where they make sense and never mid-stream. */
function refreshActions() {
  const conv = current();
  if (!conv) return;
  const busy = !!active;
  const lastIdx = conv.messages.length - 1;
  conv.messages.forEach((m, i) => {
    const v = views.get(m.id);
    if (!v) return;
    if (m.role === 'user') {
      v.actions.querySelector('.edit-msg').disabled = busy;
    } else {
      const regen = v.actions.querySelector('.regen');
      regen.hidden = i !== lastIdx;
      regen.disabled = busy;
      v.actions.hidden = m.status === 'streaming';
      for (const b of v.status.querySelectorAll('.retry')) if (busy) b.disabled = true;
    }
  });
}

el.messages.addEventListener('click', async (e) => {
  const btn = e.target.closest('button');
  if (!btn) return;
  const art = btn.closest('article.msg');
  const conv = current();
  const msg = art && conv ? conv.messages.find((m) => m.id === art.dataset.id) : null;
  if (btn.classList.contains('copy-btn')) {
    const code = btn.closest('.code-block').querySelector('pre code');
    flashCopied(btn, await copyText(code ? code.textContent : ''));
  } else if (btn.classList.contains('copy-msg') && msg) {
    flashCopied(btn, await copyText(msg.content));
  } else if ((btn.classList.contains('regen') || btn.classList.contains('retry')) && !active && conv) {
    regenerate(conv.id);
  } else if (btn.classList.contains('edit-msg') && msg && !active) {
    startEdit(art, msg);
  }
});

function flashCopied(btn, ok) {
  const isText = btn.classList.contains('copy-btn');
  const label = btn.getAttribute('aria-label');
  btn.classList.add(ok ? 'copied' : 'copy-failed');
  if (isText) btn.textContent = ok ? 'Copied' : 'Copy failed';
  announce(ok ? 'Copied to clipboard' : 'Could not copy');
  setTimeout(() => {
    btn.classList.remove('copied', 'copy-failed');
    if (isText) btn.textContent = 'Copy';
    btn.setAttribute('aria-label', label);
  }, 1500);
}

function startEdit(art, msg) {
  const v = views.get(msg.id);
  const box = document.createElement('div');
  box.className = 'edit-box';
  const ta = document.createElement('textarea');
  ta.value = msg.content;
  ta.rows = Math.min(12, Math.max(2, msg.content.split('\n').length));
  ta.setAttribute('aria-label', 'Edit your message');
  const row = document.createElement('div');
  row.className = 'edit-actions';
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.className = 'btn';
  cancel.textContent = 'Cancel';
  const save = document.createElement('button');
  save.type = 'button';
  save.className = 'btn primary';
  save.textContent = 'Send';
  row.append(cancel, save);
  box.append(ta, row);
  v.bubble.replaceWith(box);
  v.actions.hidden = true;
  ta.focus();
  ta.setSelectionRange(ta.value.length, ta.value.length);
  const restore = () => {
    box.replaceWith(v.bubble);
    v.actions.hidden = false;
  };
  cancel.addEventListener('click', restore);
  const submit = () => {
    const text = ta.value.trim();
    if (!text || active) return;
    const conv = current();
    restore();
    dispatch({ type: 'message/edit', convId: conv.id, id: msg.id, content: text, now: Date.now() });
    syncMessages();
    runTurn(conv.id);
  };
  save.addEventListener('click', submit);
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      restore();
    }
  });
}

function regenerate(convId) {
  dispatch({ type: 'message/regenerate', convId });
  const conv = state.conversations[convId];
  if (lastUserIndex(conv) < 0) return;
  syncMessages();
  runTurn(convId);
}

// ---------------------------------------------------------------- composer

function updateComposer() {
  const busy = !!active;
  el.send.hidden = busy;
  el.stop.hidden = !busy;
  el.send.disabled = busy || !el.input.value.trim();
  el.composer.classList.toggle('busy', busy);
  refreshActions();
}

function autoGrow() {
  el.input.style.height = 'auto';
  el.input.style.height = `${Math.min(el.input.scrollHeight, 240)}px`;
}

el.input.addEventListener('input', () => {
  autoGrow();
  el.send.disabled = !!active || !el.input.value.trim();
});

el.input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    submitInput();
  } else if (e.key === 'Escape' && active) {
    e.preventDefault();
    stop();
  }
});

el.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  submitInput();
});

function submitInput() {
  const text = el.input.value.trim();
  if (!text || active) return; // one answer at a time: the text stays in the box
  const conv = ensureConversation();
  dispatch({ type: 'message/user', convId: conv.id, id: newId('m'), content: text, now: Date.now() });
  el.input.value = '';
  autoGrow();
  renderSidebar();
  renderHeader();
  syncMessages();
  stick = true;
  runTurn(conv.id);
}

el.stop.addEventListener('click', () => {
  stop();
  el.input.focus();
});

function stop() {
  if (!active) return;
  active.stopping = true;
  cancelStream({ streamId: active.streamId, apiKey: prefs.apiKey });
  active.ctrl.abort();
}

// ---------------------------------------------------------------- streaming a turn

// Text arrives a character per event; the DOM is updated at most once per frame, and by
// at most frameChars new characters per message, so no frame has to render a long burst.
let frameChars = 1500; // adapts to how long frames take on this device
const paintQueue = new Set(); // assistant messages whose DOM lags behind their text
let frame = 0;

// Rendering cost, for the browser tests and for anyone profiling the page.
const stats = { frames: 0, frameMsMax: 0, frameMsTotal: 0 };

function schedulePaint() {
  if (!frame) frame = requestAnimationFrame(paintFrame);
}

/** Moves the text received since the last frame into the store. */
function drainPending(a) {
  if (a && (a.text || a.reasoning)) {
    dispatch({ type: 'message/append', convId: a.convId, id: a.msgId, text: a.text, reasoning: a.reasoning, lastEventId: a.lastId });
    a.text = '';
    a.reasoning = '';
    paintQueue.add(a.msgId);
  }
}

function paintFrame() {
  frame = 0;
  const t0 = performance.now();
  drainPending(active);
  const conv = current();
  for (const id of [...paintQueue]) {
    const m = conv && conv.messages.find((x) => x.id === id);
    if (!m || !views.has(id) || paintAssistant(m, true)) paintQueue.delete(id);
  }
  if (stick) scrollToBottom();
  else el.jump.hidden = false;
  if (paintQueue.size) schedulePaint();
  const dt = performance.now() - t0;
  if (dt > 32) frameChars = Math.max(300, Math.round(frameChars / 2));
  else if (dt < 12) frameChars = Math.min(3000, Math.round(frameChars * 1.25));
  stats.frames++;
  stats.frameMsTotal += dt;
  if (dt > stats.frameMsMax) stats.frameMsMax = dt;
}

async function runTurn(convId, resume = null) {
  const conv = state.conversations[convId];
  if (!conv || active) return;
  const body = buildRequest(conv);
  let msgId;
  if (resume) {
    msgId = resume.msgId;
    dispatch({ type: 'message/finish', convId, id: msgId, status: 'streaming' });
  } else {
    msgId = newId('m');
    dispatch({ type: 'message/assistant', convId, id: msgId, model: conv.model, now: Date.now() });
  }
  const ctrl = new AbortController();
  const a = { convId, msgId, ctrl, streamId: resume ? resume.streamId : null, text: '', reasoning: '', lastId: null, reconnecting: false };
  active = a;
  if (convId === state.currentId) {
    const m = state.conversations[convId].messages.find((x) => x.id === msgId);
    if (resume) renderMessages();
    else {
      el.messages.append(buildMessage(m));
      el.empty.hidden = true;
      paintAssistant(m);
    }
    scrollToBottom();
  }
  updateComposer();
  announce('The assistant is answering.');

  let outcome;
  try {
    const r = await streamChat({
      body,
      signal: ctrl.signal,
      apiKey: prefs.apiKey,
      resume: resume ? { streamId: resume.streamId, lastEventId: resume.lastEventId } : null,
      onStreamId(id) {
        a.streamId = id;
        dispatch({ type: 'message/meta', convId, id: msgId, streamId: id });
        saveNow();
      },
      onStart({ model }) {
        if (model) dispatch({ type: 'message/meta', convId, id: msgId, model });
      },
      onDelta(text, id) {
        a.text += text;
        a.lastId = id;
        if (a.reconnecting) {
          a.reconnecting = false;
        }
        schedulePaint();
      },
      onReasoning(text, id) {
        a.reasoning += text;
        a.lastId = id;
        schedulePaint();
      },
      onReconnect() {
        a.reconnecting = true;
        paintQueue.add(msgId);
        schedulePaint();
      },
    });
    if (r.status === 'aborted' || r.finishReason === 'cancelled') outcome = { status: 'stopped' };
    else outcome = { status: 'done', finishReason: r.finishReason };
  } catch (err) {
    const d = describeError(err);
    outcome = {
      status: 'error',
      error: { title: d.title, text: d.text, detail: d.detail, retryAt: d.retryAfter ? Date.now() + d.retryAfter * 1000 : null },
    };
  }
  a.reconnecting = false;
  drainPending(a);
  active = null;
  dispatch({ type: 'message/finish', convId, id: msgId, now: Date.now(), ...outcome });
  saveNow();
  paintQueue.add(msgId);
  schedulePaint();
  updateComposer();
  if (outcome.status === 'done') announce('Answer complete.');
  else if (outcome.status === 'stopped') announce('Stopped.');
  else announce(`${outcome.error.title}. ${outcome.error.text}`);
}

// ---------------------------------------------------------------- scrolling

function atBottom() {
  const s = el.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
}

function scrollToBottom() {
  el.scroller.scrollTop = el.scroller.scrollHeight;
  stick = true;
  el.jump.hidden = true;
}

el.scroller.addEventListener('scroll', () => {
  stick = atBottom();
  el.jump.hidden = stick;
}, { passive: true });

el.jump.addEventListener('click', () => {
  scrollToBottom();
  el.input.focus();
});

// ---------------------------------------------------------------- small things

let toastTimer = 0;
function toast(text) {
  el.toast.textContent = text;
  el.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.toast.hidden = true), 4000);
}

function announce(text) {
  el.announcer.textContent = '';
  requestAnimationFrame(() => (el.announcer.textContent = text));
}

window.addEventListener('pagehide', () => {
  drainPending(active);
  saveNow();
});

// ---------------------------------------------------------------- start

const WARM_UP_SAMPLE = [
  '## Sample 你好 こんにちは 한국어 🚀 ✅ 👩‍💻 🇯🇵 café',
  '', 'Text with **bold**, *italic*, `code` and [a link](https://example.com).', '',
  '- item', '1. item', '', '> quote', '', '| a | b |', '|---|:-:|', '| 1 | 2 |', '',
  '```js', 'const x = 1; // 注释', '```',
].join('\n');

/** Does the one-time work of a first answer in idle time, one small job per idle slice:
 * compiling the syntax grammars, and laying out a hidden sample so that fallback fonts
 * (CJK, emoji) and the markdown styles are loaded before an answer streams, not during. */
function warmUpWhenIdle() {
  let sample = null;
  const jobs = [
    () => {
      sample = document.createElement('div');
      sample.className = 'md warm-up';
      sample.setAttribute('aria-hidden', 'true');
      sample.append(MD.render(WARM_UP_SAMPLE));
      document.body.append(sample);
      sample.getBoundingClientRect();
    },
    () => sample.remove(),
    ...MD.warmUpJobs(),
  ];
  const idle = window.requestIdleCallback || ((fn) => setTimeout(() => fn({ timeRemaining: () => 8 }), 50));
  const step = (deadline) => {
    while (jobs.length && deadline.timeRemaining() > 4) jobs.shift()();
    if (jobs.length) idle(step, { timeout: 2000 });
  };
  idle(step, { timeout: 2000 });
}

function start() {
  // Empty conversations other than the current one are dropped.
  for (const id of [...state.order]) {
    if (id !== state.currentId && !state.conversations[id].messages.length) dispatch({ type: 'conversation/delete', id });
  }
  ensureConversation();
  renderAll();
  scrollToBottom();
  loadModels();
  warmUpWhenIdle();
  // An answer that was streaming when the page went away: pick it up where it was.
  const conv = current();
  const last = conv && conv.messages[conv.messages.length - 1];
  if (last && last.role === 'assistant' && last.status === 'interrupted' && last.streamId) {
    runTurn(conv.id, { msgId: last.id, streamId: last.streamId, lastEventId: last.lastEventId == null ? null : last.lastEventId });
  }
  if (!matchMedia('(pointer: coarse)').matches) el.input.focus();
  document.documentElement.classList.add('ready');
}

start();

// For the browser tests: read-only peeks, no way to change state from outside.
window.__chatd = Object.freeze({
  get streaming() {
    return !!active || paintQueue.size > 0;
  },
  get state() {
    return state;
  },
  get stats() {
    return { ...stats };
  },
});
