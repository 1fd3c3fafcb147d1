// Process behaviour: a script that uses the client exits by itself (no open
// handles); the CommonJS entry works; the client runs inside worker_threads.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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
