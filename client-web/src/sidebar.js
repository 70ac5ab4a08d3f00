// The conversation list: one entry per conversation with Rename and Delete buttons, the
// rename box, and the drawer that slides the list in and out on narrow screens.

import { iconButton } from './icons.js';

/**
 * doc: the document. list: the <ul> of conversations. app: the element that gets the
 * `sidebar-open` class; scrim: the backdrop; openButton: the button that opens the drawer;
 * newChat: focused when the drawer opens.
 */
export function createSidebar({ doc, list, app, scrim, openButton, newChat }) {
  function render(state) {
    const frag = doc.createDocumentFragment();
    for (const id of state.order) {
      const conv = state.conversations[id];
      if (!conv || (!conv.messages.length && id !== state.currentId)) continue;
      const li = doc.createElement('li');
      li.className = 'conv-item';
      li.dataset.id = id;
      if (id === state.currentId) li.classList.add('active');
      const open = doc.createElement('button');
      open.type = 'button';
      open.className = 'conv-open';
      open.textContent = conv.title || 'New chat';
      if (id === state.currentId) open.setAttribute('aria-current', 'page');
      const rename = iconButton(doc, 'rename', `Rename “${conv.title || 'New chat'}”`, 'conv-rename');
      const del = iconButton(doc, 'delete', `Delete “${conv.title || 'New chat'}”`, 'conv-delete');
      li.append(open, rename, del);
      frag.append(li);
    }
    list.replaceChildren(frag);
  }

  const itemFor = (id) => [...list.querySelectorAll('li.conv-item')].find((li) => li.dataset.id === id) || null;

  /** What a click in the list was: {action: 'open'|'rename'|'delete', id} or null. */
  function clickTarget(target) {
    const li = target.closest('li.conv-item');
    if (!li) return null;
    const id = li.dataset.id;
    if (target.closest('.conv-open')) return { action: 'open', id };
    if (target.closest('.conv-rename')) return { action: 'rename', id };
    if (target.closest('.conv-delete')) return { action: 'delete', id };
    return null;
  }

  /**
   * Replaces entry `id`'s title with a text box. Enter or leaving the box calls
   * onDone(text), Escape calls onDone(null); either way the list is expected to be
   * rendered again by onDone, and the entry's Rename button gets the focus back.
   */
  function startRename(id, title, onDone) {
    const li = itemFor(id);
    if (!li) return;
    const input = doc.createElement('input');
    input.className = 'conv-rename-input';
    input.value = title || '';
    input.setAttribute('aria-label', 'New name for the conversation');
    li.querySelector('.conv-open').replaceWith(input);
    input.focus();
    input.select();
    let done = false;
    const finish = (save) => {
      if (done) return;
      done = true;
      onDone(save && input.value.trim() ? input.value : null);
      const again = itemFor(id);
      const btn = again && again.querySelector('.conv-rename');
      if (btn) btn.focus();
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        finish(true);
      } else if (e.key === 'Escape') {
        e.preventDefault();
        finish(false);
      }
    });
    input.addEventListener('blur', () => finish(true));
  }

  const isOpen = () => app.classList.contains('sidebar-open');

  function open() {
    app.classList.add('sidebar-open');
    scrim.hidden = false;
    openButton.setAttribute('aria-expanded', 'true');
    newChat.focus();
  }

  function close() {
    if (!isOpen()) return;
    app.classList.remove('sidebar-open');
    scrim.hidden = true;
    openButton.setAttribute('aria-expanded', 'false');
  }

  return { render, clickTarget, startRename, open, close, isOpen };
}
