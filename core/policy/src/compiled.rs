//! The compiled evaluator: the envelope's policies, as cedar-policy parsed them
//! (after the dialect's translation), compiled into a small expression tree that
//! is evaluated directly against a [`CheckRequest`], with no Cedar `Entities`,
//! `Context` or `Request` built per check.
//!
//! [`Program::compile`] reads each policy's syntax tree (`Policy::to_pst`) and
//! covers this subset of Cedar:
//!
//! * scope constraints: `principal` / `resource` unconstrained, `==`, `in`,
//!   `is`, `is … in` an entity; `action` unconstrained, `==`, `in` an entity or
//!   a list of entities. Entities have no parents, so `in` is equality, and the
//!   action and the entity types of the principal and resource are fixed: a
//!   scope that can never match drops its policy (Cedar never evaluates its
//!   conditions either);
//! * `when` / `unless` conditions built from literals (bool, `Long`, string,
//!   entity, set, record), the variables, `.attr` / `["attr"]`, `has` (also
//!   `has a.b`), `==`, `!=`, `<`, `<=`, `>`, `>=`, `+`, `-`, `*`, unary `-`,
//!   `!`, `&&`, `||`, `if … then … else`, `like`, `in`, `is`, `is … in`,
//!   `.contains()`, `.containsAll()`, `.containsAny()`, `.isEmpty()`,
//!   `decimal("…")` and its `.lessThan()`, `.lessThanOrEqual()`,
//!   `.greaterThan()`, `.greaterThanOrEqual()`.
//!
//! Anything else (`ip`, `datetime`, `duration`, tags, template slots, a
//! policy nested deeper than [`MAX_DEPTH`]) makes the whole envelope use Cedar
//! for every check.
//!
//! Evaluation follows Cedar's semantics: values of different types are unequal
//! (`1 != decimal("1.0")`), decimals compare by value, sets by their elements
//! (order and repetition aside), `&&`, `||` and `if` short-circuit and demand
//! booleans, `Long` arithmetic checks overflow, attribute access on a missing
//! attribute or entity fails. It reproduces Cedar's results, not its error
//! messages: wherever Cedar's evaluation of a policy would fail (type error,
//! missing attribute, overflow, malformed decimal), or a request value cannot be
//! converted, evaluation stops with [`Fallback`] and the engine answers that
//! check through Cedar, so [`Decision::errors`](super::Decision::errors) are
//! always Cedar's own.

use cedar_policy::pst;

use super::engine::{
    ACTION_TYPE, AGENT_TYPE, Attribute, ContextKeys, JsonNumber, PRINCIPAL_ATTRIBUTES,
    RESOURCE_ATTRIBUTES, SKILL_INVOKE, SKILL_TYPE, decimal_scaled, is_money_key, json_number,
    principal_attributes, resource_attributes,
};
use super::translate::nesting_bound;
use super::{CheckRequest, Effect};

/// Deepest nesting compiled, as bounded from a policy's text by
/// [`nesting_bound`]. cedar-policy builds a policy's syntax tree by plain
/// recursion (about 30 KiB of stack per level in a debug build), and so does
/// the compiled evaluator; deeper policies are left to Cedar's evaluator, which
/// checks the stack it has left.
const MAX_DEPTH: usize = 24;

/// Evaluation met something Cedar reports as an error: answer through Cedar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fallback;

/// The envelope uses Cedar beyond the compiled subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unsupported;

/// The outcome of evaluating every policy of the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Verdict {
    /// Some `permit` is satisfied and no `forbid` is.
    pub allowed: bool,
    /// Envelope positions of the determining policies (the satisfied
    /// `forbid`s if any, else the satisfied `permit`s), in envelope order.
    pub reasons: Vec<usize>,
}

/// An envelope compiled for direct evaluation.
#[derive(Debug)]
pub(super) struct Program {
    /// The policies whose scope can match, in envelope order.
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    /// Position of the policy in the envelope.
    position: usize,
    effect: Effect,
    /// Required principal entity id, if constrained.
    principal: Option<Box<str>>,
    /// Required resource entity id, if constrained.
    resource: Option<Box<str>>,
    /// `when` (`true`) and `unless` (`false`) conditions in order: each must
    /// evaluate to the given boolean.
    conditions: Vec<(Expr, bool)>,
}

impl Program {
    /// Compiles `policies` (in envelope order); [`Unsupported`] if a policy
    /// that can match uses Cedar beyond the compiled subset.
    pub(super) fn compile<'p>(
        policies: impl IntoIterator<Item = &'p cedar_policy::Policy>,
    ) -> Result<Program, Unsupported> {
        let mut rules = Vec::new();
        for (position, policy) in policies.into_iter().enumerate() {
            let text = policy.to_cedar().ok_or(Unsupported)?;
            if nesting_bound(&text) > MAX_DEPTH {
                return Err(Unsupported);
            }
            let pst = policy.to_pst().map_err(|_| Unsupported)?;
            if let Some(rule) = Rule::compile(position, pst.body())? {
                rules.push(rule);
            }
        }
        Ok(Program { rules })
    }

    /// Evaluates every policy against `request`; [`Fallback`] when Cedar would
    /// report an error (in a policy, or converting the request).
    pub(super) fn evaluate(
        &self,
        request: &CheckRequest,
        context_keys: &ContextKeys,
    ) -> Result<Verdict, Fallback> {
        let env = Env::new(request, context_keys)?;
        let mut permits = Vec::new();
        let mut forbids = Vec::new();
        for rule in &self.rules {
            if rule.satisfied(&env)? {
                match rule.effect {
                    Effect::Permit => permits.push(rule.position),
                    Effect::Forbid => forbids.push(rule.position),
                }
            }
        }
        Ok(if !forbids.is_empty() {
            Verdict {
                allowed: false,
                reasons: forbids,
            }
        } else {
            Verdict {
                allowed: !permits.is_empty(),
                reasons: permits,
            }
        })
    }
}

impl Rule {
    /// `Ok(None)` when the scope can never match.
    fn compile(position: usize, policy: &pst::Template) -> Result<Option<Rule>, Unsupported> {
        use pst::{ActionConstraint as A, PrincipalConstraint as P, ResourceConstraint as R};
        let principal = match &policy.principal {
            P::Any => Scope::new(AGENT_TYPE, None, None),
            P::Eq(target) | P::In(target) => Scope::new(AGENT_TYPE, None, Some(target)),
            P::Is(kind) => Scope::new(AGENT_TYPE, Some(kind), None),
            P::IsIn(kind, target) => Scope::new(AGENT_TYPE, Some(kind), Some(target)),
        }?;
        let resource = match &policy.resource {
            R::Any => Scope::new(SKILL_TYPE, None, None),
            R::Eq(target) | R::In(target) => Scope::new(SKILL_TYPE, None, Some(target)),
            R::Is(kind) => Scope::new(SKILL_TYPE, Some(kind), None),
            R::IsIn(kind, target) => Scope::new(SKILL_TYPE, Some(kind), Some(target)),
        }?;
        let is_action = |uid: &pst::EntityUID| {
            uid.ty.to_string() == ACTION_TYPE && uid.eid.as_str() == SKILL_INVOKE
        };
        let action = match &policy.action {
            A::Any => true,
            A::Eq(uid) => is_action(uid),
            A::In(uids) => uids.iter().any(is_action),
        };
        let (Scope::Matches(principal), Scope::Matches(resource), true) =
            (principal, resource, action)
        else {
            return Ok(None);
        };
        let mut conditions = Vec::new();
        for clause in policy.clauses() {
            conditions.push(match clause {
                pst::Clause::When(e) => (Expr::compile(e)?, true),
                pst::Clause::Unless(e) => (Expr::compile(e)?, false),
            });
        }
        let effect = match policy.effect {
            pst::Effect::Permit => Effect::Permit,
            pst::Effect::Forbid => Effect::Forbid,
        };
        Ok(Some(Rule {
            position,
            effect,
            principal,
            resource,
            conditions,
        }))
    }

    fn satisfied(&self, env: &Env<'_>) -> Result<bool, Fallback> {
        let scope =
            |required: &Option<Box<str>>, id: &str| required.as_deref().is_none_or(|r| r == id);
        if !scope(&self.principal, env.agent_id) || !scope(&self.resource, env.skill_name) {
            return Ok(false);
        }
        for (condition, expected) in &self.conditions {
            if condition.eval(env)?.as_bool()? != *expected {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// A principal or resource scope constraint, knowing the entity's type.
enum Scope {
    /// Matches when the entity id equals the given one (any id for `None`).
    Matches(Option<Box<str>>),
    /// Can never match.
    Never,
}

impl Scope {
    /// `var is kind in target` with both parts optional, for a variable whose
    /// entity type is always `var_type`; template slots are unsupported.
    fn new(
        var_type: &str,
        kind: Option<&pst::EntityType>,
        target: Option<&pst::EntityOrSlot>,
    ) -> Result<Scope, Unsupported> {
        if kind.is_some_and(|kind| kind.to_string() != var_type) {
            return Ok(Scope::Never);
        }
        Ok(match target {
            None => Scope::Matches(None),
            Some(pst::EntityOrSlot::Entity(uid)) if uid.ty.to_string() == var_type => {
                Scope::Matches(Some(uid.eid.as_str().into()))
            }
            Some(pst::EntityOrSlot::Entity(_)) => Scope::Never,
            Some(pst::EntityOrSlot::Slot(_)) => return Err(Unsupported),
        })
    }
}

// ------------------------------------------------------------------ values

/// A string borrowed from the request or the program, or owned by a constant.
#[derive(Debug, Clone)]
enum Text<'a> {
    Borrowed(&'a str),
    Owned(Box<str>),
}

impl Text<'_> {
    fn as_str(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Owned(s) => s,
        }
    }

    fn view(&self) -> Text<'_> {
        Text::Borrowed(self.as_str())
    }
}

impl PartialEq for Text<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// The elements of a set or record: borrowed from the request or a constant,
/// or built during evaluation.
#[derive(Debug, Clone)]
enum Seq<'a, T> {
    Borrowed(&'a [T]),
    Owned(Vec<T>),
}

impl<T> Seq<'_, T> {
    fn as_slice(&self) -> &[T] {
        match self {
            Seq::Borrowed(items) => items,
            Seq::Owned(items) => items,
        }
    }
}

/// A Cedar value.
#[derive(Debug, Clone)]
enum Value<'a> {
    Bool(bool),
    Long(i64),
    /// A `decimal`, in ten-thousandths.
    Decimal(i64),
    String(Text<'a>),
    Entity {
        ty: Text<'a>,
        id: Text<'a>,
    },
    Set(Seq<'a, Value<'a>>),
    /// Attributes sorted by name, each name once.
    Record(Seq<'a, (Text<'a>, Value<'a>)>),
}

/// Cedar equality: values of different types are unequal, sets are equal
/// when each one's elements are all in the other.
impl PartialEq for Value<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Long(a), Value::Long(b)) | (Value::Decimal(a), Value::Decimal(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Entity { ty: t1, id: i1 }, Value::Entity { ty: t2, id: i2 }) => {
                t1 == t2 && i1 == i2
            }
            (Value::Set(a), Value::Set(b)) => {
                let (a, b) = (a.as_slice(), b.as_slice());
                a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
            }
            (Value::Record(a), Value::Record(b)) => a.as_slice() == b.as_slice(),
            _ => false,
        }
    }
}

impl<'a> Value<'a> {
    /// A copy that borrows the strings and elements of `self`.
    fn view(&self) -> Value<'_> {
        match self {
            Value::Bool(b) => Value::Bool(*b),
            Value::Long(i) => Value::Long(*i),
            Value::Decimal(d) => Value::Decimal(*d),
            Value::String(s) => Value::String(s.view()),
            Value::Entity { ty, id } => Value::Entity {
                ty: ty.view(),
                id: id.view(),
            },
            Value::Set(items) => Value::Set(Seq::Borrowed(items.as_slice())),
            Value::Record(fields) => Value::Record(Seq::Borrowed(fields.as_slice())),
        }
    }

    fn as_bool(&self) -> Result<bool, Fallback> {
        match self {
            Value::Bool(b) => Ok(*b),
            _ => Err(Fallback),
        }
    }

    fn as_long(&self) -> Result<i64, Fallback> {
        match self {
            Value::Long(i) => Ok(*i),
            _ => Err(Fallback),
        }
    }

    fn as_decimal(&self) -> Result<i64, Fallback> {
        match self {
            Value::Decimal(d) => Ok(*d),
            _ => Err(Fallback),
        }
    }

    fn as_str(&self) -> Result<&str, Fallback> {
        match self {
            Value::String(s) => Ok(s.as_str()),
            _ => Err(Fallback),
        }
    }

    fn as_set(&self) -> Result<&[Value<'a>], Fallback> {
        match self {
            Value::Set(items) => Ok(items.as_slice()),
            _ => Err(Fallback),
        }
    }

    /// The attribute `name` of a record or entity; `Ok(None)` when the record
    /// lacks it or the entity does not exist or lacks it.
    fn lookup(self, name: &str, env: &'a Env<'a>) -> Result<Option<Value<'a>>, Fallback> {
        Ok(match self {
            Value::Record(Seq::Borrowed(fields)) => field(fields, name).map(Value::view),
            Value::Record(Seq::Owned(fields)) => fields
                .into_iter()
                .find(|(key, _)| key.as_str() == name)
                .map(|(_, value)| value),
            Value::Entity { ty, id } => env.entity_attribute(ty.as_str(), id.as_str(), name),
            _ => return Err(Fallback),
        })
    }

    /// Cedar's hierarchy `in`: with no parents, equality with the entity or
    /// with some entity of the set.
    fn is_in(&self, container: &Value<'_>) -> Result<bool, Fallback> {
        if !matches!(self, Value::Entity { .. }) {
            return Err(Fallback);
        }
        match container {
            Value::Entity { .. } => Ok(self == container),
            Value::Set(items) => {
                let items = items.as_slice();
                if items.iter().any(|v| !matches!(v, Value::Entity { .. })) {
                    return Err(Fallback);
                }
                Ok(items.contains(self))
            }
            _ => Err(Fallback),
        }
    }
}

/// The value of attribute `name` in sorted `fields`.
fn field<'v, 'a>(fields: &'v [(Text<'a>, Value<'a>)], name: &str) -> Option<&'v Value<'a>> {
    fields
        .binary_search_by(|(key, _)| key.as_str().cmp(name))
        .ok()
        .and_then(|i| fields.get(i))
        .map(|(_, value)| value)
}

/// Cedar's `decimal("…")`: `-?digits.digits` with 1 to 4 fractional digits,
/// in range; the value in ten-thousandths.
fn parse_decimal(text: &str) -> Option<i64> {
    let (int, frac) = text.split_once('.')?;
    let digits = int.strip_prefix('-').unwrap_or(int);
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(digits) || !all_digits(frac) || frac.len() > 4 {
        return None;
    }
    let whole = int.parse::<i64>().ok()?.checked_mul(10_000)?;
    let frac = frac.parse::<i64>().ok()? * 10_i64.pow(4 - frac.len() as u32);
    if int.starts_with('-') {
        whole.checked_sub(frac)
    } else {
        whole.checked_add(frac)
    }
}

// ------------------------------------------------------------- request data

/// The request as Cedar values: the principal's and resource's attributes and
/// the converted context.
struct Env<'a> {
    agent_id: &'a str,
    skill_name: &'a str,
    /// Values of [`PRINCIPAL_ATTRIBUTES`].
    principal: [Value<'a>; 4],
    /// Values of [`RESOURCE_ATTRIBUTES`].
    resource: [Value<'a>; 4],
    /// The context record, sorted by name.
    context: Vec<(Text<'a>, Value<'a>)>,
}

impl<'a> Env<'a> {
    fn new(request: &'a CheckRequest, context_keys: &ContextKeys) -> Result<Self, Fallback> {
        let mut context = Vec::with_capacity(request.context.len() + 1);
        for (key, value) in &request.context {
            if context_keys.converts(key)
                && let Some(value) = json_value(value, is_money_key(key))?
            {
                context.push((Text::Borrowed(key.as_str()), value));
            }
        }
        context.push((
            Text::Borrowed("run_cost_usd"),
            Value::Decimal(decimal_scaled(request.run_cost_usd).map_err(|_| Fallback)?),
        ));
        context.sort_unstable_by(|(a, _), (b, _)| a.as_str().cmp(b.as_str()));
        Ok(Env {
            agent_id: &request.agent.id,
            skill_name: &request.skill.name,
            principal: principal_attributes(&request.agent).map(attribute_value),
            resource: resource_attributes(&request.skill)
                .map_err(|_| Fallback)?
                .map(attribute_value),
            context,
        })
    }

    fn principal(&self) -> Value<'a> {
        Value::Entity {
            ty: Text::Borrowed(AGENT_TYPE),
            id: Text::Borrowed(self.agent_id),
        }
    }

    fn resource(&self) -> Value<'a> {
        Value::Entity {
            ty: Text::Borrowed(SKILL_TYPE),
            id: Text::Borrowed(self.skill_name),
        }
    }

    /// Attribute `name` of entity `ty::"id"`; `None` when the entity (only
    /// the principal and the resource exist) or the attribute does not exist.
    fn entity_attribute(&'a self, ty: &str, id: &str, name: &str) -> Option<Value<'a>> {
        let (names, values) = if ty == AGENT_TYPE && id == self.agent_id {
            (&PRINCIPAL_ATTRIBUTES, &self.principal)
        } else if ty == SKILL_TYPE && id == self.skill_name {
            (&RESOURCE_ATTRIBUTES, &self.resource)
        } else {
            return None;
        };
        let i = names.iter().position(|n| *n == name)?;
        values.get(i).map(Value::view)
    }
}

fn attribute_value(attribute: Attribute<'_>) -> Value<'_> {
    match attribute {
        Attribute::String(s) => Value::String(Text::Borrowed(s)),
        Attribute::Bool(b) => Value::Bool(b),
        Attribute::Decimal(d) => Value::Decimal(d),
    }
}

/// Longest request array evaluated here. Set equality, `containsAll` and
/// `containsAny` compare element by element (quadratic); longer arrays go to
/// Cedar, which sorts.
const MAX_CONTEXT_SET: usize = 64;

/// A JSON value of the request context as a Cedar value (see
/// [`CheckRequest`]); `None` for `null`.
fn json_value(value: &serde_json::Value, money: bool) -> Result<Option<Value<'_>>, Fallback> {
    use serde_json::Value as Json;
    Ok(Some(match value {
        Json::Null => return Ok(None),
        Json::Bool(b) => Value::Bool(*b),
        Json::String(s) => Value::String(Text::Borrowed(s)),
        Json::Number(n) => match json_number(n, money).map_err(|_| Fallback)? {
            JsonNumber::Long(i) => Value::Long(i),
            JsonNumber::Decimal(d) => Value::Decimal(d),
        },
        Json::Array(items) if items.len() > MAX_CONTEXT_SET => return Err(Fallback),
        Json::Array(items) => {
            let mut set = Vec::with_capacity(items.len());
            for item in items {
                set.extend(json_value(item, money)?);
            }
            Value::Set(Seq::Owned(set))
        }
        Json::Object(fields) => {
            let mut record = Vec::with_capacity(fields.len());
            for (key, item) in fields {
                if let Some(value) = json_value(item, is_money_key(key))? {
                    record.push((Text::Borrowed(key.as_str()), value));
                }
            }
            record.sort_unstable_by(|(a, _), (b, _)| a.as_str().cmp(b.as_str()));
            Value::Record(Seq::Owned(record))
        }
    }))
}

// ------------------------------------------------------------- expressions

#[derive(Debug)]
enum Expr {
    Const(Value<'static>),
    Principal,
    Action,
    Resource,
    Context,
    /// `principal.<PRINCIPAL_ATTRIBUTES[i]>`.
    PrincipalAttr(usize),
    /// `resource.<RESOURCE_ATTRIBUTES[i]>`.
    ResourceAttr(usize),
    /// `context.<name>`.
    ContextAttr(Box<str>),
    Attr(Box<Expr>, Box<str>),
    /// `e has a.b.c`.
    Has(Box<Expr>, Vec<Box<str>>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    IsEmpty(Box<Expr>),
    Decimal(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    Like(Box<Expr>, Pattern),
    Is(Box<Expr>, Box<str>),
    Set(Vec<Expr>),
    /// Fields sorted by name.
    Record(Vec<(Box<str>, Expr)>),
}

/// Binary operators that evaluate both operands.
#[derive(Debug, Clone, Copy)]
enum Op {
    Eq,
    NotEq,
    Less,
    LessEq,
    Greater,
    GreaterEq,
    Add,
    Sub,
    Mul,
    In,
    Contains,
    ContainsAll,
    ContainsAny,
    DecimalLess,
    DecimalLessEq,
    DecimalGreater,
    DecimalGreaterEq,
}

impl Expr {
    fn compile(e: &pst::Expr) -> Result<Expr, Unsupported> {
        use pst::{BinaryOp as B, Expr as P, UnaryOp as U};
        let sub = |e: &pst::Expr| Expr::compile(e).map(Box::new);
        Ok(match e {
            P::Literal(literal) => Expr::Const(match literal {
                pst::Literal::Bool(b) => Value::Bool(*b),
                pst::Literal::Long(i) => Value::Long(*i),
                pst::Literal::String(s) => Value::String(Text::Owned(s.as_str().into())),
                pst::Literal::EntityUID(uid) => Value::Entity {
                    ty: Text::Owned(uid.ty.to_string().into()),
                    id: Text::Owned(uid.eid.as_str().into()),
                },
                _ => return Err(Unsupported),
            }),
            P::Var(var) => match var {
                pst::Var::Principal => Expr::Principal,
                pst::Var::Action => Expr::Action,
                pst::Var::Resource => Expr::Resource,
                pst::Var::Context => Expr::Context,
            },
            P::GetAttr { expr, attr } => {
                let position = |names: &[&str]| names.iter().position(|n| *n == attr.as_str());
                let direct = match expr.as_ref() {
                    P::Var(pst::Var::Principal) => {
                        position(&PRINCIPAL_ATTRIBUTES).map(Expr::PrincipalAttr)
                    }
                    P::Var(pst::Var::Resource) => {
                        position(&RESOURCE_ATTRIBUTES).map(Expr::ResourceAttr)
                    }
                    P::Var(pst::Var::Context) => Some(Expr::ContextAttr(attr.as_str().into())),
                    _ => None,
                };
                match direct {
                    Some(direct) => direct,
                    None => Expr::Attr(sub(expr)?, attr.as_str().into()),
                }
            }
            P::HasAttr { expr, attrs } => Expr::Has(
                sub(expr)?,
                attrs.iter().map(|a| a.as_str().into()).collect(),
            ),
            P::UnaryOp { op, expr } => match op {
                U::Not => Expr::Not(sub(expr)?),
                U::Neg => Expr::Neg(sub(expr)?),
                U::IsEmpty => Expr::IsEmpty(sub(expr)?),
                U::Decimal => {
                    let arg = sub(expr)?;
                    let constant = match arg.as_ref() {
                        Expr::Const(Value::String(s)) => parse_decimal(s.as_str()),
                        _ => None,
                    };
                    match constant {
                        Some(d) => Expr::Const(Value::Decimal(d)),
                        None => Expr::Decimal(arg),
                    }
                }
                _ => return Err(Unsupported),
            },
            P::BinaryOp { op, left, right } => {
                let (l, r) = (sub(left)?, sub(right)?);
                let op = match op {
                    B::And => return Ok(Expr::And(l, r)),
                    B::Or => return Ok(Expr::Or(l, r)),
                    B::Eq => Op::Eq,
                    B::NotEq => Op::NotEq,
                    B::Less => Op::Less,
                    B::LessEq => Op::LessEq,
                    B::Greater => Op::Greater,
                    B::GreaterEq => Op::GreaterEq,
                    B::Add => Op::Add,
                    B::Sub => Op::Sub,
                    B::Mul => Op::Mul,
                    B::In => Op::In,
                    B::Contains => Op::Contains,
                    B::ContainsAll => Op::ContainsAll,
                    B::ContainsAny => Op::ContainsAny,
                    B::DecimalLessThan => Op::DecimalLess,
                    B::DecimalLessEq => Op::DecimalLessEq,
                    B::DecimalGreater => Op::DecimalGreater,
                    B::DecimalGreaterEq => Op::DecimalGreaterEq,
                    _ => return Err(Unsupported),
                };
                Expr::Binary(op, l, r)
            }
            P::Like { expr, pattern } => Expr::Like(sub(expr)?, Pattern::new(pattern)),
            P::Is {
                expr,
                entity_type,
                in_expr,
            } => {
                let is = Expr::Is(sub(expr)?, entity_type.to_string().into());
                match in_expr {
                    // `e is T in x` is `e is T && e in x`.
                    Some(container) => Expr::And(
                        Box::new(is),
                        Box::new(Expr::Binary(Op::In, sub(expr)?, sub(container)?)),
                    ),
                    None => is,
                }
            }
            P::IfThenElse {
                cond,
                then_expr,
                else_expr,
            } => Expr::If(sub(cond)?, sub(then_expr)?, sub(else_expr)?),
            P::Set(items) => {
                let items = items
                    .iter()
                    .map(|e| Expr::compile(e))
                    .collect::<Result<Vec<_>, _>>()?;
                match items.iter().map(Expr::constant).collect::<Option<Vec<_>>>() {
                    Some(values) => Expr::Const(Value::Set(Seq::Owned(values))),
                    None => Expr::Set(items),
                }
            }
            P::Record(fields) => {
                // A `BTreeMap`: sorted by name, each name once.
                let fields = fields
                    .iter()
                    .map(|(k, e)| Ok((Box::<str>::from(k.as_str()), Expr::compile(e)?)))
                    .collect::<Result<Vec<_>, _>>()?;
                match fields
                    .iter()
                    .map(|(k, e)| Some((Text::Owned(k.clone()), e.constant()?)))
                    .collect::<Option<Vec<_>>>()
                {
                    Some(values) => Expr::Const(Value::Record(Seq::Owned(values))),
                    None => Expr::Record(fields),
                }
            }
            _ => return Err(Unsupported),
        })
    }

    /// The value of a constant expression.
    fn constant(&self) -> Option<Value<'static>> {
        match self {
            Expr::Const(value) => Some(value.clone()),
            _ => None,
        }
    }

    fn eval<'a>(&'a self, env: &'a Env<'a>) -> Result<Value<'a>, Fallback> {
        Ok(match self {
            Expr::Const(value) => value.view(),
            Expr::Principal => env.principal(),
            Expr::Action => Value::Entity {
                ty: Text::Borrowed(ACTION_TYPE),
                id: Text::Borrowed(SKILL_INVOKE),
            },
            Expr::Resource => env.resource(),
            Expr::Context => Value::Record(Seq::Borrowed(&env.context)),
            Expr::PrincipalAttr(i) => env.principal.get(*i).ok_or(Fallback)?.view(),
            Expr::ResourceAttr(i) => env.resource.get(*i).ok_or(Fallback)?.view(),
            Expr::ContextAttr(name) => field(&env.context, name).ok_or(Fallback)?.view(),
            Expr::Attr(e, name) => e.eval(env)?.lookup(name, env)?.ok_or(Fallback)?,
            Expr::Has(e, path) => {
                let mut value = e.eval(env)?;
                for name in path {
                    match value.lookup(name, env)? {
                        Some(next) => value = next,
                        None => return Ok(Value::Bool(false)),
                    }
                }
                Value::Bool(true)
            }
            Expr::Not(e) => Value::Bool(!e.eval(env)?.as_bool()?),
            Expr::Neg(e) => Value::Long(e.eval(env)?.as_long()?.checked_neg().ok_or(Fallback)?),
            Expr::IsEmpty(e) => Value::Bool(e.eval(env)?.as_set()?.is_empty()),
            Expr::Decimal(e) => {
                Value::Decimal(parse_decimal(e.eval(env)?.as_str()?).ok_or(Fallback)?)
            }
            Expr::And(l, r) => Value::Bool(l.eval(env)?.as_bool()? && r.eval(env)?.as_bool()?),
            Expr::Or(l, r) => Value::Bool(l.eval(env)?.as_bool()? || r.eval(env)?.as_bool()?),
            Expr::If(cond, then, otherwise) => {
                if cond.eval(env)?.as_bool()? {
                    then.eval(env)?
                } else {
                    otherwise.eval(env)?
                }
            }
            Expr::Binary(op, l, r) => op.apply(&l.eval(env)?, &r.eval(env)?)?,
            Expr::Like(e, pattern) => Value::Bool(pattern.matches(e.eval(env)?.as_str()?)),
            Expr::Is(e, ty) => match e.eval(env)? {
                Value::Entity { ty: actual, .. } => Value::Bool(actual.as_str() == &**ty),
                _ => return Err(Fallback),
            },
            Expr::Set(items) => Value::Set(Seq::Owned(
                items
                    .iter()
                    .map(|e| e.eval(env))
                    .collect::<Result<_, _>>()?,
            )),
            Expr::Record(fields) => Value::Record(Seq::Owned(
                fields
                    .iter()
                    .map(|(k, e)| Ok((Text::Borrowed(k), e.eval(env)?)))
                    .collect::<Result<_, _>>()?,
            )),
        })
    }
}

impl Op {
    fn apply<'a>(self, l: &Value<'a>, r: &Value<'a>) -> Result<Value<'a>, Fallback> {
        let long = |f: fn(i64, i64) -> Option<i64>| {
            f(l.as_long()?, r.as_long()?)
                .map(Value::Long)
                .ok_or(Fallback)
        };
        Ok(Value::Bool(match self {
            Op::Eq => l == r,
            Op::NotEq => l != r,
            Op::Less => l.as_long()? < r.as_long()?,
            Op::LessEq => l.as_long()? <= r.as_long()?,
            Op::Greater => l.as_long()? > r.as_long()?,
            Op::GreaterEq => l.as_long()? >= r.as_long()?,
            Op::Add => return long(i64::checked_add),
            Op::Sub => return long(i64::checked_sub),
            Op::Mul => return long(i64::checked_mul),
            Op::In => l.is_in(r)?,
            Op::Contains => l.as_set()?.contains(r),
            Op::ContainsAll => {
                let (all, some) = (l.as_set()?, r.as_set()?);
                some.iter().all(|v| all.contains(v))
            }
            Op::ContainsAny => {
                let (all, some) = (l.as_set()?, r.as_set()?);
                some.iter().any(|v| all.contains(v))
            }
            Op::DecimalLess => l.as_decimal()? < r.as_decimal()?,
            Op::DecimalLessEq => l.as_decimal()? <= r.as_decimal()?,
            Op::DecimalGreater => l.as_decimal()? > r.as_decimal()?,
            Op::DecimalGreaterEq => l.as_decimal()? >= r.as_decimal()?,
        }))
    }
}

/// A `like` pattern: the literal text between its wildcards (one more part
/// than wildcards).
#[derive(Debug)]
struct Pattern {
    parts: Vec<String>,
}

impl Pattern {
    fn new(elems: &[pst::PatternElem]) -> Pattern {
        let mut parts = vec![String::new()];
        for elem in elems {
            match elem {
                pst::PatternElem::Wildcard => parts.push(String::new()),
                pst::PatternElem::Char(c) => {
                    if let Some(part) = parts.last_mut() {
                        part.push(*c);
                    }
                }
            }
        }
        Pattern { parts }
    }

    /// Whether the whole of `text` matches: the first part is a prefix, the
    /// last a suffix of what remains, and the middle parts occur in order in
    /// between (leftmost occurrences leave the most room).
    fn matches(&self, text: &str) -> bool {
        let Some((first, rest)) = self.parts.split_first() else {
            return text.is_empty();
        };
        let Some((last, middle)) = rest.split_last() else {
            return text == first;
        };
        let Some(mut tail) = text.strip_prefix(first.as_str()) else {
            return false;
        };
        for part in middle {
            match tail.find(part.as_str()) {
                Some(at) => tail = &tail[at + part.len()..],
                None => return false,
            }
        }
        tail.ends_with(last.as_str())
    }
}
