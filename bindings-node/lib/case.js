'use strict';
// JavaScript's camelCase on the wire's snake_case: `agentId` ⇄ `agent_id`, both
// ways, recursively — except inside values that belong to the caller (a run's
// `input` and `output`, an audit event's `data`, skill `args`, tool-call
// `arguments`, error `details`, policy `context`), which cross untouched.

const OPAQUE = new Set(['input', 'output', 'data', 'args', 'arguments', 'details', 'context']);

const toSnake = (k) => k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
const toCamel = (k) => k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

function convert(value, key) {
  if (Array.isArray(value)) return value.map((v) => convert(v, key));
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value.toISOString();
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const name = key(k);
    out[name] = OPAQUE.has(name) || OPAQUE.has(k) ? v : convert(v, key);
  }
  return out;
}

/** A request in JavaScript's names → the wire's. */
const toWire = (v) => convert(v, toSnake);
/** An answer on the wire → JavaScript's names. */
const fromWire = (v) => convert(v, toCamel);

module.exports = { toWire, fromWire, toSnake, toCamel };
