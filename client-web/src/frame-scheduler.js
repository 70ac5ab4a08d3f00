// Batches rendering into animation frames: work asked for between frames is done once, in
// the next frame, and each frame gets a character budget that shrinks when frames run long
// and grows when they are quick, so a burst of text is spread over several frames.

/**
 * requestFrame(fn): requestAnimationFrame or a stand-in. now(): a clock in ms.
 * beforeFrame(): runs first in every frame. paint(key, budget): brings one queued item up
 * to date, showing at most `budget` new characters; returns true when it has caught up
 * (the item leaves the queue) or false to be painted again next frame.
 * afterFrame(): runs after the painting.
 */
export function createFrameScheduler({
  requestFrame,
  now,
  paint,
  beforeFrame = () => {},
  afterFrame = () => {},
  budget: initialBudget = 1500,
  minBudget = 300,
  maxBudget = 3000,
}) {
  const queue = new Set();
  let requested = false;
  let budget = initialBudget;
  // Rendering cost, for the browser tests and for anyone profiling the page.
  const stats = { frames: 0, frameMsMax: 0, frameMsTotal: 0 };

  function schedule() {
    if (requested) return;
    requested = true;
    requestFrame(frame);
  }

  function frame() {
    requested = false;
    const t0 = now();
    beforeFrame();
    for (const key of [...queue]) if (paint(key, budget)) queue.delete(key);
    afterFrame();
    if (queue.size) schedule();
    const dt = now() - t0;
    if (dt > 32) budget = Math.max(minBudget, Math.round(budget / 2));
    else if (dt < 12) budget = Math.min(maxBudget, Math.round(budget * 1.25));
    stats.frames++;
    stats.frameMsTotal += dt;
    if (dt > stats.frameMsMax) stats.frameMsMax = dt;
  }

  return {
    /** Asks for a frame (at most one is outstanding). */
    schedule,
    /** Queues `key` for painting without asking for a frame. */
    add: (key) => queue.add(key),
    /** Queues `key` and asks for a frame. */
    mark(key) {
      queue.add(key);
      schedule();
    },
    get pending() {
      return queue.size;
    },
    get budget() {
      return budget;
    },
    get stats() {
      return { ...stats };
    },
  };
}
