'use strict';
// Server-sent events: a WHATWG-conformant `text/event-stream` decoder, and the
// core's agent-loop assembler that turns an agent stream (`chat.completion` /
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

/**
 * Where an incomplete UTF-8 sequence at the end of `buf` starts (`buf.length` when
 * it ends on a whole character): those bytes wait for the next chunk.
 */
function completeUpTo(buf) {
  const n = buf.length;
  for (let i = n - 1; i >= 0 && i >= n - 3; i--) {
    const b = buf[i];
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    if (b < 0xc0) return n; // ASCII
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return n - i < need ? i : n;
  }
  return n;
}

const LF = 10;
const LINE_END = /\r\n|\r|\n/g;

/**
 * Incremental event-stream decoder (resume with `lastEventId`), the WHATWG
 * algorithm exactly as the core's `sse::Decoder` (the shared vectors check both
 * alike): the stream is UTF-8 with one leading BOM stripped, invalid bytes become
 * U+FFFD (a sequence split across chunks is joined first), CR, LF and CRLF end lines
 * (also split across chunks), `data` lines are joined with LF, `id` carries over
 * and is committed at each blank line, `retry` only when all digits, and an
 * unfinished event at the end is discarded.
 *
 * Written in JavaScript, not a call into the core per chunk: a call into the addon
 * with a chunk and back with its events costs about 0.8 µs, several times what
 * decoding an event costs here (BENCHMARKS.md), and a stream is fed chunk by chunk.
 */
class Decoder {
  constructor(lastEventId) {
    const id = lastEventId == null ? '' : String(lastEventId);
    this._lastEventId = id;
    this._idBuffer = id;
    this._idDirty = false;
    this._retry = null;
    this._comments = 0;
    this._reset();
  }

  _reset() {
    this._started = false; // the BOM question is settled
    this._held = null; // bytes of an incomplete UTF-8 sequence
    this._afterCR = false;
    this._line = ''; // the unfinished line
    this._data = '';
    this._hasData = false;
    this._type = '';
    this._eventRetry = null;
  }

  /**
   * The events `chunk` (a Buffer, a Uint8Array or a string) completed: `{ event,
   * data, id, retry }` — type (`message` by default), data lines joined with LF, the
   * last event id at dispatch, and a `retry` (ms) seen while it was built, or `null`.
   */
  feed(chunk) {
    let text;
    if (typeof chunk === 'string') {
      text = chunk;
    } else {
      let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (this._held !== null) {
        buf = Buffer.concat([this._held, buf]);
        this._held = null;
      }
      const end = completeUpTo(buf);
      if (end < buf.length) this._held = Buffer.from(buf.subarray(end));
      text = buf.toString('utf8', 0, end);
    }
    const out = [];
    if (!this._started) {
      if (text.length === 0) return out;
      this._started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this._scan(text, out);
    return out;
  }

  _scan(text, out) {
    let pos = 0;
    const n = text.length;
    if (this._afterCR && n > 0) {
      this._afterCR = false;
      if (text.charCodeAt(0) === LF) pos = 1;
    }
    // Most streams end lines with LF only: then one indexOf per line. (Keeping the
    // next CR's position between lines instead made V8's optimised loop scan to the
    // end of the text at every line.)
    const hasCR = text.indexOf('\r', pos) !== -1;
    while (pos < n) {
      let end;
      let next;
      if (!hasCR) {
        end = text.indexOf('\n', pos);
        next = end + 1;
      } else {
        LINE_END.lastIndex = pos;
        const m = LINE_END.exec(text);
        end = m === null ? -1 : m.index;
        next = m === null ? 0 : end + m[0].length;
        // A CR ending the text may be the first half of a CRLF.
        if (next === n && m[0] === '\r') this._afterCR = true;
      }
      if (end === -1) {
        this._line += text.slice(pos);
        return;
      }
      if (this._line !== '') {
        // A line begun in an earlier chunk.
        const line = this._line + text.slice(pos, end);
        this._line = '';
        this._field(line, 0, line.length, out);
      } else {
        this._field(text, pos, end, out);
      }
      pos = next;
    }
  }

  /** The line `text[start, end)`, without its line end. */
  _field(text, start, end, out) {
    if (start === end) {
      this._dispatch(out);
      return;
    }
    let colon = text.indexOf(':', start);
    if (colon === -1 || colon > end) colon = end;
    const from = colon === end ? end : text.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1;
    const c = text.charCodeAt(start);
    // The field name, compared in place (no slice for the four names that matter).
    switch (colon - start) {
      case 0:
        this._comments++;
        return;
      case 4:
        if (c === 100 && text.startsWith('data', start)) {
          const value = from >= end ? '' : text.slice(from, end);
          if (this._hasData) this._data += '\n' + value;
          else {
            this._data = value;
            this._hasData = true;
          }
        }
        return;
      case 5:
        if (c === 101 && text.startsWith('event', start)) this._type = from >= end ? '' : text.slice(from, end);
        else if (c === 114 && text.startsWith('retry', start)) {
          const value = text.slice(from, end);
          if (/^[0-9]+$/.test(value)) this._retry = this._eventRetry = Number(value);
        }
        return;
      case 2:
        if (c === 105 && text.charCodeAt(start + 1) === 100) {
          const value = from >= end ? '' : text.slice(from, end);
          if (!value.includes('\0')) {
            this._idBuffer = value;
            this._idDirty = true;
          }
        }
        return;
      default:
    }
  }

  _dispatch(out) {
    if (this._idDirty) {
      this._lastEventId = this._idBuffer;
      this._idDirty = false;
    }
    const retry = this._eventRetry;
    this._eventRetry = null;
    if (!this._hasData) {
      this._type = '';
      return;
    }
    out.push({ event: this._type === '' ? 'message' : this._type, data: this._data, id: this._lastEventId, retry });
    this._hasData = false;
    this._data = '';
    this._type = '';
  }

  /**
   * End of stream: an unfinished line or event is discarded (and its `id`). The
   * last event id and the reconnection time are kept: the decoder is ready for the
   * next stream (a reconnection).
   */
  finish() {
    this._reset();
    if (this._idDirty) {
      this._idBuffer = this._lastEventId;
      this._idDirty = false;
    }
  }

  get lastEventId() {
    return this._lastEventId;
  }

  /** The reconnection time (ms) from the last valid `retry:` field, or `null`. */
  get retry() {
    return this._retry;
  }

  /** Comment lines seen so far. */
  get comments() {
    return this._comments;
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
