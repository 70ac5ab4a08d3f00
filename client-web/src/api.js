// The chatd client: POST /api/chat as an event stream, resume after a dropped connection,
// cancel, and the translation of every failure into words a person understands.
// No DOM in here: it is driven by the app and unit-tested in node with a fake fetch.

import { readEventStream } from './sse.js';
import { readToolCallEvent } from './tool-calls.js';

export class ChatError extends Error {
  /**
   * kind: 'http' (refused before the stream), 'stream' (an `error` event),
   * 'network' (could not connect / connection lost), 'resume' (lost and not recoverable),
   * 'protocol' (the server answered something that is not an event stream).
   */
  constructor({ kind, status = 0, type = '', message = '', retryAfter = null }) {
    super(message || type || kind);
    this.name = 'ChatError';
    this.kind = kind;
    this.status = status;
    this.type = type;
    this.serverMessage = message;
    this.retryAfter = retryAfter;
  }
}

/** Parses a Retry-After header (seconds or an HTTP date) into whole seconds, or null. */
export function parseRetryAfter(value, now = Date.now()) {
  if (value == null || value === '') return null;
  const s = String(value).trim();
  if (/^\d+$/.test(s)) return Number(s);
  const t = Date.parse(s);
  if (Number.isNaN(t)) return null;
  return Math.max(0, Math.ceil((t - now) / 1000));
}

async function httpError(res) {
  let type = '';
  let message = '';
  try {
    const body = await res.json();
    if (body && body.error) {
      type = String(body.error.type || '');
      message = String(body.error.message || '');
    }
  } catch {
    /* not JSON: keep the status alone */
  }
  return new ChatError({
    kind: 'http',
    status: res.status,
    type,
    message,
    retryAfter: parseRetryAfter(res.headers.get('Retry-After')),
  });
}

function authHeaders(apiKey) {
  return apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
}

function abortableSleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal && signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      if (signal) signal.removeEventListener('abort', done);
      resolve();
    }
    if (signal) signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs one chat turn.
 *
 * Calls onStart({streamId, model}), onDelta(text, id), onReasoning(text, id) and
 * onToolCall({index, id?, name?, arguments}, id) (a tool call starts, or a fragment of its
 * arguments) as events arrive; onReconnect(attempt) before each resume attempt. Resolves with
 * {status:'done', finishReason, usage, streamId} or {status:'aborted', streamId};
 * rejects with a ChatError. Each event id is applied at most once, so a resumed stream
 * never duplicates or drops characters.
 */
export async function streamChat({
  body,
  signal,
  apiKey = '',
  base = '',
  fetch: doFetch = (...a) => globalThis.fetch(...a),
  onStart = () => {},
  onDelta = () => {},
  onReasoning = () => {},
  onToolCall = () => {},
  onReconnect = () => {},
  onStreamId = () => {},
  resumeAttempts = 5,
  resume = null, // {streamId, lastEventId}: continue an earlier stream instead of starting one
  sleep = abortableSleep,
}) {
  let streamId = null;
  let lastId = -1;
  let terminal = null;
  let retryMs = 1000;

  const setStreamId = (id) => {
    if (id && id !== streamId) {
      streamId = id;
      onStreamId(id);
    }
  };

  const onEvent = (ev) => {
    if (terminal) return;
    if (ev.id !== undefined && ev.id !== '') {
      const n = Number(ev.id);
      if (Number.isInteger(n)) {
        if (n <= lastId) return; // already applied (replayed after a resume)
        lastId = n;
      }
    }
    let data = null;
    try {
      data = ev.data ? JSON.parse(ev.data) : {};
    } catch {
      return; // not ours: ignore rather than break the answer
    }
    switch (ev.type) {
      case 'start':
        setStreamId(data.stream_id);
        onStart({ streamId: data.stream_id || streamId, model: data.model || '' });
        break;
      case 'delta':
        if (typeof data.text === 'string') onDelta(data.text, lastId);
        break;
      case 'reasoning':
        if (typeof data.text === 'string') onReasoning(data.text, lastId);
        break;
      case 'tool_call': {
        const call = readToolCallEvent(data);
        if (call) onToolCall(call, lastId);
        break;
      }
      case 'done':
        terminal = { status: 'done', finishReason: data.finish_reason || 'stop', usage: data.usage || null };
        break;
      case 'error': {
        const e = (data && data.error) || {};
        terminal = {
          error: new ChatError({
            kind: 'stream',
            status: Number(e.status) || 0,
            type: String(e.type || ''),
            message: String(e.message || ''),
          }),
        };
        break;
      }
      default:
        break; // unknown event types are ignored
    }
  };
  const handlers = { onEvent, onRetry: (ms) => (retryMs = ms), shouldStop: () => !!terminal };

  const aborted = () => ({ status: 'aborted', streamId });
  const finish = () => {
    if (terminal.error) throw terminal.error;
    return { ...terminal, streamId };
  };

  const checkStream = (res) => {
    const ct = res.headers.get('Content-Type') || '';
    if (!/^text\/event-stream/i.test(ct) || !res.body) {
      throw new ChatError({ kind: 'protocol', status: res.status, message: `unexpected content type ${ct}` });
    }
  };

  if (resume) {
    setStreamId(resume.streamId);
    lastId = resume.lastEventId == null ? -1 : Number(resume.lastEventId);
  } else {
    let res;
    try {
      res = await doFetch(`${base}/api/chat`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', ...authHeaders(apiKey) },
        body: JSON.stringify(body),
        signal,
        cache: 'no-store',
      });
    } catch (err) {
      if (signal && signal.aborted) return aborted();
      throw new ChatError({ kind: 'network', message: String((err && err.message) || err) });
    }
    if (!res.ok) throw await httpError(res);
    checkStream(res);
    setStreamId(res.headers.get('X-Chatd-Stream-Id'));
    try {
      await readEventStream(res.body, handlers);
    } catch {
      /* dropped mid-stream: resumed below */
    }
    if (signal && signal.aborted) return aborted();
    if (terminal) return finish();
  }

  // The connection ended without a terminal event: resume from the last event seen.
  let failures = 0;
  while (!terminal) {
    if (!streamId) throw new ChatError({ kind: 'network', message: 'connection lost before the answer started' });
    if (failures >= resumeAttempts) {
      throw new ChatError({ kind: 'resume', message: 'could not reconnect to the answer' });
    }
    onReconnect(failures + 1);
    if (failures > 0) await sleep(Math.min(Math.max(retryMs, 250), 3000), signal);
    if (signal && signal.aborted) return aborted();
    const headers = { Accept: 'text/event-stream', ...authHeaders(apiKey) };
    if (lastId >= 0) headers['Last-Event-ID'] = String(lastId);
    let res;
    try {
      res = await doFetch(`${base}/api/streams/${encodeURIComponent(streamId)}`, {
        headers,
        signal,
        cache: 'no-store',
      });
    } catch {
      if (signal && signal.aborted) return aborted();
      failures++;
      continue;
    }
    if (res.status === 404 || res.status === 410) {
      throw new ChatError({ kind: 'resume', status: res.status, message: 'the answer is no longer available' });
    }
    if (!res.ok) {
      const err = await httpError(res);
      if (res.status === 429 || res.status >= 500) {
        failures++;
        continue;
      }
      throw err;
    }
    checkStream(res);
    const before = lastId;
    try {
      await readEventStream(res.body, handlers);
    } catch {
      /* dropped again */
    }
    if (signal && signal.aborted) return aborted();
    failures = lastId > before ? 0 : failures + 1;
  }
  return finish();
}

/** Asks the server to stop a stream. Never throws; a 404 (unknown stream) is fine. */
export async function cancelStream({ streamId, apiKey = '', base = '', fetch: doFetch = (...a) => globalThis.fetch(...a) }) {
  if (!streamId) return false;
  try {
    const res = await doFetch(`${base}/api/streams/${encodeURIComponent(streamId)}/cancel`, {
      method: 'POST',
      headers: authHeaders(apiKey),
      keepalive: true,
    });
    return res.ok;
  } catch {
    return false;
  }
}

/** Lists model ids from GET /v1/models; [] when unavailable. */
export async function listModels({ apiKey = '', base = '', fetch: doFetch = (...a) => globalThis.fetch(...a) } = {}) {
  try {
    const res = await doFetch(`${base}/v1/models`, { headers: authHeaders(apiKey) });
    if (!res.ok) return [];
    const body = await res.json();
    return Array.isArray(body && body.data) ? body.data.map((m) => String(m.id)).filter(Boolean) : [];
  } catch {
    return [];
  }
}

function withDetail(text, err) {
  const d = err.serverMessage && err.serverMessage !== err.type ? err.serverMessage : '';
  return { text, detail: d };
}

/**
 * Words for a person: {title, text, detail, retryAfter}. `detail` is the server's own
 * message, shown smaller (it is plain text, never HTML).
 */
export function describeError(err) {
  if (!(err instanceof ChatError)) {
    return { title: 'Something went wrong', text: 'The app hit an unexpected problem. Please try again.', detail: String((err && err.message) || err || ''), retryAfter: null };
  }
  const r = (title, text) => ({ title, ...withDetail(text, err), retryAfter: err.retryAfter });
  switch (err.kind) {
    case 'network':
      return r('Connection problem', "Couldn't reach the chat server. Check your connection and try again.");
    case 'resume':
      return r('Connection lost', 'The connection dropped in the middle of the answer and it could not be recovered. Try again to get a new answer.');
    case 'protocol':
      return r('Unexpected response', 'The server sent something the app did not understand. Please try again.');
    default:
      break;
  }
  const byType = {
    invalid_request: ['Request not accepted', "The server couldn't accept this request."],
    unauthorized: ['Access key needed', 'The server needs a valid access key. Add it under Settings, then try again.'],
    not_found: ['Not found', 'The chat service was not found at this address.'],
    method_not_allowed: ['Request not accepted', "The app and the server don't agree on how to talk to each other."],
    payload_too_large: ['Conversation too long', 'This conversation is too long for the server. Start a new chat or shorten your messages.'],
    unsupported_media_type: ['Request not accepted', "The app and the server don't agree on the request format."],
    rate_limited: ['Too many requests', 'Too many requests right now.'],
    overloaded: ['Server busy', 'The server is busy right now. Please try again in a moment.'],
    upstream_error: ['Model provider error', 'The AI model provider returned an error. Please try again in a moment.'],
    upstream_timeout: ['Model provider timed out', 'The AI model provider took too long to respond. Please try again.'],
    shutdown: ['Server restarting', 'The server is restarting, so the answer was cut off. Please try again in a moment.'],
    cancelled: ['Stopped', 'The answer was stopped.'],
  };
  const byStatus = {
    400: 'invalid_request',
    401: 'unauthorized',
    403: 'unauthorized',
    404: 'not_found',
    405: 'method_not_allowed',
    413: 'payload_too_large',
    415: 'unsupported_media_type',
    429: 'rate_limited',
    502: 'upstream_error',
    503: 'overloaded',
    504: 'upstream_timeout',
  };
  const key = byType[err.type] ? err.type : byStatus[err.status];
  let title;
  let text;
  if (key) {
    [title, text] = byType[key];
  } else if (err.kind === 'stream') {
    title = 'Answer interrupted';
    text = 'The answer was interrupted by an error on the server. Please try again.';
  } else if (err.status >= 500) {
    title = 'Server error';
    text = `The server ran into a problem (HTTP ${err.status}). Please try again.`;
  } else {
    title = 'Request failed';
    text = `The server refused the request (HTTP ${err.status}).`;
  }
  if (key === 'rate_limited') {
    text = err.retryAfter != null
      ? `Too many requests right now. Please wait ${formatSeconds(err.retryAfter)} before trying again.`
      : 'Too many requests right now. Please wait a little before trying again.';
  }
  return r(title, text);
}

export function formatSeconds(s) {
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.ceil(s / 60);
  return `${m} minute${m === 1 ? '' : 's'}`;
}
