import { JSDOM } from 'jsdom';
import { createMarkdown } from '../../src/markdown.js';
import { longMarkdown } from '../fixtures/long-markdown.js';
const { window } = new JSDOM('<!doctype html><body></body>');
const M = createMarkdown(window);
const doc = longMarkdown(15000);
for (const step of [16000, 3000, 7]) {
  const el = window.document.createElement('div');
  const sm = new M.StreamingMarkdown(el);
  let n = 0;
  for (let i = step; i < doc.length + step; i += step) { while (!sm.update(doc.slice(0, i), { maxAdvance: 1500 })) n++; }
  while (!sm.update(doc, { final: true, maxAdvance: 1500 })) n++;
  const canon = M.md.lexer(doc);
  console.log({ step, extra: n, reconciled: !!sm.reconciled, ours: sm.committedRaws.length, canon: canon.length });
  if (sm.reconciled) { for (let i = 0; i < canon.length; i++) if (canon[i].raw !== sm.committedRaws[i]) { console.log(i, JSON.stringify(canon[i].raw.slice(-40)), JSON.stringify((sm.committedRaws[i]||'').slice(-40))); break; } }
}
