'use strict';
// Errors: one class per kind of the core's error taxonomy, all under HeroaError,
// each with `kind`, `field` (the request field at fault, when one is), `details`
// and `retryAfter` (seconds, when the server said). Messages never carry secrets.

const { toCamel } = require('./case');

class HeroaError extends Error {
  constructor(kind, message, { field = null, details = null, retryAfter = null } = {}) {
    super(message);
    this.name = 'HeroaError';
    this.kind = kind;
    this.field = field;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

/** Kinds of the core (`heroa-protocol`'s ErrorKind), each with its class. */
const KINDS = {
  invalid_argument: 'InvalidArgumentError',
  unauthenticated: 'UnauthenticatedError',
  permission_denied: 'PermissionDeniedError',
  not_found: 'NotFoundError',
  conflict: 'ConflictError',
  failed_precondition: 'FailedPreconditionError',
  tier_limit: 'TierLimitError',
  payload_too_large: 'PayloadTooLargeError',
  rate_limited: 'RateLimitedError',
  timeout: 'TimeoutError',
  unavailable: 'UnavailableError',
  transport: 'TransportError',
  cancelled: 'CancelledError',
  internal: 'InternalError',
};

const classes = { HeroaError };
const byKind = {};
for (const [kind, name] of Object.entries(KINDS)) {
  // A named class per kind, so `instanceof` and stack traces read naturally.
  const cls = {
    [name]: class extends HeroaError {
      constructor(message, opts) {
        super(kind, message, opts);
        this.name = name;
      }
    },
  }[name];
  classes[name] = cls;
  byKind[kind] = cls;
}

/** The error of a rejected native call (its message is the bridge's envelope). */
function fromNative(err) {
  let env;
  try {
    env = JSON.parse(err && err.message);
  } catch {
    return err;
  }
  if (!env || typeof env.kind !== 'string') return err;
  const cls = byKind[env.kind];
  // The field in JavaScript's names, as the caller wrote it (`webhook.signingSecret`).
  const opts = { field: env.field ? toCamel(env.field) : null, details: env.details ?? null, retryAfter: env.retry_after ?? null };
  return cls ? new cls(env.message, opts) : new HeroaError(env.kind, env.message, opts);
}

module.exports = { ...classes, KINDS, fromNative };
