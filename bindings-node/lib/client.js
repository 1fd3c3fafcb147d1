'use strict';
// The idiomatic client: resource groups over the bridge's operations, camelCase
// arguments and answers, Promises that take an AbortSignal, lazily paged lists and
// async-iterable run streams.
const native = require('./native');
const { toWire, fromWire } = require('./case');
const { fromNative, InvalidArgumentError } = require('./errors');

/** Runs operation `op` with `args` (JavaScript names); answers the JS answer. */
async function call(n, op, args = {}, { signal } = {}) {
  if (signal?.aborted) throw fromNative(new Error(JSON.stringify({ kind: 'cancelled', message: `${op} was cancelled` })));
  let token;
  let onAbort;
  if (signal) {
    token = native.newCancelToken();
    onAbort = () => native.cancelToken(token);
    signal.addEventListener('abort', onAbort, { once: true });
  }
  try {
    const text = await n.call(op, JSON.stringify(toWire(args)), token);
    return text === 'null' ? undefined : fromWire(JSON.parse(text));
  } catch (e) {
    throw fromNative(e);
  } finally {
    if (signal) {
      signal.removeEventListener('abort', onAbort);
      native.releaseCancelToken(token);
    }
  }
}

/**
 * One page of a list: `items`, `nextCursor`, `hasNextPage()`, `nextPage()`;
 * `for await` over it walks every item of it and of the pages after it.
 */
class Page {
  constructor(items, nextCursor, fetch) {
    this.items = items;
    this.nextCursor = nextCursor ?? null;
    Object.defineProperty(this, '_fetch', { value: fetch });
  }
  hasNextPage() {
    return this.nextCursor !== null;
  }
  async nextPage() {
    if (this.nextCursor === null) throw new Error('this is the last page');
    return this._fetch(this.nextCursor);
  }
  async *iterPages() {
    let page = this;
    for (;;) {
      yield page;
      if (page.nextCursor === null) return;
      page = await page._fetch(page.nextCursor);
    }
  }
  async *[Symbol.asyncIterator]() {
    for await (const page of this.iterPages()) yield* page.items;
  }
}

/** What a `list` answers: await it for the first page, or `for await` every item. */
class PagePromise {
  constructor(fetch, cursor) {
    this._first = null;
    this._fetch = fetch;
    this._cursor = cursor;
  }
  _page() {
    this._first ??= this._fetch(this._cursor);
    return this._first;
  }
  then(ok, err) {
    return this._page().then(ok, err);
  }
  catch(err) {
    return this._page().catch(err);
  }
  async *[Symbol.asyncIterator]() {
    yield* await this._page();
  }
}

function pages(n, op, { limit, cursor, signal, ...filters } = {}) {
  const fetch = async (at) => {
    const answer = await call(n, op, { ...filters, limit, cursor: at ?? undefined }, { signal });
    return new Page(answer.items, answer.nextCursor, fetch);
  };
  return new PagePromise(fetch, cursor);
}

/** A run's live events: `for await (const ev of client.runs.stream(id))`. */
class RunStream {
  constructor(open) {
    this._open = open;
    this._stream = null;
  }
  async next() {
    try {
      this._stream ??= await this._open();
      const text = await this._stream.next();
      if (text === null) return { done: true, value: undefined };
      const ev = JSON.parse(text);
      let data = ev.data;
      if (ev.event !== 'done' && typeof data === 'string') {
        try {
          data = JSON.parse(data);
        } catch {
          /* text data stays text */
        }
      }
      return { done: false, value: { id: ev.id, event: ev.event, data: fromWire(data) } };
    } catch (e) {
      throw fromNative(e);
    }
  }
  async return() {
    this._stream?.close();
    return { done: true, value: undefined };
  }
  [Symbol.asyncIterator]() {
    return this;
  }
}

const MAX_PAGE = 1000;

class Resource {
  constructor(n) {
    Object.defineProperty(this, '_n', { value: n });
  }
  _call(op, args, opts) {
    return call(this._n, op, args, opts);
  }
}

class Agents extends Resource {
  register(args, opts) { return this._call('agents.register', args, opts); }
  get(agentId, opts) { return this._call('agents.get', { agentId }, opts); }
  list(args) { return pages(this._n, 'agents.list', args); }
  update(agentId, args, opts) { return this._call('agents.update', { ...args, agentId }, opts); }
  delete(agentId, opts) { return this._call('agents.delete', { agentId }, opts); }
  setPromotion(agentId, level, opts) { return this._call('agents.set_promotion', { agentId, level }, opts); }
  run(agentId, input = {}, opts) { return this._call('agents.run', { agentId, input }, opts); }
}

class Vault extends Resource {
  put(args, opts) { return this._call('vault.put', args, opts); }
  list(args) { return pages(this._n, 'vault.list', args); }
  get(vaultId, opts) { return this._call('vault.get', { vaultId }, opts); }
  rotate(vaultId, value, opts) { return this._call('vault.rotate', { vaultId, value }, opts); }
  delete(vaultId, opts) { return this._call('vault.delete', { vaultId }, opts); }
}

class Policies extends Resource {
  create(agentId, document, opts) { return this._call('policies.create', { agentId, document }, opts); }
  list(args) { return pages(this._n, 'policies.list', args); }
  get(policyId, opts) { return this._call('policies.get', { policyId }, opts); }
}

class Runs extends Resource {
  get(runId, opts) { return this._call('runs.get', { runId }, opts); }
  list(args) { return pages(this._n, 'runs.list', args); }
  /** Waits until the run ends (a `TimeoutError` after `timeout` ms, default 300 s). */
  wait(runId, { timeout = 300_000, signal } = {}) {
    return this._call('runs.wait', { runId, timeoutMs: timeout }, { signal });
  }
  cancel(runId, opts) { return this._call('runs.cancel', { runId }, opts); }
  /** The whole audit record, every event (fetched page by page). */
  async audit(runId, opts) {
    const record = await this._call('runs.audit', { runId, limit: MAX_PAGE }, opts);
    while (record.nextCursor) {
      const more = await this._call('runs.audit', { runId, limit: MAX_PAGE, cursor: record.nextCursor }, opts);
      record.events.push(...more.events);
      record.nextCursor = more.nextCursor;
    }
    return record;
  }
  auditPage(runId, { limit, cursor, signal } = {}) {
    return this._call('runs.audit', { runId, limit, cursor }, { signal });
  }
  /** Recomputes every hash and link of the run's audit chain here. */
  async verifyAudit(runId, opts) {
    const record = await this.audit(runId, opts);
    return verifyAuditChain(record);
  }
  stream(runId, { lastEventId } = {}) {
    const n = this._n;
    return new RunStream(() => n.stream('runs.events', JSON.stringify(toWire({ runId, lastEventId }))));
  }
}

class Approvals extends Resource {
  list(args) { return pages(this._n, 'approvals.list', args); }
  get(approvalId, opts) { return this._call('approvals.get', { approvalId }, opts); }
  approve(approvalId, { by, signal } = {}) { return this._call('approvals.approve', { approvalId, by }, { signal }); }
  deny(approvalId, { by, signal } = {}) { return this._call('approvals.deny', { approvalId, by }, { signal }); }
}

class Webhooks extends Resource {
  deliveries(args) { return pages(this._n, 'webhooks.deliveries', args); }
  delivery(deliveryId, opts) { return this._call('webhooks.delivery', { deliveryId }, opts); }
  redeliver(deliveryId, opts) { return this._call('webhooks.redeliver', { deliveryId }, opts); }
}

class Workspace extends Resource {
  get(opts) { return this._call('workspace.get', {}, opts); }
  acceptSoc2(opts) { return this._call('workspace.accept_soc2', {}, opts); }
  inbox(args) { return pages(this._n, 'workspace.inbox', args); }
  async skills(opts) { return (await this._call('workspace.skills', {}, opts)).items; }
  async templates(opts) { return (await this._call('workspace.templates', {}, opts)).items; }
}

class Deployments extends Resource {
  list(args) { return pages(this._n, 'deployments.list', args); }
  get(deploymentId, opts) { return this._call('deployments.get', { deploymentId }, opts); }
  extend(deploymentId, ttl, opts) { return this._call('deployments.extend', { deploymentId, ttl }, opts); }
  delete(deploymentId, opts) { return this._call('deployments.delete', { deploymentId }, opts); }
}

/** The Heroa client: the embedded runtime, or `heroa serve` over HTTP. */
class Heroa {
  /**
   * `new Heroa({ apiKey, baseUrl })` talks to `heroa serve` at `baseUrl`; without
   * `baseUrl` it runs the embedded runtime in this process (`path` persists it).
   */
  constructor({ apiKey, baseUrl, path } = {}) {
    if (baseUrl && !apiKey) throw new InvalidArgumentError('apiKey is required with baseUrl', { field: 'apiKey' });
    let n;
    try {
      n = baseUrl ? native.NativeClient.remote(baseUrl, apiKey) : native.NativeClient.embedded(path ?? null);
    } catch (e) {
      throw fromNative(e);
    }
    Object.defineProperty(this, '_n', { value: n });
    this.agents = new Agents(n);
    this.vault = new Vault(n);
    this.policies = new Policies(n);
    this.runs = new Runs(n);
    this.approvals = new Approvals(n);
    this.webhooks = new Webhooks(n);
    this.workspace = new Workspace(n);
    this.deployments = new Deployments(n);
  }

  /** The embedded runtime, in memory or persisted at `path`; no account needed. */
  static embedded({ path } = {}) {
    return new Heroa({ path });
  }

  /** `HEROA_BASE_URL` and `HEROA_API_KEY` when set, else the embedded runtime. */
  static fromEnv() {
    const baseUrl = process.env.HEROA_BASE_URL;
    return baseUrl ? new Heroa({ baseUrl, apiKey: process.env.HEROA_API_KEY }) : new Heroa();
  }

  /** `deploy`: an app, a service or a sub-agent (the deploy guide). */
  deploy(args, opts) {
    return call(this._n, 'deploy', args, opts);
  }

  /** Runs any operation of the catalogue by name, with wire (snake_case) JSON. */
  async callRaw(op, args = {}) {
    try {
      return JSON.parse(await this._n.call(op, JSON.stringify(args)));
    } catch (e) {
      throw fromNative(e);
    }
  }
}

/** Recomputes an audit record's chain without a client (both chain formats). */
function verifyAuditChain(record) {
  try {
    return fromWire(JSON.parse(native.verifyAuditChain(JSON.stringify(toWire(record)))));
  } catch (e) {
    throw fromNative(e);
  }
}

module.exports = { Heroa, Page, PagePromise, RunStream, verifyAuditChain, OPERATIONS: native.operations() };
