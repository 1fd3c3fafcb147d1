'use strict';
// Server-sent events: the core's WHATWG-conformant `text/event-stream` decoder, and
// the agent-loop assembler that turns an agent stream (`chat.completion` /
// `tool.completion` objects, `event: done` / `[DONE]`) into messages.
//
// Feed bytes as they arrive — chunks may split lines, CRLFs and UTF-8 sequences
// anywhere:
//
//   const decoder = new sse.Decoder();
//   for await (const chunk of response.body) {
//     for (const ev of decoder.feed(chunk)) console.log(ev.event, ev.id, ev.data);
//   }
//   decoder.finish();
const native = require('./native');
const { fromWire } = require('./case');
const { HeroaError, fromNative } = require('./errors');

/** An agent stream that cannot be assembled (a malformed completion, no `done`). */
class AgentStreamError extends HeroaError {
  constructor(message, opts) {
    super('agent_stream', message, opts);
    this.name = 'AgentStreamError';
  }
}

const bytes = (chunk) => (typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);

/** Incremental event-stream decoder (resume with `lastEventId`). */
class Decoder {
  constructor(lastEventId) {
    Object.defineProperty(this, '_n', { value: new native.NativeSseDecoder(lastEventId ?? null) });
  }

  /**
   * The events `chunk` (a Buffer, a Uint8Array or a string) completed: `{ event,
   * data, id, retry }` — type (`message` by default), data lines joined with LF, the
   * last event id at dispatch, and a `retry` (ms) seen while it was built, or `null`.
   */
  feed(chunk) {
    const flat = this._n.feed(bytes(chunk));
    const out = new Array(flat.length / 4);
    for (let i = 0, j = 0; i < flat.length; i += 4, j++) {
      const retry = flat[i + 3];
      out[j] = { event: flat[i], data: flat[i + 1], id: flat[i + 2], retry: retry === '' ? null : Number(retry) };
    }
    return out;
  }

  /** End of stream: an unfinished event is discarded. */
  finish() {
    this._n.finish();
  }

  get lastEventId() {
    return this._n.lastEventId;
  }

  /** The reconnection time (ms) from the last valid `retry:` field, or `null`. */
  get retry() {
    return this._n.retry ?? null;
  }

  /** Comment lines seen so far. */
  get comments() {
    return this._n.comments;
  }
}

function messages(f) {
  let text;
  try {
    text = f();
  } catch (e) {
    const err = fromNative(e);
    throw new AgentStreamError(err.message);
  }
  return fromWire(JSON.parse(text));
}

/**
 * Assembles an agent stream into messages: `{ type: 'assistant', content,
 * toolCalls }`, `{ type: 'tool', … }`, `{ type: 'done' }`.
 */
class AgentLoop {
  constructor() {
    Object.defineProperty(this, '_n', { value: new native.NativeAgentLoop() });
  }
  /** The messages `chunk` completed. */
  feed(chunk) {
    return messages(() => this._n.feed(bytes(chunk)));
  }
  /** End of stream: the last messages; an `AgentStreamError` if `done` never came. */
  finish() {
    return messages(() => this._n.finish());
  }
  get isDone() {
    return this._n.isDone;
  }
}

module.exports = { Decoder, AgentLoop, AgentStreamError };
