// The idiomatic client on both transports: names, errors, runs, audit, streams,
// pages, cancellation — the Python suite's scenarios, in JavaScript.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  Heroa,
  HeroaError,
  InvalidArgumentError,
  NotFoundError,
  CancelledError,
  TimeoutError,
  FailedPreconditionError,
  PolicyEngine,
  OPERATIONS,
} from '../lib/index.mjs';
import { onBothTransports, autonomousAgent } from './helpers.mjs';

test('agents in JavaScript names, on the wire in the protocol\'s', async (t) => {
  await onBothTransports(t, async (client) => {
    const agent = await client.agents.register({
      name: 'lead-research',
      region: 'eu-west',
      approvalWindow: '2h',
      maxSteps: 7,
      description: 'finds leads',
    });
    assert.match(agent.id, /^ag_[0-9a-z]{26}$/);
    assert.equal(agent.approvalWindowSeconds, 7200);
    assert.equal(agent.maxSteps, 7);
    assert.equal(agent.promotion, 'L0_shadow');
    assert.deepEqual(await client.agents.get(agent.id), agent);
    const updated = await client.agents.update(agent.id, {
      description: 'finds more leads',
      webhook: { url: 'https://hooks.example/h', signingSecret: 'whsec-long-enough-1' },
    });
    assert.equal(updated.description, 'finds more leads');
    assert.match(updated.webhook.signingSecretFingerprint, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(updated).includes('whsec-long-enough-1'), 'the secret is never answered');
  });
});

test('errors are HeroaError subclasses naming the field', async (t) => {
  await onBothTransports(t, async (client) => {
    await assert.rejects(client.agents.register({ name: 'x', region: 'mars' }), (e) => {
      assert.ok(e instanceof InvalidArgumentError && e instanceof HeroaError && e instanceof Error);
      assert.equal(e.kind, 'invalid_argument');
      assert.equal(e.field, 'region');
      assert.match(e.message, /region/);
      return true;
    });
    await assert.rejects(client.agents.get('ag_00000000000000000000000000'), NotFoundError);
    await assert.rejects(client.agents.get('nope'), (e) => e instanceof InvalidArgumentError && e.field === 'agentId');
    await assert.rejects(client.agents.list({ limit: 0 }), (e) => e.field === 'limit');
    // The field in JavaScript's names, as the caller wrote it.
    await assert.rejects(
      client.agents.register({ name: 'x', region: 'us-east', approvalWindow: 'soon' }),
      (e) => e.field === 'approvalWindow',
    );
  });
});

test('a run, its audit chain and its live events', async (t) => {
  await onBothTransports(t, async (client) => {
    const agent = await autonomousAgent(client, 'runner');
    const started = await client.agents.run(agent.id, {
      calls: [{ skill: 'heroa:echo', args: { someKey: 1 } }],
    });
    const run = await client.runs.wait(started.id, { timeout: 20_000 });
    assert.equal(run.status, 'complete');
    assert.equal(run.costUsd, '0');
    assert.deepEqual(run.output.results[0].output, { someKey: 1 }, 'user data keeps its own names');
    const record = await client.runs.audit(run.id);
    assert.ok(record.events.length >= 3);
    assert.equal(record.events.at(-1).hash, record.headHash);
    assert.deepEqual(await client.runs.verifyAudit(run.id), {
      runId: run.id,
      valid: true,
      events: record.events.length,
      brokenAt: null,
      reason: null,
    });
    const seen = [];
    for await (const ev of client.runs.stream(run.id)) seen.push(ev.event);
    assert.equal(seen.at(-1), 'done');
    assert.equal(seen.length, record.events.length + 1);
    assert.ok(seen.includes('run.completed'));
  });
});

test('lists page lazily', async (t) => {
  await onBothTransports(t, async (client) => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await client.agents.register({ name: `p${i}`, region: 'us-east' })).id);
    const first = await client.agents.list({ limit: 2 });
    assert.deepEqual(first.items.map((a) => a.id), ids.slice(0, 2));
    assert.ok(first.hasNextPage());
    assert.deepEqual((await first.nextPage()).items.map((a) => a.id), ids.slice(2, 4));
    const all = [];
    for await (const a of client.agents.list({ limit: 2 })) all.push(a.id);
    assert.deepEqual(all, ids);
    const pages = [];
    for await (const p of first.iterPages()) pages.push(p.items.length);
    assert.deepEqual(pages, [2, 2, 1]);
  });
});

test('an AbortSignal cancels a call; a wait times out', async (t) => {
  await onBothTransports(t, async (client) => {
    const agent = await autonomousAgent(client, 'sleeper');
    const run = await client.agents.run(agent.id, { calls: [{ skill: 'heroa:sleep', args: { ms: 5000 } }] });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(client.runs.wait(run.id, { signal: controller.signal }), CancelledError);
    assert.ok(Date.now() - started < 3000, 'the wait ended when the signal fired');
    await assert.rejects(client.runs.wait(run.id, { signal: AbortSignal.abort() }), CancelledError);
    await assert.rejects(client.runs.wait(run.id, { timeout: 100 }), TimeoutError);
    const cancelled = await client.runs.cancel(run.id);
    assert.equal(cancelled.status, 'cancelled');
  });
});

test('deploy a sub-agent and run it through its handle', async (t) => {
  await onBothTransports(t, async (client) => {
    const dep = await client.deploy({ mode: 'agent', template: 'noop', ttl: '30m', resourceTier: 'small' });
    assert.equal(dep.mode, 'agent');
    assert.match(dep.handle, /^ag_/);
    assert.ok(dep.expiresAt);
    const run = await dep.run({ input: { task: 'embed' }, timeout: 20_000 });
    assert.equal(run.agentId, dep.handle);
    assert.equal(run.status, 'complete', 'the handle waited for the end');
    assert.deepEqual(run.input, { task: 'embed' });
    const queued = await dep.run({ wait: false });
    assert.ok(['queued', 'running', 'complete'].includes(queued.status));
    assert.equal(Object.keys(dep).includes('run'), false, 'the handle\'s methods are not data');
    const listed = [];
    for await (const d of client.deployments.list()) listed.push(d);
    assert.deepEqual(listed.map((d) => d.id), [dep.id]);
    assert.equal((await listed[0].run({ timeout: 20_000 })).status, 'complete', 'listed handles run too');
    await assert.rejects(dep.run({ timeout: -1 }), (e) => e instanceof InvalidArgumentError && e.field === 'timeout');
    const fetched = await client.deployments.get(dep.id);
    assert.equal((await fetched.run()).agentId, dep.handle);
    // A service (a local process here) has no run loop: its handle refuses `run()`.
    const dir = mkdtempSync(join(tmpdir(), 'heroa-svc-'));
    writeFileSync(
      join(dir, 'server.js'),
      "require('http').createServer((q, r) => r.end('ok')).listen(+process.env.PORT, '127.0.0.1');",
    );
    const svc = await client.deploy({ mode: 'service', name: 'svc', source: { path: dir, command: [process.execPath, 'server.js'] } });
    assert.equal(svc.status, 'running');
    assert.match(svc.endpoint, /^heroa:\/\/ws_\w+\/svc\/\w+$/);
    await assert.rejects(svc.run(), (e) => e instanceof FailedPreconditionError && e.field === 'mode');
    assert.equal((await svc.delete()).status, 'stopped');
  });
});

test('the catalogue is the bridge\'s', () => {
  for (const op of ['agents.register', 'runs.wait', 'deploy', 'runs.audit']) assert.ok(OPERATIONS.includes(op), op);
});

test('a remote client needs its API key', () => {
  assert.throws(() => new Heroa({ baseUrl: 'http://127.0.0.1:9' }), InvalidArgumentError);
});

test('precheck: the envelope in force, decided here as the runtime decides', async (t) => {
  await onBothTransports(t, async (client) => {
    const agent = await client.agents.register({ name: 'checked', region: 'us-east' });
    assert.equal(await client.policies.precheck(agent.id), null, 'no policy: no engine');
    await client.policies.create({
      agentId: agent.id,
      document: `permit(principal, action == Action::"skill:invoke", resource)
        when { resource.name in ["heroa:echo"] && context.run_cost_usd < 0.50 };`,
    });
    const engine = await client.policies.precheck(agent.id);
    assert.equal(engine.agentId, agent.id);
    assert.equal(engine.policyCount, 1);
    const ok = engine.check('heroa:echo', { runCostUsd: '0.25' });
    assert.equal(ok.allowed, true, ok.explain());
    assert.match(ok.reasons[0].policyId, /^po_\w+#0$/);
    assert.equal(ok.reasons[0].effect, 'permit');
    assert.equal(engine.check('heroa:echo', { runCostUsd: 0.5 }).allowed, false);
    const no = engine.check('heroa:sleep');
    assert.equal(no.allowed, false);
    assert.match(no.explain(), /no policy permits|not permitted|denied/i);
    assert.deepEqual(JSON.parse(JSON.stringify(no)), { allowed: false, reasons: [], errors: [], skill: 'heroa:sleep' });

    // The runtime agrees: at L3, the permitted skill runs and the other is blocked.
    await client.agents.setPromotion(agent.id, 'L3_autonomous');
    const started = await client.agents.run(agent.id, {
      calls: [{ skill: 'heroa:echo', args: {} }, { skill: 'heroa:sleep', args: { ms: 1 } }],
    });
    const run = await client.runs.wait(started.id, { timeout: 20_000 });
    assert.deepEqual([run.actionsExecuted, run.actionsBlocked], [1, 1]);
  });
});

test('a PolicyEngine without an agent asks for one; bad documents name the field', () => {
  const engine = new PolicyEngine('permit(principal, action, resource);');
  assert.throws(() => engine.check('x'), (e) => e instanceof InvalidArgumentError && e.field === 'agent');
  const agent = { id: 'ag_1', name: 'a', region: 'us-east', promotion: 'L3_autonomous' };
  assert.equal(engine.check('x', { agent }).allowed, true);
  assert.equal(engine.bind(agent).check('x').allowed, true);
  assert.throws(() => engine.check('x', { agent, kind: 'delete' }), (e) => e.field === 'kind');
  assert.throws(() => engine.check('x', { agent, context: 7 }), (e) => e.field === 'context');
  assert.throws(() => new PolicyEngine('permit(principal,'), (e) => e instanceof InvalidArgumentError && e.field === 'document');
  assert.throws(() => new PolicyEngine(42), (e) => e.field === 'documents');
});
