// JavaScript skills and templates run by the embedded runtime: plain and async
// functions, errors that fail one call (never the process), vault reads only while
// a skill runs, cancellation as an AbortSignal, and the refusals that name the field.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { Heroa, CancelledError, FailedPreconditionError, InvalidArgumentError } from '../lib/index.mjs';
import { PERMIT_ALL, REPO, startServer } from './helpers.mjs';

/** An L3 agent under a permit-all policy running `template`, with vault key `tok`. */
async function agentOn(client, template, secret = 'tok-value-0123456789') {
  const agent = await client.agents.register({ name: `a-${template}`, region: 'us-east', template });
  await client.policies.create(agent.id, PERMIT_ALL);
  await client.agents.setPromotion(agent.id, 'L3_autonomous');
  await client.vault.put({ agentId: agent.id, key: 'tok', value: secret });
  return agent;
}

test('skills and templates written in JavaScript run inside a run', async () => {
  const client = Heroa.embedded();
  const SECRET = 'sk-live-a-very-secret-value-42';
  let leaked = null;
  client
    .skill('crm:lookup', { kind: 'read', costUsd: '0.02', description: 'Looks a contact up.' }, async (call) => {
      await new Promise((r) => setTimeout(r, 5));
      return { args: call.args, agentId: call.agentId, runId: call.runId, tokenLength: call.secret('tok').length };
    })
    .skill('crm:sync', (call) => ({ plain: true, n: call.args.n + 1 }))
    .skill('crm:throws', () => {
      throw new RangeError('out of range');
    })
    .skill('crm:rejects', async () => Promise.reject(new Error('rejected')))
    .skill('crm:cyclic', () => {
      const o = {};
      o.self = o;
      return o;
    })
    .skill('crm:leak', (call) => {
      leaked = call;
      return call.secret('tok');
    });
  client.template('loop', async (ctx) => {
    const out = { input: ctx.input, runId: ctx.runId, agentId: ctx.agentId };
    for (const skill of ['crm:lookup', 'crm:sync', 'crm:throws', 'crm:rejects', 'crm:cyclic', 'crm:leak', 'crm:missing']) {
      out[skill] = await ctx.call(skill, { n: 1, snake_key: true });
    }
    out.cost = ctx.costUsd;
    return out;
  });
  const skills = await client.workspace.skills();
  const lookup = skills.find((s) => s.name === 'crm:lookup');
  assert.deepEqual([lookup.kind, lookup.costUsd, lookup.description], ['read', '0.02', 'Looks a contact up.']);
  assert.ok((await client.workspace.templates()).some((t) => t.name === 'loop'));

  const agent = await agentOn(client, 'loop', SECRET);
  const started = await client.agents.run(agent.id, { hub_list: 'hs-7' });
  const run = await client.runs.wait(started.id, { timeout: 20_000 });
  assert.equal(run.status, 'complete', run.error);
  const out = run.output;
  assert.deepEqual(out.input, { hub_list: 'hs-7' }, 'the input keeps its own names');
  assert.deepEqual([out.runId, out.agentId], [run.id, agent.id]);
  assert.deepEqual(out['crm:lookup'], {
    outcome: 'executed',
    output: { args: { n: 1, snake_key: true }, agentId: agent.id, runId: run.id, tokenLength: SECRET.length },
  });
  assert.deepEqual(out['crm:sync'], { outcome: 'executed', output: { plain: true, n: 2 } });
  assert.deepEqual(out['crm:throws'], { outcome: 'failed', error: 'RangeError: out of range' });
  assert.deepEqual(out['crm:rejects'], { outcome: 'failed', error: 'Error: rejected' });
  assert.equal(out['crm:cyclic'].outcome, 'failed');
  assert.match(out['crm:cyclic'].error, /not JSON/);
  assert.equal(out['crm:missing'].outcome, 'failed');
  assert.equal(out.cost, '0.02', 'only the executed priced call is charged');

  // The secret a skill returned is scrubbed from everything the run records.
  const record = await client.runs.audit(run.id);
  const everything = JSON.stringify(run) + JSON.stringify(record);
  assert.ok(!everything.includes(SECRET), 'a vault value reached the run record');
  // After its call, a skill's handle cannot read the vault.
  assert.throws(() => leaked.secret('tok'), FailedPreconditionError);
});

test('a template that throws fails its run; the process goes on', async () => {
  const client = Heroa.embedded();
  client.template('broken', () => {
    throw new Error('the loop broke');
  });
  client.template('undefined-result', () => undefined);
  const a = await agentOn(client, 'broken');
  const failed = await client.runs.wait((await client.agents.run(a.id, {})).id, { timeout: 20_000 });
  assert.equal(failed.status, 'failed');
  assert.match(failed.error, /Error: the loop broke/);
  const b = await agentOn(client, 'undefined-result');
  const done = await client.runs.wait((await client.agents.run(b.id, {})).id, { timeout: 20_000 });
  assert.equal(done.status, 'complete');
  assert.equal(done.output, null);
});

test('cancelling a run aborts the skill\'s signal', async () => {
  const client = Heroa.embedded();
  let resolveSeen;
  const seen = new Promise((r) => (resolveSeen = r));
  let entered;
  const inSkill = new Promise((r) => (entered = r));
  client.skill('slow', { kind: 'read' }, (call) => {
    entered();
    return new Promise((resolve) => {
      call.signal.addEventListener('abort', () => {
        resolveSeen({ reason: call.signal.reason, cancelled: call.cancelled });
        resolve('late');
      });
    });
  });
  client.template('waits', async (ctx) => ctx.call('slow', {}));
  const agent = await agentOn(client, 'waits');
  const run = await client.agents.run(agent.id, {});
  // A pending SDK call keeps the process alive while the run works (a registered
  // handler alone does not: see the README's "Process lifetime").
  const ended = client.runs.wait(run.id, { timeout: 20_000 });
  await inSkill;
  await client.runs.cancel(run.id);
  const { reason, cancelled } = await seen;
  assert.ok(reason instanceof CancelledError, String(reason));
  assert.equal(cancelled, true);
  assert.equal((await ended).status, 'cancelled');
});

test('bad registrations name the field; a remote client cannot host skills', async () => {
  const client = Heroa.embedded();
  assert.throws(() => client.skill('s', { kind: 'delete' }, () => 1), (e) => e instanceof InvalidArgumentError && e.field === 'kind');
  assert.throws(() => client.skill('s', { costUsd: '-1' }, () => 1), (e) => e instanceof InvalidArgumentError && e.field === 'costUsd');
  assert.throws(() => client.skill('s', { costUsd: 0.1234567 }, () => 1), (e) => e.field === 'costUsd');
  assert.throws(() => client.skill('s', {}, 'not a function'), TypeError);
  const server = await startServer();
  try {
    const remote = new Heroa({ baseUrl: server.baseUrl, apiKey: server.apiKey });
    assert.throws(() => remote.skill('s', () => 1), FailedPreconditionError);
    assert.throws(() => remote.template('t', () => 1), FailedPreconditionError);
  } finally {
    await server.stop();
  }
});

test('a closed client refuses calls; a process with skills exits by itself', async () => {
  const client = Heroa.embedded();
  await client.agents.register({ name: 'before', region: 'us-east' });
  client.close();
  client.close();
  await assert.rejects(client.agents.list(), FailedPreconditionError);

  const script = `
    const { Heroa } = require(${JSON.stringify(join(REPO, 'bindings-node'))});
    const c = new Heroa();
    c.skill('s', async (call) => call.args.x * 2);
    c.template('t', async (ctx) => ctx.call('s', { x: 21 }));
    (async () => {
      const a = await c.agents.register({ name: 'a', region: 'us-east', template: 't' });
      await c.policies.create(a.id, 'permit(principal, action, resource);');
      await c.agents.setPromotion(a.id, 'L3_autonomous');
      const r = await c.runs.wait((await c.agents.run(a.id, {})).id);
      console.log(JSON.stringify(r.output));
    })();
  `;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HEROA_')));
  const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000, env });
  assert.equal(out.status, 0, out.stderr);
  assert.equal(out.stdout.trim(), '{"outcome":"executed","output":42}');
});
