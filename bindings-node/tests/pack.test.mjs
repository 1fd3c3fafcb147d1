// `npm pack` in napi's per-platform layout: the tarballs install into an empty
// directory (no registry: both are given) and work there, from CommonJS and ESM,
// with the addon coming from the platform package.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { REPO } from './helpers.mjs';

const PKG = join(REPO, 'bindings-node');

function sh(cmd, args, cwd) {
  const out = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000 });
  assert.equal(out.status, 0, `${cmd} ${args.join(' ')}:\n${out.stdout}\n${out.stderr}`);
  return out.stdout;
}

test('npm pack: the tarballs install into an empty directory and work', () => {
  const dir = mkdtempSync(join(tmpdir(), 'heroa-pack-'));
  try {
    const dist = join(dir, 'dist');
    sh('bash', [join(PKG, 'scripts', 'pack.sh'), dist], PKG);
    const tarballs = readdirSync(dist).sort();
    const main = tarballs.find((t) => /^heroa-sdk-\d/.test(t));
    const platform = tarballs.find((t) => /^heroa-sdk-linux-x64-gnu-/.test(t));
    assert.ok(main && platform, tarballs.join(', '));
    const listing = sh('tar', ['-tzf', join(dist, main)], dir);
    assert.doesNotMatch(listing, /\.node$/m, 'the main package carries no addon');
    for (const f of ['package/lib/index.js', 'package/lib/index.mjs', 'package/index.d.ts', 'package/protocol.d.ts', 'package/native.d.ts']) {
      assert.match(listing, new RegExp(`^${f}$`, 'm'));
    }

    const app = join(dir, 'app');
    sh('mkdir', ['-p', app], dir);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    sh('npm', ['install', '--no-audit', '--no-fund', '--offline', join(dist, main), join(dist, platform)], app);
    assert.ok(existsSync(join(app, 'node_modules', '@heroa', 'sdk-linux-x64-gnu', 'heroa.linux-x64-gnu.node')));
    assert.ok(!existsSync(join(app, 'node_modules', '@heroa', 'sdk', 'heroa.linux-x64-gnu.node')));

    writeFileSync(
      join(app, 'cjs.js'),
      `const { Heroa, version } = require('@heroa/sdk');
       const c = Heroa.embedded();
       c.agents.register({ name: 'packed', region: 'us-east' }).then((a) => console.log(version, a.name));`,
    );
    writeFileSync(
      join(app, 'esm.mjs'),
      `import { heroa, PolicyEngine, sse } from '@heroa/sdk';
       const d = await heroa.deploy({ mode: 'agent', template: 'noop', ttl: '15m' });
       const ok = new PolicyEngine('permit(principal, action, resource);').check('x', { agent: { id: 'a', name: 'a', region: 'us-east', promotion: 'L3_autonomous' } }).allowed;
       console.log(d.mode, ok, new sse.Decoder().feed('data: 1\\n\\n')[0].data);`,
    );
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HEROA_')));
    const cjs = spawnSync(process.execPath, ['cjs.js'], { cwd: app, encoding: 'utf8', env, timeout: 60_000 });
    assert.equal(cjs.status, 0, cjs.stderr);
    assert.match(cjs.stdout, /^\d+\.\d+\.\d+ packed$/m);
    const esm = spawnSync(process.execPath, ['esm.mjs'], { cwd: app, encoding: 'utf8', env, timeout: 60_000 });
    assert.equal(esm.status, 0, esm.stderr);
    assert.equal(esm.stdout.trim(), 'agent true 1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
