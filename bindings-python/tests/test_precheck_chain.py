"""``policies.precheck`` of a sub-agent answers what the runtime decides: its own
envelope under its parent's, on both transports, with the same explanation the
runtime records when it blocks the call."""

from __future__ import annotations

from conftest import PERMIT_ALL, WAIT, Env

PARENT_POLICY = (
    'permit(principal, action == Action::"skill:invoke", resource) '
    'when { resource.name == "hubspot:contact:read" };'
)


def test_a_sub_agents_precheck_includes_its_parents_envelope(env: Env) -> None:
    c = env.client
    parent = env.agent("parent", "L3_autonomous", PARENT_POLICY)
    dep = c.deploy("agent", template="batch-processor", parent_agent_id=parent.id)
    child_id = dep.handle
    assert child_id is not None
    c.policies.create(agent_id=child_id, document=PERMIT_ALL)
    c.agents.update(child_id, template="sequence")
    c.agents.set_promotion(agent_id=child_id, level="L3_autonomous")

    engine = c.policies.precheck(child_id)
    assert engine is not None
    assert engine.check("hubspot:contact:read").allowed
    write = engine.check("slack:post")
    assert not write.allowed
    assert write.denied_by is not None and write.denied_by["agent_id"] == parent.id
    assert write.explain().startswith(f"parent agent parent ({parent.id}): ")

    run = c.agents.run(agent_id=child_id, input={"calls": [{"skill": "slack:post"}]})
    run = c.runs.wait(run.id, timeout=WAIT)
    assert run.status == "blocked"
    blocked = [e for e in c.runs.audit(run.id).events if e.type == "action.blocked"]
    assert blocked and blocked[0].data["reason"] == write.explain()
