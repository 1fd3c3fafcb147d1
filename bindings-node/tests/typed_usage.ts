// Type-checked by `tsc --strict` (run_tests.sh): the declarations fit real use.
import {
  Heroa,
  HeroaClient,
  HeroaError,
  InvalidArgumentError,
  heroa,
  deploy,
  type Agent,
  type Run,
  type Page,
  type Deployment,
  type SkillOutcome,
  type VaultEntry,
  PolicyEngine,
  policy,
  sse,
} from '@heroa/sdk';

async function main(): Promise<void> {
  const client = Heroa.fromEnv();
  const agent: Agent = await client.agents.register({ name: 'typed', region: 'us-east', approvalWindow: '1h' });
  await client.policies.create(agent.id, 'permit(principal, action, resource);');
  await client.agents.setPromotion(agent.id, 'L3_autonomous');
  const started: Run = await client.agents.run(agent.id, { calls: [] });
  const controller = new AbortController();
  const run: Run = await client.runs.wait(started.id, { timeout: 10_000, signal: controller.signal });
  const cost: string = run.costUsd;
  const page: Page<Agent> = await client.agents.list({ limit: 10 });
  for await (const a of client.agents.list()) console.log(a.name);
  for await (const ev of client.runs.stream(run.id)) console.log(ev.event, ev.data);
  const dep = await client.deploy({ mode: 'agent', template: 'noop', ttl: '30m' });
  try {
    await client.agents.get('nope');
  } catch (e) {
    if (e instanceof InvalidArgumentError) console.log(e.field);
    else if (e instanceof HeroaError) console.log(e.kind);
  }
  console.log(cost, page.items.length, page.nextCursor, dep.handle);

  // JavaScript skills and templates.
  const local = Heroa.embedded();
  local
    .skill('crm:read', { kind: 'read', costUsd: 0.02 }, async (call) => {
      call.signal.throwIfAborted();
      return { token: call.secret('tok').length, args: call.args, run: call.runId };
    })
    .skill('crm:plain', (call) => call.args);
  local.template('loop', async (ctx) => {
    const out: SkillOutcome = await ctx.call('crm:read', { id: 1 });
    return out.outcome === 'executed' ? out.output : { cost: ctx.costUsd, input: ctx.input };
  });
  local.close();

  // The guides' forms.
  const guide = new HeroaClient({ apiKey: process.env.HEROA_API_KEY });
  const a2 = await guide.agents.register({ name: 'lead-research-v1', runtime: 'r1', region: 'us-east' });
  const entry: VaultEntry = await guide.vault.put({ agentId: a2.id, key: 'hubspot_token', value: 'v' });
  await guide.policies.create({ agentId: a2.id, document: 'permit(principal, action, resource);' });
  await guide.agents.setPromotion({ agentId: a2.id, level: 'L1_notify' });
  const r2 = await guide.agents.run({ agentId: a2.id, input: { hubspot_list_id: 'hs-list-007' } });
  const done = await guide.runs.wait(r2.id, { timeoutMs: 120_000 });
  await guide.agents.update({ agentId: a2.id, schedule: '0 3 * * *', webhook: { url: 'https://x.example/h', signingSecret: 's' } });
  const worker: Deployment = await heroa.deploy({ mode: 'agent', template: 'batch-processor', region: 'us-east', ttl: '30m' });
  const out: Run = await worker.run({ input: { items: [], task: 'embed' } });
  const app = await deploy({ mode: 'app', resourceTier: 'small', source: { repo: 'github.com/t/api', ref: 'HEAD' } });
  const engine = await guide.policies.precheck(a2.id);
  if (engine) {
    const d = engine.check('hubspot:contact:read', { runCostUsd: '0.25', context: { source: 'crm' } });
    console.log(d.allowed, d.reasons.map((r) => r.policyId), d.explain());
  }
  const local2 = new PolicyEngine({ po_1: 'permit(principal, action, resource);' });
  console.log(local2.check({ name: 's', kind: 'write' }, { agent: a2 }).allowed, policy.compile('permit(principal, action, resource);').cedar);
  const decoder = new sse.Decoder();
  for (const ev of decoder.feed('data: {"x":1}\n\n')) console.log(ev.event, ev.id, JSON.parse(ev.data), ev.retry);
  console.log(entry.fingerprint, done.status, out.output, app.url, app.expiresAt, heroa.client.agents);
}

void main();
