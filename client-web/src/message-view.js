// The message list on the page: builds a user or assistant message, renders an answer's
// markdown progressively as it streams, its tool calls as collapsed blocks where they came
// in the text, shows its status (stopped, errors with Retry, reconnecting), keeps the
// Edit/Regenerate/Retry buttons in step, and the edit box.

import { iconButton } from './icons.js';
import { formatSeconds } from './api.js';
import { argumentsText, toolCallLabel } from './tool-calls.js';

/**
 * doc: the document. container: the element holding the messages; empty: the placeholder
 * shown when there are none. markdown: what createMarkdown() returned.
 * isBusy(): an answer is streaming. isReconnecting(msgId): that answer's connection
 * dropped and is being resumed.
 */
export function createMessageView({
  doc,
  container,
  empty,
  markdown,
  isBusy = () => false,
  isReconnecting = () => false,
  now = Date.now,
  setTimeout: setTimer = globalThis.setTimeout,
}) {
  const views = new Map(); // message id -> its DOM

  function build(m) {
    const art = doc.createElement('article');
    art.className = `msg ${m.role}`;
    art.dataset.id = m.id;
    const view = { art, role: m.role };
    if (m.role === 'user') {
      art.setAttribute('aria-label', 'You said');
      const bubble = doc.createElement('div');
      bubble.className = 'bubble';
      bubble.textContent = m.content;
      const actions = doc.createElement('div');
      actions.className = 'msg-actions';
      actions.append(iconButton(doc, 'edit', 'Edit message', 'edit-msg'), iconButton(doc, 'copy', 'Copy message', 'copy-msg'));
      art.append(bubble, actions);
      view.bubble = bubble;
      view.actions = actions;
    } else {
      art.setAttribute('aria-label', 'Assistant said');
      const avatar = doc.createElement('div');
      avatar.className = 'avatar';
      avatar.setAttribute('aria-hidden', 'true');
      avatar.textContent = '✦';
      const body = doc.createElement('div');
      body.className = 'msg-body';
      const thinking = doc.createElement('details');
      thinking.className = 'thinking';
      thinking.hidden = true;
      const summary = doc.createElement('summary');
      summary.textContent = 'Thinking';
      const thinkingText = doc.createElement('div');
      thinkingText.className = 'thinking-text';
      const thinkingNode = doc.createTextNode('');
      thinkingText.append(thinkingNode);
      thinking.append(summary, thinkingText);
      const md = doc.createElement('div');
      md.className = 'md';
      const status = doc.createElement('div');
      status.className = 'msg-status';
      const actions = doc.createElement('div');
      actions.className = 'msg-actions';
      actions.append(iconButton(doc, 'copy', 'Copy answer', 'copy-msg'), iconButton(doc, 'regenerate', 'Regenerate answer', 'regen'));
      body.append(thinking, md, status, actions);
      art.append(avatar, body);
      Object.assign(view, {
        thinking, summary, thinkingNode, md, status, actions, sm: new markdown.StreamingMarkdown(md), shownReasoning: 0,
        // The answer's text in pieces, one before each group of tool calls and one after:
        // {start, md, sm}, the first being md/sm above. calls: the blocks of the tool calls.
        segments: [],
        calls: [],
      });
      view.segments.push({ start: 0, md, sm: view.sm });
    }
    views.set(m.id, view);
    return art;
  }

  /**
   * Brings an assistant message's DOM up to date; cheap when only the tail changed.
   * `budget`: show at most this many more characters (a burst is spread over frames).
   * Returns false while some text is still held back.
   */
  function paint(m, budget = 0) {
    const v = views.get(m.id);
    if (!v) return true;
    const streaming = m.status === 'streaming';
    const opts = budget ? { maxAdvance: budget } : {};
    const calls = m.toolCalls || [];
    if (calls.length !== v.calls.length) placeToolCalls(v, calls);
    let caughtUp = true;
    v.segments.forEach((seg, i) => {
      const last = i === v.segments.length - 1;
      const text = seg.start === 0 && last ? m.content : m.content.slice(seg.start, last ? undefined : v.segments[i + 1].start);
      let ok = true;
      if (streaming && last) ok = seg.sm.update(text, opts);
      else if (!seg.sm.finished || seg.sm.seen !== text.length) ok = seg.sm.update(text, { ...opts, final: true });
      if (v.segments.length > 1) seg.md.hidden = !text && !(streaming && last);
      caughtUp = caughtUp && ok;
    });
    calls.forEach((c, i) => paintToolCall(v.calls[i], c, m.status === 'done'));
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

  /** Adds the blocks of calls that are new since the last paint, each where it came in the
   * text: calls that came at the same place share the piece of text that follows them. */
  function placeToolCalls(v, calls) {
    if (calls.length < v.calls.length) {
      // Fewer calls than shown (never while streaming): start the pieces over.
      for (const b of v.calls) b.details.remove();
      for (const seg of v.segments.slice(1)) seg.md.remove();
      v.calls = [];
      v.segments.length = 1;
      v.md.hidden = false;
    }
    for (let i = v.calls.length; i < calls.length; i++) {
      const block = buildToolCall();
      if (i > 0 && calls[i - 1].at === calls[i].at) {
        v.segments[v.segments.length - 1].md.before(block.details);
      } else {
        const md = doc.createElement('div');
        md.className = 'md';
        v.status.before(block.details, md);
        v.segments.push({ start: calls[i].at, md, sm: new markdown.StreamingMarkdown(md) });
      }
      v.calls.push(block);
    }
  }

  /** A collapsed block for one tool call: its name in the summary (which the keyboard
   * reaches and toggles), its arguments as text below. */
  function buildToolCall() {
    const details = doc.createElement('details');
    details.className = 'tool-call';
    const summary = doc.createElement('summary');
    const pre = doc.createElement('pre');
    pre.className = 'tool-args';
    const code = doc.createElement('code');
    const argsNode = doc.createTextNode('');
    code.append(argsNode);
    pre.append(code);
    const none = doc.createElement('p');
    none.className = 'tool-no-args';
    none.textContent = 'No arguments.';
    none.hidden = true;
    details.append(summary, pre, none);
    return { details, summary, pre, none, argsNode, shown: '', formatted: false };
  }

  /** Brings a call's block up to date: raw arguments while they stream (only the new part
   * is added), pretty-printed once the answer is done. Text only, never markup. */
  function paintToolCall(b, call, complete) {
    const label = toolCallLabel(call);
    if (b.summary.textContent !== label) b.summary.textContent = label;
    const raw = call.arguments;
    if (complete) {
      if (b.formatted && b.shown === raw) return;
      const { text, json } = argumentsText(raw, true);
      b.argsNode.data = text;
      b.pre.classList.toggle('json', json);
      b.formatted = true;
    } else if (b.formatted || !raw.startsWith(b.shown)) {
      b.argsNode.data = raw;
      b.pre.classList.remove('json');
      b.formatted = false;
    } else if (raw.length > b.shown.length) {
      b.argsNode.appendData(raw.slice(b.shown.length));
    }
    b.shown = raw;
    b.pre.hidden = !raw;
    b.none.hidden = !!raw || !complete;
  }

  function paintStatus(m, v) {
    const s = v.status;
    const reconnecting = m.status === 'streaming' && isReconnecting(m.id);
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
    const box = doc.createElement('div');
    box.className = 'error-box';
    box.setAttribute('role', 'alert');
    const t = doc.createElement('strong');
    t.textContent = err.title || 'Something went wrong';
    const p = doc.createElement('p');
    p.textContent = err.text || '';
    box.append(t, p);
    if (err.detail) {
      const d = doc.createElement('p');
      d.className = 'detail';
      d.textContent = `Server said: ${err.detail}`;
      box.append(d);
    }
    const retry = doc.createElement('button');
    retry.type = 'button';
    retry.className = 'btn retry';
    retry.textContent = 'Retry';
    box.append(retry);
    if (err.retryAt && err.retryAt > now()) countdown(retry, err.retryAt);
    return box;
  }

  /** Keeps Retry disabled, counting down, until `until` (after a 429's Retry-After). */
  function countdown(btn, until) {
    let first = true;
    const tick = () => {
      const left = Math.ceil((until - now()) / 1000);
      if (left <= 0 || (!first && !btn.isConnected)) {
        btn.disabled = false;
        btn.textContent = 'Retry';
        return;
      }
      first = false;
      btn.disabled = true;
      btn.textContent = `Retry in ${formatSeconds(left)}`;
      setTimer(tick, 250);
    };
    tick();
  }

  /** Edit / regenerate are offered only where they make sense and never mid-stream. */
  function refreshActions(msgs) {
    const busy = isBusy();
    const lastIdx = msgs.length - 1;
    msgs.forEach((m, i) => {
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

  /** Rebuilds the whole list (another conversation was opened). */
  function render(msgs) {
    views.clear();
    const frag = doc.createDocumentFragment();
    for (const m of msgs) frag.append(build(m));
    container.replaceChildren(frag);
    empty.hidden = msgs.length > 0;
    for (const m of msgs) if (m.role === 'assistant') paint(m);
    refreshActions(msgs);
  }

  /** Brings the list in line with `msgs` without rebuilding what is already there
   * (messages are only ever added at the end or cut from the end). */
  function sync(msgs) {
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
        container.append(build(m));
        if (m.role === 'assistant') paint(m);
      } else if (m.role === 'user' && v.bubble.textContent !== m.content) {
        v.bubble.textContent = m.content;
      }
    }
    empty.hidden = msgs.length > 0;
    refreshActions(msgs);
  }

  /** Adds one message at the end (a new answer about to stream). */
  function append(m) {
    container.append(build(m));
    empty.hidden = true;
    if (m.role === 'assistant') paint(m);
  }

  /**
   * Swaps user message `m`'s bubble for an edit box. Send calls onSubmit(text) with the
   * trimmed text (not when empty or while an answer streams); Cancel and Escape restore it.
   */
  function startEdit(m, onSubmit) {
    const v = views.get(m.id);
    if (!v || m.role !== 'user') return;
    const box = doc.createElement('div');
    box.className = 'edit-box';
    const ta = doc.createElement('textarea');
    ta.value = m.content;
    ta.rows = Math.min(12, Math.max(2, m.content.split('\n').length));
    ta.setAttribute('aria-label', 'Edit your message');
    const row = doc.createElement('div');
    row.className = 'edit-actions';
    const cancel = doc.createElement('button');
    cancel.type = 'button';
    cancel.className = 'btn';
    cancel.textContent = 'Cancel';
    const save = doc.createElement('button');
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
      if (!text || isBusy()) return;
      restore();
      onSubmit(text);
    };
    save.addEventListener('click', submit);
    ta.addEventListener('keydown', (e) => {
      if (isEnterToSend(e)) {
        e.preventDefault();
        submit();
      } else if (e.key === 'Escape') {
        e.preventDefault();
        restore();
      }
    });
  }

  return {
    render,
    sync,
    append,
    paint,
    refreshActions,
    startEdit,
    has: (id) => views.has(id),
  };
}

/** Enter without Shift, and not while an input method is composing. */
export function isEnterToSend(e) {
  return e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229;
}

/** Shows on a copy button whether the copy worked, for 1.5 s. */
export function flashCopied(btn, ok, { setTimeout: setTimer = globalThis.setTimeout } = {}) {
  const isText = btn.classList.contains('copy-btn');
  const label = btn.getAttribute('aria-label');
  btn.classList.add(ok ? 'copied' : 'copy-failed');
  if (isText) btn.textContent = ok ? 'Copied' : 'Copy failed';
  setTimer(() => {
    btn.classList.remove('copied', 'copy-failed');
    if (isText) btn.textContent = 'Copy';
    btn.setAttribute('aria-label', label);
  }, 1500);
}
