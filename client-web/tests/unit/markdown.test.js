import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JSDOM } from 'jsdom';
import { createMarkdown } from '../../src/markdown.js';
import { longMarkdown } from '../fixtures/long-markdown.js';

const { window } = new JSDOM('<!doctype html><html><body></body></html>');
const { document } = window;
const M = createMarkdown(window);

function html(text) {
  const d = document.createElement('div');
  d.append(M.render(text));
  return d;
}

const HOSTILE = [
  '<img src=x onerror=alert(1)>',
  '[x](javascript:alert(1))',
  '<script>window.pwned=1</script>',
  '<a href="JaVaScRiPt:alert(1)">click</a>',
  '<svg onload=alert(1)><circle/></svg>',
  '[y](JaVaScRiPt:alert(1))',
  '[z](  javascript:alert(1))',
  '[w](java\tscript:alert(1))',
  '[v](&#x6A;avascript:alert(1))',
  '[u](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[t](vbscript:msgbox(1))',
  '![i](javascript:alert(1))',
  '![j](x" onerror="alert(1))',
  '<javascript:alert(1)>',
  '<iframe src="javascript:alert(1)"></iframe>',
  '<details open ontoggle=alert(1)>',
  '<style>body{display:none}</style>',
  '<div style="position:fixed;inset:0">overlay</div>',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
  '<form action="https://evil.example"><input name=q><button>go</button></form>',
  '```html\n<script>alert(1)</script>\n```',
  '`<img src=x onerror=alert(1)>`',
  '<!-- <img src=x onerror=alert(1)> -->',
  '[a](https://ok.example "<img src=x onerror=alert(1)>")',
  '<base href="https://evil.example/">',
  '<meta http-equiv="refresh" content="0;url=https://evil.example">',
];

function assertInert(root, label) {
  for (const el of root.querySelectorAll('*')) {
    for (const attr of Array.from(el.attributes)) {
      assert.ok(!/^on/i.test(attr.name), `${label}: event handler ${attr.name} on <${el.localName}>`);
      assert.ok(attr.name !== 'style', `${label}: style attribute on <${el.localName}>`);
      if (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(attr.name)) {
        const v = attr.value.replace(/[\s\u0000-\u001f]/g, '').toLowerCase();
        assert.ok(!/^(javascript|vbscript|data:text)/.test(v), `${label}: ${attr.name}=${attr.value}`);
      }
    }
    assert.ok(!['script', 'iframe', 'svg', 'math', 'style', 'form', 'button', 'object', 'embed', 'base', 'meta', 'link', 'details'].includes(el.localName)
      || (el.localName === 'button' && el.classList.contains('copy-btn')), `${label}: <${el.localName}> reached the DOM`);
  }
}

test('hostile inputs never produce scripts, handlers, styles or script URLs', () => {
  for (const h of HOSTILE) assertInert(html(h), h);
  assertInert(html(HOSTILE.join('\n\n')), 'all together');
  assertInert(html(HOSTILE.join('\n')), 'all in one block');
});

test('raw HTML from the model is shown as text', () => {
  const d = html('<img src=x onerror=alert(1)>');
  assert.equal(d.querySelector('img'), null);
  assert.equal(d.textContent.trim(), '<img src=x onerror=alert(1)>');
  const s = html('hello <script>window.pwned=1</script> there');
  assert.equal(s.querySelector('script'), null);
  assert.match(s.textContent, /<script>window\.pwned=1<\/script>/);
  const a = html('<a href="JaVaScRiPt:alert(1)">click</a>');
  assert.equal(a.querySelector('a'), null);
  assert.match(a.textContent, /JaVaScRiPt/);
});

test('javascript: links lose their href but keep their text', () => {
  for (const src of ['[x](javascript:alert(1))', '[x](JaVaScRiPt:alert(1))', '[x](java\tscript:alert(1))']) {
    const a = html(src).querySelector('a');
    if (a) assert.equal(a.getAttribute('href'), null, src);
    assert.match(html(src).textContent, /x/);
  }
});

test('the sanitizer alone (not only the escaping) strips hostile HTML', () => {
  for (const h of HOSTILE) {
    const d = document.createElement('div');
    d.append(M.sanitize(h));
    assertInert(d, `sanitize ${h}`);
  }
  const d = document.createElement('div');
  d.append(M.sanitize('<p class="evil hljs-keyword" id="x" name="y" data-x="1" aria-label="z">t</p><input type="text"><input type="checkbox" checked>'));
  assert.equal(d.innerHTML, '<p class="hljs-keyword">t</p><input type="checkbox" checked="" disabled="">');
});

test('safe links open in a new tab without opener; images other than data: become links', () => {
  const a = html('[site](https://example.com/a?b=1)').querySelector('a');
  assert.equal(a.getAttribute('href'), 'https://example.com/a?b=1');
  assert.equal(a.getAttribute('target'), '_blank');
  assert.equal(a.getAttribute('rel'), 'noopener noreferrer nofollow');
  const img = html('![pixel](https://tracker.example/p.png)');
  assert.equal(img.querySelector('img'), null);
  assert.equal(img.querySelector('a.img-link').textContent, 'image: pixel');
  const data = html('![dot](data:image/png;base64,iVBORw0KGgo=)').querySelector('img');
  assert.equal(data.getAttribute('src'), 'data:image/png;base64,iVBORw0KGgo=');
  assert.equal(html('![svg](data:image/svg+xml;base64,PHN2Zz4=)').querySelector('img'), null);
});

test('markdown features: headings, lists, tables, task lists, code with highlighting and a copy button', () => {
  const d = html('# H1\n\n## H2\n\n- a\n- b\n\n1. x\n2. y\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n- [x] done\n\n```python\ndef f():\n    return 1\n```\n\n> quote\n\n~~del~~ **b** *i* `c`');
  assert.ok(d.querySelector('h1') && d.querySelector('h2'));
  assert.equal(d.querySelectorAll('ul li').length, 3);
  assert.equal(d.querySelectorAll('ol li').length, 2);
  assert.ok(d.querySelector('.table-wrap > table th'));
  assert.equal(d.querySelector('th').getAttribute('align'), 'left');
  assert.ok(d.querySelector('input[type=checkbox][disabled]'));
  const block = d.querySelector('.code-block');
  assert.equal(block.querySelector('.code-lang').textContent, 'python');
  assert.equal(block.querySelector('button.copy-btn').getAttribute('aria-label'), 'Copy python code');
  assert.ok(block.querySelector('pre code .hljs-keyword'));
  assert.equal(block.querySelector('code').textContent, 'def f():\n    return 1\n');
  assert.ok(d.querySelector('blockquote') && d.querySelector('del') && d.querySelector('strong') && d.querySelector('em'));
});

function stream(text, steps) {
  const el = document.createElement('div');
  const sm = new M.StreamingMarkdown(el);
  let i = 0;
  for (const n of steps) {
    i = Math.min(text.length, i + n);
    sm.update(text.slice(0, i));
  }
  sm.update(text, { final: true });
  return { el, sm };
}

const DOCS = [
  '# Title\n\nPara one.\n\n- a\n- b\n\n```js\nlet x = 1;\n```\n\nEnd **bold**',
  'para\n- x\n- y\n\n1. a\n2. b\ntext\n> quote\nmore\n\n---\n## h\n```\nunclosed',
  'Setext\n===\n\nAnother\n---\n\n    indented code\n\nTable:\n\n| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\nafter',
  'see [the ref][r] here\n\nmore text\n\n[r]: https://example.com\n',
  '1. one\n\n2. two\n\n3. three\n\nDone.',
  'CRLF\r\nline\r\n\r\n- item\r\n- item2\r\n',
  '中文段落，包含表情 👩‍💻 和 🇯🇵。\n\n## 标题\n\n- 列表项 e\u0301\n',
  'Nested\n\n- a\n  - b\n    - c\n\n  continued\n- d\n\n```\ncode\n\n\nwith blank lines\n```\n',
];

test('streaming any way gives exactly the one-shot rendering at the end', () => {
  for (const doc of DOCS) {
    const expected = html(doc).innerHTML;
    const ones = stream(doc, Array(doc.length).fill(1));
    assert.equal(ones.el.innerHTML, expected, `char by char: ${JSON.stringify(doc)}`);
    assert.equal(ones.el.querySelector('.caret'), null);
    const threes = stream(doc, Array(doc.length).fill(3));
    assert.equal(threes.el.innerHTML, expected, `3 at a time: ${JSON.stringify(doc)}`);
  }
});

test('a caret follows the text while streaming', () => {
  const el = document.createElement('div');
  const sm = new M.StreamingMarkdown(el);
  sm.update('# T\n\nhello **wor');
  const caret = el.querySelector('.caret');
  assert.ok(caret);
  assert.equal(caret.getAttribute('aria-hidden'), 'true');
  assert.equal(caret.parentElement.localName, 'p');
  assert.equal(el.lastElementChild.lastChild, caret);
  sm.update('# T\n\nhello **world**\n\n```js\nlet a');
  assert.equal(el.querySelectorAll('.caret').length, 1);
  assert.equal(el.querySelector('.caret').parentElement.localName, 'code');
});

test('finished blocks keep their DOM while later blocks stream', () => {
  const doc = '# Title\n\nFirst paragraph.\n\n```js\nconst a = 1;\n```\n\nSecond paragraph that keeps growing';
  const el = document.createElement('div');
  const sm = new M.StreamingMarkdown(el);
  sm.update(doc.slice(0, 30));
  const h1 = el.querySelector('h1');
  assert.ok(h1);
  for (let i = 31; i <= doc.length; i++) sm.update(doc.slice(0, i));
  assert.equal(el.querySelector('h1'), h1, 'the heading node was never re-created');
  assert.ok(sm.committedBlocks >= 5);
  sm.update(doc, { final: true });
  assert.equal(el.querySelector('h1'), h1, 'still the same node when finished');
});

test('work per update stays bounded by the open block, not the answer length', () => {
  const doc = longMarkdown(15000);
  assert.ok(doc.length >= 15000);
  const el = document.createElement('div');
  const sm = new M.StreamingMarkdown(el);
  const realLexer = M.md.lexer.bind(M.md);
  let maxLexed = 0;
  let totalLexed = 0;
  M.md.lexer = (src, opts) => {
    maxLexed = Math.max(maxLexed, src.length);
    totalLexed += src.length;
    return realLexer(src, opts);
  };
  try {
    let updates = 0;
    for (let i = 0; i < doc.length; i += 40) {
      sm.update(doc.slice(0, i));
      updates++;
    }
    assert.ok(maxLexed < 2500, `an update lexed ${maxLexed} chars`);
    assert.ok(totalLexed < updates * 1200, `total lexed ${totalLexed} over ${updates} updates`);
  } finally {
    M.md.lexer = realLexer;
  }
  sm.update(doc, { final: true });
  assert.equal(el.innerHTML, html(doc).innerHTML);
});

test('a restarted answer (regenerate into the same element) renders from scratch', () => {
  const el = document.createElement('div');
  const sm = new M.StreamingMarkdown(el);
  sm.update('# Old\n\nold text');
  sm.update('# New', { final: false });
  sm.update('# New\n\nnew', { final: true });
  assert.equal(el.innerHTML, html('# New\n\nnew').innerHTML);
});

test('a burst of text is shown over several updates, each bounded, and finishes exactly', () => {
  const doc = longMarkdown(15000);
  const el = document.createElement('div');
  const sm = new M.StreamingMarkdown(el);
  let calls = 0;
  let shownBefore = 0;
  while (!sm.update(doc, { final: true, maxAdvance: 1500 })) {
    calls++;
    assert.ok(sm.shown - shownBefore <= 1500 + 400, `advanced ${sm.shown - shownBefore}`);
    assert.ok(!/[\ud800-\udbff]$/.test(doc.slice(0, sm.shown)), 'never ends inside a surrogate pair');
    assert.ok(el.querySelector('.caret'), 'caret while text is held back');
    shownBefore = sm.shown;
  }
  assert.ok(calls >= 9, `spread over ${calls + 1} updates`);
  assert.equal(el.querySelector('.caret'), null);
  assert.equal(el.innerHTML, html(doc).innerHTML);
});

test('maxAdvance never splits a surrogate pair when no line end is near', () => {
  const doc = '😀'.repeat(3000);
  const el = document.createElement('div');
  const sm = new M.StreamingMarkdown(el);
  while (!sm.update(doc, { final: true, maxAdvance: 999 })) {
    assert.equal(sm.shown % 2, 0);
    assert.ok(!el.textContent.includes('\ufffd'));
  }
  assert.ok(el.textContent.trim() === doc, 'all emoji shown, whole');
});
