// Keeps the message list scrolled to the newest text while the reader is at the bottom,
// stops following once they scroll up, and shows the "jump to latest" button meanwhile.

export function createScrollFollow({ scroller, jump, slack = 48 }) {
  let stick = true; // follow new text while the reader is at the bottom

  const atBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < slack;

  function toBottom() {
    scroller.scrollTop = scroller.scrollHeight;
    stick = true;
    jump.hidden = true;
  }

  return {
    get following() {
      return stick;
    },
    /** Follow new text again from now on (after the reader sends a message). */
    follow() {
      stick = true;
    },
    toBottom,
    /** The scroller's scroll event: follow only while at the bottom. */
    onScroll() {
      stick = atBottom();
      jump.hidden = stick;
    },
    /** After new text was painted: scroll along, or offer the jump button. */
    afterPaint() {
      if (stick) toBottom();
      else jump.hidden = false;
    },
  };
}
