'use strict';
// Signed webhooks: verify a delivery you received (Heroa's `Heroa-Signature` or
// Standard Webhooks' `webhook-signature`), sign one you send, make a secret. The core
// does the work (constant-time, key rotation); secrets never appear in errors.
const native = require('./native');
const { HeroaError, fromNative } = require('./errors');

/** A delivery that failed verification; `reason` says why. */
class WebhookVerificationError extends HeroaError {
  constructor(reason, message) {
    super('webhook', message);
    this.name = 'WebhookVerificationError';
    this.reason = reason;
  }
}

function bytes(body, field) {
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  throw new TypeError(`${field} must be the raw body: a Buffer, a Uint8Array or a string`);
}

/** Headers as a plain object of strings: a fetch `Headers`, pairs, or Node's object. */
function headerObject(headers) {
  const out = {};
  const put = (k, v) => {
    const name = String(k).toLowerCase();
    if (!(name in out)) out[name] = Array.isArray(v) ? String(v[0]) : String(v);
  };
  if (headers && typeof headers.forEach === 'function' && typeof headers.get === 'function') {
    headers.forEach((v, k) => put(k, v));
  } else if (Array.isArray(headers)) {
    for (const [k, v] of headers) put(k, v);
  } else if (headers && typeof headers === 'object') {
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) put(k, v);
  } else {
    throw new TypeError('headers must be an object, a Headers instance or [name, value] pairs');
  }
  return out;
}

function webhookError(e) {
  let env;
  try {
    env = JSON.parse(e.message);
  } catch {
    return e;
  }
  return env.kind === 'webhook' ? new WebhookVerificationError(env.reason, env.message) : fromNative(e);
}

/**
 * Verifies a delivery: `headers` as received, `body` the exact raw bytes, `secret`
 * one secret or several (a rotation). Answers `{ scheme, msgId, timestamp, secretIndex }`.
 */
function verify(headers, body, secret, { tolerance = 300, now, scheme = 'auto' } = {}) {
  const secrets = Array.isArray(secret) ? secret : [secret];
  try {
    return native.webhookVerify(headerObject(headers), bytes(body, 'body'), secrets, tolerance, now ?? null, scheme);
  } catch (e) {
    throw webhookError(e);
  }
}

/** The headers that sign `body` (both schemes), as a sender sets them. */
function sign(secret, body, { msgId, timestamp } = {}) {
  try {
    return native.webhookSign(secret, bytes(body, 'body'), msgId ?? null, timestamp ?? null);
  } catch (e) {
    throw webhookError(e);
  }
}

/** A new signing secret (`whsec_…`). */
function generateSecret() {
  return native.webhookGenerateSecret();
}

module.exports = { verify, sign, generateSecret, WebhookVerificationError };
