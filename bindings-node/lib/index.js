'use strict';
// @heroa/sdk: the Heroa SDK for Node.js (CommonJS entry; `index.mjs` is the ES module).
const client = require('./client');
// `fromNative` is the layer's own: not part of the API.
const { fromNative, ...errors } = require('./errors');
const webhooks = require('./webhooks');
const policy = require('./policy');
const sse = require('./sse');

module.exports = {
  ...client,
  ...errors,
  webhooks,
  WebhookVerificationError: webhooks.WebhookVerificationError,
  policy,
  PolicyEngine: policy.PolicyEngine,
  Decision: policy.Decision,
  sse,
  AgentStreamError: sse.AgentStreamError,
  version: require('./native').version(),
};
