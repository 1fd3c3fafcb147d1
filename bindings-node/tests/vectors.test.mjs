// The shared audit vectors (tests/vectors/audit): every language verifies them alike.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { verifyAuditChain } from '../lib/index.mjs';
import { REPO } from './helpers.mjs';

const vectors = JSON.parse(readFileSync(join(REPO, 'tests', 'vectors', 'audit', 'chains.json'), 'utf8'));

test('audit chain vectors verify as recorded', () => {
  assert.ok(vectors.cases.length > 0, 'vectors are present');
  for (const c of vectors.cases) {
    const got = verifyAuditChain({ run_id: vectors.run_id, events: c.events });
    assert.equal(got.valid, c.valid, c.name);
    if ('broken_at' in c) assert.equal(got.brokenAt, c.broken_at, c.name);
  }
});
