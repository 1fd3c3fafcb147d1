// Process behaviour: a script that uses the client exits by itself (no open
// handles); the CommonJS entry works; the client runs inside worker_threads.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { REPO } from './helpers.mjs';

const PKG = join(REPO, 'bindings-node');

test('a script exits by itself once its calls are done (CommonJS entry)', () => {
  const script = `
    const { Heroa } = require(${JSON.stringify(PKG)});
    const c = new Heroa();
    c.agents.register({ name: 'a', region: 'us-east' })
      .then(async (a) => { for await (const x of c.agents.list()) console.log(x.id === a.id ? 'ok' : 'bad'); });
  `;
  const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(out.status, 0, out.stderr);
  assert.equal(out.stdout.trim(), 'ok');
});

test('the ES module exports what the CommonJS entry does', async () => {
  const { createRequire } = await import('node:module');
  const cjs = createRequire(import.meta.url)(PKG);
  const esm = await import(join(PKG, 'lib', 'index.mjs'));
  assert.deepEqual(Object.keys(esm).filter((k) => k !== 'default').sort(), Object.keys(cjs).sort());
});

test('the client works inside a worker thread', async () => {
  const worker = new Worker(
    `
    const { parentPort } = require('node:worker_threads');
    const { Heroa } = require(${JSON.stringify(PKG)});
    new Heroa().agents.register({ name: 'w', region: 'us-east' }).then((a) => parentPort.postMessage(a.name));
  `,
    { eval: true },
  );
  const name = await new Promise((ok, fail) => {
    worker.once('message', ok);
    worker.once('error', fail);
  });
  assert.equal(name, 'w');
  await worker.terminate();
});

test('skills run inside a worker thread; ending the worker mid-call harms nothing', async () => {
  const worker = new Worker(
    `
    const { parentPort } = require('node:worker_threads');
    const { Heroa } = require(${JSON.stringify(PKG)});
    const c = new Heroa();
    c.skill('double', (call) => call.args.x * 2);
    c.skill('hang', () => new Promise(() => parentPort.postMessage('hanging')));
    c.template('t', async (ctx) => [await ctx.call('double', { x: 21 }), await ctx.call('hang', {})]);
    (async () => {
      const a = await c.agents.register({ name: 'w', region: 'us-east', template: 't' });
      await c.policies.create(a.id, 'permit(principal, action, resource);');
      await c.agents.setPromotion(a.id, 'L3_autonomous');
      const run = await c.agents.run(a.id, {});
      parentPort.postMessage('started');
      await c.runs.wait(run.id, { timeout: 60_000 });
    })();
  `,
    { eval: true },
  );
  const messages = [];
  await new Promise((ok, fail) => {
    worker.on('message', (m) => {
      messages.push(m);
      if (m === 'hanging') ok();
    });
    worker.once('error', fail);
  });
  assert.deepEqual(messages, ['started', 'hanging']);
  await worker.terminate();
  // The main thread's own client is unaffected.
  const { Heroa } = await import(join(PKG, 'lib', 'index.mjs'));
  const main = new Heroa();
  main.skill('double', (call) => call.args.x * 2);
  assert.equal((await main.agents.register({ name: 'after', region: 'us-east' })).name, 'after');
});

test('the onboarding example runs', () => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HEROA_')));
  const out = spawnSync(process.execPath, [join(REPO, 'examples', 'node', 'onboarding.mjs')], {
    encoding: 'utf8',
    timeout: 60_000,
    env,
  });
  assert.equal(out.status, 0, out.stderr);
  for (let step = 1; step <= 6; step++) assert.match(out.stdout, new RegExp(`step ${step} `));
  assert.match(out.stdout, /L0 shadow run run_\w+: partial — 0 shadowed, 1 executed, 1 blocked/);
  assert.match(out.stdout, /L3 run run_\w+: partial, cost \$0/);
  assert.match(out.stdout, /valid = true/);
});

test('the deploy example runs: a sub-agent batch, and an app fetched over HTTPS', () => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HEROA_')));
  const out = spawnSync(process.execPath, [join(REPO, 'examples', 'node', 'deploy.mjs')], {
    encoding: 'utf8',
    timeout: 120_000,
    env,
  });
  assert.equal(out.status, 0, out.stderr);
  const lines = out.stdout.trim().split('\n');
  assert.match(lines[0], /^sub-agent ag_\w+, expires \d{4}-/);
  const batch = JSON.parse(lines[1].replace(/^batch complete: /, ''));
  assert.deepEqual(batch.results.map((r) => r.output), [
    { index: 0, vector: [5, 2] },
    { index: 1, vector: [4, 1] },
    { index: 2, vector: [5, 2] },
  ]);
  assert.match(lines[2], /^https:\/\/[a-z0-9]+\.[\w.-]+(:\d+)?$/);
  assert.equal(lines[3], 'HTTP 200 {"service":"generated-api","path":"/health"}');
});

test('HEROA_DATA persists the default client across processes; Heroa.embedded() stays in memory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'heroa-data-'));
  try {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HEROA_')));
    const env = { ...base, HEROA_DATA: join(dir, 'heroa.db') };
    const run = (code) => {
      const out = spawnSync(process.execPath, ['-e', `const { Heroa } = require(${JSON.stringify(PKG)}); (async () => { ${code} })();`], {
        encoding: 'utf8',
        timeout: 30_000,
        env,
      });
      assert.equal(out.status, 0, out.stderr);
      return out.stdout.trim();
    };
    run(`await Heroa.fromEnv().agents.register({ name: 'kept', region: 'us-east' });`);
    assert.equal(run(`for await (const a of Heroa.fromEnv().agents.list()) console.log(a.name);`), 'kept');
    assert.equal(run(`console.log((await Heroa.embedded().agents.list()).items.length);`), '0');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
