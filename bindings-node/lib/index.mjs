// @heroa/sdk as an ES module: the same objects as the CommonJS entry.
import sdk from './index.js';

export const {
  Heroa,
  Page,
  PagePromise,
  RunStream,
  verifyAuditChain,
  OPERATIONS,
  HeroaError,
  InvalidArgumentError,
  UnauthenticatedError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  FailedPreconditionError,
  TierLimitError,
  PayloadTooLargeError,
  RateLimitedError,
  TimeoutError,
  UnavailableError,
  TransportError,
  CancelledError,
  InternalError,
  KINDS,
  version,
  webhooks,
  WebhookVerificationError,
} = sdk;
export default sdk;
