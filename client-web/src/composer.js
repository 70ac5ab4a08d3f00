// The message box at the bottom: grows with its text up to a limit, offers Send or Stop
// depending on whether an answer is streaming, and hands over its text when sent.

export function createComposer({ form, input, send, stop, maxHeight = 240 }) {
  function autoGrow() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, maxHeight)}px`;
  }

  return {
    autoGrow,
    /** Send or Stop; Send only with some text and while no answer streams. */
    update(busy) {
      send.hidden = busy;
      stop.hidden = !busy;
      send.disabled = busy || !input.value.trim();
      form.classList.toggle('busy', busy);
    },
    /** After typing: resize, and enable Send when there is something to send. */
    onInput(busy) {
      autoGrow();
      send.disabled = busy || !input.value.trim();
    },
    /** The trimmed text ('' when there is nothing to send). */
    text: () => input.value.trim(),
    clear() {
      input.value = '';
      autoGrow();
    },
    focus: () => input.focus(),
  };
}
