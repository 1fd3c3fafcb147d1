// The onboarding guide's flow in Node, on the embedded runtime (no account needed):
// register an agent, store a secret, put it under a policy envelope, run it in
// shadow mode, promote it, run it for real, and verify its audit chain.
//
//   node examples/node/onboarding.mjs        (after `bash bindings-node/run_tests.sh`
//                                             or `npm run build` in bindings-node)
import { Heroa } from '../../bindings-node/lib/index.mjs';

const client = Heroa.fromEnv();

const agent = await client.agents.register({
  name: `lead-research-${Date.now().toString(36)}`,
  region: 'us-east',
  description: 'Researches inbound leads',
});
console.log(`step 1  agent registered: ${agent.id} (${agent.name})`);
console.log(`step 2  region: ${agent.region} (fixed for the agent's life)`);

const secret = await client.vault.put({ agentId: agent.id, key: 'crm_token', value: 'crm-token-from-your-secrets-manager' });
console.log(`step 3  vault entry ${secret.key} v${secret.version}, fingerprint ${secret.fingerprint.slice(0, 12)}…`);

await client.policies.create(
  agent.id,
  `permit(principal, action == Action::"skill:invoke", resource)
     when { resource.name in ["heroa:echo"] && context.run_cost_usd < 1.00 };`,
);
console.log('step 4  policy envelope in force');

const input = { calls: [{ skill: 'heroa:echo', args: { lead: 'c-101' } }, { skill: 'heroa:sleep', args: { ms: 1 } }] };
const shadow = await client.runs.wait((await client.agents.run(agent.id, input)).id);
console.log(
  `step 5  L0 shadow run ${shadow.id}: ${shadow.status} — ${shadow.actionsShadowed} shadowed, ${shadow.actionsExecuted} executed, ${shadow.actionsBlocked} blocked`,
);

await client.agents.setPromotion(agent.id, 'L3_autonomous');
const result = await client.runs.wait((await client.agents.run(agent.id, input)).id);
console.log(`step 6  L3 run ${result.id}: ${result.status}, cost $${result.costUsd}`);
const verified = await client.runs.verifyAudit(result.id);
console.log(`        audit chain: ${verified.events} events, valid = ${verified.valid}`);
