// Server-Sent Events reader for a fetch() response body.
//
// Follows the WHATWG event-stream rules: the bytes are decoded by ONE TextDecoder in
// streaming mode (so a multi-byte character split across reads is decoded whole), lines
// may end in CR, LF or CRLF and may be split anywhere across reads, comment lines are
// ignored, a leading BOM is dropped, and the last event id is tracked across events.
// Line splitting and field parsing are done by `eventsource-parser`.

import { createParser } from 'eventsource-parser';

/**
 * Creates a push-style decoder: feed it byte chunks (Uint8Array), it calls `onEvent`
 * for every complete event with `{type, data, id, lastEventId}`.
 */
export function createEventStreamDecoder({ onEvent, onRetry, onComment } = {}) {
  const decoder = new TextDecoder('utf-8');
  let lastEventId = '';
  const parser = createParser({
    onEvent(ev) {
      if (ev.id !== undefined) lastEventId = ev.id;
      if (onEvent) {
        onEvent({ type: ev.event || 'message', data: ev.data, id: ev.id, lastEventId });
      }
    },
    onRetry(ms) {
      if (onRetry) onRetry(ms);
    },
    onComment(text) {
      if (onComment) onComment(text);
    },
  });
  return {
    /** Feeds one chunk of bytes (or a string that came from decode()). */
    push(chunk) {
      const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
      if (text) parser.feed(text);
    },
    /** Decodes bytes with the stream's one decoder, without parsing them yet. */
    decode(bytes) {
      return decoder.decode(bytes, { stream: true });
    },
    /** End of the byte stream: flushes the decoder. An unterminated last event is dropped. */
    end() {
      const tail = decoder.decode();
      if (tail) parser.feed(tail);
      parser.reset({ consume: false });
    },
    get lastEventId() {
      return lastEventId;
    },
  };
}

const SLICE = 16384;
const BUDGET_MS = 8;
const now = () => (globalThis.performance ? globalThis.performance.now() : Date.now());

/** Lets rendering, input and timers run: scheduler.yield() where there is one. */
export function yieldToEventLoop() {
  const s = globalThis.scheduler;
  if (s && typeof s.yield === 'function') return s.yield();
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Reads a ReadableStream of bytes to its end, calling `onEvent` per event.
 * Resolves when the stream ends; rejects with the underlying error if the read fails
 * (network drop, abort).
 */
export async function readEventStream(body, handlers = {}) {
  const dec = createEventStreamDecoder(handlers);
  const reader = body.getReader();
  const stop = () => handlers.shouldStop && handlers.shouldStop();
  let sliceStart = now();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (value && value.byteLength) {
        // Bytes that were already buffered come back from read() without a trip through
        // the event loop: a fast stream would otherwise be parsed in one long task.
        // Feed at most SLICE characters at a time and let the page breathe in between.
        const text = dec.decode(value);
        for (let i = 0; i < text.length; i += SLICE) {
          dec.push(i === 0 && text.length <= SLICE ? text : text.slice(i, i + SLICE));
          if (stop()) break;
          if (now() - sliceStart > BUDGET_MS) {
            await yieldToEventLoop();
            sliceStart = now();
          }
        }
      }
      if (stop()) {
        await reader.cancel().catch(() => {});
        return dec.lastEventId;
      }
    }
    dec.end();
  } finally {
    try {
      reader.releaseLock();
    } catch {
      /* a pending read keeps the lock; the stream is being torn down anyway */
    }
  }
  return dec.lastEventId;
}
