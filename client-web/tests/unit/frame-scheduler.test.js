import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFrameScheduler } from '../../src/frame-scheduler.js';
import { manualFrames } from './_fakes.js';

function setup({ cost = 0, paint } = {}) {
  const frames = manualFrames();
  let clock = 0;
  const log = [];
  const s = createFrameScheduler({
    requestFrame: frames.request,
    now: () => clock,
    beforeFrame: () => log.push('before'),
    paint: (key, budget) => {
      log.push(`paint ${key} ${budget}`);
      clock += cost;
      return paint ? paint(key, budget) : true;
    },
    afterFrame: () => log.push('after'),
  });
  return { s, frames, log, setCost: (c) => (cost = c) };
}

test('many requests between frames make one frame', () => {
  const { s, frames, log } = setup();
  s.mark('a');
  s.mark('b');
  s.schedule();
  s.mark('a');
  assert.equal(frames.requests, 1);
  assert.equal(frames.flush(), 1);
  assert.deepEqual(log, ['before', 'paint a 1500', 'paint b 1500', 'after']);
  assert.equal(s.pending, 0);
  assert.equal(frames.waiting, 0, 'nothing left to paint: no further frame');
  s.mark('c');
  assert.equal(frames.requests, 2, 'a new request after the frame asks again');
});

test('an item that has not caught up is painted again in the next frame', () => {
  let left = 3;
  const { s, frames, log } = setup({ paint: () => --left === 0 });
  s.mark('a');
  frames.flush();
  frames.flush();
  assert.equal(s.pending, 1);
  frames.flush();
  assert.equal(s.pending, 0);
  assert.equal(frames.flush(), 0);
  assert.equal(log.filter((x) => x.startsWith('paint')).length, 3);
});

test('add queues without asking for a frame; beforeFrame may add to this frame', () => {
  const frames = manualFrames();
  const painted = [];
  let extra = true;
  const s = createFrameScheduler({
    requestFrame: frames.request,
    now: () => 0,
    beforeFrame: () => extra && s.add('late'),
    paint: (k) => painted.push(k),
  });
  s.add('x');
  assert.equal(frames.requests, 0);
  s.schedule();
  frames.flush();
  extra = false;
  assert.deepEqual(painted, ['x', 'late']);
});

test('the character budget halves after slow frames and grows after quick ones, within bounds', () => {
  const { s, frames, setCost } = setup();
  setCost(40);
  for (let i = 0; i < 5; i++) {
    s.mark('a');
    frames.flush();
  }
  assert.equal(s.budget, 300, 'never below the minimum');
  setCost(5);
  s.mark('a');
  frames.flush();
  assert.equal(s.budget, 375);
  for (let i = 0; i < 20; i++) {
    s.mark('a');
    frames.flush();
  }
  assert.equal(s.budget, 3000, 'never above the maximum');
  setCost(20);
  s.mark('a');
  frames.flush();
  assert.equal(s.budget, 3000, 'a middling frame leaves it alone');
  const st = s.stats;
  assert.equal(st.frames, 27);
  assert.equal(st.frameMsMax, 40);
  assert.equal(st.frameMsTotal, 5 * 40 + 21 * 5 + 20);
  st.frames = 0;
  assert.equal(s.stats.frames, 27, 'stats are a copy');
});
