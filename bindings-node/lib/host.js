'use strict';
// JavaScript skills and templates run by the embedded runtime.
//
// The runtime hands each call to the adapter below on the JavaScript thread (a
// thread-safe function; see src/host.rs). The adapter runs the user's function —
// plain or async — and answers the call once: what it returns (or resolves) must be
// JSON-serialisable and becomes the skill's output or the run's output; what it
// throws (or rejects with) fails that one skill call (`skill.failed` in the audit,
// "Name: message") or the run — never the process. When the run is cancelled or the
// call times out, `call.signal` aborts.
const { fromWire } = require('./case');
const { CancelledError, fromNative } = require('./errors');

/** "Name: message" of what a handler threw. */
function describe(err) {
  if (err instanceof Error) return err.message ? `${err.name}: ${err.message}` : err.name;
  try {
    return `thrown: ${typeof err === 'string' ? err : JSON.stringify(err)}`;
  } catch {
    return `thrown: ${String(err)}`;
  }
}

/** An AbortSignal that aborts when the native call is cancelled. */
function signalOf(native, what) {
  const controller = new AbortController();
  native.finished().then(
    (cancelled) => {
      if (cancelled) controller.abort(new CancelledError(`${what} was cancelled`));
    },
    () => {},
  );
  return controller.signal;
}

/** Runs `handler(arg)` and answers `native` with its result or its error. */
function answer(native, handler, arg) {
  new Promise((resolve) => resolve(handler(arg))).then(
    (out) => {
      let text;
      try {
        text = JSON.stringify(out === undefined ? null : out);
      } catch (e) {
        native.respond(null, `the handler's result is not JSON: ${describe(e)}`);
        return;
      }
      native.respond(text, null);
    },
    (err) => native.respond(null, describe(err)),
  );
}

/** What a skill handler receives. */
class SkillCall {
  constructor(native) {
    Object.defineProperty(this, '_native', { value: native });
    /** The arguments from the run loop (as the loop gave them: no renaming). */
    this.args = JSON.parse(native.argsJson);
    /** The calling agent (`ag_…`). */
    this.agentId = native.agentId;
    /** The run (`run_…`). */
    this.runId = native.runId;
    /** Aborts when the run is cancelled or the call times out. */
    this.signal = signalOf(native, 'the skill call');
  }
  /** Whether the answer is no longer wanted. */
  get cancelled() {
    return this._native.cancelled;
  }
  /**
   * Reads the vault value `key` visible to the agent (its own entry first, then a
   * workspace-scoped one) — only skill code can, and only while the call runs. The
   * value is scrubbed from everything the run records.
   */
  secret(key) {
    try {
      return this._native.secret(key);
    } catch (e) {
      throw fromNative(e);
    }
  }
}

/** What a template (a run loop) receives. */
class TemplateContext {
  constructor(native) {
    Object.defineProperty(this, '_native', { value: native });
    /** The run's input (as given: no renaming). */
    this.input = JSON.parse(native.inputJson);
    this.runId = native.runId;
    this.agentId = native.agentId;
    /** Aborts when the run is cancelled. */
    this.signal = signalOf(native, 'the run');
  }
  get cancelled() {
    return this._native.cancelled;
  }
  /** Spend so far, a decimal string of US dollars. */
  get costUsd() {
    return this._native.costUsd;
  }
  /**
   * Calls `skill` under the agent's policy envelope and promotion level; resolves
   * with the outcome: `{ outcome: 'executed', output }`, or `shadowed`, `blocked`
   * (`reason`), `skipped` (`reason`) or `failed` (`error`).
   */
  async call(skill, args = {}) {
    try {
      return fromWire(JSON.parse(await this._native.call(skill, JSON.stringify(args ?? {}))));
    } catch (e) {
      throw fromNative(e);
    }
  }
}

/** The function the runtime calls for each call: it never throws into the addon. */
function adapter(handler, Wrapper) {
  if (typeof handler !== 'function') {
    throw new TypeError(`the handler must be a function; got ${typeof handler}`);
  }
  return (native) => {
    try {
      answer(native, handler, new Wrapper(native));
    } catch (e) {
      native.respond(null, describe(e));
    }
  };
}

const skillAdapter = (handler) => adapter(handler, SkillCall);
const templateAdapter = (handler) => adapter(handler, TemplateContext);

module.exports = { SkillCall, TemplateContext, skillAdapter, templateAdapter };
