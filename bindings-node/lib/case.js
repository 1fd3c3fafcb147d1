'use strict';
// JavaScript's camelCase on the wire's snake_case: `agentId` ⇄ `agent_id`, both
// ways, recursively (an answer's wire names stay readable as aliases) — except inside values that belong to the caller (a run's
// `input` and `output`, an audit event's `data`, skill `args`, tool-call
// `arguments`, error `details`, policy `context`), which cross untouched.

const OPAQUE = new Set(['input', 'output', 'data', 'args', 'arguments', 'details', 'context']);

const toSnake = (k) => k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
const toCamel = (k) => k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

function convert(value, key, alias) {
  if (Array.isArray(value)) return value.map((v) => convert(v, key, alias));
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value.toISOString();
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const name = key(k);
    out[name] = OPAQUE.has(name) || OPAQUE.has(k) ? v : convert(v, key, alias);
    if (alias && name !== k) {
      // The wire's name reads the same value (the onboarding guide writes
      // `result.cost_usd`); not enumerable, so JSON and spreads show one name.
      Object.defineProperty(out, k, {
        get() {
          return this[name];
        },
        enumerable: false,
        configurable: true,
      });
    }
  }
  return out;
}

/** A request in JavaScript's names → the wire's. */
const toWire = (v) => convert(v, toSnake, false);
/** An answer on the wire → JavaScript's names (the wire's names read too). */
const fromWire = (v) => convert(v, toCamel, true);

module.exports = { toWire, fromWire, toSnake, toCamel };
