// The app's behaviour: which conversation is shown, sending, regenerating, editing,
// stopping and resuming answers. It owns the conversations, the preferences and the turn
// in progress, and keeps the injected views (sidebar, header, messages, composer) in step.

import { reducer, newId as makeId, lastUserIndex } from './store.js';
import { startTurn, outcomeAnnouncement } from './chat-turn.js';
import { createFrameScheduler } from './frame-scheduler.js';

/**
 * persistence: from createPersistence(). api: {streamChat, cancelStream, describeError,
 * listModels}. views: {sidebar, header, messages, composer, scroll, notices} (messages is
 * a message view whose isBusy/isReconnecting should ask this app). confirm(text): asks
 * the person, true to go ahead. requestFrame, now, newId: the browser's or stand-ins.
 */
export function createChatApp({
  persistence,
  api,
  views,
  confirm = () => true,
  requestFrame,
  now = Date.now,
  clock = now, // for timing frames (performance.now in the browser)
  newId = makeId,
  AbortController: Abort = globalThis.AbortController,
}) {
  const { sidebar, header, messages, composer, scroll, notices } = views;
  let state = persistence.loadState();
  let prefs = persistence.loadPrefs();
  let active = null; // the turn being streamed
  let left = null; // {convId, msgId, streamId}: the turn the page left mid-answer (pagehide)

  // Text arrives a character per event; the DOM is updated at most once per frame, and by
  // at most the frame's budget of new characters per message.
  const frames = createFrameScheduler({
    requestFrame,
    now: clock,
    beforeFrame() {
      if (active && active.drain()) frames.add(active.msgId);
    },
    paint(id, budget) {
      const conv = current();
      const m = conv && conv.messages.find((x) => x.id === id);
      return !m || !messages.has(id) || messages.paint(m, budget);
    },
    afterFrame: () => scroll.afterPaint(),
  });

  function dispatch(action) {
    const prev = state;
    state = reducer(state, action);
    if (state === prev) return;
    persistence.track(prev, state);
    persistence.schedule(active ? 1500 : 250);
  }

  const current = () => (state.currentId ? state.conversations[state.currentId] : null);
  const currentMessages = () => {
    const conv = current();
    return conv ? conv.messages : [];
  };

  function ensureConversation() {
    if (!current()) dispatch({ type: 'conversation/new', id: newId('c'), now: now(), model: prefs.model || '' });
    return current();
  }

  function setPrefs(patch) {
    prefs = { ...prefs, ...patch };
    persistence.savePrefs(prefs);
  }

  // ---------------------------------------------------------------- rendering

  function updateComposer() {
    composer.update(!!active);
    messages.refreshActions(currentMessages());
  }

  function renderAll() {
    sidebar.render(state);
    header.render(current());
    messages.render(currentMessages());
    updateComposer();
  }

  // ---------------------------------------------------------------- conversations

  /** An empty conversation left behind is not worth keeping. */
  function pruneEmpty() {
    const conv = current();
    if (conv && !conv.messages.length && !(active && active.convId === conv.id)) {
      dispatch({ type: 'conversation/delete', id: conv.id });
    }
  }

  function selectConversation(id) {
    if (id === state.currentId) return;
    pruneEmpty();
    dispatch({ type: 'conversation/select', id });
    renderAll();
    scroll.toBottom();
  }

  /** A fresh conversation, unless the current one is still empty. */
  function newChat() {
    const conv = current();
    if (!conv || conv.messages.length) {
      pruneEmpty();
      dispatch({ type: 'conversation/new', id: newId('c'), now: now(), model: (conv && conv.model) || prefs.model || '' });
      renderAll();
    }
  }

  function deleteConversation(id) {
    const conv = state.conversations[id];
    if (!conv) return;
    if (!confirm(`Delete “${conv.title || 'New chat'}”? This cannot be undone.`)) return;
    if (active && active.convId === id) stop();
    dispatch({ type: 'conversation/delete', id });
    persistence.flush();
    renderAll();
    notices.announce('Conversation deleted');
  }

  function renameConversation(id) {
    const conv = state.conversations[id];
    if (!conv) return;
    sidebar.startRename(id, conv.title, (title) => {
      if (title !== null) dispatch({ type: 'conversation/rename', id, title });
      sidebar.render(state);
      header.render(current());
    });
  }

  function setModel(value) {
    const conv = ensureConversation();
    dispatch({ type: 'conversation/settings', id: conv.id, model: value });
    setPrefs({ model: value.trim() });
    sidebar.render(state);
  }

  function setSystem(value) {
    const conv = ensureConversation();
    dispatch({ type: 'conversation/settings', id: conv.id, system: value });
    header.markSystem(value);
    sidebar.render(state);
  }

  function setApiKey(value) {
    setPrefs({ apiKey: value.trim() });
    notices.toast(prefs.apiKey ? 'Access key saved.' : 'Access key removed.');
    return loadModels();
  }

  async function loadModels() {
    header.setModels(await api.listModels({ apiKey: prefs.apiKey }));
  }

  // ---------------------------------------------------------------- turns

  async function runTurn(convId, resume = null) {
    if (!state.conversations[convId] || active) return;
    const turn = startTurn({
      getState: () => state,
      dispatch,
      save: () => persistence.flush(),
      getApiKey: () => prefs.apiKey,
      newId,
      now,
      streamChat: api.streamChat,
      cancelStream: api.cancelStream,
      describeError: api.describeError,
      onText: () => frames.schedule(),
      onReconnect: () => frames.mark(turn.msgId),
      AbortController: Abort,
    }, convId, resume);
    active = turn;
    if (convId === state.currentId) {
      if (resume) messages.render(currentMessages());
      else messages.append(state.conversations[convId].messages.find((x) => x.id === turn.msgId));
      scroll.toBottom();
    }
    updateComposer();
    notices.announce('The assistant is answering.');

    const outcome = await turn.run();
    active = null;
    if (outcome.status === 'left') {
      // The page went away mid-answer; if it comes back (the back-forward cache), go on.
      left = { convId, msgId: turn.msgId, streamId: turn.streamId };
      updateComposer();
      return;
    }
    turn.finish(outcome);
    frames.mark(turn.msgId);
    updateComposer();
    notices.announce(outcomeAnnouncement(outcome));
  }

  /** Sends what is in the composer; while an answer streams the text stays in the box. */
  function submit() {
    const text = composer.text();
    if (!text || active) return;
    const conv = ensureConversation();
    dispatch({ type: 'message/user', convId: conv.id, id: newId('m'), content: text, now: now() });
    composer.clear();
    sidebar.render(state);
    header.render(current());
    messages.sync(currentMessages());
    scroll.follow();
    return runTurn(conv.id);
  }

  function stop() {
    if (!active) return;
    active.stop();
  }

  /** Answers the current conversation's last question again (Regenerate, Retry). */
  function regenerate() {
    const conv = current();
    if (active || !conv) return;
    dispatch({ type: 'message/regenerate', convId: conv.id });
    if (lastUserIndex(state.conversations[conv.id]) < 0) return;
    messages.sync(currentMessages());
    return runTurn(conv.id);
  }

  /** Opens the edit box on user message `msgId`; sending it drops what followed. */
  function editMessage(msgId) {
    const conv = current();
    const msg = conv && conv.messages.find((m) => m.id === msgId);
    if (!msg || active) return;
    messages.startEdit(msg, (text) => {
      const c = current();
      dispatch({ type: 'message/edit', convId: c.id, id: msg.id, content: text, now: now() });
      messages.sync(currentMessages());
      runTurn(c.id);
    });
  }

  // ---------------------------------------------------------------- page life

  /** Drops stray empty conversations and shows the current one. */
  function start() {
    for (const id of [...state.order]) {
      if (id !== state.currentId && !state.conversations[id].messages.length) dispatch({ type: 'conversation/delete', id });
    }
    ensureConversation();
    renderAll();
    scroll.toBottom();
    loadModels();
  }

  /** An answer that was streaming when the page went away: pick it up where it was. */
  function resumeInterrupted() {
    const conv = current();
    const last = conv && conv.messages[conv.messages.length - 1];
    if (last && last.role === 'assistant' && last.status === 'interrupted' && last.streamId) {
      return runTurn(conv.id, { msgId: last.id, streamId: last.streamId, lastEventId: last.lastEventId == null ? null : last.lastEventId });
    }
    return undefined;
  }

  /**
   * The page is going away: keep everything received so far, and let the connection go
   * without resuming it from this page (the next page resumes the stream).
   */
  function pageHide() {
    if (active && active.drain()) frames.add(active.msgId);
    persistence.flush();
    if (active && active.streamId) active.leave();
  }

  /** The page came back from the back-forward cache: go on with an answer it left. */
  function pageShow(persisted) {
    if (!persisted || !left || active) return undefined;
    const { convId, msgId, streamId } = left;
    left = null;
    const conv = state.conversations[convId];
    const msg = conv && conv.messages.find((m) => m.id === msgId);
    if (!msg || msg.status !== 'streaming') return undefined;
    return runTurn(convId, { msgId, streamId, lastEventId: msg.lastEventId == null ? null : msg.lastEventId });
  }

  return {
    start,
    resumeInterrupted,
    pageHide,
    pageShow,
    selectConversation,
    newChat,
    deleteConversation,
    renameConversation,
    setModel,
    setSystem,
    setApiKey,
    submit,
    stop,
    regenerate,
    editMessage,
    /** The composer's text changed. */
    onInput: () => composer.onInput(!!active),
    /** Content of message `msgId` in the current conversation, or null. */
    messageText(msgId) {
      const m = currentMessages().find((x) => x.id === msgId);
      return m ? m.content : null;
    },
    get busy() {
      return !!active;
    },
    isReconnecting: (msgId) => !!(active && active.msgId === msgId && active.reconnecting),
    get streaming() {
      return !!active || frames.pending > 0;
    },
    get state() {
      return state;
    },
    get prefs() {
      return prefs;
    },
    get stats() {
      return frames.stats;
    },
  };
}
