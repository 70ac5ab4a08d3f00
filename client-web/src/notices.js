// Short messages for the person using the app: a toast that hides itself after a few
// seconds, and announcements for screen readers through a live status region.

export function createNotices({
  toastEl,
  announcer,
  requestFrame,
  setTimeout: setTimer = globalThis.setTimeout,
  clearTimeout: clearTimer = globalThis.clearTimeout,
  toastMs = 4000,
}) {
  let toastTimer = null;
  return {
    toast(text) {
      toastEl.textContent = text;
      toastEl.hidden = false;
      if (toastTimer !== null) clearTimer(toastTimer);
      toastTimer = setTimer(() => {
        toastTimer = null;
        toastEl.hidden = true;
      }, toastMs);
    },
    /** Clears the region first, then sets the text a frame later, so a repeat is read again. */
    announce(text) {
      announcer.textContent = '';
      requestFrame(() => (announcer.textContent = text));
    },
  };
}
