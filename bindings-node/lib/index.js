'use strict';
// @heroa/sdk: the Heroa SDK for Node.js (CommonJS entry; `index.mjs` is the ES module).
const client = require('./client');
const errors = require('./errors');
const webhooks = require('./webhooks');

module.exports = {
  ...client,
  ...errors,
  webhooks,
  WebhookVerificationError: webhooks.WebhookVerificationError,
  version: require('./native').version(),
};
