// Markdown for untrusted model output, rendered progressively while it streams.
//
// Safety: raw HTML in the model's text is never interpreted: marked's `html` tokens are
// rendered as escaped text. What marked itself produces then goes through DOMPurify with
// an allow-list of tags and attributes (no event handlers, no style, no javascript: or
// other script URLs). Only data: images are shown inline; other images become links, so
// an answer cannot make the browser fetch anything.
//
// Speed: the text is cut into top-level markdown blocks. Every block but the last is
// finished: it is rendered once and its DOM kept. Only the last, still-open block is
// lexed and rendered again on each update, so the work per update does not grow with the
// length of the answer.

import { Marked } from 'marked';
import createDOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdownLang from 'highlight.js/lib/languages/markdown';
import plaintext from 'highlight.js/lib/languages/plaintext';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import shell from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

const LANGS = { bash, c, cpp, css, diff, go, java, javascript, json, markdown: markdownLang, plaintext, python, rust, shell, sql, typescript, xml, yaml };
for (const [name, def] of Object.entries(LANGS)) hljs.registerLanguage(name, def);

/** Open code blocks larger than this are shown plain until they are finished. */
const LIVE_HIGHLIGHT_LIMIT = 6000;

const ALLOWED_TAGS = [
  'p', 'br', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'ul', 'ol', 'li',
  'pre', 'code', 'span', 'em', 'strong', 'del', 's', 'a', 'img', 'table', 'thead', 'tbody',
  'tr', 'th', 'td', 'input', 'sup', 'sub', 'kbd',
];
const ALLOWED_ATTR = ['href', 'title', 'src', 'alt', 'class', 'align', 'start', 'type', 'checked', 'disabled'];
const VOID = new Set(['BR', 'HR', 'IMG', 'INPUT']);
const CLASS_OK = /^(hljs(-[\w-]+)?|language-[\w+#.-]{1,40}|raw-html|img-link|[\w-]+_)$/;
const SAFE_IMG = /^data:image\/(png|jpe?g|gif|webp|avif);base64,[a-z0-9+/=\s]+$/i;

export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]);
}

function normalizeLang(lang) {
  const l = String(lang || '').trim().split(/\s+/)[0].toLowerCase();
  return l.replace(/[^\w+#.-]/g, '').slice(0, 40);
}

/**
 * Builds the renderer bound to a window (the browser's, or jsdom's in tests).
 * Returns {sanitize, render, StreamingMarkdown}.
 */
export function createMarkdown(win) {
  const doc = win.document;
  const purify = createDOMPurify(win);
  purify.addHook('uponSanitizeAttribute', (node, data) => {
    if (data.attrName === 'class') {
      const kept = data.attrValue.split(/\s+/).filter((x) => CLASS_OK.test(x));
      if (kept.length) data.attrValue = kept.join(' ');
      else data.keepAttr = false;
    } else if (node.nodeName === 'INPUT' && data.attrName === 'type' && data.attrValue !== 'checkbox') {
      data.keepAttr = false;
    } else if (node.nodeName === 'IMG' && data.attrName === 'src' && !SAFE_IMG.test(data.attrValue)) {
      data.keepAttr = false;
    }
  });
  purify.addHook('afterSanitizeAttributes', (node) => {
    if (node.nodeName === 'INPUT') {
      if (node.getAttribute('type') !== 'checkbox') node.remove();
      else node.setAttribute('disabled', '');
    }
  });
  const PURIFY_CONFIG = {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    ALLOWED_URI_REGEXP: /^(?:(?:https?|mailto|tel):|#|\/(?!\/)|\.{1,2}\/|[^:/?#]*(?:[/?#]|$))/i,
    RETURN_DOM_FRAGMENT: true,
  };

  let highlightLive = true;
  const md = new Marked({ gfm: true, breaks: false, async: false });
  md.use({
    renderer: {
      html({ text, block }) {
        // Raw HTML from the model is shown, never interpreted.
        return block ? `<p class="raw-html">${escapeHtml(text.replace(/\n+$/, ''))}</p>\n` : escapeHtml(text);
      },
      code({ text, lang }) {
        const l = normalizeLang(lang);
        const known = l && hljs.getLanguage(l);
        let body;
        if (known && (highlightLive || text.length <= LIVE_HIGHLIGHT_LIMIT)) {
          try {
            body = hljs.highlight(text, { language: l, ignoreIllegals: true }).value;
          } catch {
            body = escapeHtml(text);
          }
        } else {
          body = escapeHtml(text);
        }
        const cls = l ? `hljs language-${l}` : 'hljs';
        return `<pre><code class="${escapeHtml(cls)}">${body}\n</code></pre>\n`;
      },
      image({ href, title, text }) {
        if (SAFE_IMG.test(href || '')) {
          return `<img src="${escapeHtml(href)}" alt="${escapeHtml(text)}"${title ? ` title="${escapeHtml(title)}"` : ''}>`;
        }
        return `<a class="img-link" href="${escapeHtml(href || '')}">${escapeHtml(`image: ${text || href || ''}`)}</a>`;
      },
    },
  });

  /** Sanitizes HTML into a DocumentFragment, then adds the app's own trusted chrome. */
  function sanitize(html) {
    const frag = purify.sanitize(html, PURIFY_CONFIG);
    decorate(frag);
    return frag;
  }

  function decorate(root) {
    for (const a of root.querySelectorAll('a')) {
      if (a.hasAttribute('href')) {
        a.setAttribute('target', '_blank');
        a.setAttribute('rel', 'noopener noreferrer nofollow');
      }
    }
    for (const pre of root.querySelectorAll('pre')) {
      const code = pre.querySelector('code');
      const m = code && /(?:^|\s)language-([\w+#.-]+)/.exec(code.className);
      const wrap = doc.createElement('div');
      wrap.className = 'code-block';
      const head = doc.createElement('div');
      head.className = 'code-head';
      const label = doc.createElement('span');
      label.className = 'code-lang';
      label.textContent = m ? m[1] : 'text';
      const btn = doc.createElement('button');
      btn.type = 'button';
      btn.className = 'copy-btn';
      btn.textContent = 'Copy';
      btn.setAttribute('aria-label', `Copy ${m ? `${m[1]} ` : ''}code`);
      head.append(label, btn);
      pre.replaceWith(wrap);
      wrap.append(head, pre);
    }
    for (const table of root.querySelectorAll('table')) {
      const wrap = doc.createElement('div');
      wrap.className = 'table-wrap';
      table.replaceWith(wrap);
      wrap.append(table);
    }
  }

  function parseTokens(tokens, links) {
    const list = tokens.slice();
    list.links = links;
    return md.parser(list);
  }

  /** One-shot render of a whole markdown text into a sanitized fragment. */
  function render(text) {
    highlightLive = true;
    return sanitize(md.parse(normalizeNewlines(text)));
  }

  class StreamingMarkdown {
    constructor(el) {
      this.el = el;
      this.src = ''; // normalized text seen so far
      this.seen = 0; // length of the raw text consumed
      this.endsWithCR = false;
      this.committed = 0; // offset in src of the first still-open block
      this.shown = 0; // how much of src is on screen
      this.committedRaws = [];
      this.links = Object.create(null);
      this.hadDefs = false;
      this.openNodes = [];
      this.caret = null;
      this.finished = false;
    }

    /**
     * Renders `text` (the whole answer so far; it only ever grows). Call once per frame
     * at most. `maxAdvance` caps how much new text one call may show, so a burst of text
     * is spread over several frames; the call returns false while text is still held back.
     * `final` marks the answer complete: the last block is closed once all is shown.
     */
    update(text, { final = false, maxAdvance = Infinity } = {}) {
      if (text.length < this.seen || this.finished) this.reset();
      if (text.length > this.seen) {
        let add = text.slice(this.seen);
        if (this.endsWithCR && add[0] === '\n') add = add.slice(1);
        this.endsWithCR = add.endsWith('\r');
        this.src += normalizeNewlines(add);
        this.seen = text.length;
      }
      let end = this.src.length;
      if (end - this.shown > maxAdvance) {
        end = this.shown + maxAdvance;
        // Stop at a line end when one is near, and never inside a surrogate pair.
        const nl = this.src.indexOf('\n', end);
        if (nl !== -1 && nl - end < 400) end = nl + 1;
        else if (/[\ud800-\udbff]/.test(this.src[end - 1] || '')) end++;
      }
      this.shown = end;
      const caughtUp = end === this.src.length;
      final = final && caughtUp;
      const tail = this.src.slice(this.committed, end);
      const tokens = md.lexer(tail);
      if (tokens.links) {
        for (const k of Object.keys(tokens.links)) {
          this.links[k] = tokens.links[k];
          this.hadDefs = true;
        }
      }
      let cut = tokens.length;
      if (!final) {
        cut = tokens.length - 1;
        while (cut >= 0 && tokens[cut].type === 'space') cut--;
        if (cut < 0) cut = 0;
      }
      let rawLen = 0;
      for (let i = 0; i < cut; i++) rawLen += tokens[i].raw.length;
      if (cut > 0 && tail.startsWith(tokens.slice(0, cut).map((t) => t.raw).join(''))) {
        this.removeOpen();
        highlightLive = true;
        this.el.append(sanitize(parseTokens(tokens.slice(0, cut), this.links)));
        for (let i = 0; i < cut; i++) this.committedRaws.push(tokens[i].raw);
        this.committed += rawLen;
      } else {
        cut = 0;
      }
      this.removeOpen();
      const open = tokens.slice(cut);
      if (open.length) {
        highlightLive = false;
        const frag = sanitize(parseTokens(open, this.links));
        this.openNodes = Array.from(frag.childNodes);
        this.el.append(frag);
        highlightLive = true;
      }
      if (final) {
        this.finished = true;
        this.reconcile();
      } else {
        this.placeCaret();
      }
      return caughtUp;
    }

    /** The block cuts may differ from a whole-text parse (e.g. a link definition that
     * came late): then the finished answer is rendered once more from scratch. */
    reconcile() {
      const canonical = md.lexer(this.src);
      if (!this.hadDefs && canonical.length === this.committedRaws.length
        && canonical.every((t, i) => t.raw === this.committedRaws[i])) return;
      highlightLive = true;
      this.el.replaceChildren(sanitize(md.parser(canonical)));
      this.openNodes = [];
      this.reconciled = true;
    }

    placeCaret() {
      if (!this.caret) {
        this.caret = doc.createElement('span');
        this.caret.className = 'caret';
        this.caret.setAttribute('aria-hidden', 'true');
      }
      let node = this.el;
      for (;;) {
        let last = node.lastChild;
        while (last && last.nodeType === 3 && !last.nodeValue.trim()) last = last.previousSibling;
        if (!last || last.nodeType !== 1 || VOID.has(last.nodeName) || last === this.caret) break;
        if (last.classList.contains('code-head')) break;
        node = last;
      }
      node.append(this.caret);
    }

    removeOpen() {
      for (const n of this.openNodes) n.remove();
      this.openNodes = [];
      if (this.caret) this.caret.remove();
    }

    reset() {
      this.el.replaceChildren();
      this.src = '';
      this.seen = 0;
      this.endsWithCR = false;
      this.committed = 0;
      this.shown = 0;
      this.committedRaws = [];
      this.links = Object.create(null);
      this.hadDefs = false;
      this.openNodes = [];
      this.finished = false;
    }

    /** Number of top-level blocks whose DOM is final. */
    get committedBlocks() {
      return this.committedRaws.length;
    }
  }

  /** Small tasks that compile each grammar and warm the renderer up. */
  function warmUpJobs() {
    const sample = '# T\n\n- **a** [b](https://example.com)\n\n| a |\n|---|\n| 1 |\n\n`c`\n';
    return [
      () => render(sample),
      ...Object.keys(LANGS).map((lang) => () => hljs.highlight('x = 1', { language: lang, ignoreIllegals: true })),
    ];
  }

  return { sanitize, render, StreamingMarkdown, md, warmUpJobs };
}

export function normalizeNewlines(s) {
  return s.indexOf('\r') === -1 ? s : s.replace(/\r\n?/g, '\n');
}
