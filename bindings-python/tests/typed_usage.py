"""A typed program using the public API; `mypy --strict` must accept it
(tests/test_typing.py). Not collected by pytest (no test_ prefix)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, Dict, List, Optional

import heroa
from heroa.policy import Decision, PolicyEngine


def sync_flow() -> None:
    client: heroa.Client = heroa.Client.embedded()
    rt: Optional[heroa.Runtime] = client.runtime
    assert rt is not None

    @client.skill("hubspot:contact:read", kind="read", cost_usd=0.02)
    def read(call: heroa.SkillCall) -> Dict[str, Any]:
        token: str = call.secret("hubspot_token")
        return {"args": call.args, "agent": call.agent_id, "run": call.run_id, "n": len(token)}

    async def enrich(call: heroa.SkillCall) -> Dict[str, Any]:
        return {"ok": True}

    client.register_skill("hubspot:contact:enrich", "write", 0.05, False, handler=enrich)

    @client.template("loop")
    def loop(ctx: heroa.TemplateContext) -> Dict[str, Any]:
        out: Dict[str, Any] = ctx.call("hubspot:contact:read", {"id": 1})
        return {"out": out, "input": ctx.input, "cost": ctx.cost_usd}

    agent: heroa.Agent = client.agents.register(
        name="typed", region="us-east", description="d", runtime="r1", template="loop"
    )
    agent_id: str = agent.id
    region: str = agent["region"]
    entry: heroa.VaultEntry = client.vault.put(agent_id=agent_id, key="hubspot_token", value="v")
    fingerprint: str = entry.fingerprint
    policy: heroa.Policy = client.policies.create(agent_id=agent_id, document="permit(principal, action, resource);")
    rules: List[str] = [t.rule for t in policy.translations]
    client.agents.set_promotion(agent_id=agent_id, level="L3_autonomous")
    run: heroa.Run = client.agents.run(agent_id=agent_id, input={"id": 1})
    done: heroa.Run = client.runs.wait(run.id, timeout=10)
    cost: Decimal = done.cost_usd
    status: str = done.status
    audit: heroa.AuditRecord = client.runs.audit(run.id)
    first: heroa.AuditEvent = audit.events[0]
    valid: bool = client.runs.verify_audit(run.id).valid
    for event in client.runs.stream(run.id):
        eid: int = event.id
        finished: bool = event.is_done
    engine: Optional[PolicyEngine] = client.policies.precheck(agent_id)
    if engine is not None:
        d: Decision = engine.check("hubspot:contact:read", run_cost_usd=0.25)
        allowed: bool = d.allowed
        why: str = d.explain()
        ids: List[str] = [r.policy_id for r in d.reasons]
    approvals: List[heroa.Approval] = client.approvals.list(status="pending").items
    inbox: heroa.SyncPage[heroa.InboxItem] = client.workspace.inbox()
    skills: List[heroa.SkillInfo] = client.workspace.skills()
    deliveries: List[heroa.Delivery] = list(client.webhooks.deliveries(agent_id=agent_id))
    verified: heroa.webhooks.Verified = heroa.webhooks.verify(
        heroa.webhooks.sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", b"{}"), b"{}",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )
    events: List[heroa.sse.Event] = heroa.sse.Decoder().feed(b"data: x\n\n")
    data: Dict[str, Any] = done.to_dict()
    compiled: heroa.CompiledPolicy = heroa.policy.compile("permit(principal, action, resource);")
    try:
        client.agents.get("nope")
    except heroa.NotFoundError as e:
        field: Optional[str] = e.field
        message: str = e.message
    except heroa.HeroaError as e:
        kind: str = e.kind
    with heroa.Server(rt) as server:
        remote: heroa.Client = server.client()
        url: str = server.url
        key: str = server.api_key
        agents: List[heroa.Agent] = list(remote.agents.list())
    print(region, fingerprint, rules, cost, status, first, valid, approvals, inbox, skills, data, compiled, url, key, agents)
    print(deliveries, verified.scheme, events)


def deploy_flow() -> None:
    dep: heroa.Deployment = heroa.deploy(
        mode="app",
        region="us-east",
        resource_tier="small",
        ttl="2h",
        source={"repo": "github.com/tenant/generated-api", "ref": "HEAD"},
        policy={"egress": "allow-list", "allow_list": ["api.github.com"]},
    )
    url: Optional[str] = dep.url
    same: str = dep["url"]
    client = heroa.Client.embedded()
    worker = client.deploy(mode="agent", template="batch-processor", region="us-east", ttl="30m")
    run: heroa.Run = client.agents.run(agent_id=worker.handle or "", input={"items": [], "task": "embed"})
    # The deploy guide's handle: blocking methods on a Client's deployments.
    out: heroa.Run = worker.run(input={"items": ["a"], "task": "embed"})
    started: heroa.Run = worker.run({"items": []}, wait=False, timeout=None)
    waited: heroa.Run = worker.run(timeout=30.5)
    moved: heroa.Deployment = worker.extend("1h")
    deps: List[heroa.Deployment] = client.deployments.list(limit=10).items
    fetched: heroa.Deployment = client.deployments.get(worker.id)
    again: heroa.Run = fetched.run(input=None)
    longer: heroa.Deployment = client.deployments.extend(worker.id, "24h")
    gone: heroa.Deployment = client.deployments.delete(worker.id)
    stopped: heroa.Deployment = gone.delete()
    either: List[heroa.DeploymentData] = [dep, worker, heroa.DeploymentData.from_dict(dep)]
    print(out.output, started.status, waited.cost_usd, moved.ttl, again.id, stopped, either)
    rt = client.runtime
    if rt is not None:
        pem: str = rt.gateway_ca_pem()
        host, port = rt.gateway_address()
        print(pem, host + str(port))
    print(url, same, run, deps, longer, gone.status)


async def async_flow() -> None:
    client: heroa.AsyncClient = heroa.AsyncClient.embedded()
    agent: heroa.Agent = await client.agents.register(name="typed", region="eu-west")
    run: heroa.Run = await client.agents.run(agent.id)
    done: heroa.Run = await client.runs.wait(run.id, timeout=5.0)
    async for event in client.runs.stream(run.id):
        kind: str = event.event
    engine: Optional[PolicyEngine] = await client.policies.precheck(agent.id)
    # The deploy guide's handle on an AsyncClient: coroutine methods.
    worker: heroa.AsyncDeployment = await client.deploy(
        mode="agent", template="batch-processor", region="us-east", ttl="30m"
    )
    out: heroa.Run = await worker.run(input={"items": ["a"], "task": "embed"})
    started: heroa.Run = await worker.run(wait=False)
    waited: heroa.Run = await worker.run({"items": []}, timeout=5.0)
    longer: heroa.AsyncDeployment = await worker.extend("24h")
    fetched: heroa.AsyncDeployment = await client.deployments.get(worker.id)
    listed: List[heroa.AsyncDeployment] = [d async for d in client.deployments.list()]
    gone: heroa.AsyncDeployment = await fetched.delete()
    data: heroa.DeploymentData = gone
    print(done, engine, out.output, started.status, waited.id, longer.ttl, listed, data)


if __name__ == "__main__":
    sync_flow()
    asyncio.run(async_flow())
