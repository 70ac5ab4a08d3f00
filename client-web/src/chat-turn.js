// One turn of a conversation: adds the assistant's answer (or picks up an interrupted
// one), streams it from chatd, holds the received text and tool calls until the next
// frame drains them into the state, and ends the answer as done, stopped or failed.

import { buildRequest } from './store.js';
import { applyToolCall } from './tool-calls.js';

/**
 * Starts a turn for conversation `convId`: the empty answer is in the state when this
 * returns. `resume` ({msgId, streamId, lastEventId}) continues an earlier stream instead.
 * Returns null when the conversation does not exist.
 *
 * deps: getState(), dispatch(action), save() (write now), getApiKey(), newId(prefix),
 * now(), streamChat/cancelStream/describeError (api.js or stand-ins), onText() (text was
 * received: ask for a frame), onReconnect() (the connection dropped: show it),
 * AbortController.
 */
export function startTurn(deps, convId, resume = null) {
  const {
    getState, dispatch, save, getApiKey = () => '', newId, now = Date.now,
    streamChat, cancelStream, describeError, onText = () => {}, onReconnect = () => {},
    AbortController: Abort = globalThis.AbortController,
  } = deps;
  const conv = getState().conversations[convId];
  if (!conv) return null;
  const body = buildRequest(conv);
  const msgId = resume ? resume.msgId : newId('m');
  const picked = resume ? conv.messages.find((m) => m.id === msgId) : null;
  if (resume) dispatch({ type: 'message/finish', convId, id: msgId, status: 'streaming' });
  else dispatch({ type: 'message/assistant', convId, id: msgId, model: conv.model, now: now() });
  const ctrl = new Abort();

  const turn = {
    convId,
    msgId,
    resumed: !!resume,
    streamId: resume ? resume.streamId : null,
    reconnecting: false, // the connection dropped and the client is asking to resume
    stopping: false,
    leaving: false, // the page is going away: the next page resumes the stream
    text: '', // received but not yet in the state
    reasoning: '',
    lastId: null,
    // The answer's tool calls, assembled by index (a resumed answer's start from the saved
    // ones); `received` is the length of the answer's text so far, the place of a new call.
    toolCalls: (picked && picked.toolCalls) || [],
    toolCallsChanged: false,
    received: picked ? picked.content.length : 0,

    /** Moves the text received since the last call into the state; true if there was any. */
    drain() {
      if (!turn.text && !turn.reasoning && !turn.toolCallsChanged) return false;
      dispatch({
        type: 'message/append',
        convId,
        id: msgId,
        text: turn.text,
        reasoning: turn.reasoning,
        ...(turn.toolCallsChanged ? { toolCalls: turn.toolCalls } : {}),
        lastEventId: turn.lastId,
      });
      turn.text = '';
      turn.reasoning = '';
      turn.toolCallsChanged = false;
      return true;
    },

    /** Stop: abort the fetch and ask the server to cancel the stream. */
    stop() {
      turn.stopping = true;
      cancelStream({ streamId: turn.streamId, apiKey: getApiKey() });
      ctrl.abort();
    },

    /**
     * The page is going away (a reload, a navigation): drop the connection without
     * cancelling the stream and without resuming it here. The answer stays `streaming` in
     * the saved state, so the next page picks it up (or this one, back from the cache).
     */
    leave() {
      turn.leaving = true;
      ctrl.abort();
    },

    /**
     * Streams the answer to its end and records how it ended. Resolves with the outcome:
     * {status:'done', finishReason} | {status:'stopped'} | {status:'error', error} |
     * {status:'left'} (leave(): nothing to record).
     */
    async run() {
      let outcome;
      try {
        const r = await streamChat({
          body,
          signal: ctrl.signal,
          apiKey: getApiKey(),
          resume: resume ? { streamId: resume.streamId, lastEventId: resume.lastEventId } : null,
          onStreamId(id) {
            turn.streamId = id;
            dispatch({ type: 'message/meta', convId, id: msgId, streamId: id });
            save(); // a reload from here on can resume this stream
          },
          onStart({ model }) {
            if (model) dispatch({ type: 'message/meta', convId, id: msgId, model });
          },
          onDelta(text, id) {
            turn.text += text;
            turn.received += text.length;
            turn.lastId = id;
            turn.reconnecting = false;
            onText();
          },
          onReasoning(text, id) {
            turn.reasoning += text;
            turn.lastId = id;
            onText();
          },
          onToolCall(call, id) {
            turn.toolCalls = applyToolCall(turn.toolCalls, call, turn.received);
            turn.toolCallsChanged = true;
            turn.lastId = id;
            turn.reconnecting = false;
            onText();
          },
          onReconnect() {
            turn.reconnecting = true;
            onReconnect();
          },
        });
        if (r.status === 'aborted' && turn.leaving) outcome = { status: 'left' };
        else if (r.status === 'aborted' || r.finishReason === 'cancelled') outcome = { status: 'stopped' };
        else outcome = { status: 'done', finishReason: r.finishReason };
      } catch (err) {
        const d = describeError(err);
        outcome = {
          status: 'error',
          error: { title: d.title, text: d.text, detail: d.detail, retryAt: d.retryAfter ? now() + d.retryAfter * 1000 : null },
        };
      }
      turn.reconnecting = false;
      turn.drain();
      return outcome;
    },

    /** Records the outcome in the state and saves at once. */
    finish(outcome) {
      dispatch({ type: 'message/finish', convId, id: msgId, now: now(), ...outcome });
      save();
    },
  };
  return turn;
}

/** What a screen reader hears when a turn ends. */
export function outcomeAnnouncement(outcome) {
  if (outcome.status === 'done') return 'Answer complete.';
  if (outcome.status === 'stopped') return 'Stopped.';
  return `${outcome.error.title}. ${outcome.error.text}`;
}
