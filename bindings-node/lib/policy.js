'use strict';
// The local policy pre-check.
//
// `PolicyEngine` compiles an agent's policy envelope (Cedar in the Heroa dialect:
// `0.50` decimals, `x in ["a", "b"]` sets) once and answers skill-call checks in
// microseconds, with the decision the runtime gives before every skill call and the
// policies that decided it:
//
//   const engine = new PolicyEngine({ po_1: document });
//   const d = engine.check('hubspot:contact:read', { agent, runCostUsd: 0.25 });
//   d.allowed, d.reasons, d.explain()
//
// `client.policies.precheck(agentId)` fetches the envelope in force (a sub-agent's
// under its ancestors') and answers an engine bound to the agent and to the
// registered skills, so `engine.check('slack:post')` needs nothing else.
const native = require('./native');
const { fromWire } = require('./case');
const { fromNative, InvalidArgumentError } = require('./errors');

const wrap = (f) => {
  try {
    return f();
  } catch (e) {
    throw fromNative(e);
  }
};

/**
 * The answer of a check. The core answers JSON text with `allowed` first: `allowed`
 * is read from its start, the rest parsed on first use.
 */
class Decision {
  constructor(text) {
    Object.defineProperty(this, '_text', { value: text });
  }
  /** Whether the skill call may go ahead. */
  get allowed() {
    return this._text.startsWith('{"allowed":true');
  }
  _parsed() {
    if (this._data === undefined) Object.defineProperty(this, '_data', { value: fromWire(JSON.parse(this._text)) });
    return this._data;
  }
  /** The determining policies: satisfied permits when allowed, satisfied forbids when forbidden. */
  get reasons() {
    return this._parsed().reasons;
  }
  /** Evaluation errors (a policy that errors is skipped, as in Cedar). */
  get errors() {
    return this._parsed().errors;
  }
  /** The skill checked. */
  get skill() {
    return this._parsed().skill;
  }
  /** The ancestor whose envelope denied a sub-agent's call, or `null`. */
  get deniedBy() {
    return this._parsed().deniedBy ?? null;
  }
  /** One line for people, e.g. `permitted by po_1#0 (line 1)`. */
  explain() {
    return native.explainDecision(this._text);
  }
  toJSON() {
    const { allowed, reasons, errors, skill, deniedBy } = this._parsed();
    return deniedBy ? { allowed, reasons, errors, skill, deniedBy } : { allowed, reasons, errors, skill };
  }
}

/** `{ id: text }`, `[[id, text], …]` or one text → parallel id and text arrays. */
function documents(docs) {
  const pairs =
    typeof docs === 'string'
      ? [['policy', docs]]
      : Array.isArray(docs)
        ? docs
        : docs && typeof docs === 'object'
          ? Object.entries(docs)
          : null;
  if (!pairs) {
    throw new InvalidArgumentError('documents must be a text, { id: text } or [[id, text], …]', { field: 'documents' });
  }
  return [pairs.map(([id]) => String(id)), pairs.map(([, text]) => String(text))];
}

function isEmpty(o) {
  if (typeof o !== 'object') return false;
  for (const _ in o) return false;
  return true;
}

const agentTuple = (a) => [String(a.id ?? ''), String(a.name ?? ''), String(a.region ?? ''), String(a.promotion ?? '')];

/** A compiled policy envelope. An invalid document throws `InvalidArgumentError` (field `document`). */
class PolicyEngine {
  /**
   * `documents`: `{ id: text }`, `[[id, text], …]` or one text; `agent` binds the
   * engine to an agent (`{ id, name, region, promotion }`); `skills` is a table of
   * skills (`{ name, kind, external, costUsd }`) used when `check` gets only a name.
   */
  constructor(docs, { agent, skills } = {}) {
    const [ids, texts] = documents(docs);
    const engine = wrap(() => new native.NativePolicyEngine(ids, texts));
    this._init(engine, agent ? engine.bind(...agentTuple(agent)) : null, new Map());
    if (skills) this._addSkills(skills);
  }

  _init(engine, bound, skills) {
    Object.defineProperties(this, {
      _engine: { value: engine },
      _bound: { value: bound },
      _skills: { value: skills },
    });
  }

  static _wrap(engine, bound, skills) {
    const self = Object.create(PolicyEngine.prototype);
    self._init(engine, bound, new Map());
    if (skills) self._addSkills(skills);
    return self;
  }

  _addSkills(skills) {
    for (const s of skills) {
      this._skills.set(String(s.name), [s.kind ?? 'read', Boolean(s.external), Number(s.costUsd ?? s.cost_usd ?? 0)]);
    }
  }

  /** Number of policies across all documents. */
  get policyCount() {
    return this._engine.policyCount;
  }

  /** The bound agent's id, or `null`. */
  get agentId() {
    return this._bound?.agentId ?? null;
  }

  /** The same compiled envelope bound to `agent`, with more `skills` in its table. */
  bind(agent, skills) {
    const out = PolicyEngine._wrap(this._engine, this._engine.bind(...agentTuple(agent)));
    for (const [k, v] of this._skills) out._skills.set(k, v);
    if (skills) out._addSkills(skills);
    return out;
  }

  /**
   * Decides whether the agent may invoke `skill` now. `skill` is a name (kind,
   * external and cost from the skill table, else read / false / 0) or
   * `{ name, kind, external, costUsd }`; `kind`, `external` and `costUsd` override.
   * `runCostUsd` is the run's spend before this call; `context` adds attributes to
   * Cedar's context. Without `agent`, the bound agent.
   */
  check(skill, { agent, runCostUsd = 0, context, kind, external, costUsd } = {}) {
    let name, k, ext, cost;
    if (typeof skill === 'string') {
      name = skill;
      [k, ext, cost] = this._skills.get(name) ?? ['read', false, 0];
    } else if (skill && typeof skill === 'object') {
      name = String(skill.name);
      k = skill.kind ?? 'read';
      ext = Boolean(skill.external);
      cost = Number(skill.costUsd ?? skill.cost_usd ?? 0);
    } else {
      throw new InvalidArgumentError('skill must be a name or { name, kind, external, costUsd }', { field: 'skill' });
    }
    if (kind !== undefined) k = kind;
    if (external !== undefined) ext = Boolean(external);
    if (costUsd !== undefined) cost = Number(costUsd);
    const ctx = context == null || isEmpty(context) ? null : JSON.stringify(context);
    const run = Number(runCostUsd);
    if (agent === undefined) {
      if (!this._bound) {
        throw new InvalidArgumentError(
          'agent is required: pass { agent } or use an engine bound to an agent (client.policies.precheck(agentId) or engine.bind(agent))',
          { field: 'agent' },
        );
      }
      return new Decision(wrap(() => this._bound.checkBound(name, k, ext, cost, run, ctx)));
    }
    return new Decision(wrap(() => this._engine.check(...agentTuple(agent), name, k, ext, cost, run, ctx)));
  }

  /** Decides a whole request in the wire form of the shared vectors: `{ agent, skill, run_cost_usd, context }`. */
  checkRequest(request) {
    return new Decision(wrap(() => this._engine.checkJson(JSON.stringify(request))));
  }
}

/**
 * Translates and parses one policy document without storing it: the plain Cedar,
 * every rewrite with its line and column, and the number of policies. An invalid
 * document throws `InvalidArgumentError` (field `document`, `details.diagnostics`).
 */
function compile(document) {
  return wrap(() => fromWire(JSON.parse(native.compilePolicy(document))));
}

module.exports = { PolicyEngine, compile, Decision };
