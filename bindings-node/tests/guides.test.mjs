// The deploy and onboarding guides' TypeScript examples, as printed, run as
// scripts (tests/guides/): the onboarding guide on both transports, the deploy
// guide's sub-agent example on the embedded runtime (its template is JavaScript).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { REPO, startServer } from './helpers.mjs';

const GUIDES = join(REPO, 'bindings-node', 'tests', 'guides');
const TOKEN = 'pat-na1-0123456789abcdef0123456789abcdef';
const WEBHOOK_SECRET = `whsec_${Buffer.from('the guide webhook secret 0123').toString('base64')}`;

/** Runs a guide script with `env` (no other HEROA_ variable); answers its output. */
function runGuide(file, env) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HEROA_')));
  const out = spawnSync(process.execPath, [join(GUIDES, file)], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...base, ...env },
  });
  assert.equal(out.status, 0, `${file} failed:\n${out.stderr}`);
  const lines = out.stdout.trim().split('\n');
  const check = JSON.parse(lines.pop().replace(/^test: /, ''));
  return { lines, check, all: out.stdout + out.stderr };
}

function checkOnboarding({ lines, check, all }) {
  const [agentId, fingerprint, policyId, status, cost, auditUrl] = lines;
  assert.match(agentId, /^ag_[0-9a-z]{26}$/);
  assert.match(fingerprint, /^[0-9a-f]{64}$/);
  assert.match(policyId, /^po_[0-9a-z]{26}$/);
  assert.ok(['complete', 'partial', 'blocked', 'failed'].includes(status), status);
  assert.equal(cost, '0');
  assert.match(auditUrl, /\/v1\/runs\/run_[0-9a-z]{26}\/audit$/);
  assert.deepEqual(check, {
    promotion: 'L1_notify',
    schedule: '0 3 * * *',
    webhook: 'https://your-service.example.com/heroa-events',
    nextRunAt: true,
  });
  for (const secret of [TOKEN, WEBHOOK_SECRET]) assert.ok(!all.includes(secret), 'a secret was printed');
}

test('the onboarding guide, on the embedded runtime', () => {
  checkOnboarding(
    runGuide('onboarding-guide.mjs', { HUBSPOT_PRIVATE_APP_TOKEN: TOKEN, HEROA_WEBHOOK_SECRET: WEBHOOK_SECRET }),
  );
});

test('the onboarding guide, against heroa serve', async () => {
  const server = await startServer();
  try {
    checkOnboarding(
      runGuide('onboarding-guide.mjs', {
        HEROA_BASE_URL: server.baseUrl,
        HEROA_API_KEY: server.apiKey,
        HUBSPOT_PRIVATE_APP_TOKEN: TOKEN,
        HEROA_WEBHOOK_SECRET: WEBHOOK_SECRET,
      }),
    );
  } finally {
    await server.stop();
  }
});

test('the deploy guide: an agent spawns a sub-agent and runs it', () => {
  const { check } = runGuide('deploy-guide.mjs', {});
  assert.equal(check.mode, 'agent');
  assert.match(check.handle, /^ag_[0-9a-z]{26}$/);
  const ttl = Date.parse(check.expiresAt) - Date.now();
  assert.ok(ttl > 25 * 60_000 && ttl <= 30 * 60_000, `expiresAt ${check.expiresAt}`);
  assert.equal(check.status, 'complete');
  assert.equal(check.output.processed, 3);
  assert.equal(check.output.task, 'embed');
  assert.match(check.output.runId, /^run_/);
});
