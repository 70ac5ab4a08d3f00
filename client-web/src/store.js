// Conversation state: a pure reducer, the request built from a conversation, and
// persistence in Web Storage (one key per conversation, so saving the streaming one
// does not rewrite all the others).

import { restoreToolCalls } from './tool-calls.js';

export const TITLE_MAX = 48;

export function initialState() {
  return { conversations: {}, order: [], currentId: null };
}

export function newId(prefix = '') {
  const rnd = globalThis.crypto && globalThis.crypto.randomUUID
    ? globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 16)
    : Math.random().toString(36).slice(2, 18);
  return prefix + rnd;
}

export function titleFrom(text) {
  const one = String(text).replace(/\s+/g, ' ').trim();
  if (!one) return 'New chat';
  const chars = Array.from(one);
  return chars.length > TITLE_MAX ? `${chars.slice(0, TITLE_MAX - 1).join('').trimEnd()}…` : one;
}

function updateConv(state, id, fn) {
  const conv = state.conversations[id];
  if (!conv) return state;
  const next = fn(conv);
  if (next === conv) return state;
  return { ...state, conversations: { ...state.conversations, [id]: next } };
}

function updateMessage(conv, messageId, fn) {
  const i = conv.messages.findIndex((m) => m.id === messageId);
  if (i < 0) return conv;
  const messages = conv.messages.slice();
  messages[i] = fn(messages[i]);
  return { ...conv, messages };
}

function touch(conv, now) {
  return now ? { ...conv, updatedAt: now } : conv;
}

/** Index of the user message a regenerate would answer again, or -1. */
export function lastUserIndex(conv) {
  for (let i = conv.messages.length - 1; i >= 0; i--) if (conv.messages[i].role === 'user') return i;
  return -1;
}

export function reducer(state, action) {
  switch (action.type) {
    case 'load':
      return action.state;

    case 'conversation/new': {
      const conv = {
        id: action.id,
        title: '',
        model: action.model || '',
        system: action.system || '',
        messages: [],
        createdAt: action.now || 0,
        updatedAt: action.now || 0,
      };
      return {
        ...state,
        conversations: { ...state.conversations, [conv.id]: conv },
        order: [conv.id, ...state.order.filter((x) => x !== conv.id)],
        currentId: conv.id,
      };
    }

    case 'conversation/select':
      if (!state.conversations[action.id]) return state;
      return { ...state, currentId: action.id };

    case 'conversation/rename': {
      const title = String(action.title || '').replace(/\s+/g, ' ').trim();
      if (!title) return state;
      return updateConv(state, action.id, (c) => ({ ...c, title, titleSet: true }));
    }

    case 'conversation/delete': {
      if (!state.conversations[action.id]) return state;
      const conversations = { ...state.conversations };
      delete conversations[action.id];
      const order = state.order.filter((x) => x !== action.id);
      const currentId = state.currentId === action.id ? order[0] || null : state.currentId;
      return { ...state, conversations, order, currentId };
    }

    case 'conversation/settings':
      return updateConv(state, action.id, (c) => ({
        ...c,
        ...(action.model !== undefined ? { model: String(action.model).trim() } : {}),
        ...(action.system !== undefined ? { system: String(action.system) } : {}),
      }));

    case 'message/user': {
      const next = updateConv(state, action.convId, (c) => touch({
        ...c,
        title: c.titleSet || c.title ? c.title : titleFrom(action.content),
        messages: [...c.messages, { id: action.id, role: 'user', content: action.content }],
      }, action.now));
      return bumpToTop(next, action.convId);
    }

    case 'message/assistant': // an empty answer that is about to stream
      return updateConv(state, action.convId, (c) => touch({
        ...c,
        messages: [
          ...c.messages,
          { id: action.id, role: 'assistant', content: '', reasoning: '', status: 'streaming', model: action.model || '' },
        ],
      }, action.now));

    case 'message/meta':
      return updateConv(state, action.convId, (c) => updateMessage(c, action.id, (m) => ({
        ...m,
        ...(action.streamId ? { streamId: action.streamId } : {}),
        ...(action.model ? { model: action.model } : {}),
      })));

    case 'message/append': // toolCalls, when given, is the answer's whole list of calls so far
      if (!action.text && !action.reasoning && !action.toolCalls) return state;
      return updateConv(state, action.convId, (c) => updateMessage(c, action.id, (m) => ({
        ...m,
        content: m.content + (action.text || ''),
        reasoning: (m.reasoning || '') + (action.reasoning || ''),
        ...(action.toolCalls ? { toolCalls: action.toolCalls } : {}),
        ...(action.lastEventId != null ? { lastEventId: action.lastEventId } : {}),
      })));

    case 'message/finish': // status: done | stopped | error | interrupted
      return updateConv(state, action.convId, (c) => touch(updateMessage(c, action.id, (m) => {
        const out = { ...m, status: action.status };
        if (action.error) out.error = action.error;
        else delete out.error;
        if (action.finishReason) out.finishReason = action.finishReason;
        return out;
      }), action.now));

    case 'message/regenerate': {
      // Drops everything after the last user message, ready to answer it again.
      return updateConv(state, action.convId, (c) => {
        const i = lastUserIndex(c);
        if (i < 0 || i === c.messages.length - 1) return c;
        return { ...c, messages: c.messages.slice(0, i + 1) };
      });
    }

    case 'message/edit': {
      // Replaces a user message and drops every message after it.
      return updateConv(state, action.convId, (c) => {
        const i = c.messages.findIndex((m) => m.id === action.id);
        if (i < 0 || c.messages[i].role !== 'user') return c;
        const messages = c.messages.slice(0, i + 1);
        messages[i] = { ...messages[i], content: action.content };
        return touch({ ...c, messages }, action.now);
      });
    }

    default:
      return state;
  }
}

function bumpToTop(state, id) {
  if (state.order[0] === id) return state;
  return { ...state, order: [id, ...state.order.filter((x) => x !== id)] };
}

/** The body of POST /api/chat for a conversation: its system prompt, then the turns. */
export function buildRequest(conv) {
  const messages = [];
  if (conv.system && conv.system.trim()) messages.push({ role: 'system', content: conv.system });
  for (const m of conv.messages) {
    if (m.role === 'user') messages.push({ role: 'user', content: m.content });
    else if (m.role === 'assistant' && m.content && (m.status === 'done' || m.status === 'stopped')) {
      messages.push({ role: 'assistant', content: m.content });
    }
  }
  const body = { messages };
  if (conv.model && conv.model.trim()) body.model = conv.model.trim();
  return body;
}

// ---- persistence ----

const PREFIX = 'chatd.v1.';

export function saveIndex(storage, state) {
  storage.setItem(`${PREFIX}index`, JSON.stringify({ order: state.order, currentId: state.currentId }));
}

export function saveConversation(storage, conv) {
  storage.setItem(`${PREFIX}conv.${conv.id}`, JSON.stringify(conv));
}

export function removeConversation(storage, id) {
  storage.removeItem(`${PREFIX}conv.${id}`);
}

export function savePrefs(storage, prefs) {
  storage.setItem(`${PREFIX}prefs`, JSON.stringify(prefs));
}

export function loadPrefs(storage) {
  try {
    return JSON.parse(storage.getItem(`${PREFIX}prefs`) || '{}') || {};
  } catch {
    return {};
  }
}

/** A saved message as the app uses it: its tool calls checked, a stream cut off marked. */
function restoreMessage(saved) {
  const m = saved.status === 'streaming' ? { ...saved, status: 'interrupted' } : { ...saved };
  if (m.role !== 'assistant' || m.toolCalls === undefined) return m;
  const calls = restoreToolCalls(m.toolCalls, m.content.length);
  if (calls) m.toolCalls = calls;
  else delete m.toolCalls;
  return m;
}

/**
 * Restores the saved state. Answers that were still streaming when the page went away
 * come back as `interrupted` (with their stream id and last event id, so the app can try
 * to resume them).
 */
export function loadState(storage) {
  const state = initialState();
  let index = null;
  try {
    index = JSON.parse(storage.getItem(`${PREFIX}index`) || 'null');
  } catch {
    index = null;
  }
  const order = index && Array.isArray(index.order) ? index.order : [];
  for (const id of order) {
    let conv = null;
    try {
      conv = JSON.parse(storage.getItem(`${PREFIX}conv.${id}`) || 'null');
    } catch {
      conv = null;
    }
    if (!conv || conv.id !== id || !Array.isArray(conv.messages)) continue;
    conv.messages = conv.messages
      .filter((m) => m && (m.role === 'user' || m.role === 'assistant') && typeof m.content === 'string')
      .map(restoreMessage);
    state.conversations[id] = conv;
    state.order.push(id);
  }
  state.currentId = index && state.conversations[index.currentId] ? index.currentId : state.order[0] || null;
  return state;
}
