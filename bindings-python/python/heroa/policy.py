"""The local policy pre-check.

:class:`PolicyEngine` compiles an agent's policy envelope (Cedar in the Heroa dialect:
``0.50`` decimals, ``x in ["a", "b"]`` sets) once and answers skill-call checks in
microseconds, with the same answer the runtime gives before every skill call and the
policies that decided it::

    engine = heroa.policy.PolicyEngine({"po_1": SEED_POLICY})
    d = engine.check("hubspot:contact:read", agent=agent, run_cost_usd=0.25)
    d.allowed, d.reasons, d.explain()

``client.policies.precheck(agent_id)`` fetches the envelope in force and returns an
engine already bound to that agent and to the skills registered with the control
plane, so ``engine.check("slack:post")`` needs nothing else.

The request seen by Cedar: principal ``Agent::"<id>"`` {id, name, region, promotion};
action ``Action::"skill:invoke"``; resource ``Skill::"<name>"`` {name, kind, external,
cost_usd (decimal)}; context ``context`` plus ``run_cost_usd`` (decimal). Numbers
with a fraction and every number under a key ending in ``_usd`` become decimals.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import _native
from .types import CompiledPolicy

__all__ = ["PolicyEngine", "Decision", "PolicyReason", "compile"]

#: The answer of a check: ``allowed``, ``reasons`` (the deciding policies),
#: ``errors``, ``skill``, ``explain()``, ``to_dict()`` and ``d["allowed"]``.
Decision = _native.Decision
#: A policy that decided: ``policy_id`` (``<document id>#<n>``), ``effect``
#: (``permit``/``forbid``), ``document_id``, ``line``.
PolicyReason = _native.PolicyReason

Documents = Union[str, Mapping[str, str], Iterable[Tuple[str, str]]]
AgentLike = Union[Mapping[str, Any], Any]
SkillLike = Union[str, Mapping[str, Any], Any]

_AgentTuple = Tuple[str, str, str, str]


def _documents(documents: Documents) -> List[Tuple[str, str]]:
    if isinstance(documents, str):
        return [("policy", documents)]
    if isinstance(documents, Mapping):
        return [(str(k), str(v)) for k, v in documents.items()]
    return [(str(i), str(t)) for i, t in documents]


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _agent(agent: AgentLike) -> _AgentTuple:
    return (
        str(_get(agent, "id", "")),
        str(_get(agent, "name", "")),
        str(_get(agent, "region", "")),
        str(_get(agent, "promotion", "")),
    )


def compile(document: str) -> CompiledPolicy:  # noqa: A001 - heroa.policy.compile
    """Translates and parses one policy document without storing it: the plain Cedar,
    every rewrite with its line and column, and the number of policies. An invalid
    document raises :class:`heroa.InvalidArgumentError` (``field == "document"``,
    ``details["diagnostics"]`` with 1-based ``line``/``column``)."""
    return CompiledPolicy(json.loads(_native.compile_policy(document)))


class PolicyEngine:
    """A compiled policy envelope. ``documents`` is ``{document id: text}``, a
    sequence of ``(id, text)`` pairs, or one text. Policy ids in decisions are
    ``<document id>#<index in the document>``. An invalid document raises
    :class:`heroa.InvalidArgumentError`; no documents give an engine that denies
    everything."""

    __slots__ = ("_engine", "_bound", "_skills")

    def __init__(
        self,
        documents: Documents,
        *,
        agent: Optional[AgentLike] = None,
        skills: Optional[Iterable[Any]] = None,
    ) -> None:
        self._init(_native.PolicyEngine(_documents(documents)), agent, skills)

    def _init(
        self,
        engine: _native.PolicyEngine,
        agent: Optional[AgentLike],
        skills: Optional[Iterable[Any]],
    ) -> None:
        self._engine: _native.PolicyEngine = engine
        # The same compiled set with the agent held natively (the fast path).
        self._bound: Optional[_native.PolicyEngine] = (
            None if agent is None else engine.bind(*_agent(agent))
        )
        self._skills: Dict[str, Tuple[str, bool, float]] = {}
        if skills is not None:
            self._add_skills(skills)

    @classmethod
    def _wrap(
        cls,
        engine: _native.PolicyEngine,
        agent: Optional[AgentLike],
        skills: Optional[Iterable[Any]],
    ) -> "PolicyEngine":
        self = cls.__new__(cls)
        self._init(engine, agent, skills)
        return self

    def _add_skills(self, skills: Iterable[Any]) -> None:
        for s in skills:
            self._skills[str(_get(s, "name"))] = (
                str(_get(s, "kind", "read")),
                bool(_get(s, "external", False)),
                float(_get(s, "cost_usd", 0.0)),
            )

    @property
    def policy_count(self) -> int:
        """Number of policies across all documents."""
        return self._engine.policy_count

    def bind(self, agent: AgentLike, skills: Optional[Iterable[Any]] = None) -> "PolicyEngine":
        """The same compiled envelope with a default ``agent`` (an ``Agent`` or a
        mapping with ``id``, ``name``, ``region``, ``promotion``) and a table of skills
        (``SkillInfo`` objects or mappings) used when ``check`` gets only a name."""
        out = PolicyEngine._wrap(self._engine, agent, None)
        out._skills = dict(self._skills)
        if skills is not None:
            out._add_skills(skills)
        return out

    def check(
        self,
        skill: SkillLike,
        *,
        run_cost_usd: float = 0.0,
        context: Optional[Mapping[str, Any]] = None,
        kind: Optional[str] = None,
        external: Optional[bool] = None,
        cost_usd: Optional[float] = None,
        agent: Optional[AgentLike] = None,
    ) -> Decision:
        """Decides whether the agent may invoke ``skill`` now.

        ``skill`` is a name (its kind, external flag and cost come from the bound
        skill table, else ``read``/``False``/``0.0``), a ``SkillInfo`` or a mapping;
        ``kind``, ``external`` and ``cost_usd`` override. ``run_cost_usd`` is the
        run's spend before this call; ``context`` adds attributes to Cedar's context.
        """
        if isinstance(skill, str):
            name = skill
            known = self._skills.get(name)
            k, ext, cost = known if known is not None else ("read", False, 0.0)
        else:
            name = str(_get(skill, "name"))
            k = str(_get(skill, "kind", "read"))
            ext = bool(_get(skill, "external", False))
            cost = float(_get(skill, "cost_usd", 0.0))
        if kind is not None:
            k = kind
        if external is not None:
            ext = external
        if cost_usd is not None:
            cost = cost_usd
        if context is not None and type(context) is not dict:
            context = dict(context)
        if agent is None:
            bound = self._bound
            if bound is None:
                from .errors import InvalidArgumentError

                raise InvalidArgumentError(
                    "agent is required: pass agent=… or use an engine bound to an agent "
                    "(client.policies.precheck(agent_id) or engine.bind(agent))",
                    field="agent",
                )
            return bound.check_bound(name, k, ext, cost, run_cost_usd, context)
        a = _agent(agent)
        return self._engine.check(a[0], a[1], a[2], a[3], name, k, ext, cost, run_cost_usd, context)

    def check_request(self, request: Mapping[str, Any]) -> Decision:
        """Decides a whole request in the wire form of the shared test vectors:
        ``{"agent": {…}, "skill": {…}, "run_cost_usd": …, "context": {…}}``."""
        return self._engine.check_json(json.dumps(request))

    def __repr__(self) -> str:
        bound = f", agent={self._bound.agent_id!r}" if self._bound is not None else ""
        return f"PolicyEngine(policies={self.policy_count}{bound})"

