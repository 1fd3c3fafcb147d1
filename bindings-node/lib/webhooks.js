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

/** The headers either scheme reads, in the order the addon takes them. */
const SIGNATURE_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'heroa-signature', 'x-heroa-signature'];

const first = (v) => (v === undefined || v === null ? null : Array.isArray(v) ? String(v[0]) : String(v));

/**
 * The signature headers' values: from a fetch `Headers`, `[name, value]` pairs, or
 * an object (Node's lowercase `req.headers`, or any case).
 */
function signatureHeaders(headers) {
  if (headers && typeof headers.forEach === 'function' && typeof headers.get === 'function') {
    return SIGNATURE_HEADERS.map((name) => headers.get(name));
  }
  const out = [null, null, null, null, null];
  const put = (k, v) => {
    const i = SIGNATURE_HEADERS.indexOf(String(k).toLowerCase());
    if (i !== -1 && out[i] === null) out[i] = first(v);
  };
  if (Array.isArray(headers)) {
    for (const [k, v] of headers) put(k, v);
  } else if (headers && typeof headers === 'object') {
    // The usual case: Node's lowercase names, read directly.
    let found = 0;
    for (let i = 0; i < out.length; i++) {
      const v = first(headers[SIGNATURE_HEADERS[i]]);
      out[i] = v;
      if (v !== null) found++;
    }
    if (found < out.length) for (const k of Object.keys(headers)) if (k !== k.toLowerCase()) put(k, headers[k]);
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
    const [id, timestamp, signature, heroa, xHeroa] = signatureHeaders(headers);
    return native.webhookVerify(id, timestamp, signature, heroa, xHeroa, bytes(body, 'body'), secrets, tolerance, now ?? null, scheme);
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
