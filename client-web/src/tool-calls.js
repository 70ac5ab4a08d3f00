// Tool calls in an answer: reading a `tool_call` event, assembling the calls of one
// answer by index (arguments concatenated in arrival order, kept as raw text), checking
// saved calls on load, and the text shown for a call's arguments.
// No DOM in here.

/**
 * The fields of a `tool_call` event's data, or null when it is not one: `index` is a
 * whole number from 0; `id`, `name` and `arguments` are strings when present.
 */
export function readToolCallEvent(data) {
  if (!data || typeof data !== 'object') return null;
  const { index } = data;
  if (!Number.isInteger(index) || index < 0) return null;
  const ev = { index, arguments: typeof data.arguments === 'string' ? data.arguments : '' };
  if (typeof data.id === 'string' && data.id) ev.id = data.id;
  if (typeof data.name === 'string' && data.name) ev.name = data.name;
  return ev;
}

/**
 * Applies one tool_call event to the calls received so far and returns the new list (the
 * old one and its calls are left as they were). A call is created the first time its
 * index is seen, at `at` (how much of the answer's text came before it); later events
 * with that index add to its arguments. Calls stay in the order they started.
 */
export function applyToolCall(calls, ev, at) {
  const i = calls.findIndex((c) => c.index === ev.index);
  if (i < 0) {
    return [...calls, { index: ev.index, id: ev.id || '', name: ev.name || '', arguments: ev.arguments, at }];
  }
  const c = calls[i];
  const next = { ...c, arguments: c.arguments + ev.arguments };
  if (!c.id && ev.id) next.id = ev.id;
  if (!c.name && ev.name) next.name = ev.name;
  const out = calls.slice();
  out[i] = next;
  return out;
}

/**
 * Saved calls, checked: what is not a call is dropped, and a call's place in the text is
 * kept within the text (`textLength`). Returns undefined when there are none.
 */
export function restoreToolCalls(saved, textLength) {
  if (!Array.isArray(saved)) return undefined;
  const seen = new Set();
  const calls = [];
  let last = 0;
  for (const c of saved) {
    if (!c || typeof c !== 'object' || !Number.isInteger(c.index) || c.index < 0 || seen.has(c.index)) continue;
    if (typeof c.arguments !== 'string') continue;
    seen.add(c.index);
    const at = Number.isInteger(c.at) ? Math.min(Math.max(c.at, last), textLength) : textLength;
    last = at;
    calls.push({
      index: c.index,
      id: typeof c.id === 'string' ? c.id : '',
      name: typeof c.name === 'string' ? c.name : '',
      arguments: c.arguments,
      at,
    });
  }
  return calls.length ? calls : undefined;
}

/**
 * The text shown for a call's arguments. Until the stream says the call is complete
 * (`complete`), the raw text as received; then pretty-printed JSON when it parses,
 * else still the raw text. `json` says which it is.
 */
export function argumentsText(raw, complete) {
  if (complete && raw.trim()) {
    try {
      return { text: JSON.stringify(JSON.parse(raw), null, 2), json: true };
    } catch {
      /* not JSON: shown as it came */
    }
  }
  return { text: raw, json: false };
}

/** The label of a call's collapsed block. */
export function toolCallLabel(call) {
  return call.name ? `Tool call: ${call.name}` : 'Tool call';
}
