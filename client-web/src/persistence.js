// Saving conversations in Web Storage: remembers which conversations changed and writes
// only those, after a short delay or at once when asked, and falls back to memory when
// the browser's storage is blocked.

import {
  loadState, loadPrefs, savePrefs, saveConversation, saveIndex, removeConversation,
} from './store.js';

/** The window's localStorage if it can be written to, else an in-memory stand-in. */
export function safeStorage(win) {
  try {
    const s = win.localStorage;
    const k = '__chatd_probe';
    s.setItem(k, '1');
    s.removeItem(k);
    return s;
  } catch {
    const m = new Map();
    return {
      getItem: (k) => (m.has(k) ? m.get(k) : null),
      setItem: (k, v) => m.set(k, String(v)),
      removeItem: (k) => m.delete(k),
    };
  }
}

/**
 * storage: a Web Storage object. onError(err): a save failed (storage full or blocked).
 * Call track(prev, next) after every state change, then schedule(delay) or flush().
 */
export function createPersistence({
  storage,
  onError = () => {},
  setTimeout: setTimer = globalThis.setTimeout,
  clearTimeout: clearTimer = globalThis.clearTimeout,
}) {
  const dirty = new Set(); // ids of conversations changed since the last save
  let indexDirty = false;
  let timer = null;
  let latest = null; // the newest state this saver was told about

  function flush() {
    if (timer !== null) clearTimer(timer);
    timer = null;
    if (!latest) return;
    try {
      for (const id of dirty) if (latest.conversations[id]) saveConversation(storage, latest.conversations[id]);
      dirty.clear();
      if (indexDirty) saveIndex(storage, latest);
      indexDirty = false;
    } catch (e) {
      onError(e);
    }
  }

  return {
    loadState() {
      latest = loadState(storage);
      return latest;
    },
    loadPrefs: () => loadPrefs(storage),
    savePrefs: (prefs) => savePrefs(storage, prefs),

    /** Notes what changed between two states; a deleted conversation is removed at once. */
    track(prev, next) {
      latest = next;
      for (const id of Object.keys(next.conversations)) {
        if (next.conversations[id] !== prev.conversations[id]) dirty.add(id);
      }
      for (const id of Object.keys(prev.conversations)) {
        if (!next.conversations[id]) {
          dirty.delete(id);
          try {
            removeConversation(storage, id);
          } catch {
            /* storage gone: nothing to remove */
          }
        }
      }
      if (next.order !== prev.order || next.currentId !== prev.currentId) indexDirty = true;
    },

    /** Saves after `delay` ms unless a save is already pending. */
    schedule(delay) {
      if (timer !== null) return;
      timer = setTimer(flush, delay);
    },

    flush,

    get pending() {
      return timer !== null;
    },
  };
}
