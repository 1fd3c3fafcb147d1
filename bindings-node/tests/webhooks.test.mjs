// Webhook signatures: the shared vectors (tests/vectors/webhooks), sign then verify,
// rotation, and errors that name the reason and never the secret.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { webhooks, WebhookVerificationError, HeroaError } from '../lib/index.mjs';
import { REPO } from './helpers.mjs';

const dir = join(REPO, 'tests', 'vectors', 'webhooks');
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .flatMap((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')).cases.map((c) => ({ file: f, ...c })));

test('webhook vectors verify as recorded, by their scheme and by auto', () => {
  assert.ok(cases.length > 0);
  for (const c of cases) {
    const secrets = c.secrets ?? [c.secret];
    const opts = { tolerance: c.tolerance_seconds ?? 300, now: c.now ?? undefined };
    for (const scheme of [c.scheme, 'auto']) {
      let got;
      let v;
      try {
        v = webhooks.verify(c.headers, c.body, secrets, { ...opts, scheme });
        got = 'ok';
      } catch (e) {
        assert.ok(e instanceof WebhookVerificationError && e instanceof HeroaError, `${c.name}: ${e}`);
        for (const s of secrets) assert.ok(!e.message.includes(s), 'no secret in messages');
        got = e.reason;
      }
      assert.equal(got, c.expect, `${c.file} / ${c.name} (${scheme})`);
      if (got === 'ok') assert.equal(v.scheme, c.scheme);
    }
  }
});

test('sign then verify, with a rotation; a changed body is a mismatch', () => {
  const [old, fresh] = [webhooks.generateSecret(), webhooks.generateSecret()];
  assert.match(old, /^whsec_/);
  assert.notEqual(old, fresh);
  const body = Buffer.from('{"type":"run.completed"}');
  const headers = webhooks.sign(old, body, { msgId: 'msg_1', timestamp: Math.floor(Date.now() / 1000) });
  const v = webhooks.verify(headers, body, [fresh, old]);
  assert.equal(v.secretIndex, 1);
  assert.equal(webhooks.verify(new Headers(headers), body.toString(), old).secretIndex, 0);
  // Any header form and any case: pairs, mixed-case names, array values (Node's).
  const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), [v]]));
  assert.equal(webhooks.verify(upper, body, old).scheme, 'standard-webhooks');
  assert.equal(webhooks.verify(Object.entries(headers), new Uint8Array(body), old).secretIndex, 0);
  const heroaOnly = { 'X-Heroa-Signature': headers['heroa-signature'] };
  assert.equal(webhooks.verify(heroaOnly, body, old).scheme, 'heroa-hmac-sha256');
  assert.throws(
    () => webhooks.verify(headers, Buffer.concat([body, Buffer.from(' ')]), old),
    (e) => e instanceof WebhookVerificationError && e.reason === 'mismatch',
  );
  assert.throws(() => webhooks.verify({}, body, old), (e) => e.reason === 'missing_header');
  assert.throws(() => webhooks.verify(headers, body, old, { scheme: 'nope' }), (e) => e.field === 'scheme');
});
