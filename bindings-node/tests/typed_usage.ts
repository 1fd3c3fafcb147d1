// Type-checked by `tsc --strict` (run_tests.sh): the declarations fit real use.
import { Heroa, HeroaError, InvalidArgumentError, type Agent, type Run, type Page } from '@heroa/sdk';

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
}

void main();
