'use strict';
// @heroa/sdk: the Heroa SDK for Node.js (CommonJS entry; `index.mjs` is the ES module).
const client = require('./client');
// `fromNative` is the layer's own: not part of the API.
const { fromNative, ...errors } = require('./errors');
const webhooks = require('./webhooks');

module.exports = {
  ...client,
  ...errors,
  webhooks,
  WebhookVerificationError: webhooks.WebhookVerificationError,
  version: require('./native').version(),
};
