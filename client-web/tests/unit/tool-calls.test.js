import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  readToolCallEvent, applyToolCall, restoreToolCalls, argumentsText, toolCallLabel,
} from '../../src/tool-calls.js';
import { TOOL_EVENTS, TOOL_CALLS, TOOL_TEXT } from './_tool-events.js';

/** Applies the fixture's events in order, placing each call after the text so far. */
function assemble(events) {
  let calls = [];
  let text = '';
  for (const [type, data] of events) {
    if (type === 'delta') text += data.text;
    if (type === 'tool_call') calls = applyToolCall(calls, readToolCallEvent(data), text.length);
  }
  return { calls, text };
}

test('a tool_call event is read only when its index is a whole number from 0', () => {
  assert.deepEqual(readToolCallEvent({ index: 0, id: 'call_1', name: 'f', arguments: '' }), { index: 0, id: 'call_1', name: 'f', arguments: '' });
  assert.deepEqual(readToolCallEvent({ index: 3, arguments: '{"a' }), { index: 3, arguments: '{"a' });
  assert.deepEqual(readToolCallEvent({ index: 1 }), { index: 1, arguments: '' }, 'no arguments: an empty fragment');
  assert.deepEqual(readToolCallEvent({ index: 1, id: 7, name: null, arguments: { a: 1 } }), { index: 1, arguments: '' }, 'wrong types are left out');
  for (const bad of [null, 'x', {}, { index: -1 }, { index: 1.5 }, { index: '0' }, { index: NaN }]) {
    assert.equal(readToolCallEvent(bad), null, JSON.stringify(bad));
  }
});

test('calls are assembled by index: interleaved fragments concatenate in arrival order, never parsed', () => {
  const { calls, text } = assemble(TOOL_EVENTS);
  assert.equal(text, TOOL_TEXT);
  assert.deepEqual(calls, TOOL_CALLS);
  assert.equal(typeof calls[0].arguments, 'string');
});

test('assembling leaves the earlier lists as they were', () => {
  const one = applyToolCall([], { index: 0, id: 'c', name: 'f', arguments: '{' }, 0);
  const frozen = JSON.stringify(one);
  const two = applyToolCall(one, { index: 0, arguments: '}' }, 5);
  assert.equal(JSON.stringify(one), frozen);
  assert.notEqual(two, one);
  assert.deepEqual(two, [{ index: 0, id: 'c', name: 'f', arguments: '{}', at: 0 }], 'a call keeps the place where it started');
});

test('a fragment for an index never started makes a call; a later start fills in id and name', () => {
  let calls = applyToolCall([], { index: 4, arguments: '{"q":' }, 2);
  calls = applyToolCall(calls, { index: 4, id: 'call_late', name: 'search', arguments: '1}' }, 9);
  calls = applyToolCall(calls, { index: 4, id: 'call_other', name: 'other', arguments: '' }, 9);
  assert.deepEqual(calls, [{ index: 4, id: 'call_late', name: 'search', arguments: '{"q":1}', at: 2 }]);
});

test('every way of splitting an argument string into fragments gives the same call', () => {
  const args = TOOL_CALLS[0].arguments;
  for (let i = 0; i <= args.length; i++) {
    for (let j = i; j <= args.length; j += 3) {
      let calls = applyToolCall([], { index: 0, id: 'call_a', name: 'get_weather', arguments: '' }, 3);
      for (const part of [args.slice(0, i), args.slice(i, j), args.slice(j)]) calls = applyToolCall(calls, { index: 0, arguments: part }, 3);
      assert.deepEqual(calls, [TOOL_CALLS[0]], `split at ${i},${j}`);
    }
  }
});

test('arguments are pretty-printed JSON only once complete, else the raw text', () => {
  const raw = '{"city":"Z\u00fcrich","days":[1,2]}';
  assert.deepEqual(argumentsText(raw, false), { text: raw, json: false }, 'streaming: raw, even when it parses');
  assert.deepEqual(argumentsText(raw, true), { text: '{\n  "city": "Z\u00fcrich",\n  "days": [\n    1,\n    2\n  ]\n}', json: true });
  assert.deepEqual(argumentsText('{"city":"Par', true), { text: '{"city":"Par', json: false }, 'cut short: raw');
  assert.deepEqual(argumentsText('', true), { text: '', json: false });
  assert.deepEqual(argumentsText('  ', true), { text: '  ', json: false });
});

test('the label names the tool', () => {
  assert.equal(toolCallLabel({ name: 'get_weather' }), 'Tool call: get_weather');
  assert.equal(toolCallLabel({ name: '' }), 'Tool call');
});

test('saved calls are checked on load: bad entries dropped, places kept within the text and in order', () => {
  assert.equal(restoreToolCalls(undefined, 3), undefined);
  assert.equal(restoreToolCalls('x', 3), undefined);
  assert.equal(restoreToolCalls([], 3), undefined);
  assert.deepEqual(restoreToolCalls(TOOL_CALLS, TOOL_TEXT.length), TOOL_CALLS);
  const saved = [
    null,
    { index: 0, id: 'a', name: 'f', arguments: '{}', at: 99 },
    { index: 0, id: 'dup', name: 'g', arguments: '{}', at: 1 },
    { index: 1, arguments: 5, at: 1 },
    { index: -2, arguments: '', at: 1 },
    { index: 2, id: 3, name: ['x'], arguments: '[', at: 'x' },
    { index: 3, id: 'c', name: 'h', arguments: '', at: 1 },
  ];
  assert.deepEqual(restoreToolCalls(saved, 4), [
    { index: 0, id: 'a', name: 'f', arguments: '{}', at: 4 },
    { index: 2, id: '', name: '', arguments: '[', at: 4 },
    { index: 3, id: 'c', name: 'h', arguments: '', at: 4 },
  ]);
});
