"""The onboarding guide, "Onboard an agent in ten minutes", steps 1-6 on the embedded runtime:
register an identity, choose a region, bind a credential, set the policy envelope,
run in L0 shadow (nothing written), promote, run, and print status, cost and the
audit URL. No account, no network.

Run: `python examples/python/onboarding.py` (set HEROA_DATA=path to persist).
"""

from __future__ import annotations

import os
import secrets
from typing import Any, Dict, List

import heroa

# The policy of the onboarding guide step 4, exactly as written there.
SEED_POLICY = """
    permit(principal, action == Action::"skill:invoke", resource)
    when {
      resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]
      && context.run_cost_usd < 0.50
    };
"""


def register_host_code(client: heroa.Client) -> None:
    # Skills: what the agent may do. Real code would call HubSpot here.
    @client.skill("hubspot:contact:read", kind="read", external=True, cost_usd=0.02)
    def read_contacts(call: heroa.SkillCall) -> Dict[str, Any]:
        return {"list_id": call.args.get("list_id", ""), "contacts": ["c-101", "c-102", "c-103"]}

    @client.skill("hubspot:contact:enrich", kind="write", external=True, cost_usd=0.05)
    async def enrich(call: heroa.SkillCall) -> Dict[str, Any]:
        token = call.secret("hubspot_token")  # authenticates the call; never leaves the skill
        assert token
        return {"contact": call.args["contact"], "employees": 420, "industry": "logistics"}

    @client.skill("slack:post", kind="write", external=True, cost_usd=0.01)
    def post(call: heroa.SkillCall) -> Dict[str, Any]:
        return {"ok": True}

    # The agent's run loop.
    @client.template("lead-research")
    def lead_research(ctx: heroa.TemplateContext) -> Dict[str, Any]:
        read = ctx.call("hubspot:contact:read", {"list_id": ctx.input["hubspot_list_id"]})
        if read["outcome"] == "executed":
            contacts: List[Any] = read["output"]["contacts"]
        else:  # L0 shadow: the external read was recorded, not made; use a dry-run list.
            contacts = ["c-shadow"]
        enriched = [ctx.call("hubspot:contact:enrich", {"contact": c}) for c in contacts]
        # Not in the envelope: blocked, audited, not charged; the run ends `partial`.
        slack = ctx.call("slack:post", {"channel": "#leads", "text": "enriched"})
        return {"contacts": len(contacts), "enriched": enriched, "slack": slack}


def main() -> None:
    client = heroa.Client.embedded(os.environ.get("HEROA_DATA"))
    register_host_code(client)

    # Step 1 + 2: register a stable identity in a region.
    agent = client.agents.register(
        name=f"lead-research-{secrets.token_hex(3)}",
        description="Enriches CRM leads with firmographic data. Runs nightly.",
        runtime="r1",  # R1 is the only supported runtime
        region="us-east",
        template="lead-research",
    )
    print(f"step 1  agent registered: {agent.id} ({agent.name})")
    print(f"step 2  region: {agent.region} (fixed for the life of this identity)")

    # Step 3: bind a credential. The value never comes back; the fingerprint does.
    entry = client.vault.put(
        agent_id=agent.id,
        key="hubspot_token",
        value=os.environ.get("HUBSPOT_PRIVATE_APP_TOKEN", "pat-demo-0000"),
        description="HubSpot private-app token for lead-research agent",
    )
    print(f"step 3  vault entry {entry.key} fingerprint {entry.fingerprint}")

    # Step 4: the policy envelope, exactly as the docs write it.
    policy = client.policies.create(agent_id=agent.id, document=SEED_POLICY)
    print(f"step 4  policy {policy.id} v{policy.version} ({len(policy.translations)} translation(s) to plain Cedar)")
    for t in policy.translations:
        print(f"          line {t.line} col {t.column}: {t.original} -> {t.translated}")
    engine = client.policies.precheck(agent.id)
    assert engine is not None
    print(f"        pre-check slack:post -> {engine.check('slack:post').explain()}")

    # Step 5: L0 shadow first — runs fully, writes nothing, no external calls.
    client.agents.set_promotion(agent_id=agent.id, level="L0_shadow")
    run = client.agents.run(agent_id=agent.id, input={"hubspot_list_id": "hs-list-007"})
    shadow = client.runs.wait(run.id, timeout=120)
    print(
        f"step 5  L0 shadow run {shadow.id}: {shadow.status} — {shadow.actions_shadowed} shadowed, "
        f"{shadow.actions_executed} executed, {shadow.actions_blocked} blocked, cost ${shadow.cost_usd}"
    )

    # Promote after reviewing the audit trace.
    client.agents.set_promotion(agent_id=agent.id, level="L1_notify")
    print("        promoted to L1_notify")

    # Step 6: run and wait.
    run = client.agents.run(agent_id=agent.id, input={"hubspot_list_id": "hs-list-007"})
    result = client.runs.wait(run.id, timeout=120)
    print(f"step 6  run {result.id}")
    print(f"        status    {result.status}")  # "complete" | "partial" | "blocked" | "failed"
    print(f"        cost_usd  {result.cost_usd}")
    print(f"        audit_url {result.audit_url}")  # link to the immutable audit record
    verified = client.runs.verify_audit(result.id)
    print(f"        audit chain: {verified.events} events, valid = {verified.valid}")
    inbox = client.workspace.inbox().items
    if inbox:
        print(f"        inbox: {inbox[-1].message}")


if __name__ == "__main__":
    main()
