// Does the one-time work of a first answer in idle time, one small job per idle slice:
// laying out a hidden markdown sample so that fallback fonts (CJK, emoji) and styles are
// loaded, and compiling the syntax grammars, before an answer streams rather than during.

export const WARM_UP_SAMPLE = [
  '## Sample 你好 こんにちは 한국어 🚀 ✅ 👩‍💻 🇯🇵 café',
  '', 'Text with **bold**, *italic*, `code` and [a link](https://example.com).', '',
  '- item', '1. item', '', '> quote', '', '| a | b |', '|---|:-:|', '| 1 | 2 |', '',
  '```js', 'const x = 1; // 注释', '```',
].join('\n');

/** The window's requestIdleCallback, or a timer that offers 8 ms slices. */
export function idleCallback(win) {
  return win.requestIdleCallback
    ? (fn, opts) => win.requestIdleCallback(fn, opts)
    : (fn) => win.setTimeout(() => fn({ timeRemaining: () => 8 }), 50);
}

/** Runs `jobs` in idle slices, each while more than 4 ms of the slice remain. */
export function runWhenIdle(jobs, requestIdle) {
  const queue = [...jobs];
  const step = (deadline) => {
    while (queue.length && deadline.timeRemaining() > 4) queue.shift()();
    if (queue.length) requestIdle(step, { timeout: 2000 });
  };
  requestIdle(step, { timeout: 2000 });
}

/** markdown: what createMarkdown() returned; doc: the page's document. */
export function warmUpWhenIdle({ doc, markdown, requestIdle }) {
  let sample = null;
  runWhenIdle([
    () => {
      sample = doc.createElement('div');
      sample.className = 'md warm-up';
      sample.setAttribute('aria-hidden', 'true');
      sample.append(markdown.render(WARM_UP_SAMPLE));
      doc.body.append(sample);
      sample.getBoundingClientRect();
    },
    () => sample.remove(),
    ...markdown.warmUpJobs(),
  ], requestIdle);
}
