// The shared vectors (tests/vectors/): audit chains, policy decisions, translations
// and diagnostics, and the event-stream decoder — every language answers them alike.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import {
  verifyAuditChain,
  PolicyEngine,
  policy,
  sse,
  AgentStreamError,
  InvalidArgumentError,
} from '../lib/index.mjs';
import { fromWire as fromWireKeys } from '../lib/case.js';
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

// ------------------------------------------------------------------ policy
const POLICY = JSON.parse(readFileSync(join(REPO, 'tests', 'vectors', 'policy', 'decisions.json'), 'utf8'));

test('policy decision vectors: the wire form and the idiomatic call decide alike', () => {
  let n = 0;
  for (const set of POLICY.sets) {
    const engine = new PolicyEngine(set.documents.map((d) => [d.id, d.text]));
    for (const c of set.cases) {
      const name = `${set.name} / ${c.name}`;
      const want = c.expected;
      const d = engine.checkRequest(c.request);
      assert.equal(d.allowed, want.allowed, `${name}: ${d.explain()}`);
      assert.deepEqual(d.reasons.map((r) => r.policyId), want.reasons, name);
      assert.equal(d.errors.length > 0, want.has_errors ?? false, `${name}: ${d.errors}`);
      const req = c.request;
      const d2 = engine.check(
        { name: req.skill.name, kind: req.skill.kind, external: req.skill.external, costUsd: req.skill.cost_usd },
        { agent: req.agent, runCostUsd: req.run_cost_usd, context: req.context ?? undefined },
      );
      assert.deepEqual(
        [d2.allowed, d2.reasons.map((r) => r.policyId), d2.errors],
        [d.allowed, d.reasons.map((r) => r.policyId), d.errors],
        name,
      );
      n++;
    }
  }
  assert.ok(n + POLICY.translations.length + POLICY.invalid.length >= 30, 'vectors are present');
});

test('policy translation vectors', () => {
  for (const v of POLICY.translations) {
    const compiled = policy.compile(v.document);
    assert.equal(compiled.cedar, v.cedar, v.name);
    assert.deepEqual(compiled.translations, v.translations.map((t) => fromWireKeys(t)), v.name);
  }
});

test('invalid policy vectors name the document and the positions', () => {
  for (const v of POLICY.invalid) {
    assert.throws(
      () => policy.compile(v.document),
      (e) => {
        assert.ok(e instanceof InvalidArgumentError, v.name);
        assert.equal(e.field, 'document');
        assert.deepEqual(
          e.details.diagnostics.map((d) => [d.line, d.column]),
          v.diagnostics.map((p) => [p.line, p.column]),
          v.name,
        );
        return true;
      },
    );
  }
});

// ------------------------------------------------------------------ sse
const SSE_DIR = join(REPO, 'tests', 'vectors', 'sse');

test('sse vectors: whole, in chunks of 1 and 7 bytes, and as text', () => {
  const files = readdirSync(SSE_DIR).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 30, 'vectors are present');
  for (const f of files) {
    const v = JSON.parse(readFileSync(join(SSE_DIR, f), 'utf8'));
    const input = 'input_base64' in v ? Buffer.from(v.input_base64, 'base64') : Buffer.from(v.input, 'utf8');
    for (const step of [input.length || 1, 1, 7]) {
      const d = new sse.Decoder();
      const got = [];
      for (let i = 0; i < input.length; i += step) got.push(...d.feed(input.subarray(i, i + step)));
      d.finish();
      const want = v.events.map((e) => ({ event: e.event, data: e.data, id: e.id, retry: e.retry ?? null }));
      assert.deepEqual(got, want, `${v.name} (chunks of ${step})`);
      assert.equal(d.lastEventId, v.last_event_id_after, v.name);
      assert.equal(d.retry, v.retry_after, v.name);
      if ('comments' in v) assert.equal(d.comments, v.comments.length, v.name);
    }
    if ('input' in v) {
      // Text in (already decoded) gives the same events.
      const d = new sse.Decoder();
      const got = [...d.feed(v.input.slice(0, 3)), ...d.feed(v.input.slice(3))];
      assert.deepEqual(got.map((e) => e.data), v.events.map((e) => e.data), `${v.name} (text)`);
    }
  }
});

test('the agent loop assembles the Heroku Agents API stream', () => {
  const v = JSON.parse(readFileSync(join(SSE_DIR, 'heroku_agents_api.json'), 'utf8'));
  const loop = new sse.AgentLoop();
  const messages = [...loop.feed(v.input), ...loop.finish()];
  assert.ok(loop.isDone);
  assert.deepEqual(messages, fromWireKeys(v.messages));
  assert.equal(messages.at(-1).type, 'done');
  const cut = new sse.AgentLoop();
  cut.feed('data: {"object":"chat.completion"');
  assert.throws(() => cut.finish(), (e) => e instanceof AgentStreamError && e.kind === 'agent_stream');
});
