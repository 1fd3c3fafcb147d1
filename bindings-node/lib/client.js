'use strict';
// The idiomatic client: resource groups over the bridge's operations, camelCase
// arguments and answers, Promises that take an AbortSignal, lazily paged lists and
// async-iterable run streams.
const native = require('./native');
const { toWire, fromWire } = require('./case');
const { fromNative, InvalidArgumentError, FailedPreconditionError } = require('./errors');
const { skillAdapter, templateAdapter } = require('./host');
const { PolicyEngine, compile } = require('./policy');

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

function pages(n, op, { limit, cursor, signal, ...filters } = {}, item = (x) => x) {
  const fetch = async (at) => {
    const answer = await call(n, op, { ...filters, limit, cursor: at ?? undefined }, { signal });
    return new Page(answer.items.map(item), answer.nextCursor, fetch);
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

/**
 * The onboarding guide passes one object (`setPromotion({ agentId, level })`) where
 * the positional form takes `(agentId, level, opts)`: `[first, ...rest]` in the
 * positional form, whichever was given.
 */
function positional(first, names, rest) {
  if (first === null || typeof first !== 'object') return [first, ...rest];
  const [idName, ...fields] = names;
  const { [idName]: id, ...others } = first;
  // The object form's options come where the positional form's second argument would.
  const values = fields.length ? fields.map((f) => others[f]) : [others];
  return [id, ...values, rest[0]];
}

class Agents extends Resource {
  register(args, opts) { return this._call('agents.register', args, opts); }
  get(agentId, opts) { return this._call('agents.get', { agentId }, opts); }
  list(args) { return pages(this._n, 'agents.list', args); }
  /** `update(agentId, changes)` or `update({ agentId, ...changes })`. */
  update(...a) {
    const [agentId, changes, opts] = positional(a[0], ['agentId'], a.slice(1));
    return this._call('agents.update', { ...changes, agentId }, opts);
  }
  delete(agentId, opts) { return this._call('agents.delete', { agentId }, opts); }
  /** `setPromotion(agentId, level)` or `setPromotion({ agentId, level })`. */
  setPromotion(...a) {
    const [agentId, level, opts] = positional(a[0], ['agentId', 'level'], a.slice(1));
    return this._call('agents.set_promotion', { agentId, level }, opts);
  }
  /** Starts a run: `run(agentId, input)` or `run({ agentId, input })`; resolves with the queued run. */
  run(...a) {
    const [agentId, input, opts] = positional(a[0], ['agentId', 'input'], a.slice(1));
    return this._call('agents.run', { agentId, input: input ?? {} }, opts);
  }
}

class Vault extends Resource {
  put(args, opts) { return this._call('vault.put', args, opts); }
  list(args) { return pages(this._n, 'vault.list', args); }
  get(vaultId, opts) { return this._call('vault.get', { vaultId }, opts); }
  rotate(vaultId, value, opts) { return this._call('vault.rotate', { vaultId, value }, opts); }
  delete(vaultId, opts) { return this._call('vault.delete', { vaultId }, opts); }
}

class Policies extends Resource {
  /** `create(agentId, document)` or `create({ agentId, document })`. */
  create(...a) {
    const [agentId, document, opts] = positional(a[0], ['agentId', 'document'], a.slice(1));
    return this._call('policies.create', { agentId, document }, opts);
  }
  list(args) { return pages(this._n, 'policies.list', args); }
  get(policyId, opts) { return this._call('policies.get', { policyId }, opts); }
  /** Checks a document here without storing it (see `policy.compile`). */
  validate(document) { return compile(document); }
  /**
   * The agent's envelope in force (a sub-agent's under its ancestors'), compiled
   * here and bound to the agent and the registered skills: checks that give the
   * runtime's decision without a round trip. `null` when the agent has no policy
   * (the runtime then denies every call).
   */
  async precheck(agentId) {
    let engine;
    try {
      engine = await this._n.precheck(agentId);
    } catch (e) {
      throw fromNative(e);
    }
    if (engine === null) return null;
    const skills = (await this._call('workspace.skills', {})).items;
    return PolicyEngine._wrap(engine, engine, skills);
  }
}

class Runs extends Resource {
  get(runId, opts) { return this._call('runs.get', { runId }, opts); }
  list(args) { return pages(this._n, 'runs.list', args); }
  /**
   * Waits until the run ends (a `TimeoutError` after `timeout` ms — or `timeoutMs`,
   * as the onboarding guide writes it — default 300 s).
   */
  wait(runId, { timeout, timeoutMs, signal } = {}) {
    return this._call('runs.wait', { runId, timeoutMs: timeout ?? timeoutMs ?? 300_000 }, { signal });
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

/** A money amount as the wire's decimal string (a number is read by its shortest text). */
function usd(v) {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : v;
}

/**
 * A deployment with its handle's methods: `run()` for a sub-agent (the deploy
 * guide's `worker.run({ input })`), `extend(ttl)`, `delete()`.
 */
function handle(n, d) {
  const methods = {
    /**
     * Runs the sub-agent (agent mode) with `input` and, unless `wait: false`, waits
     * until the run ends (`timeout` ms, default 300 s): resolves with the run.
     */
    async run({ input = {}, wait = true, timeout, signal } = {}) {
      if (d.mode !== 'agent' || !d.handle) {
        throw new FailedPreconditionError(
          `only a sub-agent (mode "agent") can be run; this deployment's mode is "${d.mode}"`,
          { field: 'mode' },
        );
      }
      if (timeout !== undefined && !(Number.isFinite(timeout) && timeout >= 0)) {
        // Refused before the run starts: no run is left behind.
        throw new InvalidArgumentError('timeout must be a number of milliseconds ≥ 0', { field: 'timeout' });
      }
      const run = await call(n, 'agents.run', { agentId: d.handle, input }, { signal });
      if (!wait) return run;
      return call(n, 'runs.wait', { runId: run.id, timeoutMs: timeout ?? 300_000 }, { signal });
    },
    extend(ttl, opts) { return call(n, 'deployments.extend', { deploymentId: d.id, ttl }, opts).then((x) => handle(n, x)); },
    delete(opts) { return call(n, 'deployments.delete', { deploymentId: d.id }, opts).then((x) => handle(n, x)); },
  };
  for (const [name, value] of Object.entries(methods)) {
    Object.defineProperty(d, name, { value, enumerable: false });
  }
  return d;
}

class Deployments extends Resource {
  list(args) { return pages(this._n, 'deployments.list', args, (d) => handle(this._n, d)); }
  async get(deploymentId, opts) { return handle(this._n, await this._call('deployments.get', { deploymentId }, opts)); }
  async extend(deploymentId, ttl, opts) { return handle(this._n, await this._call('deployments.extend', { deploymentId, ttl }, opts)); }
  async delete(deploymentId, opts) { return handle(this._n, await this._call('deployments.delete', { deploymentId }, opts)); }
}

const env = (name) => process.env[name] || undefined;

/** The Heroa client: the embedded runtime, or `heroa serve` over HTTP. */
class Heroa {
  /**
   * `new Heroa({ apiKey, baseUrl })` talks to the control plane at `baseUrl`
   * (default `HEROA_BASE_URL`; `apiKey` defaults to `HEROA_API_KEY`). Without a
   * base URL it runs the embedded runtime in this process, persisted at `path`
   * (default `HEROA_DATA`) or in memory — no account needed.
   */
  constructor({ apiKey, baseUrl, path } = {}) {
    const url = baseUrl ?? env('HEROA_BASE_URL');
    const key = apiKey ?? env('HEROA_API_KEY');
    let n;
    if (url) {
      if (!key) {
        throw new InvalidArgumentError(
          'apiKey is required for a remote control plane (pass apiKey or set HEROA_API_KEY)',
          { field: 'apiKey' },
        );
      }
    } else if (apiKey !== undefined) {
      process.emitWarning(
        'heroa: an apiKey was given but no baseUrl (nor HEROA_BASE_URL): using the embedded runtime in this process',
        { code: 'HEROA_EMBEDDED' },
      );
    }
    try {
      n = url ? native.NativeClient.remote(url, key) : native.NativeClient.embedded((path === undefined ? env('HEROA_DATA') : path) ?? null);
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
    // In memory unless `path` is given (HEROA_DATA is `fromEnv`'s, not this one's).
    return new Heroa({ baseUrl: '', path: path ?? null });
  }

  /** `HEROA_BASE_URL` and `HEROA_API_KEY` when set, else the embedded runtime (`HEROA_DATA`). */
  static fromEnv() {
    return new Heroa();
  }

  /**
   * Deploys an app, a service or a sub-agent (the deploy guide): `{ mode, region,
   * resourceTier, ttl, policy, template, source, name, idempotencyKey, … }`.
   * Resolves with the deployment — `url` (app), `endpoint` (service) or `handle`
   * (agent), `expiresAt` — whose `run({ input })` runs a sub-agent.
   */
  async deploy(args, opts) {
    return handle(this._n, await call(this._n, 'deploy', args, opts));
  }

  /**
   * Registers (or replaces) skill `name` run by `handler(call)` in this process
   * (embedded client only): `{ kind: 'read' | 'write', costUsd, external,
   * description }`. `call` has `args`, `agentId`, `runId`, `signal` (aborts when the
   * run is cancelled or the call times out) and `secret(key)`; what the handler
   * returns (or resolves) is the skill's output, what it throws fails the call.
   */
  skill(name, options, handler) {
    if (typeof options === 'function') [options, handler] = [{}, options];
    const { kind = 'read', costUsd = '0', external = false, description } = options ?? {};
    try {
      this._n.registerSkill(name, kind, usd(costUsd), external, description ?? null, skillAdapter(handler));
    } catch (e) {
      throw fromNative(e);
    }
    return this;
  }

  /**
   * Registers (or replaces) template `name`, a run loop, run by `handler(ctx)` in
   * this process (embedded client only): `ctx` has `input`, `runId`, `agentId`,
   * `costUsd`, `signal` and `call(skill, args)` (under the policy envelope and the
   * promotion level). What it returns is the run's output; what it throws fails
   * the run. Agents use it with `template: name`.
   */
  template(name, options, handler) {
    if (typeof options === 'function') [options, handler] = [{}, options];
    try {
      this._n.registerTemplate(name, options?.description ?? null, templateAdapter(handler));
    } catch (e) {
      throw fromNative(e);
    }
    return this;
  }

  /**
   * The embedded runtime's gateway, which serves app URLs over HTTPS (started on
   * first use): `{ caPem, host, port }` — connect to `host:port` for any app host
   * name and trust `caPem`, the local CA that signs them (embedded client only).
   */
  async gateway() {
    try {
      return await this._n.gateway();
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Releases the client: its runtime ends once the calls in flight have. Later calls fail. */
  close() {
    this._n.close();
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

let defaultClient = null;

/**
 * The process's default client (`Heroa.fromEnv()`, made on first use) — what the
 * module-level `deploy()` and `heroa.deploy()` use. With the embedded runtime, what
 * it deploys lives as long as this process.
 */
function defaultHeroa() {
  defaultClient ??= Heroa.fromEnv();
  return defaultClient;
}

/** The deploy guide's `heroa.deploy({...})` on the default client. */
function deploy(args, opts) {
  return defaultHeroa().deploy(args, opts);
}

/** `import { heroa } from "@heroa/sdk"` — the deploy guide's entry point. */
const heroa = {
  deploy,
  get client() {
    return defaultHeroa();
  },
};

/** Recomputes an audit record's chain without a client (both chain formats). */
function verifyAuditChain(record) {
  try {
    return fromWire(JSON.parse(native.verifyAuditChain(JSON.stringify(toWire(record)))));
  } catch (e) {
    throw fromNative(e);
  }
}

module.exports = {
  Heroa,
  // The onboarding guide's name for the same class.
  HeroaClient: Heroa,
  heroa,
  deploy,
  defaultHeroa,
  Page,
  PagePromise,
  RunStream,
  verifyAuditChain,
  OPERATIONS: native.operations(),
};
