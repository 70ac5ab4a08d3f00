import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JSDOM } from 'jsdom';
import { createMarkdown } from '../../src/markdown.js';
import { createMessageView, flashCopied, isEnterToSend } from '../../src/message-view.js';
import { formatSeconds } from '../../src/api.js';
import { manualTimers } from './_fakes.js';

const { window } = new JSDOM('<!doctype html><html><body></body></html>');
const { document } = window;
const markdown = createMarkdown(window);

function setup({ busy = false, reconnecting = () => false } = {}) {
  const container = document.createElement('div');
  const empty = document.createElement('div');
  document.body.replaceChildren(container, empty);
  const timers = manualTimers();
  const flags = { busy };
  const view = createMessageView({
    doc: document,
    container,
    empty,
    markdown,
    isBusy: () => flags.busy,
    isReconnecting: reconnecting,
    now: () => 1_000_000 + timers.now(),
    setTimeout: timers.setTimeout,
  });
  const art = (id) => container.querySelector(`article[data-id="${id}"]`);
  return { view, container, empty, timers, flags, art };
}

const user = (id, content) => ({ id, role: 'user', content });
const answer = (id, content, extra = {}) => ({ id, role: 'assistant', content, reasoning: '', status: 'done', ...extra });

test('render builds labelled messages; user text stays text, answers are markdown', () => {
  const { view, container, empty, art } = setup();
  view.render([]);
  assert.equal(empty.hidden, false);
  view.render([user('u1', '<b>hi</b> **not bold**'), answer('a1', 'Some **bold** text\n\n```js\nlet x = 1;\n```\n')]);
  assert.equal(empty.hidden, true);
  assert.equal(container.children.length, 2);
  assert.equal(art('u1').getAttribute('aria-label'), 'You said');
  assert.equal(art('u1').querySelector('.bubble').textContent, '<b>hi</b> **not bold**');
  assert.equal(art('u1').querySelector('.bubble b'), null);
  const md = art('a1').querySelector('.md');
  assert.equal(art('a1').getAttribute('aria-label'), 'Assistant said');
  assert.equal(md.querySelector('strong').textContent, 'bold');
  assert.ok(md.querySelector('.code-block .copy-btn'));
  assert.equal(art('a1').getAttribute('aria-busy'), 'false');
  assert.equal(art('a1').classList.contains('streaming'), false);
  assert.equal(art('a1').querySelector('.thinking').hidden, true, 'no reasoning: no thinking area');
});

test('a streaming answer updates in place, within the budget, and shows its reasoning', () => {
  const { view, art } = setup();
  const m = answer('a1', '', { status: 'streaming', reasoning: '' });
  view.append(m);
  assert.equal(art('a1').getAttribute('aria-busy'), 'true');
  assert.equal(art('a1').querySelector('summary').textContent, 'Thinking…');
  const step1 = { ...m, reasoning: 'Let me think', content: '' };
  view.paint(step1);
  const thinking = art('a1').querySelector('.thinking');
  assert.equal(thinking.hidden, false);
  assert.equal(thinking.querySelector('summary').textContent, 'Thinking…');
  assert.equal(thinking.querySelector('.thinking-text').textContent, 'Let me think');

  const long = 'word '.repeat(400); // 2000 characters in one paragraph
  const step2 = { ...step1, reasoning: 'Let me think. Done.', content: long };
  const mdEl = art('a1').querySelector('.md');
  assert.equal(view.paint(step2, 500), false, 'held back: more than the budget arrived');
  const shown = mdEl.textContent.length;
  assert.ok(shown > 0 && shown < 2000, `showed part of the burst (${shown})`);
  assert.equal(thinking.querySelector('summary').textContent, 'Thinking');
  assert.equal(thinking.querySelector('.thinking-text').textContent, 'Let me think. Done.');
  let rounds = 0;
  while (!view.paint(step2, 500)) rounds++;
  assert.ok(rounds >= 1 && rounds < 10);
  assert.equal(mdEl.textContent.trim(), long.trim());

  view.paint({ ...step2, status: 'done' });
  assert.equal(art('a1').getAttribute('aria-busy'), 'false');
  assert.equal(mdEl.querySelector('.caret'), null, 'no caret once finished');
});

test('status: stopped, interrupted, reconnecting and an error with a Retry countdown', () => {
  let reconnecting = true;
  const { view, art, timers } = setup({ reconnecting: (id) => id === 'a1' && reconnecting });
  view.render([answer('a1', 'part', { status: 'streaming' }), answer('a2', 'x', { status: 'stopped' }), answer('a3', '', { status: 'interrupted' })]);
  const status = (id) => art(id).querySelector('.msg-status');
  assert.equal(status('a1').textContent, 'Connection lost, reconnecting…');
  reconnecting = false;
  view.paint(answer('a1', 'part more', { status: 'streaming' }));
  assert.equal(status('a1').textContent, '');
  assert.equal(status('a2').textContent, 'Stopped.');
  assert.match(status('a3').textContent, /Answer interrupted/);
  assert.ok(status('a3').querySelector('button.retry'));

  const error = { title: 'Too many requests', text: 'Wait a moment.', detail: '<i>slow</i>', retryAt: 1_000_000 + 2500 };
  view.paint(answer('a1', 'part more', { status: 'error', error }));
  const box = status('a1').querySelector('.error-box');
  assert.equal(box.getAttribute('role'), 'alert');
  assert.equal(box.querySelector('strong').textContent, 'Too many requests');
  assert.equal(box.querySelector('.detail').textContent, 'Server said: <i>slow</i>');
  assert.equal(box.querySelector('i'), null, 'the server message is text');
  const retry = box.querySelector('button.retry');
  assert.equal(retry.disabled, true);
  assert.equal(retry.textContent, `Retry in ${formatSeconds(3)}`);
  timers.advance(1000);
  assert.equal(retry.textContent, `Retry in ${formatSeconds(2)}`);
  assert.equal(retry.disabled, true);
  timers.advance(1500);
  assert.equal(retry.disabled, false);
  assert.equal(retry.textContent, 'Retry');
  assert.equal(timers.size, 0, 'the countdown stops');
});

test('sync adds and removes at the end without rebuilding the rest', () => {
  const { view, container, art } = setup();
  view.render([user('u1', 'q1'), answer('a1', 'one')]);
  const kept = art('u1');
  view.sync([user('u1', 'q1 edited')]);
  assert.equal(art('a1'), null);
  assert.equal(art('u1'), kept, 'the same element');
  assert.equal(kept.querySelector('.bubble').textContent, 'q1 edited');
  view.sync([user('u1', 'q1 edited'), answer('a2', 'two')]);
  assert.equal(container.children.length, 2);
  assert.equal(view.has('a2'), true);
  assert.equal(view.has('a1'), false);
});

test('actions: regenerate only on the last answer; edit, regenerate and Retry disabled while busy', () => {
  const { view, art, flags } = setup();
  const msgs = [user('u1', 'q'), answer('a1', 'x', { status: 'error', error: { title: 't', text: 'x' } }), user('u2', 'q2'), answer('a2', 'y')];
  view.render(msgs);
  assert.equal(art('a1').querySelector('.regen').hidden, true);
  assert.equal(art('a2').querySelector('.regen').hidden, false);
  assert.equal(art('u1').querySelector('.edit-msg').disabled, false);
  flags.busy = true;
  view.refreshActions(msgs);
  assert.equal(art('u1').querySelector('.edit-msg').disabled, true);
  assert.equal(art('a2').querySelector('.regen').disabled, true);
  assert.equal(art('a1').querySelector('.retry').disabled, true);
  view.refreshActions([...msgs.slice(0, 3), answer('a2', '', { status: 'streaming' })]);
  assert.equal(art('a2').querySelector('.msg-actions').hidden, true, 'no actions on a streaming answer');
});

test('edit box: Send hands over the trimmed text, Escape restores, nothing while busy', () => {
  const { view, art, flags } = setup();
  const m = user('u1', 'old text');
  view.render([m]);
  const sent = [];
  view.startEdit(m, (text) => sent.push(text));
  const ta = art('u1').querySelector('.edit-box textarea');
  assert.equal(ta.value, 'old text');
  assert.equal(art('u1').querySelector('.bubble'), null);
  assert.equal(document.activeElement, ta);
  ta.value = '   ';
  art('u1').querySelector('.edit-actions .primary').click();
  assert.deepEqual(sent, [], 'empty text is not sent');
  ta.value = '  new text ';
  flags.busy = true;
  ta.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
  assert.deepEqual(sent, [], 'not while an answer streams');
  flags.busy = false;
  ta.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Enter', shiftKey: true }));
  assert.deepEqual(sent, [], 'Shift+Enter is a new line');
  ta.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Enter' }));
  assert.deepEqual(sent, ['new text']);
  assert.ok(art('u1').querySelector('.bubble'), 'the bubble is back');
  assert.equal(art('u1').querySelector('.msg-actions').hidden, false);

  view.startEdit(m, (text) => sent.push(text));
  art('u1').querySelector('.edit-box textarea').dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Escape' }));
  assert.equal(art('u1').querySelector('.edit-box'), null);
  assert.deepEqual(sent, ['new text']);
});

test('isEnterToSend ignores Shift and input-method composition', () => {
  assert.equal(isEnterToSend({ key: 'Enter' }), true);
  assert.equal(isEnterToSend({ key: 'Enter', shiftKey: true }), false);
  assert.equal(isEnterToSend({ key: 'Enter', isComposing: true }), false);
  assert.equal(isEnterToSend({ key: 'Enter', keyCode: 229 }), false);
  assert.equal(isEnterToSend({ key: 'a' }), false);
});

test('flashCopied marks the button for a moment', () => {
  const timers = manualTimers();
  const btn = document.createElement('button');
  btn.className = 'copy-btn';
  btn.textContent = 'Copy';
  btn.setAttribute('aria-label', 'Copy code');
  flashCopied(btn, true, { setTimeout: timers.setTimeout });
  assert.equal(btn.textContent, 'Copied');
  assert.ok(btn.classList.contains('copied'));
  timers.advance(1500);
  assert.equal(btn.textContent, 'Copy');
  assert.equal(btn.classList.contains('copied'), false);
  flashCopied(btn, false, { setTimeout: timers.setTimeout });
  assert.equal(btn.textContent, 'Copy failed');
  assert.ok(btn.classList.contains('copy-failed'));
  const icon = document.createElement('button');
  icon.className = 'copy-msg';
  flashCopied(icon, true, { setTimeout: timers.setTimeout });
  assert.equal(icon.textContent, '', 'an icon button keeps its icon');
});

// ---- tool calls

const weather = { index: 0, id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris","days":[1,2]}', at: 5 };

/** The answer's body as a list: text pieces as their text, tool calls as `tool:<summary>`. */
function layout(art) {
  return [...art.querySelector('.msg-body').children]
    .filter((el) => el.matches('.md, details.tool-call') && !el.hidden)
    .map((el) => (el.matches('.md') ? el.textContent.trim() : `tool:${el.querySelector('summary').textContent}`));
}

test('a tool call is a collapsed block named after the tool, between the text before and after it', () => {
  const { view, art } = setup();
  const calls = [{ ...weather, at: 9 }, { index: 1, id: 'b', name: 'get_time', arguments: '{}', at: 9 }];
  view.render([answer('a1', 'Checking.Back **soon**.', { toolCalls: calls })]);
  assert.deepEqual(layout(art('a1')), ['Checking.', 'tool:Tool call: get_weather', 'tool:Tool call: get_time', 'Back soon.']);
  assert.equal([...art('a1').querySelectorAll('.md')].at(-1).querySelector('strong').textContent, 'soon', 'the text after the calls is markdown too');
  const blocks = art('a1').querySelectorAll('details.tool-call');
  assert.equal(blocks.length, 2);
  for (const d of blocks) {
    assert.equal(d.open, false, 'collapsed');
    assert.equal(d.firstElementChild.tagName, 'SUMMARY', 'the summary is what the keyboard reaches');
    assert.equal(d.querySelector('summary').hasAttribute('tabindex'), false, 'left focusable');
  }
  const pre = blocks[0].querySelector('pre.tool-args');
  assert.equal(pre.textContent, '{\n  "city": "Paris",\n  "days": [\n    1,\n    2\n  ]\n}', 'done: pretty-printed');
  assert.ok(pre.classList.contains('json'));
  blocks[0].querySelector('summary').click();
  assert.equal(blocks[0].open, true, 'expands');
  assert.equal(blocks[1].querySelector('pre.tool-args').textContent, '{}');
});

test('a call before any text and calls at the end: no empty pieces shown', () => {
  const { view, art } = setup();
  view.render([answer('a1', '', { toolCalls: [{ ...weather, at: 0 }] })]);
  assert.deepEqual(layout(art('a1')), ['tool:Tool call: get_weather']);
  view.render([answer('a1', 'After.', { toolCalls: [{ ...weather, at: 0 }] })]);
  assert.deepEqual(layout(art('a1')), ['tool:Tool call: get_weather', 'After.']);
  view.render([answer('a1', 'Before.', { toolCalls: [{ ...weather, at: 7 }] })]);
  assert.deepEqual(layout(art('a1')), ['Before.', 'tool:Tool call: get_weather']);
});

test('while streaming: the raw arguments grow in place; at done they are pretty-printed', () => {
  const { view, art } = setup();
  const m = answer('a1', 'Hm.', { status: 'streaming' });
  view.append(m);
  view.paint({ ...m, toolCalls: [{ ...weather, arguments: '', at: 3 }] });
  const block = art('a1').querySelector('details.tool-call');
  const pre = block.querySelector('pre.tool-args');
  assert.equal(block.querySelector('summary').textContent, 'Tool call: get_weather');
  assert.equal(pre.hidden, true, 'no arguments yet: nothing to show');
  assert.equal(block.querySelector('.tool-no-args').hidden, true, 'not "no arguments" while they may still come');
  block.open = true;
  const node = pre.querySelector('code').firstChild;
  const parts = ['{"ci', 'ty":"Pa', 'ris","days":[1,2]}'];
  let args = '';
  for (const p of parts) {
    args += p;
    view.paint({ ...m, toolCalls: [{ ...weather, arguments: args, at: 3 }] });
    assert.equal(pre.textContent, args, 'raw while streaming, even once it parses');
    assert.equal(pre.hidden, false);
  }
  assert.equal(pre.querySelector('code').firstChild, node, 'the same text node, added to');
  assert.equal(pre.classList.contains('json'), false);
  view.paint({ ...m, content: 'Hm.', status: 'done', toolCalls: [{ ...weather, at: 3 }] });
  assert.equal(pre.textContent, JSON.stringify(JSON.parse(weather.arguments), null, 2));
  assert.equal(block.open, true, 'a block the reader opened stays open');
  assert.equal(art('a1').getAttribute('aria-busy'), 'false');
});

test('arguments that do not parse stay raw; stopped answers are not parsed; no arguments says so', () => {
  const { view, art } = setup();
  view.render([
    answer('a1', 'x', { toolCalls: [{ ...weather, arguments: '{"city":"Par' }] }),
    answer('a2', 'x', { status: 'stopped', toolCalls: [{ ...weather, arguments: '{"a":1}' }] }),
    answer('a3', 'x', { toolCalls: [{ index: 0, id: 'c', name: 'now', arguments: '', at: 1 }] }),
  ]);
  assert.equal(art('a1').querySelector('pre.tool-args').textContent, '{"city":"Par');
  assert.equal(art('a2').querySelector('pre.tool-args').textContent, '{"a":1}');
  assert.equal(art('a3').querySelector('pre.tool-args').hidden, true);
  assert.equal(art('a3').querySelector('.tool-no-args').hidden, false);
  assert.equal(art('a3').querySelector('.tool-no-args').textContent, 'No arguments.');
});

test('tool names and arguments are text, never markup', () => {
  const { view, art } = setup();
  const name = '<img src=x onerror="window.__pwned=1">';
  const args = '{"html":"<script>window.__pwned=2</script>"}</code><b>x</b>';
  view.render([answer('a1', 'x', { toolCalls: [{ index: 0, id: 'c', name, arguments: args, at: 1 }] })]);
  const block = art('a1').querySelector('details.tool-call');
  assert.equal(block.querySelector('summary').textContent, `Tool call: ${name}`);
  assert.equal(block.querySelector('pre').textContent, args);
  assert.equal(block.querySelectorAll('img, script, b').length, 0);
  assert.equal(block.querySelector('pre code').childNodes.length, 1);
});

test('a streamed answer with text, calls and more text paints the same as one rendered whole', () => {
  const { view, art, container } = setup();
  const calls = [weather, { index: 1, id: 'b', name: 'get_time', arguments: '{}', at: 5 }, { index: 2, id: 'c', name: 'x', arguments: '', at: 9 }];
  const text = 'Wait. Ok.Fine.';
  const m = answer('a1', '', { status: 'streaming' });
  view.append(m);
  for (let n = 1; n <= text.length; n++) {
    view.paint({ ...m, content: text.slice(0, n), toolCalls: calls.filter((c) => c.at <= n) });
  }
  view.paint({ ...m, content: text, toolCalls: calls, status: 'done' });
  const streamed = layout(art('a1'));
  container.replaceChildren();
  view.render([answer('a1', text, { toolCalls: calls })]);
  assert.deepEqual(layout(art('a1')), streamed);
  assert.deepEqual(streamed, ['Wait.', 'tool:Tool call: get_weather', 'tool:Tool call: get_time', 'Ok.', 'tool:Tool call: x', 'Fine.']);
  assert.equal(art('a1').querySelectorAll('.caret').length, 0);
});
