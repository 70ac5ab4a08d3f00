import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JSDOM } from 'jsdom';
import { createSidebar } from '../../src/sidebar.js';
import { reducer, initialState } from '../../src/store.js';

const { window } = new JSDOM('<!doctype html><html><body></body></html>');
const { document } = window;

function setup() {
  const make = (tag) => document.createElement(tag);
  const parts = { list: make('ul'), app: make('div'), scrim: make('div'), openButton: make('button'), newChat: make('button') };
  parts.scrim.hidden = true;
  document.body.replaceChildren(...Object.values(parts));
  return { ...parts, sidebar: createSidebar({ doc: document, ...parts }) };
}

const state = [
  { type: 'conversation/new', id: 'a', now: 1 },
  { type: 'message/user', convId: 'a', id: 'u1', content: 'First question' },
  { type: 'conversation/new', id: 'empty-old', now: 2 },
  { type: 'conversation/new', id: 'b', now: 3 },
].reduce(reducer, initialState());

test('lists conversations with messages plus the current one, marking the current', () => {
  const { sidebar, list } = setup();
  sidebar.render(state);
  const items = [...list.querySelectorAll('li.conv-item')];
  assert.deepEqual(items.map((li) => li.dataset.id), ['b', 'a'], 'an empty conversation that is not current is left out');
  assert.equal(items[0].querySelector('.conv-open').textContent, 'New chat');
  assert.equal(items[0].querySelector('.conv-open').getAttribute('aria-current'), 'page');
  assert.ok(items[0].classList.contains('active'));
  assert.equal(items[1].querySelector('.conv-open').getAttribute('aria-current'), null);
  assert.equal(items[1].querySelector('.conv-delete').getAttribute('aria-label'), 'Delete “First question”');
  assert.equal(sidebar.clickTarget(items[1].querySelector('.conv-rename svg')).action, 'rename');
  assert.deepEqual(sidebar.clickTarget(items[1].querySelector('.conv-delete')), { action: 'delete', id: 'a' });
  assert.deepEqual(sidebar.clickTarget(items[0].querySelector('.conv-open')), { action: 'open', id: 'b' });
  assert.equal(sidebar.clickTarget(list), null);
});

test('rename: Enter hands over the text, Escape cancels, and focus returns to Rename', () => {
  const { sidebar, list } = setup();
  sidebar.render(state);
  const got = [];
  const rename = () => sidebar.startRename('a', 'First question', (title) => {
    got.push(title);
    sidebar.render(state); // what the app does
  });
  rename();
  let input = list.querySelector('.conv-rename-input');
  assert.equal(input.value, 'First question');
  assert.equal(document.activeElement, input);
  input.value = 'Geography';
  input.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Enter' }));
  input.dispatchEvent(new window.FocusEvent('blur'));
  assert.deepEqual(got, ['Geography'], 'finished once');
  const renameBtn = [...list.querySelectorAll('li')].find((li) => li.dataset.id === 'a').querySelector('.conv-rename');
  assert.equal(document.activeElement, renameBtn);

  rename();
  input = list.querySelector('.conv-rename-input');
  input.value = 'ignored';
  input.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Escape' }));
  rename();
  input = list.querySelector('.conv-rename-input');
  input.value = '   ';
  input.dispatchEvent(new window.FocusEvent('blur'));
  assert.deepEqual(got, ['Geography', null, null], 'Escape and blank text change nothing');
});

test('the drawer opens and closes', () => {
  const { sidebar, app, scrim, openButton, newChat } = setup();
  assert.equal(sidebar.isOpen(), false);
  sidebar.open();
  assert.equal(sidebar.isOpen(), true);
  assert.equal(scrim.hidden, false);
  assert.equal(openButton.getAttribute('aria-expanded'), 'true');
  assert.equal(document.activeElement, newChat);
  sidebar.close();
  assert.equal(app.classList.contains('sidebar-open'), false);
  assert.equal(scrim.hidden, true);
  assert.equal(openButton.getAttribute('aria-expanded'), 'false');
});
