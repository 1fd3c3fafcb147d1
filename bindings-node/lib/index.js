'use strict';
// @heroa/sdk: the Heroa SDK for Node.js (CommonJS entry; `index.mjs` is the ES module).
const client = require('./client');
const errors = require('./errors');

module.exports = {
  ...client,
  ...errors,
  version: require('./native').version(),
};
