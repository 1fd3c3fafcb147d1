// Benchmarks of the Node binding against the usual npm packages, side by side in one
// run (mitata):
//
// * webhook verification of a 1 KiB delivery: heroa's `webhooks.verify` against the
//   `standardwebhooks` package (same secret, same headers);
// * policy pre-check: heroa's `PolicyEngine` against `@cedar-policy/cedar-wasm`
//   (same policies — cedar-wasm gets the plain Cedar heroa translates the Heroa
//   dialect into — same entities and context), as documented (`isAuthorized`) and
//   with the policy set pre-parsed (`statefulIsAuthorized`);
// * SSE decoding of 512 LLM-style events — in 128-byte chunks, one event per chunk
//   (as an LLM flushes them), and whole: heroa's `sse.Decoder` against
//   `eventsource-parser`, both fed bytes (a `fetch` body: eventsource-parser needs a
//   streaming `TextDecoder` in front) and both fed text decoded beforehand;
// * an embedded `agents.get` through the bridge against a bare call into the addon.
//
// Every peer's answer is checked against heroa's before timing.
//
//   node bench/bench.mjs           # print the tables (build the addon with --release first)
//   node bench/bench.mjs --check   # only the agreement checks (run by run_tests.sh)
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

import { run, bench, group, summary } from 'mitata';
import { Webhook } from 'standardwebhooks';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { createParser } from 'eventsource-parser';

import { Heroa, PolicyEngine, policy, sse, webhooks } from '../lib/index.mjs';
import native from '../lib/native.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHECK_ONLY = process.argv.includes('--check');

// ------------------------------------------------------------------ webhooks
const secret = `whsec_${Buffer.from('a bench secret of 32 bytes long!').toString('base64')}`;
const body = JSON.stringify({ type: 'run.completed', data: { padding: 'x'.repeat(1024 - 46) } });
assert.ok(Math.abs(Buffer.byteLength(body) - 1024) < 8, 'a 1 KiB body');
const signed = webhooks.sign(secret, body);
const swHeaders = {
  'webhook-id': signed['webhook-id'],
  'webhook-timestamp': signed['webhook-timestamp'],
  'webhook-signature': signed['webhook-signature'],
};
const peerWebhook = new Webhook(secret);
assert.equal(webhooks.verify(swHeaders, body, secret).scheme, 'standard-webhooks');
assert.deepEqual(peerWebhook.verify(body, swHeaders), JSON.parse(body));
assert.throws(() => webhooks.verify(swHeaders, body + ' ', secret));
assert.throws(() => peerWebhook.verify(body + ' ', swHeaders));

// ------------------------------------------------------------------ policy
const SEED = `
    permit(principal, action == Action::"skill:invoke", resource)
    when {
      resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]
      && context.run_cost_usd < 0.50
    };
`;
const decimal = (x) => ({ __extn: { fn: 'decimal', arg: Number(x).toFixed(4) } });
function cedarValue(key, v, usd = false) {
  usd = usd || key === 'run_cost_usd' || key.endsWith('_usd');
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return usd || !Number.isInteger(v) ? decimal(v) : v;
  if (Array.isArray(v)) return v.filter((x) => x !== null).map((x) => cedarValue(key, x, usd));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, cedarValue(k, x, usd)]));
  }
  throw new TypeError(String(v));
}
/** cedar-wasm's request and entities for a heroa check request. */
function cedarCall(req) {
  const { agent, skill } = req;
  const context = cedarValue('', req.context ?? {});
  context.run_cost_usd = decimal(req.run_cost_usd);
  return {
    principal: { type: 'Agent', id: agent.id },
    action: { type: 'Action', id: 'skill:invoke' },
    resource: { type: 'Skill', id: skill.name },
    context,
    entities: [
      { uid: { type: 'Agent', id: agent.id }, attrs: { ...agent }, parents: [] },
      {
        uid: { type: 'Skill', id: skill.name },
        attrs: { name: skill.name, kind: skill.kind, external: skill.external, cost_usd: decimal(skill.cost_usd) },
        parents: [],
      },
    ],
  };
}
function seedCase() {
  const agent = { id: 'ag_01hzq3v7k2', name: 'lead-research-v1', region: 'us-east', promotion: 'L3_autonomous' };
  const reqs = [
    ['hubspot:contact:read', 'read', 0.0],
    ['hubspot:contact:read', 'read', 0.25],
    ['hubspot:contact:read', 'read', 0.5],
    ['hubspot:contact:enrich', 'write', 0.3],
    ['slack:post', 'write', 0.0],
  ].map(([name, kind, cost]) => ({
    agent,
    skill: { name, kind, external: false, cost_usd: 0.25 },
    run_cost_usd: cost,
    context: {},
  }));
  return { label: 'seed policy (1 policy)', docs: [['po_seed', SEED]], reqs };
}
function vectorCase() {
  const data = JSON.parse(readFileSync(join(REPO, 'tests', 'vectors', 'policy', 'decisions.json'), 'utf8'));
  const set = data.sets.find((s) => s.name.startsWith('promotion, region'));
  return { label: `vector set '${set.name}'`, docs: set.documents.map((d) => [d.id, d.text]), reqs: set.cases.map((c) => c.request) };
}
const policyCases = [seedCase(), vectorCase()].map((c, i) => {
  const engine = new PolicyEngine(c.docs);
  const staticPolicies = c.docs.map(([, text]) => policy.compile(text).cedar).join('\n');
  const psetId = `pset-${i}`;
  const parsed = cedar.preparsePolicySet(psetId, { staticPolicies });
  assert.equal(parsed.type, 'success', JSON.stringify(parsed));
  const calls = c.reqs.map(cedarCall);
  // The heroa calls the benchmark makes: the idiomatic check, one per request.
  const ours = c.reqs.map((r) => () =>
    engine.check(
      { name: r.skill.name, kind: r.skill.kind, external: r.skill.external, costUsd: r.skill.cost_usd },
      { agent: r.agent, runCostUsd: r.run_cost_usd, context: r.context },
    ),
  );
  // Same answers first.
  for (let j = 0; j < calls.length; j++) {
    const mine = ours[j]().allowed;
    const plain = cedar.isAuthorized({ ...calls[j], policies: { staticPolicies } });
    const pre = cedar.statefulIsAuthorized({ ...calls[j], preparsedPolicySetId: psetId });
    assert.equal(plain.type, 'success', JSON.stringify(plain));
    assert.equal(plain.response.decision === 'allow', mine, `${c.label} #${j}`);
    assert.equal(pre.response.decision === 'allow', mine, `${c.label} #${j}`);
  }
  return { ...c, ours, calls, staticPolicies, psetId };
});

// ------------------------------------------------------------------ sse
const events = [];
for (let n = 0; n < 512; n++) {
  const json =
    `{"id":"chatcmpl-${String(n).padStart(6, '0')}","object":"chat.completion.chunk","created":1746546550,` +
    `"model":"claude-4-sonnet","choices":[{"index":0,"delta":{"content":"token ${n} of the answer"},` +
    `"finish_reason":null}]}`;
  events.push(`event: message\ndata: ${json}\nid: ${n}\n\n`);
}
const stream = Buffer.from(events.join(''), 'utf8');
const chunks = [];
for (let i = 0; i < stream.length; i += 128) chunks.push(stream.subarray(i, i + 128));
// As an LLM streams: one event per chunk (each flushed as produced).
const eventChunks = events.map((e) => Buffer.from(e, 'utf8'));
const WORKLOADS = [
  ['128-byte chunks', chunks],
  ['one event per chunk', eventChunks],
  ['whole stream', [stream]],
].map(([label, bufs]) => [label, bufs, bufs.map((c) => c.toString('latin1'))]); // ASCII: the same text
function oursSse(input = chunks) {
  const d = new sse.Decoder();
  let n = 0;
  for (const c of input) for (const ev of d.feed(c)) n += ev.data.length;
  d.finish();
  return n;
}
function peerSse(input, decode) {
  let n = 0;
  const parser = createParser({ onEvent: (ev) => (n += ev.data.length) });
  const decoder = decode ? new TextDecoder() : null;
  for (const c of input) parser.feed(decode ? decoder.decode(c, { stream: true }) : c);
  return n;
}
const dataBytes = oursSse();
for (const [label, bufs, texts] of WORKLOADS) {
  assert.equal(oursSse(bufs), dataBytes, label);
  assert.equal(oursSse(texts), dataBytes, label);
  assert.equal(peerSse(texts, false), dataBytes, label);
  assert.equal(peerSse(bufs, true), dataBytes, label);
}
const sample = new sse.Decoder().feed(stream);
assert.equal(sample.length, 512);
assert.equal(sample[511].id, '511');

// ------------------------------------------------------------------ bridge
const client = Heroa.embedded();
const agent = await client.agents.register({ name: 'bench', region: 'us-east' });
assert.equal((await client.agents.get(agent.id)).id, agent.id);

if (CHECK_ONLY) {
  console.log('bench: every peer agrees with heroa (webhooks, policy, sse); the bridge answers');
  process.exit(0);
}

group('webhook verify, 1 KiB, Standard Webhooks headers', () => {
  summary(() => {
    bench('heroa webhooks.verify', () => webhooks.verify(swHeaders, body, secret));
    bench('standardwebhooks Webhook.verify', () => peerWebhook.verify(body, swHeaders));
  });
});

for (const c of policyCases) {
  group(`policy pre-check, ${c.label}, ${c.reqs.length} requests per iteration`, () => {
    summary(() => {
      bench('heroa PolicyEngine.check', () => {
        let allowed = 0;
        for (const f of c.ours) allowed += f().allowed ? 1 : 0;
        return allowed;
      });
      bench('cedar-wasm isAuthorized (as documented)', () => {
        let allowed = 0;
        for (const call of c.calls) allowed += cedar.isAuthorized({ ...call, policies: { staticPolicies: c.staticPolicies } }).response.decision === 'allow' ? 1 : 0;
        return allowed;
      });
      bench('cedar-wasm statefulIsAuthorized (pre-parsed policies)', () => {
        let allowed = 0;
        for (const call of c.calls) allowed += cedar.statefulIsAuthorized({ ...call, preparsedPolicySetId: c.psetId }).response.decision === 'allow' ? 1 : 0;
        return allowed;
      });
    });
  });
}

for (const [label, bufs, texts] of WORKLOADS) {
  group(`SSE decode, 512 LLM-style events, ${label}`, () => {
    summary(() => {
      bench('heroa sse.Decoder (bytes)', () => oursSse(bufs));
      bench('heroa sse.Decoder (text, decoded beforehand)', () => oursSse(texts));
      bench('eventsource-parser (text, decoded beforehand)', () => peerSse(texts, false));
      bench('eventsource-parser (bytes through TextDecoder)', () => peerSse(bufs, true));
    });
  });
}

group('a call into the addon', () => {
  summary(() => {
    bench('bare napi no-op (sync)', () => native.noop());
    bench('embedded agents.get through the bridge (await)', async () => client.agents.get(agent.id));
  });
});

await run({ colors: false });
