// The small page parts: header, composer, scroll following, notices, icons, warm-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JSDOM } from 'jsdom';
import { createHeader } from '../../src/header.js';
import { createComposer } from '../../src/composer.js';
import { createScrollFollow } from '../../src/scroll-follow.js';
import { createNotices } from '../../src/notices.js';
import { iconButton } from '../../src/icons.js';
import { runWhenIdle, warmUpWhenIdle, idleCallback, WARM_UP_SAMPLE } from '../../src/warm-up.js';
import { manualTimers, manualFrames } from './_fakes.js';

const { window } = new JSDOM('<!doctype html><html><head><title>x</title></head><body></body></html>');
const { document } = window;

test('header: title, page title, model and system prompt; a focused field is left alone', () => {
  const make = (tag) => document.body.appendChild(document.createElement(tag));
  const parts = { title: make('h1'), model: make('input'), modelList: make('datalist'), system: make('textarea'), toggleSystem: make('button'), systemPanel: make('section') };
  parts.systemPanel.hidden = true;
  const header = createHeader({ doc: document, ...parts });
  header.render({ title: 'Trip', model: 'm1', system: 'Be brief' });
  assert.equal(parts.title.textContent, 'Trip');
  assert.equal(document.title, 'Trip · chatd');
  assert.equal(parts.model.value, 'm1');
  assert.equal(parts.system.value, 'Be brief');
  assert.ok(parts.toggleSystem.classList.contains('on'));
  parts.model.focus();
  header.render(null);
  assert.equal(parts.title.textContent, 'New chat');
  assert.equal(document.title, 'chatd');
  assert.equal(parts.model.value, 'm1', 'not overwritten while typed into');
  assert.equal(parts.system.value, '');
  assert.equal(parts.toggleSystem.classList.contains('on'), false);
  header.markSystem('  ');
  assert.equal(parts.toggleSystem.classList.contains('on'), false);
  header.toggleSystemPanel();
  assert.equal(parts.systemPanel.hidden, false);
  assert.equal(parts.toggleSystem.getAttribute('aria-expanded'), 'true');
  assert.equal(document.activeElement, parts.system);
  header.toggleSystemPanel();
  assert.equal(parts.systemPanel.hidden, true);
  header.setModels(['a', 'b']);
  assert.deepEqual([...parts.modelList.querySelectorAll('option')].map((o) => o.value), ['a', 'b']);
});

test('composer: Send or Stop, Send only with text, clear and grow', () => {
  const make = (tag) => document.body.appendChild(document.createElement(tag));
  const parts = { form: make('form'), input: make('textarea'), send: make('button'), stop: make('button') };
  Object.defineProperty(parts.input, 'scrollHeight', { get: () => parts.input.value.split('\n').length * 100 });
  const c = createComposer(parts);
  c.update(false);
  assert.equal(parts.send.disabled, true, 'nothing to send');
  parts.input.value = '  hi ';
  c.onInput(false);
  assert.equal(parts.send.disabled, false);
  assert.equal(parts.input.style.height, '100px');
  assert.equal(c.text(), 'hi');
  c.update(true);
  assert.equal(parts.send.hidden, true);
  assert.equal(parts.stop.hidden, false);
  assert.equal(parts.send.disabled, true);
  assert.ok(parts.form.classList.contains('busy'));
  parts.input.value = 'a\nb\nc\nd';
  c.onInput(true);
  assert.equal(parts.send.disabled, true, 'no sending while busy');
  assert.equal(parts.input.style.height, '240px', 'grows up to the limit');
  c.clear();
  assert.equal(c.text(), '');
  assert.equal(parts.input.style.height, '100px');
});

test('scroll following: follows at the bottom, stops when scrolled up, jump button meanwhile', () => {
  const scroller = { scrollHeight: 1000, clientHeight: 400, scrollTop: 600 };
  const jump = { hidden: true };
  const s = createScrollFollow({ scroller, jump });
  scroller.scrollTop = 100;
  s.onScroll();
  assert.equal(s.following, false);
  assert.equal(jump.hidden, false);
  scroller.scrollHeight = 1500;
  s.afterPaint();
  assert.equal(scroller.scrollTop, 100, 'not pulled down while reading above');
  scroller.scrollTop = 1080; // within 48 px of the bottom
  s.onScroll();
  assert.equal(s.following, true);
  assert.equal(jump.hidden, true);
  scroller.scrollHeight = 2000;
  s.afterPaint();
  assert.equal(scroller.scrollTop, 2000);
  scroller.scrollTop = 0;
  s.onScroll();
  s.follow();
  s.afterPaint();
  assert.equal(scroller.scrollTop, 2000);
  s.toBottom();
  assert.equal(jump.hidden, true);
});

test('notices: a toast hides after 4 s (the timer restarts), announcements land a frame later', () => {
  const timers = manualTimers();
  const frames = manualFrames();
  const toastEl = { textContent: '', hidden: true };
  const announcer = { textContent: 'old' };
  const n = createNotices({ toastEl, announcer, requestFrame: frames.request, setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout });
  n.toast('Saved.');
  assert.equal(toastEl.hidden, false);
  timers.advance(3000);
  n.toast('Saved again.');
  timers.advance(3000);
  assert.equal(toastEl.hidden, false, 'the second toast gets its full time');
  assert.equal(toastEl.textContent, 'Saved again.');
  timers.advance(1000);
  assert.equal(toastEl.hidden, true);
  n.announce('Stopped.');
  assert.equal(announcer.textContent, '');
  frames.flush();
  assert.equal(announcer.textContent, 'Stopped.');
});

test('icon buttons are labelled and carry a hidden icon', () => {
  const b = iconButton(document, 'copy', 'Copy answer', 'copy-msg');
  assert.equal(b.type, 'button');
  assert.equal(b.className, 'icon-btn small copy-msg');
  assert.equal(b.getAttribute('aria-label'), 'Copy answer');
  assert.equal(b.title, 'Copy answer');
  const svg = b.querySelector('svg');
  assert.equal(svg.getAttribute('aria-hidden'), 'true');
  assert.ok(svg.querySelector('rect'));
});

test('warm-up jobs run in idle slices while time remains, then stop asking', () => {
  const slices = [];
  const requestIdle = (fn, opts) => slices.push({ fn, opts });
  const ran = [];
  runWhenIdle([1, 2, 3, 4].map((i) => () => ran.push(i)), requestIdle);
  assert.equal(slices.length, 1);
  assert.deepEqual(slices[0].opts, { timeout: 2000 });
  let left = 9; // each job takes 2 ms of the slice; jobs start while more than 4 ms remain
  slices[0].fn({ timeRemaining: () => (left -= 2) + 2 });
  assert.deepEqual(ran, [1, 2, 3]);
  assert.equal(slices.length, 2);
  slices[1].fn({ timeRemaining: () => 50 });
  assert.deepEqual(ran, [1, 2, 3, 4]);
  assert.equal(slices.length, 2, 'done: no more idle requests');

  const md = { render: (t) => document.createTextNode(t), warmUpJobs: () => [() => ran.push('grammar')] };
  const idle = [];
  warmUpWhenIdle({ doc: document, markdown: md, requestIdle: (fn) => idle.push(fn) });
  idle.shift()({ timeRemaining: () => 0 });
  assert.equal(document.querySelector('.warm-up'), null, 'nothing done without idle time');
  const once = [5, 0];
  idle.shift()({ timeRemaining: () => once.shift() ?? 0 }); // room for one job
  assert.equal(document.querySelector('.warm-up').textContent, WARM_UP_SAMPLE);
  assert.equal(document.querySelector('.warm-up').getAttribute('aria-hidden'), 'true');
  idle.shift()({ timeRemaining: () => 50 });
  assert.equal(document.querySelector('.warm-up'), null, 'the sample is removed');
  assert.equal(ran.at(-1), 'grammar');

  const timers = manualTimers();
  const fallback = idleCallback({ setTimeout: timers.setTimeout });
  let deadline = null;
  fallback((d) => (deadline = d));
  timers.advance(50);
  assert.equal(deadline.timeRemaining(), 8);
});
