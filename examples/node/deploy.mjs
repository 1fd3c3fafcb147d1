// The deploy guide's flows in Node, on the embedded runtime (no account needed):
//
// 1. an agent spawns a sub-agent (`heroa.deploy({ mode: "agent", … })`) and runs a
//    batch through it with `worker.run({ input })` — the sub-agent's template,
//    batch-processor, calls the `embed` skill, written here in JavaScript;
// 2. a coding agent deploys the API it just generated (a git repository with a Node
//    server and a Procfile) as an app, and fetches it over HTTPS through the
//    runtime's gateway, trusting only the runtime's local CA.
//
//   node examples/node/deploy.mjs        (after `bash bindings-node/run_tests.sh`
//                                         or `npm run build` in bindings-node)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { heroa } from '../../bindings-node/lib/index.mjs';

const client = heroa.client; // the default client: Heroa.fromEnv()

// 1. A sub-agent runs a batch.
client.skill('embed', { kind: 'read' }, (call) => {
  const text = call.args.item;
  return { index: call.args.index, vector: [text.length, [...text].filter((c) => c === 'a').length] };
});
const worker = await heroa.deploy({ mode: 'agent', template: 'batch-processor', region: 'us-east', ttl: '30m' });
console.log(`sub-agent ${worker.handle}, expires ${worker.expiresAt}`);
const docs = ['alpha', 'beta', 'gamma'];
const out = await worker.run({ input: { items: docs, task: 'embed' } });
console.log(`batch ${out.status}: ${JSON.stringify(out.output)}`);

// 2. An app from a generated repository.
const dir = mkdtempSync(join(tmpdir(), 'generated-api-'));
try {
  const repo = join(dir, 'generated-api');
  mkdirSync(repo);
  writeFileSync(
    join(repo, 'server.js'),
    `require('node:http').createServer((req, res) => {
       res.setHeader('content-type', 'application/json');
       res.end(JSON.stringify({ service: 'generated-api', path: req.url }));
     }).listen(Number(process.env.PORT), '127.0.0.1');\n`,
  );
  writeFileSync(join(repo, 'Procfile'), `web: ${process.execPath} server.js\n`);
  const git = (...args) => execFileSync('git', ['-c', 'user.name=agent', '-c', 'user.email=agent@example.com', ...args], { cwd: repo });
  git('init', '-q');
  git('add', '.');
  git('commit', '-q', '-m', 'generated API');

  const app = await heroa.deploy({
    mode: 'app',
    region: 'us-east',
    resourceTier: 'small',
    ttl: '2h',
    source: { repo, ref: 'HEAD' },
    policy: { egress: 'allow-list', allowList: ['api.github.com'] },
  });
  console.log(app.url);

  const gateway = await client.gateway();
  const url = new URL(app.url);
  const answer = await new Promise((resolve, reject) => {
    const req = request(
      { host: gateway.host, port: gateway.port, path: '/health', servername: url.hostname, headers: { host: url.host }, ca: gateway.caPem },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(`HTTP ${res.statusCode} ${body}`));
      },
    );
    req.on('error', reject);
    req.end();
  });
  console.log(answer);
  await app.delete();
} finally {
  rmSync(dir, { recursive: true, force: true });
  client.close();
}
