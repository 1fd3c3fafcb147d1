//! The local policy pre-check: the core's `PolicyEngine` (Cedar set compiled once),
//! checked with plain arguments so the hot path never goes through JSON.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use heroa::policy::{AgentInfo, CheckRequest, SkillInfo, SkillKind};

use crate::errors::to_pyerr;
use heroa_bridge::decode::decode;

#[pyclass(module = "heroa._native", frozen)]
pub struct PolicyEngine {
    engine: heroa::policy::PolicyEngine,
    /// The agent `check_bound` asks about.
    agent: Option<AgentInfo>,
}

impl PolicyEngine {
    pub fn from_core(engine: heroa::policy::PolicyEngine) -> PolicyEngine {
        PolicyEngine {
            engine,
            agent: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        agent: AgentInfo,
        skill: String,
        kind: &str,
        external: bool,
        cost_usd: f64,
        run_cost_usd: f64,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Decision> {
        let context = match context {
            None => serde_json::Map::new(),
            Some(c) if c.is_none() => serde_json::Map::new(),
            Some(c) => match py_to_json(c, 0)? {
                serde_json::Value::Object(m) => m,
                _ => {
                    return Err(to_pyerr(heroa::Error::invalid(
                        "context",
                        "context must be a mapping",
                    )));
                }
            },
        };
        let req = CheckRequest {
            agent,
            skill: SkillInfo {
                name: skill,
                kind: SkillKind::parse_field("kind", kind).map_err(to_pyerr)?,
                external,
                cost_usd,
            },
            run_cost_usd,
            context,
        };
        Ok(Decision(self.engine.check(&req)))
    }
}

/// A Python value (dict, list, tuple, str, int, float, bool, None) as JSON, without
/// going through JSON text.
fn py_to_json(obj: &Bound<'_, PyAny>, depth: u32) -> PyResult<serde_json::Value> {
    use serde_json::Value;
    let bad = |what: String| to_pyerr(heroa::Error::invalid("context", what));
    if depth > 64 {
        return Err(bad("context is nested too deeply".into()));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        if let Ok(v) = i.extract::<i64>() {
            return Ok(Value::from(v));
        }
        if let Ok(v) = i.extract::<u64>() {
            return Ok(Value::from(v));
        }
        return Err(bad("context integers must fit in 64 bits".into()));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return serde_json::Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| bad("context numbers must be finite".into()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.extract::<String>()?));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = serde_json::Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = k
                .cast::<PyString>()
                .map_err(|_| bad("context keys must be strings".into()))?
                .extract::<String>()?;
            m.insert(key, py_to_json(&v, depth + 1)?);
        }
        return Ok(Value::Object(m));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .map(|v| py_to_json(&v, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|v| py_to_json(&v, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    let type_name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    Err(bad(format!(
        "context values must be JSON-like (dict, list, str, number, bool, None); got {type_name}"
    )))
}

#[pymethods]
impl PolicyEngine {
    /// Compiles `(document id, text)` pairs; an invalid document raises
    /// `InvalidArgumentError` (field `document`, diagnostics in `details`).
    #[new]
    fn new(py: Python<'_>, documents: Vec<(String, String)>) -> PyResult<PolicyEngine> {
        let engine = py
            .detach(|| heroa::policy::PolicyEngine::new(&documents))
            .map_err(|e| to_pyerr(heroa::runtime::document_error(e)))?;
        Ok(PolicyEngine::from_core(engine))
    }

    /// The same compiled envelope, bound to one agent for `check_bound`.
    fn bind(
        &self,
        agent_id: String,
        agent_name: String,
        region: String,
        promotion: String,
    ) -> PolicyEngine {
        PolicyEngine {
            engine: self.engine.clone(),
            agent: Some(AgentInfo {
                id: agent_id,
                name: agent_name,
                region,
                promotion,
            }),
        }
    }

    /// Decides one skill call of the bound agent. `context` is a dict (or `None`).
    #[pyo3(signature = (skill, kind, external, cost_usd, run_cost_usd, context=None))]
    fn check_bound(
        &self,
        skill: String,
        kind: &str,
        external: bool,
        cost_usd: f64,
        run_cost_usd: f64,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Decision> {
        let Some(agent) = &self.agent else {
            return Err(to_pyerr(heroa::Error::invalid(
                "agent",
                "this engine is not bound to an agent",
            )));
        };
        self.decide(
            agent.clone(),
            skill,
            kind,
            external,
            cost_usd,
            run_cost_usd,
            context,
        )
    }

    /// Number of policies across all documents.
    #[getter]
    fn policy_count(&self) -> usize {
        self.engine.policy_count()
    }

    /// Decides one skill call. `context` is a dict (or `None`).
    #[pyo3(signature = (agent_id, agent_name, region, promotion, skill, kind, external, cost_usd, run_cost_usd, context=None))]
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        agent_id: String,
        agent_name: String,
        region: String,
        promotion: String,
        skill: String,
        kind: &str,
        external: bool,
        cost_usd: f64,
        run_cost_usd: f64,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Decision> {
        let agent = AgentInfo {
            id: agent_id,
            name: agent_name,
            region,
            promotion,
        };
        self.decide(
            agent,
            skill,
            kind,
            external,
            cost_usd,
            run_cost_usd,
            context,
        )
    }

    /// Decides a whole `CheckRequest` given as JSON (the shared vectors' form).
    fn check_json(&self, request: &str) -> PyResult<Decision> {
        let v: serde_json::Value = serde_json::from_str(request)
            .map_err(|e| to_pyerr(heroa::Error::invalid("request", e.to_string())))?;
        let req: CheckRequest = decode(v).map_err(to_pyerr)?;
        Ok(Decision(self.engine.check(&req)))
    }

    /// The bound agent's id.
    #[getter]
    fn agent_id(&self) -> Option<String> {
        self.agent.as_ref().map(|a| a.id.clone())
    }

    fn __repr__(&self) -> String {
        format!("PolicyEngine(policies={})", self.engine.policy_count())
    }
}

/// The answer of a check.
#[pyclass(module = "heroa._native", frozen)]
pub struct Decision(heroa::policy::Decision);

#[pymethods]
impl Decision {
    /// Whether the skill call may go ahead.
    #[getter]
    fn allowed(&self) -> bool {
        self.0.allowed
    }

    /// The determining policies (satisfied permits when allowed, satisfied forbids
    /// when forbidden, empty when nothing permits).
    #[getter]
    fn reasons(&self) -> Vec<PolicyReason> {
        self.0.reasons.iter().cloned().map(PolicyReason).collect()
    }

    /// Evaluation errors (a policy that errors is skipped, as in Cedar).
    #[getter]
    fn errors(&self) -> Vec<String> {
        self.0.errors.clone()
    }

    /// The skill checked.
    #[getter]
    fn skill(&self) -> String {
        self.0.skill.clone()
    }

    /// One line for people, e.g. `permitted by po_1#0 (line 1)`.
    fn explain(&self) -> String {
        self.0.explain()
    }

    /// The ancestor whose envelope denied a sub-agent's call (`agent_id`,
    /// `agent_name`, `no_envelope`), or `None`.
    #[getter]
    fn denied_by<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.0
            .denied_by
            .as_ref()
            .map(|by| {
                let d = PyDict::new(py);
                d.set_item("agent_id", &by.agent_id)?;
                d.set_item("agent_name", &by.agent_name)?;
                d.set_item("no_envelope", by.no_envelope)?;
                Ok(d)
            })
            .transpose()
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("allowed", self.0.allowed)?;
        let reasons = PyList::empty(py);
        for r in &self.0.reasons {
            reasons.append(PolicyReason(r.clone()).to_dict(py)?)?;
        }
        d.set_item("reasons", reasons)?;
        d.set_item("errors", self.0.errors.clone())?;
        d.set_item("skill", &self.0.skill)?;
        if let Some(by) = self.denied_by(py)? {
            d.set_item("denied_by", by)?;
        }
        Ok(d)
    }

    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        self.to_dict(py)?
            .get_item(key)?
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(key.to_string()))
    }

    fn __repr__(&self) -> String {
        format!(
            "Decision(allowed={}, explain={:?})",
            if self.0.allowed { "True" } else { "False" },
            self.0.explain()
        )
    }
}

/// A policy that determined a decision.
#[pyclass(module = "heroa._native", frozen)]
pub struct PolicyReason(heroa::policy::PolicyReason);

#[pymethods]
impl PolicyReason {
    /// `<document id>#<index in the document>`.
    #[getter]
    fn policy_id(&self) -> String {
        self.0.policy_id.clone()
    }
    /// `permit` or `forbid`.
    #[getter]
    fn effect(&self) -> &'static str {
        match self.0.effect {
            heroa::policy::Effect::Permit => "permit",
            heroa::policy::Effect::Forbid => "forbid",
        }
    }
    #[getter]
    fn document_id(&self) -> String {
        self.0.document_id.clone()
    }
    /// 1-based line of the policy's keyword in its document.
    #[getter]
    fn line(&self) -> u32 {
        self.0.line
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("policy_id", &self.0.policy_id)?;
        d.set_item("effect", self.effect())?;
        d.set_item("document_id", &self.0.document_id)?;
        d.set_item("line", self.0.line)?;
        Ok(d)
    }

    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        self.to_dict(py)?
            .get_item(key)?
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(key.to_string()))
    }

    fn __repr__(&self) -> String {
        format!(
            "PolicyReason(policy_id={:?}, effect={:?}, line={})",
            self.0.policy_id,
            self.effect(),
            self.0.line
        )
    }
}

/// Translates and parses one policy document; returns the `CompiledPolicy` as JSON.
#[pyfunction]
pub fn compile_policy(py: Python<'_>, document: String) -> PyResult<String> {
    let compiled = py
        .detach(|| heroa::policy::compile(&document))
        .map_err(|e| to_pyerr(heroa::runtime::document_error(e)))?;
    serde_json::to_string(&compiled).map_err(|e| to_pyerr(e.into()))
}
