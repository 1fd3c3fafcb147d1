// Shared fixtures: the two transports every scenario runs on — the embedded
// runtime, and `heroa serve` (the repository's binary) on a loopback port.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

import { Heroa } from '../lib/index.mjs';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** `heroa serve` on 127.0.0.1 with a fresh data file and a random API key. */
export async function startServer() {
  const bin = process.env.HEROA_BIN ?? join(REPO, 'target', 'debug', 'heroa');
  const dir = mkdtempSync(join(tmpdir(), 'heroa-node-'));
  const port = await freePort();
  const apiKey = `heroa_sk_node_${randomBytes(24).toString('hex')}`;
  const child = spawn(
    bin,
    ['--data', join(dir, 'heroa.db'), 'serve', '--bind', `127.0.0.1:${port}`],
    { env: { ...process.env, HEROA_API_KEY: apiKey }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (b) => (stderr += b));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`heroa serve exited: ${stderr}`);
    try {
      const r = await fetch(`${baseUrl}/v1/health`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`heroa serve did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    baseUrl,
    apiKey,
    async stop() {
      child.kill();
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `scenario(client)` on both transports, as two subtests of `t`. */
export async function onBothTransports(t, scenario) {
  await t.test('embedded', async () => scenario(Heroa.embedded()));
  await t.test('remote (heroa serve)', async () => {
    const server = await startServer();
    try {
      await scenario(new Heroa({ baseUrl: server.baseUrl, apiKey: server.apiKey }));
    } finally {
      await server.stop();
    }
  });
}

export const PERMIT_ALL = 'permit(principal, action, resource);';

/** An agent at L3 under a permit-all policy. */
export async function autonomousAgent(client, name) {
  const agent = await client.agents.register({ name, region: 'us-east' });
  await client.policies.create(agent.id, PERMIT_ALL);
  return client.agents.setPromotion(agent.id, 'L3_autonomous');
}
