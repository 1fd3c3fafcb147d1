// The onboarding guide's TypeScript, steps 1 and 3–7, as printed (the guide's
// code is also valid JavaScript). Run by guides.test.mjs on the embedded runtime
// and against `heroa serve` (HEROA_BASE_URL / HEROA_API_KEY), with
// HUBSPOT_PRIVATE_APP_TOKEN and HEROA_WEBHOOK_SECRET set. Lines marked "test:" are
// not the guide's: they print what the test checks.
import { HeroaClient } from "@heroa/sdk";

const client = new HeroaClient({ apiKey: process.env.HEROA_API_KEY });

const agent = await client.agents.register({
  name: "lead-research-v1",
  description: "Enriches CRM leads with firmographic data. Runs nightly.",
  runtime: "r1",           // R1 is the only supported runtime
  region: "us-east"        // see step 2 for region options
});

console.log(agent.id);    // e.g. ag_01hzxk...

// Bind a HubSpot token to the vault under a named key
const vaultEntry = await client.vault.put({
  agentId: agent.id,
  key: "hubspot_token",
  value: process.env.HUBSPOT_PRIVATE_APP_TOKEN,
  description: "HubSpot private-app token for lead-research agent"
});

console.log(vaultEntry.fingerprint); // SHA-256 of the value, for rotation tracking

const policy = await client.policies.create({
  agentId: agent.id,
  document: `
    permit(principal, action == Action::"skill:invoke", resource)
    when {
      resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]
      && context.run_cost_usd < 0.50
    };
  `
});

console.log(policy.id); // po_01hzxm...

await client.agents.setPromotion({
  agentId: agent.id,
  level: "L0_shadow"
});

// To promote after reviewing audit logs:
await client.agents.setPromotion({
  agentId: agent.id,
  level: "L1_notify"
});

const run = await client.agents.run({
  agentId: agent.id,
  input: { hubspot_list_id: "hs-list-007" }
});

// Poll until complete (or use a webhook — see step 7)
const result = await client.runs.wait(run.id, { timeoutMs: 120_000 });

console.log(result.status);     // "complete" | "partial" | "blocked" | "failed"
console.log(result.cost_usd);
console.log(result.audit_url);  // link to the immutable audit record

await client.agents.update({
  agentId: agent.id,
  schedule: "0 3 * * *",   // 03:00 UTC daily
  webhook: {
    url: "https://your-service.example.com/heroa-events",
    signingSecret: process.env.HEROA_WEBHOOK_SECRET
  }
});

// test: what the test checks.
const updated = await client.agents.get(agent.id);
console.log(`test: ${JSON.stringify({ promotion: updated.promotion, schedule: updated.schedule, webhook: updated.webhook?.url, nextRunAt: Boolean(updated.nextRunAt) })}`);
