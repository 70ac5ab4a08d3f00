// The chat app's wiring: finds the page's elements, builds the views, the saver and the
// app around them, and connects the page's events to them. The behaviour lives in the modules.

import { streamChat, cancelStream, describeError, listModels } from './api.js';
import { createMarkdown } from './markdown.js';
import { copyText } from './clipboard.js';
import { safeStorage, createPersistence } from './persistence.js';
import { createMessageView, flashCopied, isEnterToSend } from './message-view.js';
import { createSidebar } from './sidebar.js';
import { createHeader } from './header.js';
import { createComposer } from './composer.js';
import { createScrollFollow } from './scroll-follow.js';
import { createNotices } from './notices.js';
import { warmUpWhenIdle, idleCallback } from './warm-up.js';
import { createChatApp } from './chat-app.js';

const $ = (id) => document.getElementById(id);
const el = {
  app: $('app'),
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

const requestFrame = (fn) => requestAnimationFrame(fn);
const markdown = createMarkdown(window);
const notices = createNotices({ toastEl: el.toast, announcer: el.announcer, requestFrame });
const persistence = createPersistence({
  storage: safeStorage(window),
  onError: () => notices.toast("Couldn't save your conversations in this browser (storage is full or blocked)."),
});
const sidebar = createSidebar({
  doc: document, list: el.convList, app: el.app, scrim: el.scrim, openButton: el.openSidebar, newChat: el.newChat,
});
const header = createHeader({
  doc: document, title: el.title, model: el.model, modelList: el.modelList, system: el.system,
  toggleSystem: el.toggleSystem, systemPanel: el.systemPanel,
});
const composer = createComposer({ form: el.composer, input: el.input, send: el.send, stop: el.stop });
const scroll = createScrollFollow({ scroller: el.scroller, jump: el.jump });
const messages = createMessageView({
  doc: document,
  container: el.messages,
  empty: el.empty,
  markdown,
  isBusy: () => app.busy,
  isReconnecting: (id) => app.isReconnecting(id),
});
const app = createChatApp({
  persistence,
  api: { streamChat, cancelStream, describeError, listModels },
  views: { sidebar, header, messages, composer, scroll, notices },
  confirm: (text) => window.confirm(text),
  requestFrame,
  clock: () => performance.now(),
});

// ---------------------------------------------------------------- sidebar

el.convList.addEventListener('click', (e) => {
  const hit = sidebar.clickTarget(e.target);
  if (!hit) return;
  if (hit.action === 'open') {
    app.selectConversation(hit.id);
    sidebar.close();
  } else if (hit.action === 'rename') {
    app.renameConversation(hit.id);
  } else {
    app.deleteConversation(hit.id);
  }
});

el.newChat.addEventListener('click', () => {
  app.newChat();
  sidebar.close();
  el.input.focus();
});

const closeSidebarAndRefocus = () => {
  sidebar.close();
  el.openSidebar.focus();
};
el.openSidebar.addEventListener('click', () => sidebar.open());
el.closeSidebar.addEventListener('click', closeSidebarAndRefocus);
el.scrim.addEventListener('click', () => sidebar.close());
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && sidebar.isOpen()) closeSidebarAndRefocus();
});

// ---------------------------------------------------------------- header / settings

el.model.addEventListener('change', () => app.setModel(el.model.value));
el.system.addEventListener('input', () => app.setSystem(el.system.value));
el.toggleSystem.addEventListener('click', () => header.toggleSystemPanel());

el.openSettings.addEventListener('click', () => {
  el.apiKey.value = app.prefs.apiKey || '';
  el.settings.showModal();
});

el.settings.addEventListener('close', () => {
  if (el.settings.returnValue === 'save') app.setApiKey(el.apiKey.value);
});

// ---------------------------------------------------------------- messages

el.messages.addEventListener('click', async (e) => {
  const btn = e.target.closest('button');
  if (!btn) return;
  const art = btn.closest('article.msg');
  const msgId = art ? art.dataset.id : null;
  const copied = async (text) => {
    const ok = await copyText(text);
    flashCopied(btn, ok);
    notices.announce(ok ? 'Copied to clipboard' : 'Could not copy');
  };
  if (btn.classList.contains('copy-btn')) {
    const code = btn.closest('.code-block').querySelector('pre code');
    await copied(code ? code.textContent : '');
  } else if (btn.classList.contains('copy-msg')) {
    const text = msgId ? app.messageText(msgId) : null;
    if (text !== null) await copied(text);
  } else if (btn.classList.contains('regen') || btn.classList.contains('retry')) {
    app.regenerate();
  } else if (btn.classList.contains('edit-msg') && msgId) {
    app.editMessage(msgId);
  }
});

// ---------------------------------------------------------------- composer

el.input.addEventListener('input', () => app.onInput());

el.input.addEventListener('keydown', (e) => {
  if (isEnterToSend(e)) {
    e.preventDefault();
    app.submit();
  } else if (e.key === 'Escape' && app.busy) {
    e.preventDefault();
    app.stop();
  }
});

el.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  app.submit();
});

el.stop.addEventListener('click', () => {
  app.stop();
  el.input.focus();
});

// ---------------------------------------------------------------- scrolling, page life

el.scroller.addEventListener('scroll', () => scroll.onScroll(), { passive: true });

el.jump.addEventListener('click', () => {
  scroll.toBottom();
  el.input.focus();
});

window.addEventListener('pagehide', () => app.pageHide());
window.addEventListener('pageshow', (e) => app.pageShow(e.persisted));

// ---------------------------------------------------------------- start

app.start();
warmUpWhenIdle({ doc: document, markdown, requestIdle: idleCallback(window) });
app.resumeInterrupted();
if (!matchMedia('(pointer: coarse)').matches) el.input.focus();
document.documentElement.classList.add('ready');

// For the browser tests: read-only peeks, no way to change state from outside.
window.__chatd = Object.freeze({
  get streaming() {
    return app.streaming;
  },
  get state() {
    return app.state;
  },
  get stats() {
    return app.stats;
  },
});
