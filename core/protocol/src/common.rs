use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal, { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant,)+
            /// A value this build does not know (sent by a newer server). Requests
            /// never accept it; it is written back as `"unknown"`.
            #[serde(rename = "unknown", other)]
            Unknown,
        }

        impl $name {
            /// Every value this build knows, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name (`"unknown"` for [`Self::Unknown`]).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)+ $name::Unknown => "unknown" }
            }

            /// Parses the wire name; the error names the field and lists the valid values.
            pub fn parse_field(field: &str, text: &str) -> $crate::error::Result<Self> {
                match text {
                    $($wire => Ok($name::$variant),)+
                    _ => Err($crate::error::Error::invalid(
                        field,
                        format!(
                            "{field} must be one of {}; got {:?}",
                            [$($wire),+].join(", "),
                            text
                        ),
                    )),
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                Self::parse_field($field, s)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// The values this version sends and accepts; a client reads any other as
        /// `unknown` (a newer server's value).
        #[cfg(feature = "schema")]
        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({
                    "type": "string",
                    "enum": [$($wire),+],
                })
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(
    /// One of the five Heroa regions. Set at registration, never changed in place.
    Region, "region", {
        /// Virginia.
        UsEast = "us-east",
        /// Oregon.
        UsWest = "us-west",
        /// Dublin, GDPR-residency eligible.
        EuWest = "eu-west",
        /// Singapore.
        AsiaPacific = "asia-pacific",
        /// BC Canada, single-tenant, PIPEDA and BC PIPA aligned.
        BcSovereign = "bc-sovereign",
    }
);

wire_enum!(
    /// A workspace's plan: it bounds agents, regions, vault scopes and promotion.
    Tier, "tier", {
        /// One agent, one region.
        Free = "free",
        /// Workspace-scoped vault entries.
        Team = "team",
        /// L4 trusted promotion (with SOC 2 acceptance).
        Enterprise = "enterprise",
    }
);

wire_enum!(
    /// How much autonomy an agent has.
    PromotionLevel, "level", {
        /// Runs fully; write skills and external calls are recorded, not executed.
        L0Shadow = "L0_shadow",
        /// Runs and writes; a workspace inbox notification after each run.
        L1Notify = "L1_notify",
        /// Holds before any write until a member approves (window default 24 h).
        L2Approve = "L2_approve",
        /// Full autonomy within the policy envelope.
        L3Autonomous = "L3_autonomous",
        /// L3 plus vault-scope expansion; Enterprise tier with SOC 2 acceptance.
        L4Trusted = "L4_trusted",
    }
);

wire_enum!(
    /// Whether a skill only reads or also changes the world.
    SkillKind, "kind", {
        /// Reads only.
        Read = "read",
        /// Writes: held at L2, recorded but not executed at L0.
        Write = "write",
    }
);

/// Checks a human-readable name (the error names `field`): 1–64 characters of `a-z A-Z 0-9 - _ .`, starting
/// with a letter or digit.
pub fn check_name(field: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "{field} must be 1-64 characters of letters, digits, '-', '_' or '.', starting with a letter or digit; got {name:?}"
            ),
        ))
    }
}

/// Checks an optional free-text description (≤ 1024 characters).
pub fn check_description(field: &str, text: Option<&str>) -> Result<()> {
    match text {
        Some(t) if t.chars().count() > 1024 => Err(Error::invalid(
            field,
            format!("{field} must be at most 1024 characters"),
        )),
        _ => Ok(()),
    }
}

/// The longest `approval_window`: 30 days.
pub const MAX_APPROVAL_WINDOW_SECS: u64 = 30 * 86_400;
/// The longest finite `ttl`: 365 days (longer lives are `"persistent"`).
pub const MAX_TTL_SECS: u64 = 365 * 86_400;

/// Parses a duration in the product's form: a positive integer and a unit `s`, `m`,
/// `h` or `d` (`"15m"`, `"2h"`, `"24h"`) of at most `max_secs`. Returns seconds.
/// Any other text — another unit, a sign, a fraction, a non-ASCII character, a
/// number too large — is `invalid_argument` on `field`.
pub fn parse_duration(field: &str, text: &str, max_secs: u64) -> Result<u64> {
    let err = || {
        Error::invalid(
            field,
            format!(
                "{field} must be a positive whole number followed by s, m, h or d (e.g. \"15m\", \"24h\"), at most {}d; got {text:?}",
                max_secs / 86_400
            ),
        )
    };
    let (num, mult) = match text.as_bytes().last() {
        Some(b's') => (&text[..text.len() - 1], 1),
        Some(b'm') => (&text[..text.len() - 1], 60),
        Some(b'h') => (&text[..text.len() - 1], 3600),
        Some(b'd') => (&text[..text.len() - 1], 86_400),
        _ => return Err(err()),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let n: u64 = num.parse().map_err(|_| err())?;
    match n.checked_mul(mult) {
        Some(secs) if secs > 0 && secs <= max_secs => Ok(secs),
        _ => Err(err()),
    }
}

/// A regular expression (ECMA 262) for the whole numbers 1 to `max`, without
/// leading zeros.
#[cfg(feature = "schema")]
pub(crate) fn numbers_up_to(max: u64) -> String {
    let digits: Vec<u8> = max.to_string().bytes().map(|b| b - b'0').collect();
    let n = digits.len();
    let any = |k: usize| match k {
        0 => String::new(),
        1 => "[0-9]".to_string(),
        k => format!("[0-9]{{{k}}}"),
    };
    // Every shorter length, then each way of staying below `max` at one digit.
    let mut alts: Vec<String> = (1..n).map(|len| format!("[1-9]{}", any(len - 1))).collect();
    for (i, &d) in digits.iter().enumerate() {
        let lo = u8::from(i == 0);
        if d > lo {
            let prefix: String = digits[..i].iter().map(|x| char::from(b'0' + x)).collect();
            let class = if lo == d - 1 {
                lo.to_string()
            } else {
                format!("[{lo}-{}]", d - 1)
            };
            alts.push(format!("{prefix}{class}{}", any(n - i - 1)));
        }
    }
    alts.push(max.to_string());
    format!("(?:{})", alts.join("|"))
}

/// A regular expression for the durations [`parse_duration`] takes up to `max_secs`.
#[cfg(feature = "schema")]
pub(crate) fn duration_pattern(max_secs: u64) -> String {
    format!(
        "0*(?:{}s|{}m|{}h|{}d)",
        numbers_up_to(max_secs),
        numbers_up_to(max_secs / 60),
        numbers_up_to(max_secs / 3600),
        numbers_up_to(max_secs / 86_400)
    )
}

/// `approval_window`: a duration of at most 30 days.
#[cfg(feature = "schema")]
pub(crate) fn approval_window_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": ["string", "null"],
        "pattern": format!("^{}$", duration_pattern(MAX_APPROVAL_WINDOW_SECS)),
        "description": "How long a held write waits for a decision: a whole number and a unit (`s`, `m`, `h`, `d`), at most 30 days (default `24h`).",
    })
}

/// An `approval_window` in seconds (at most [`MAX_APPROVAL_WINDOW_SECS`]).
pub fn parse_approval_window(text: &str) -> Result<u64> {
    parse_duration("approval_window", text, MAX_APPROVAL_WINDOW_SECS)
}

/// A list answer: one page, `{"items": […], "next_cursor": "…" | null}`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "{T}List"))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct List<T> {
    /// The items, oldest first.
    pub items: Vec<T>,
    /// Where the next page starts (pass it as `cursor`); `null` on the last page.
    /// Opaque: its form may change between versions.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    /// A whole list in one page.
    pub fn all(items: Vec<T>) -> List<T> {
        List {
            items,
            next_cursor: None,
        }
    }
}

/// Items per page when a list request names no `limit`.
pub const DEFAULT_PAGE_LIMIT: u32 = 100;
/// The largest `limit` a list takes.
pub const MAX_PAGE_LIMIT: u32 = 1000;

/// Which page of a list to answer: at most `limit` items (default
/// [`DEFAULT_PAGE_LIMIT`], at most [`MAX_PAGE_LIMIT`]) after `cursor` (the
/// `next_cursor` of the page before; absent for the first page). Also the query of a
/// list without filters ([`ListQuery`]).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        rename = "ListQuery",
        description = "The query of a list without filters: `?limit=&cursor=`."
    )
)]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Items per page, 1 to 1000 (default 100).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_page_limit"
    )]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 1000)))]
    pub limit: Option<u32>,
    /// The `next_cursor` of the page before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// The query of a list without filters: `?limit=&cursor=`.
pub type ListQuery = Page;

impl Page {
    /// The first page of at most `limit` items.
    pub fn first(limit: u32) -> Page {
        Page {
            limit: Some(limit),
            cursor: None,
        }
    }

    /// The page after the one that answered `next_cursor`, of the same size.
    pub fn after(&self, next_cursor: String) -> Page {
        Page {
            limit: self.limit,
            cursor: Some(next_cursor),
        }
    }

    /// The number of items to answer, checked.
    pub fn limit(&self) -> Result<u32> {
        match self.limit {
            None => Ok(DEFAULT_PAGE_LIMIT),
            Some(n) if (1..=MAX_PAGE_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(limit_error(&n.to_string())),
        }
    }
}

// The page's fields are repeated in the filtered queries rather than
// `#[serde(flatten)]`ed: serde cannot refuse unknown fields through a flattened struct.

/// The query of a list that filters by agent: `?agent_id=&limit=&cursor=`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentListQuery {
    /// Only this agent's items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^ag_[0-9a-hjkmnp-tv-z]{26}$"))
    )]
    pub agent_id: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_page_limit"
    )]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 1000)))]
    pub limit: Option<u32>,
    /// The `next_cursor` of the page before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// The query of the approval list: `?status=&limit=&cursor=`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalListQuery {
    /// Only approvals with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<crate::ApprovalStatus>"))]
    pub status: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_page_limit"
    )]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 1000)))]
    pub limit: Option<u32>,
    /// The `next_cursor` of the page before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

macro_rules! page_of {
    ($($t:ty),*) => {$(
        impl $t {
            /// The page this query asks for.
            pub fn page(&self) -> Page {
                Page { limit: self.limit, cursor: self.cursor.clone() }
            }
        }
    )*};
}
page_of!(AgentListQuery, ApprovalListQuery);

fn limit_error(got: &str) -> Error {
    Error::invalid(
        "limit",
        format!("limit must be a whole number from 1 to {MAX_PAGE_LIMIT}; got {got}"),
    )
}

/// `limit` as a JSON number or as the text of one (a query string carries text),
/// checked; for request types that take a page's fields.
pub fn deserialize_page_limit<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Limit {
        Number(u64),
        Text(String),
    }
    let fail = |got: &str| serde::de::Error::custom(limit_error(got).message());
    let n = match Option::<Limit>::deserialize(d)? {
        None => return Ok(None),
        Some(Limit::Number(n)) => n,
        Some(Limit::Text(t)) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
            t.parse::<u64>().map_err(|_| fail(&t))?
        }
        Some(Limit::Text(t)) => return Err(fail(&format!("{t:?}"))),
    };
    match u32::try_from(n) {
        Ok(n) if (1..=MAX_PAGE_LIMIT).contains(&n) => Ok(Some(n)),
        _ => Err(fail(&n.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn unknown_region_names_field_and_lists_valid_ones() {
        let err: Error = "mars-north".parse::<Region>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(err.field(), Some("region"));
        for r in Region::ALL {
            assert!(err.message().contains(r.as_str()), "{}", err.message());
        }
        assert_eq!(
            "bc-sovereign".parse::<Region>().unwrap(),
            Region::BcSovereign
        );
        assert_eq!(
            serde_json::to_string(&PromotionLevel::L2Approve).unwrap(),
            "\"L2_approve\""
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("ttl", "15m", MAX_TTL_SECS).unwrap(), 900);
        assert_eq!(parse_duration("ttl", "24h", MAX_TTL_SECS).unwrap(), 86_400);
        assert_eq!(
            parse_duration("ttl", "365d", MAX_TTL_SECS).unwrap(),
            MAX_TTL_SECS
        );
        for bad in [
            "",
            "h",
            "0m",
            "-5m",
            "1.5h",
            "10x",
            "+5m",
            "99999999999999999999d",
            // Found by fuzzing: a non-ASCII last character, and overflowing or
            // absurd lengths that used to panic or wrap to a past expiry.
            "\u{80}",
            "é",
            "5é",
            "200000000000d",
            "18446744073709551615s",
            "3650000d",
            "366d",
        ] {
            let e = parse_duration("ttl", bad, MAX_TTL_SECS).unwrap_err();
            assert_eq!(e.field(), Some("ttl"), "{bad}");
        }
    }

    #[test]
    fn names() {
        check_name("name", "lead-research-v1").unwrap();
        for bad in ["", "-x", "a b", "é", &"x".repeat(65)] {
            assert!(check_name("name", bad).is_err(), "{bad}");
        }
    }
}
