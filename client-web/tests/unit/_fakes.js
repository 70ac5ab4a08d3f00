// Small stand-ins shared by the unit tests: storage in memory, timers and animation
// frames that run only when the test says so, and a stream whose events the test feeds.

export class MemoryStorage {
  constructor() {
    this.m = new Map();
    this.writes = 0;
  }
  getItem(k) {
    return this.m.has(k) ? this.m.get(k) : null;
  }
  setItem(k, v) {
    this.writes++;
    this.m.set(k, String(v));
  }
  removeItem(k) {
    this.m.delete(k);
  }
}

/** setTimeout/clearTimeout that queue callbacks; run() fires the due ones in order. */
export function manualTimers() {
  let next = 1;
  let clock = 0;
  const pending = new Map(); // id -> {fn, at}
  return {
    setTimeout: (fn, ms = 0) => {
      const id = next++;
      pending.set(id, { fn, at: clock + ms });
      return id;
    },
    clearTimeout: (id) => pending.delete(id),
    get size() {
      return pending.size;
    },
    delays: () => [...pending.values()].map((t) => t.at - clock),
    now: () => clock,
    /** Moves the clock forward by `ms`, firing what falls due. */
    advance(ms) {
      const until = clock + ms;
      for (;;) {
        const due = [...pending.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        pending.delete(due[0]);
        clock = due[1].at;
        due[1].fn();
      }
      clock = until;
    },
  };
}

/** requestAnimationFrame stand-in: frames run when the test calls flush(). */
export function manualFrames() {
  let queue = [];
  let requests = 0;
  return {
    request: (fn) => {
      requests++;
      queue.push(fn);
      return requests;
    },
    get requests() {
      return requests;
    },
    get waiting() {
      return queue.length;
    },
    /** Runs the frames asked for so far (not those they ask for in turn). */
    flush() {
      const q = queue;
      queue = [];
      for (const fn of q) fn();
      return q.length;
    },
  };
}

/**
 * A streamChat stand-in. Each call is recorded with its arguments; the test drives the
 * handlers (call.args.onDelta(...)) and ends the call with call.resolve(result) or
 * call.reject(err). An aborted signal resolves it as {status:'aborted'}.
 */
export function fakeStreamChat() {
  const calls = [];
  const fn = (args) => new Promise((resolve, reject) => {
    const call = { args, resolve, reject };
    calls.push(call);
    args.signal.addEventListener('abort', () => resolve({ status: 'aborted', streamId: null }));
  });
  fn.calls = calls;
  return fn;
}

/** Waits until pending promise callbacks have run (no timers involved). */
export const settle = () => new Promise((r) => setImmediate(r));
