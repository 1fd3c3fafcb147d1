//! Differential tests of the compiled evaluator against cedar-policy: random
//! envelopes from a grammar covering the compiled subset, random requests, and
//! the decisions of both compared. Real Cedar, no mocks.

use cedar_policy::pst;
use serde_json::{Map, Value, json};

use super::tests::check;
use super::*;

use crate::test_rng::Rng;

// ----------------------------------------------------------------- policies

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ty {
    Bool,
    Long,
    Str,
    Decimal,
    Set,
    Record,
    Entity,
}

const TYPES: [Ty; 7] = [
    Ty::Bool,
    Ty::Long,
    Ty::Str,
    Ty::Decimal,
    Ty::Set,
    Ty::Record,
    Ty::Entity,
];

/// Attribute names, read from records and entities alike (some exist on
/// the principal, the resource or the generated context, some nowhere).
const ATTRS: [&str; 12] = [
    "flag", "n", "s", "rec", "ok", "name", "region", "kind", "cost_usd", "fee_usd", "tags",
    "missing",
];

const ENTITY_TYPES: [&str; 5] = ["Agent", "Skill", "Group", "Action", "NS::Agent"];

/// Pieces of `like` patterns: characters, wildcards, an escaped `*`.
const PATTERN_PIECES: [&str; 10] = ["*", "*", r"\*", "s", "e", "a", ":", "b", "ü", "search:"];

/// Generates Cedar expression text of (mostly) the given type.
struct Gen<'r> {
    rng: &'r mut Rng,
}

impl Gen<'_> {
    fn expr(&mut self, ty: Ty, depth: u32) -> String {
        // Sometimes a value of another type: type errors and unequal types.
        let ty = if self.rng.chance(12) {
            self.rng.pick(&TYPES)
        } else {
            ty
        };
        if depth == 0 || self.rng.chance(30) {
            return self.leaf(ty);
        }
        let d = depth - 1;
        match self.rng.below(4) {
            0 => format!(
                "(if {} then {} else {})",
                self.operand(Ty::Bool, d),
                self.expr(ty, d),
                self.expr(ty, d)
            ),
            1 => format!("{}{}", self.expr(Ty::Record, d), self.access()),
            _ => self.composite(ty, d),
        }
    }

    /// An operand of a comparison: often from a small pool of values of `ty`
    /// that collide with each other and with the generated requests (equal
    /// and subset sets, equal and boundary numbers, records differing in one
    /// value), so that results go both ways.
    fn operand(&mut self, ty: Ty, depth: u32) -> String {
        if self.rng.chance(40) {
            return self.expr(ty, depth);
        }
        let pool: &[&str] = match ty {
            // A few non-booleans: `&&`, `||`, `!` and `if` must reject them.
            Ty::Bool => &[
                "true",
                "false",
                "context.flag",
                "context.rec.ok",
                "1",
                "context.s",
            ],
            Ty::Long => &[
                "1",
                "2",
                "context.n",
                "context.rec.n",
                "9223372036854775807",
                "-9223372036854775808",
                "context.big",
            ],
            Ty::Str => &[
                r#""prod""#,
                "principal.promotion",
                "context.s",
                r#""read""#,
                "resource.kind",
                "resource.name",
                r#""search:web""#,
            ],
            Ty::Decimal => &[
                r#"decimal("0.5")"#,
                r#"decimal("0.5000")"#,
                r#"decimal("-0.5")"#,
                "context.a_usd",
                "context.frac",
                "resource.cost_usd",
                "context.run_cost_usd",
                "0.37",
            ],
            Ty::Set => &[
                "[1]",
                "[2, 1, 1]",
                "[1, 2, 0.5]",
                "[1, 2, decimal(\"0.5\")]",
                "context.nums",
                "context.tags",
                r#"["crm"]"#,
                r#"["research", "crm"]"#,
                "[]",
                r#"[Agent::"ag_1", Skill::"search:web"]"#,
            ],
            Ty::Record => &[
                "{n: 1}",
                "{n: 2}",
                r#"{n: 1, s: "x"}"#,
                r#"{n: 1, s: "prod"}"#,
                "context.rec",
                "{}",
                r#"{"n": 1, "s": "x", "tags": ["crm"]}"#,
            ],
            Ty::Entity => &[
                "principal",
                r#"Agent::"ag_1""#,
                "resource",
                r#"Skill::"search:web""#,
                "action",
                r#"Action::"skill:invoke""#,
            ],
        };
        self.rng.pick(pool).to_string()
    }

    /// A `like` pattern, usually derived from a string requests contain:
    /// some characters become wildcards, `*` is escaped, one may change.
    fn pattern(&mut self) -> String {
        if self.rng.chance(20) {
            return (0..self.rng.below(5))
                .map(|_| self.rng.pick(&PATTERN_PIECES))
                .collect();
        }
        let base = self.rng.pick(&[
            "search:web",
            "slack:post",
            "a*b",
            "eu-west-1",
            "prod",
            "read",
            "",
        ]);
        let mut out = String::new();
        for c in base.chars() {
            match self.rng.below(10) {
                0 | 1 => out.push('*'),
                2 => {}
                3 => out.push('s'),
                _ if c == '*' => out.push_str(r"\*"),
                _ => out.push(c),
            }
        }
        if self.rng.chance(20) {
            out.insert(0, '*');
        }
        if self.rng.chance(20) {
            out.push('*');
        }
        out
    }

    fn access(&mut self) -> String {
        let attr = self.rng.pick(&ATTRS);
        if self.rng.chance(20) {
            format!(r#"["{attr}"]"#)
        } else {
            format!(".{attr}")
        }
    }

    fn leaf(&mut self, ty: Ty) -> String {
        let choices: &[&str] = match ty {
            Ty::Bool => &[
                "true",
                "false",
                "context.flag",
                "resource.external",
                "context.rec.ok",
                "context has flag",
                "principal has name",
                "context has rec.ok",
                "resource has missing",
                "action has name",
            ],
            Ty::Long => &[
                "0",
                "1",
                "2",
                "-3",
                "7",
                "9223372036854775807",
                "-9223372036854775808",
                "4611686018427387904",
                "context.n",
                "context.rec.n",
                "context.big",
                "context.missing",
            ],
            Ty::Str => &[
                r#""eu-west-1""#,
                r#""prod""#,
                r#""read""#,
                r#""write""#,
                r#""search:web""#,
                r#""a*b""#,
                r#""""#,
                r#""ü""#,
                r#""1.5""#,
                r#""0.12345""#,
                r#""-0.5""#,
                r#""007.25""#,
                r#""1.""#,
                r#""-922337203685477.5808""#,
                r#""922337203685477.5808""#,
                "principal.name",
                "principal.region",
                "principal.promotion",
                "principal.id",
                r#"principal["region"]"#,
                "resource.name",
                "resource.kind",
                "context.s",
                "context.rec.s",
                r#"context["s"]"#,
            ],
            Ty::Decimal => &[
                r#"decimal("1.5")"#,
                r#"decimal("-0.25")"#,
                r#"decimal("0.0100")"#,
                r#"decimal("0.01")"#,
                r#"decimal("922337203685477.5807")"#,
                "0.5",
                "context.a_usd",
                "context.run_cost_usd",
                "resource.cost_usd",
                "context.frac",
                "context.rec.fee_usd",
                "decimal(context.s)",
                "decimal(context.rec.s)",
            ],
            Ty::Set => &[
                "[]",
                "context.tags",
                "context.nums",
                "context.list_usd",
                r#"["crm", "research"]"#,
                "[1, 2, 3]",
                r#"[principal, Group::"g"]"#,
                r#"[Agent::"ag_1", Agent::"ag_2"]"#,
                "[[1], [2, 1]]",
            ],
            Ty::Record => &[
                "context",
                "context.rec",
                "context.rec.rec",
                r#"{"n": 1, "s": "x"}"#,
                r#"{rec: {ok: true}, flag: false}"#,
                "{}",
                "principal",
                "resource",
                r#"Agent::"ag_1""#,
                r#"Agent::"ag_2""#,
                r#"Skill::"search:web""#,
            ],
            Ty::Entity => &[
                "principal",
                "resource",
                "action",
                r#"Agent::"ag_1""#,
                r#"Agent::"ag_2""#,
                r#"Skill::"search:web""#,
                r#"Group::"g""#,
                r#"Action::"skill:invoke""#,
                r#"NS::Agent::"ag_1""#,
            ],
        };
        self.rng.pick(choices).to_string()
    }

    fn composite(&mut self, ty: Ty, d: u32) -> String {
        match ty {
            Ty::Bool => self.condition(d),
            Ty::Long => match self.rng.below(4) {
                0 => format!(
                    "({} + {})",
                    self.operand(Ty::Long, d),
                    self.operand(Ty::Long, d)
                ),
                1 => format!(
                    "({} - {})",
                    self.operand(Ty::Long, d),
                    self.operand(Ty::Long, d)
                ),
                2 => format!(
                    "({} * {})",
                    self.operand(Ty::Long, d),
                    self.operand(Ty::Long, d)
                ),
                _ => format!("(-({}))", self.operand(Ty::Long, d)),
            },
            Ty::Decimal => format!("decimal({})", self.leaf(Ty::Str)),
            Ty::Set => {
                let n = self.rng.below(4);
                let elem = self.rng.pick(&TYPES);
                let items: Vec<String> = (0..n)
                    .map(|_| {
                        let ty = if self.rng.chance(20) {
                            self.rng.pick(&TYPES)
                        } else {
                            elem
                        };
                        self.expr(ty, d)
                    })
                    .collect();
                format!("[{}]", items.join(", "))
            }
            Ty::Record => {
                let n = self.rng.below(3);
                let mut names: Vec<&str> = (0..n).map(|_| self.rng.pick(&ATTRS)).collect();
                names.sort_unstable();
                names.dedup();
                let fields: Vec<String> = names
                    .iter()
                    .map(|name| {
                        let ty = self.rng.pick(&TYPES);
                        format!("{name}: {}", self.expr(ty, d))
                    })
                    .collect();
                format!("{{{}}}", fields.join(", "))
            }
            Ty::Str | Ty::Entity => self.leaf(ty),
        }
    }

    fn condition(&mut self, d: u32) -> String {
        match self.rng.below(20) {
            0 | 1 => {
                let ty = self.rng.pick(&TYPES);
                let other = if self.rng.chance(80) {
                    ty
                } else {
                    self.rng.pick(&TYPES)
                };
                let op = if self.rng.chance(70) { "==" } else { "!=" };
                format!("({} {op} {})", self.operand(ty, d), self.operand(other, d))
            }
            2 | 3 => {
                let op = self.rng.pick(&["<", "<=", ">", ">="]);
                // Mostly Longs; decimal operands exercise the dialect's
                // rewrite to `.lessThan()` & co.
                let ty = if self.rng.chance(75) {
                    Ty::Long
                } else {
                    Ty::Decimal
                };
                format!("({} {op} {})", self.operand(ty, d), self.operand(ty, d))
            }
            4 | 17 => format!(
                "({} && {})",
                self.operand(Ty::Bool, d),
                self.operand(Ty::Bool, d)
            ),
            5 | 18 => format!(
                "({} || {})",
                self.operand(Ty::Bool, d),
                self.operand(Ty::Bool, d)
            ),
            6 => format!("(!({}))", self.operand(Ty::Bool, d)),
            7 => {
                let pattern = self.pattern();
                format!(r#"({} like "{pattern}")"#, self.operand(Ty::Str, d))
            }
            8 => {
                let target = if self.rng.chance(40) {
                    self.operand(Ty::Entity, d)
                } else if self.rng.chance(30) {
                    self.operand(Ty::Set, d)
                } else {
                    let n = self.rng.below(3);
                    let items: Vec<String> = (0..n).map(|_| self.expr(Ty::Entity, d)).collect();
                    format!("[{}]", items.join(", "))
                };
                format!("({} in {target})", self.operand(Ty::Entity, d))
            }
            9 => {
                let ty = self.rng.pick(&ENTITY_TYPES);
                if self.rng.chance(50) {
                    format!("({} is {ty})", self.expr(Ty::Entity, d))
                } else {
                    format!(
                        "({} is {ty} in {})",
                        self.expr(Ty::Entity, d),
                        self.expr(Ty::Entity, d)
                    )
                }
            }
            10 => {
                let ty = self.rng.pick(&TYPES);
                format!(
                    "{}.contains({})",
                    self.operand(Ty::Set, d),
                    self.operand(ty, d)
                )
            }
            11 => format!(
                "{}.containsAll({})",
                self.operand(Ty::Set, d),
                self.operand(Ty::Set, d)
            ),
            12 => format!(
                "{}.containsAny({})",
                self.operand(Ty::Set, d),
                self.operand(Ty::Set, d)
            ),
            13 => format!("{}.isEmpty()", self.operand(Ty::Set, d)),
            14 => {
                let path = if self.rng.chance(30) {
                    format!("{}.{}", self.rng.pick(&ATTRS), self.rng.pick(&ATTRS))
                } else if self.rng.chance(20) {
                    format!(r#""{}""#, self.rng.pick(&ATTRS))
                } else {
                    self.rng.pick(&ATTRS).to_string()
                };
                format!("({} has {path})", self.expr(Ty::Record, d))
            }
            15 => {
                let method = self.rng.pick(&[
                    "lessThan",
                    "lessThanOrEqual",
                    "greaterThan",
                    "greaterThanOrEqual",
                ]);
                format!(
                    "{}.{method}({})",
                    self.operand(Ty::Decimal, d),
                    self.operand(Ty::Decimal, d)
                )
            }
            16 => {
                // Rewritten to `[…].contains(x)` by the dialect.
                let items = self.rng.pick(&[
                    r#"["eu-west-1", "eu-central-1"]"#,
                    r#"["read"]"#,
                    "[1, 2, 0.5]",
                    "[true, 1]",
                ]);
                format!("({} in {items})", self.expr(Ty::Str, d))
            }
            _ => self.leaf(Ty::Bool),
        }
    }

    fn scope(&mut self, var: &str, ty: &str, ids: &[&str]) -> String {
        let id = self.rng.pick(ids);
        let other = self.rng.pick(&ENTITY_TYPES);
        match self.rng.below(8) {
            0..=2 => var.to_string(),
            3 => format!(r#"{var} == {ty}::"{id}""#),
            4 => format!(r#"{var} in {ty}::"{id}""#),
            5 => format!(r#"{var} in {other}::"{id}""#),
            6 => format!("{var} is {}", if self.rng.chance(70) { ty } else { other }),
            _ => format!(r#"{var} is {ty} in {ty}::"{id}""#),
        }
    }

    fn policy(&mut self) -> String {
        let effect = if self.rng.chance(60) {
            "permit"
        } else {
            "forbid"
        };
        let principal = self.scope("principal", "Agent", &["ag_1", "ag_2"]);
        let resource = self.scope("resource", "Skill", &["search:web", "slack:post"]);
        let action = self.rng.pick(&[
            "action",
            "action",
            r#"action == Action::"skill:invoke""#,
            r#"action == Action::"other""#,
            r#"action in [Action::"other", Action::"skill:invoke"]"#,
            r#"action in Action::"skill:invoke""#,
            r#"action in [Action::"other"]"#,
        ]);
        let mut text = format!("{effect}({principal}, {action}, {resource})");
        for _ in 0..self.rng.below(3) {
            let keyword = if self.rng.chance(70) {
                "when"
            } else {
                "unless"
            };
            let depth = 1 + self.rng.below(3) as u32;
            text.push_str(&format!("\n{keyword} {{ {} }}", self.expr(Ty::Bool, depth)));
        }
        text.push_str(";\n");
        text
    }
}

// ----------------------------------------------------------------- requests

fn random_json(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth == 0 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => json!(rng.pick(&[0_i64, 1, 2, 7, -3, i64::MAX, i64::MIN])),
        3 => json!(rng.pick(&[0.5, 1.5, -0.25, 0.03125, 2.0, 1e-5])),
        4 => json!(rng.pick(&["crm", "research", "1.5", "x"])),
        5 => json!(rng.pick(&["", "-0.25", "ü"])),
        6 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_json(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(4) {
                map.insert(rng.pick(&ATTRS).to_string(), random_json(rng, depth - 1));
            }
            Value::Object(map)
        }
    }
}

fn one_of<const N: usize>(rng: &mut Rng, options: [Value; N]) -> Value {
    let i = rng.below(N);
    options.into_iter().nth(i).unwrap_or(Value::Null)
}

fn random_request(rng: &mut Rng) -> CheckRequest {
    let mut context = Map::new();
    let mut maybe = |rng: &mut Rng, key: &str, value: Value| {
        if rng.chance(70) {
            context.insert(key.to_string(), value);
        }
    };
    let flag = if rng.chance(85) {
        json!(rng.chance(50))
    } else {
        random_json(rng, 1)
    };
    maybe(rng, "flag", flag);
    let n = json!(rng.pick(&[1_i64, 2, 3, -3]));
    maybe(rng, "n", n);
    let big = json!(rng.pick(&[i64::MAX, i64::MIN, 4_611_686_018_427_387_904]));
    maybe(rng, "big", big);
    let s = json!(rng.pick(&[
        "eu-west-1",
        "prod",
        "read",
        "search:web",
        "a*b",
        "",
        "1.5",
        "-0.25",
        "0.12345",
        "1.",
        "+1.0",
        "9223372036854775807.0",
        "٣.٥",
    ]));
    maybe(rng, "s", s);
    let frac = json!(rng.pick(&[0.5, 1.5, -0.25, 2.0, 0.00005]));
    maybe(rng, "frac", frac);
    let a_usd = json!(rng.pick(&[0.0, 0.37, 0.5, 3.0, 25.0]));
    maybe(rng, "a_usd", a_usd);
    let tags = json!(
        (0..rng.below(4))
            .map(|_| rng.pick(&["crm", "research", "crm", "read"]))
            .collect::<Vec<_>>()
    );
    maybe(rng, "tags", tags);
    let nums = one_of(
        rng,
        [
            json!([1, 2, null, 0.5]),
            json!([null]),
            json!([]),
            json!([2, 1, 1]),
            json!([1]),
        ],
    );
    maybe(rng, "nums", nums);
    let list_usd = json!([1, 2.5]);
    maybe(rng, "list_usd", list_usd);
    let rec = if rng.chance(50) {
        json!({
            "n": rng.pick(&[1, 2]),
            "s": rng.pick(&["x", "1.5", "prod"]),
            "ok": rng.chance(50),
            "fee_usd": one_of(rng, [json!(0.1), json!(1)]),
            "rec": random_json(rng, 2),
        })
    } else {
        one_of(
            rng,
            [
                json!({"n": 1}),
                json!({"n": 2}),
                json!({"n": 1, "s": "x"}),
                json!({"n": 1, "s": "x", "tags": ["crm", "crm"]}),
                json!({"n": 1, "s": "x", "tags": ["crm", null]}),
            ],
        )
    };
    maybe(rng, "rec", rec);
    let extra = random_json(rng, 2);
    maybe(rng, "missing", extra);
    // An overridden run cost, and now and then a value that cannot convert.
    if rng.chance(10) {
        context.insert("run_cost_usd".to_string(), json!("ignored"));
    }
    if rng.chance(3) {
        context.insert("n".to_string(), json!(u64::MAX));
    }
    if rng.chance(3) {
        context.insert("a_usd".to_string(), json!(1e300));
    }
    let run_cost_usd = if rng.chance(2) {
        f64::NAN
    } else {
        rng.pick(&[0.0, 0.37, 0.5, 5.0, 0.03125])
    };
    let cost_usd = if rng.chance(2) {
        1e300
    } else {
        rng.pick(&[0.0, 0.002, 0.05, 1.5, 0.00005])
    };
    CheckRequest {
        agent: AgentInfo {
            id: rng.pick(&["ag_1", "ag_2"]).to_string(),
            name: "crm-enricher".to_string(),
            region: rng.pick(&["eu-west-1", "us-east-1"]).to_string(),
            promotion: rng.pick(&["prod", "dev"]).to_string(),
        },
        skill: SkillInfo {
            name: rng
                .pick(&["search:web", "slack:post", "a*b", "search:*x", ""])
                .to_string(),
            kind: if rng.chance(50) {
                SkillKind::Read
            } else {
                SkillKind::Write
            },
            external: rng.chance(50),
            cost_usd,
        },
        run_cost_usd,
        context,
    }
}

// -------------------------------------------------------------------- tests

/// Counts of the compared cases.
#[derive(Default)]
struct Tally {
    cases: usize,
    invalid_envelopes: usize,
    allowed: usize,
    errors: usize,
    forbidden: usize,
}

/// Builds `envelopes` random envelopes with `documents` and checks each
/// against `requests` random requests with [`check`] (compiled == Cedar).
fn differential(
    seed: u64,
    envelopes: usize,
    requests: usize,
    mut documents: impl FnMut(&mut Gen<'_>) -> Vec<(String, String)>,
) -> Tally {
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    for _ in 0..envelopes {
        let documents = documents(&mut Gen { rng: &mut rng });
        let engine = match PolicyEngine::new(&documents) {
            Ok(engine) => engine,
            Err(_) => {
                // The dialect's rewrites can make odd generated text invalid.
                tally.invalid_envelopes += 1;
                continue;
            }
        };
        for _ in 0..requests {
            let decision = check(&engine, &random_request(&mut rng));
            tally.cases += 1;
            tally.allowed += usize::from(decision.allowed);
            tally.errors += usize::from(!decision.errors.is_empty());
            tally.forbidden += usize::from(!decision.allowed && !decision.reasons.is_empty());
        }
    }
    // The generator must produce a useful mix.
    assert!(
        tally.invalid_envelopes * 10 < envelopes,
        "{} invalid envelopes",
        tally.invalid_envelopes
    );
    for (what, count) in [
        ("allowed", tally.allowed),
        ("with errors", tally.errors),
        (
            "answered by the compiled evaluator",
            tally.cases - tally.errors,
        ),
    ] {
        assert!(
            count * 10 > tally.cases,
            "only {count} of {} cases {what}",
            tally.cases
        );
    }
    tally
}

#[test]
fn compiled_evaluator_agrees_with_cedar_on_random_envelopes() {
    let tally = differential(0x5eed_ceda_2024, 400, 8, |generator| {
        (0..1 + generator.rng.below(3))
            .map(|i| {
                let text: String = (0..1 + generator.rng.below(3))
                    .map(|_| generator.policy())
                    .collect();
                (format!("po_{i}"), text)
            })
            .collect()
    });
    assert!(tally.cases >= 2500, "{} cases", tally.cases);
    assert!(
        tally.forbidden * 10 > tally.cases,
        "{} forbidden",
        tally.forbidden
    );
}

/// One permit with one condition per envelope: the decision shows whether the
/// condition held, did not, or failed, so each evaluation result is compared.
#[test]
fn compiled_conditions_agree_with_cedar() {
    let tally = differential(0xc0de_0001, 1500, 4, |generator| {
        let depth = generator.rng.below(3) as u32;
        let condition = generator.condition(depth);
        let text = format!("permit(principal, action, resource) when {{ {condition} }};");
        vec![("po_c".to_string(), text)]
    });
    assert!(tally.cases >= 5000, "{} cases", tally.cases);
}

/// Edge cases of the subset's semantics, with their outcome for
/// [`edge_request`] (also checked against Cedar, with that request and
/// variants of it).
const EDGE_CASES: &[(&str, Outcome)] = {
    use Outcome::{Error as E, False as F, True as T};
    &[
        // Long arithmetic and overflow.
        ("9223372036854775807 + 1 == 0", E),
        ("context.big + 1 > 0", E),
        ("context.big - 1 > 0", T),
        ("-9223372036854775807 - 2 < 0", E),
        ("context.min * -1 > 0", E),
        ("-(context.min) > 0", E),
        ("-(context.n) == -2", T),
        ("4611686018427387904 * 2 > 0", E),
        ("context.n * 3 == 6", T),
        (r#"context.n + "a" == 1"#, E),
        // Booleans demand booleans, and short-circuit.
        ("true && 1", E),
        ("false && 1", F),
        ("true || 1", T),
        ("false || 1", E),
        ("!1", E),
        ("if 1 then true else false", E),
        ("if false then 1 else true", T),
        ("if true then 1 else true", E),
        ("context.flag", T),
        ("context.n", E),
        // Equality across types, decimals by value, sets, records.
        (r#"context.n == decimal("2.0")"#, F),
        (r#"decimal("1.0") == decimal("1.0000")"#, T),
        (r#""1" == 1"#, F),
        ("{n: 1} == {n: 2}", F),
        ("{n: 1} == {n: 1}", T),
        ("{n: 1} == {m: 1}", F),
        (r#"context.rec == {n: 1, s: "x"}"#, T),
        ("[1, 2] == [2, 1, 1]", T),
        ("[1] == [1, 2]", F),
        ("[1, 2] == [1]", F),
        (r#"context.tags == ["crm"]"#, T),
        ("context.nums == [1]", T),
        ("[[1], [2]] == [[2], [1, 1]]", T),
        ("{a: [1, 2]} == {a: [2, 1]}", T),
        (r#"principal == Agent::"ag_1""#, T),
        (r#"principal == NS::Agent::"ag_1""#, F),
        (r#"[principal] == [Agent::"ag_1"]"#, T),
        ("{} == {} && [] == []", T),
        (r#"principal != resource"#, T),
        // `<` & co. on Longs only.
        ("1 < 2 && 2 <= 2 && !(2 > 2) && 2 >= 2", T),
        // (Operands the dialect does not see as decimals: no rewrite.)
        (r#"{d: decimal("1.0")}.d < {d: decimal("2.0")}.d"#, E),
        (r#""a" < "b""#, E),
        (r#"context.n < {d: decimal("2.0")}.d"#, E),
        // Decimals.
        (r#"decimal("1.23456") == decimal("1.0")"#, E),
        (r#"decimal("-0.5").lessThan(decimal("0.0"))"#, T),
        (r#"decimal("922337203685477.5808") == decimal("1.0")"#, E),
        (
            r#"decimal("-922337203685477.5808").lessThan(decimal("0.0"))"#,
            T,
        ),
        (r#"decimal("1.") == decimal("1.0")"#, E),
        (r#"decimal(".5") == decimal("0.5")"#, E),
        (r#"decimal("+1.0") == decimal("1.0")"#, E),
        (r#"decimal("1.5").lessThan(2)"#, E),
        (r#"context.a_usd.greaterThanOrEqual(decimal("0.5"))"#, T),
        (r#"context.a_usd.greaterThan(decimal("0.5"))"#, F),
        (r#"decimal(context.s) == decimal("1.0")"#, E),
        (r#"decimal("007.25") == decimal("7.25")"#, T),
        (r#"decimal("-0.0") == decimal("0.0")"#, T),
        (r#"resource.cost_usd == decimal("0.0020")"#, T),
        (r#"context.run_cost_usd == decimal("0.37")"#, T),
        // `like`: `*` and the escaped `\*`.
        (r#""search:web" like "s*e""#, F),
        (r#""search:web" like "s*b""#, T),
        (r#""search:web" like "*:*""#, T),
        (r#""" like "" && "" like "*""#, T),
        (r#""a*b" like "a\*b""#, T),
        (r#""axb" like "a\*b""#, F),
        (r#""axb" like "a*b""#, T),
        (r#""aaa" like "a*a*a""#, T),
        (r#""aa" like "a*a*a""#, F),
        (r#""ab" like "a**b""#, T),
        (r#""üx" like "ü*""#, T),
        (r#"context.n like "*""#, E),
        // Hierarchy `in` (no parents) and `is`.
        (r#"principal in Agent::"ag_1""#, T),
        (r#"principal in [Agent::"ag_2", Agent::"ag_1"]"#, T),
        (r#"principal in [Agent::"ag_1", 1]"#, E),
        (r#"principal in "x""#, E),
        (r#""x" in [Agent::"ag_1"]"#, E),
        ("principal in []", F),
        (r#"action in [Action::"skill:invoke"]"#, T),
        (r#"Group::"g" in Group::"g""#, T),
        ("principal is Agent && resource is Skill", T),
        ("principal is Skill", F),
        (r#"resource is Skill in Skill::"search:web""#, T),
        ("1 is Agent", E),
        ("principal is Skill in 1", F),
        ("principal is Agent in 1", E),
        // `has` and attribute access.
        ("principal has name && resource has cost_usd", T),
        ("principal has missing", F),
        ("action has name", F),
        (r#"Agent::"ag_9" has name"#, F),
        (r#"Agent::"ag_1" has name"#, T),
        (r#"Agent::"ag_9".name == "x""#, E),
        (r#"Agent::"ag_1".name == "crm-enricher""#, T),
        (r#"action.name == "x""#, E),
        ("context has rec.n", T),
        ("context has rec.n.x", E),
        ("context has missing.n", F),
        (r#"context.rec has "n""#, T),
        ("1 has n", E),
        ("context.missing == 1", E),
        (r#"context["rec"]["n"] == 1"#, T),
        ("{a: 1}.a == 1", T),
        ("{a: 1}.b == 1", E),
        ("principal.missing == 1", E),
        ("context has run_cost_usd", T),
        // Sets.
        ("[1, 2].contains(1)", T),
        (r#"[1, 2].contains(decimal("1.0"))"#, F),
        ("context.n.contains(1)", E),
        ("[1, 2].containsAll([])", T),
        ("[].containsAny([])", F),
        ("[1].containsAll(1)", E),
        (r#"context.tags.containsAll(["crm"])"#, T),
        (r#"context.tags.containsAny(["x", "crm"])"#, T),
        ("[].isEmpty() && !context.nums.isEmpty()", T),
        (r#""x".isEmpty()"#, E),
        ("[[1, 2]].contains([2, 1])", T),
        ("[{a: 1}].contains({a: 1})", T),
    ]
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    True,
    False,
    Error,
}

fn edge_request() -> CheckRequest {
    let Value::Object(context) = json!({
        "n": 2,
        "big": i64::MAX,
        "min": i64::MIN,
        "s": "search:web",
        "flag": true,
        "a_usd": 0.5,
        "tags": ["crm", "crm"],
        "nums": [1, null],
        "rec": {"n": 1, "s": "x"},
    }) else {
        unreachable!("an object")
    };
    CheckRequest {
        agent: AgentInfo {
            id: "ag_1".to_string(),
            name: "crm-enricher".to_string(),
            region: "eu-west-1".to_string(),
            promotion: "prod".to_string(),
        },
        skill: SkillInfo {
            name: "search:web".to_string(),
            kind: SkillKind::Read,
            external: false,
            cost_usd: 0.002,
        },
        run_cost_usd: 0.37,
        context,
    }
}

#[test]
fn edge_cases_agree_with_cedar() {
    let mut variants = vec![edge_request()];
    let mut other = edge_request();
    other.agent.id = "ag_2".to_string();
    other.skill.name = "slack:post".to_string();
    variants.push(other);
    let mut empty = edge_request();
    empty.context.clear();
    variants.push(empty);
    for (condition, expected) in EDGE_CASES {
        let text = format!("permit(principal, action, resource) when {{ {condition} }};");
        let engine = match PolicyEngine::new(&[("po_edge", text.as_str())]) {
            Ok(engine) => engine,
            Err(e) => panic!("{condition}: {e}"),
        };
        for (i, request) in variants.iter().enumerate() {
            let decision = check(&engine, request);
            let outcome = match (decision.allowed, decision.errors.is_empty()) {
                (true, _) => Outcome::True,
                (false, true) => Outcome::False,
                (false, false) => Outcome::Error,
            };
            if i == 0 {
                assert_eq!(outcome, *expected, "{condition}: {:?}", decision.errors);
            }
        }
    }
}

/// Envelopes beyond the compiled subset: every check goes through Cedar, with
/// Cedar's answers.
#[test]
fn unsupported_constructs_use_cedar() {
    let allow = r#"permit(principal, action, resource) when { principal.promotion == "prod" };"#;
    // Beyond the nesting the compiled evaluator takes (and cedar-policy's
    // conversion to a syntax tree, which recurses, can take on a test thread
    // in a debug build).
    let deep = format!("true{}", " && true".repeat(70));
    // (condition of a `forbid`, whether the request is allowed, whether
    // Cedar reports an error)
    let cases = [
        (r#"ip("127.0.0.1").isLoopback()"#, false, false),
        (
            r#"ip("10.0.0.1").isInRange(ip("10.0.0.0/8"))"#,
            false,
            false,
        ),
        (r#"ip("10.0.0.1").isLoopback()"#, true, false),
        (
            r#"datetime("2024-01-01") < datetime("2025-01-01")"#,
            false,
            false,
        ),
        (r#"duration("1h") == duration("60m")"#, false, false),
        (r#"resource.hasTag("team")"#, true, false),
        (r#"principal.getTag("team") == "x""#, true, true),
        (deep.as_str(), false, false),
    ];
    for (condition, allowed, has_errors) in cases {
        let forbid = format!("forbid(principal, action, resource) when {{ {condition} }};");
        let engine = match PolicyEngine::new(&[("po_allow", allow), ("po_x", forbid.as_str())]) {
            Ok(engine) => engine,
            Err(e) => panic!("{condition}: {e}"),
        };
        assert!(!engine.is_compiled(), "{condition}");
        let request = edge_request();
        assert_eq!(engine.check_compiled(&request), None, "{condition}");
        let decision = engine.check(&request);
        assert_eq!(decision, engine.check_cedar(&request), "{condition}");
        assert_eq!(decision.allowed, allowed, "{condition}");
        assert_eq!(!decision.errors.is_empty(), has_errors, "{condition}");
    }
}

/// A policy whose scope can never match is never evaluated, by Cedar either:
/// what its conditions use does not matter.
#[test]
fn policies_that_cannot_match_are_dropped() {
    let engine = PolicyEngine::new(&[(
        "po_x",
        r#"permit(principal, action, resource);
           forbid(principal in Group::"g", action, resource) when { ip("127.0.0.1").isLoopback() };
           forbid(principal, action == Action::"other", resource) when { 1 };
           forbid(principal, action, resource is Agent) when { 1 };"#,
    )]);
    let engine = match engine {
        Ok(engine) => engine,
        Err(e) => panic!("{e}"),
    };
    let decision = check(&engine, &edge_request());
    assert!(decision.allowed);
    assert!(decision.errors.is_empty());
}

/// Depth of a syntax tree (a leaf is 1).
fn depth(e: &pst::Expr) -> usize {
    use pst::Expr as P;
    let children: Vec<&pst::Expr> = match e {
        P::UnaryOp { expr, .. }
        | P::GetAttr { expr, .. }
        | P::HasAttr { expr, .. }
        | P::Like { expr, .. } => vec![expr],
        P::BinaryOp { left, right, .. } => vec![left, right],
        P::Is { expr, in_expr, .. } => std::iter::once(expr).chain(in_expr).map(|e| &**e).collect(),
        P::IfThenElse {
            cond,
            then_expr,
            else_expr,
        } => vec![cond, then_expr, else_expr],
        P::Set(items) => items.iter().map(|e| &**e).collect(),
        P::Record(fields) => fields.values().map(|e| &**e).collect(),
        _ => Vec::new(),
    };
    1 + children.into_iter().map(depth).max().unwrap_or(0)
}

#[test]
fn nesting_bound_bounds_the_syntax_tree() {
    use super::translate::nesting_bound;
    let mut rng = Rng(0xdee9);
    let mut tightest = usize::MAX;
    for _ in 0..300 {
        let text = Gen { rng: &mut rng }.policy();
        let Ok(compiled) = compile(&text) else {
            continue;
        };
        let Ok(set) = compiled.cedar.parse::<cedar_policy::PolicySet>() else {
            continue;
        };
        for policy in set.policies() {
            let (Some(cedar), Ok(pst)) = (policy.to_cedar(), policy.to_pst()) else {
                panic!("{text}");
            };
            let bound = nesting_bound(&cedar);
            for clause in pst.body().clauses() {
                let (pst::Clause::When(e) | pst::Clause::Unless(e)) = clause;
                assert!(depth(e) <= bound, "{cedar}: depth {} > {bound}", depth(e));
                tightest = tightest.min(bound - depth(e));
            }
        }
    }
    assert!(tightest <= 2, "the bound is never close: {tightest}");
    // Long conjunctions of small conditions stay well within the limit.
    let typed = r#"permit(principal, action, resource) when {
        context.a == 1 && context.b.c == decimal("0.1") && [1, 2].contains(context.d)
        && context.e && principal.name == "x" && resource.cost_usd.lessThan(decimal("0.5"))
        && !(context has f) && context.g like "a*" && (if context.h then 1 else 2) == 1
    };"#;
    assert_eq!(nesting_bound(typed), 14);
    let chain = format!(
        "permit(principal, action, resource) when {{ true{} }};",
        " && true".repeat(70)
    );
    assert_eq!(nesting_bound(&chain), 72);
    // Index chains nest like dot chains: each `["a"]` is one attribute access.
    let index = |n: usize| {
        format!(
            "permit(principal, action, resource) when {{ context{} == 1 }};",
            "[\"a\"]".repeat(n)
        )
    };
    assert!(nesting_bound(&index(40)) > 40);
    // `in [..]` and `then [..]` are set literals, not indexes.
    assert_eq!(
        nesting_bound(r#"permit(principal, action, resource) when { context.a in ["x"] };"#),
        nesting_bound(r#"permit(principal, action, resource) when { context.a in ("x") };"#)
    );
}

#[test]
fn long_request_arrays_are_compared_by_cedar() {
    let engine = PolicyEngine::new(&[(
        "po_1",
        "permit(principal, action, resource) when { context.tags.containsAll(context.other) };",
    )])
    .expect("valid");
    for n in [3usize, 64, 65, 5000] {
        let tags: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        let mut other = tags.clone();
        other.reverse();
        let Value::Object(context) = json!({"tags": tags, "other": other}) else {
            unreachable!()
        };
        let request = CheckRequest {
            agent: AgentInfo {
                id: "ag_1".into(),
                name: "a".into(),
                region: "eu-west".into(),
                promotion: "prod".into(),
            },
            skill: SkillInfo {
                name: "s".into(),
                kind: SkillKind::Read,
                external: false,
                cost_usd: 0.0,
            },
            run_cost_usd: 0.0,
            context,
        };
        let decision = engine.check(&request);
        assert!(decision.allowed, "{n}: {decision:?}");
        assert_eq!(decision, engine.check_cedar(&request), "{n}");
        // Longer arrays are Cedar's (5,000 × 5,000 compared element by element
        // took seconds here).
        assert_eq!(engine.check_compiled(&request).is_some(), n <= 64, "{n}");
    }
}

#[test]
fn a_long_index_chain_is_left_to_cedar_instead_of_overflowing_the_stack() {
    let text = format!(
        "permit(principal, action, resource) when {{ context{} == 1 }};",
        "[\"a\"]".repeat(2000)
    );
    // On a 2 MiB thread, as tokio's workers have.
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let engine = PolicyEngine::new(&[("po_1", text.as_str())]).expect("valid");
            assert!(!engine.is_compiled(), "deeper than the compiled limit");
        })
        .expect("thread");
    handle.join().expect("no stack overflow");
}
