// A native answer with text, two tool calls whose argument fragments interleave and split
// a string, a multi-byte character and an escape, and text after the calls: the events,
// the wire, and what an answer assembled from them holds.

export const TOOL_EVENTS = [
  ['start', { stream_id: 'tc1', model: 'mock' }],
  ['delta', { text: 'O' }],
  ['delta', { text: 'k' }],
  ['delta', { text: '.' }],
  ['tool_call', { index: 0, id: 'call_a', name: 'get_weather', arguments: '' }],
  ['tool_call', { index: 0, arguments: '{"ci' }],
  ['tool_call', { index: 1, id: 'call_b', name: 'get_time', arguments: '' }],
  ['tool_call', { index: 0, arguments: 'ty":"Z\u00fc' }],
  ['tool_call', { index: 1, arguments: '{"tz":"Europe/' }],
  ['tool_call', { index: 0, arguments: 'rich \\"' }],
  ['tool_call', { index: 1, arguments: 'Zurich"}' }],
  ['tool_call', { index: 0, arguments: 'old\\"","days":[1,2]}' }],
  ['delta', { text: 'x' }],
  ['tool_call', { index: 2, id: 'call_c', name: 'no_args', arguments: '' }],
  ['done', { finish_reason: 'tool_calls' }],
];

export const TOOL_TEXT = 'Ok.x';

/** The calls an answer holds once every event above is applied. */
export const TOOL_CALLS = [
  { index: 0, id: 'call_a', name: 'get_weather', arguments: '{"city":"Z\u00fcrich \\"old\\"","days":[1,2]}', at: 3 },
  { index: 1, id: 'call_b', name: 'get_time', arguments: '{"tz":"Europe/Zurich"}', at: 3 },
  { index: 2, id: 'call_c', name: 'no_args', arguments: '', at: 4 },
];

/** Events `from` (an id) up to, not including, `to`, as the server writes them. */
export function toolWire(from = 0, to = TOOL_EVENTS.length) {
  let s = from === 0 ? 'retry: 3000\n\n' : '';
  TOOL_EVENTS.forEach(([ev, data], id) => {
    if (id >= from && id < to) s += `id: ${id}\nevent: ${ev}\ndata: ${JSON.stringify(data)}\n\n`;
  });
  return s;
}
