//! Money: exact amounts of US dollars.
//!
//! On the wire an amount is a **decimal string** of dollars with at most six
//! fractional digits (a micro-dollar), e.g. `"0.0025"`, `"12"`, `"0.000001"`:
//! never a JSON number, so no language reads it through a binary float. Answers
//! always carry the shortest form (no trailing zeros, no exponent, no sign); requests
//! may carry trailing zeros (`"1.50"`). Inside, an amount is a whole number of
//! micro-dollars ([`Usd::micros`]); a cost computed from token prices is rounded to
//! the nearest micro-dollar, half away from zero, once per model call.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// Micro-dollars per dollar.
const MICROS: i64 = 1_000_000;

/// The largest amount: a billion dollars (far below `i64` micro-dollars, so sums of
/// many amounts cannot overflow).
pub const MAX_USD_MICROS: i64 = 1_000_000_000 * MICROS;

/// An exact, non-negative amount of US dollars with micro-dollar precision.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Usd(i64);

impl Usd {
    /// Nothing.
    pub const ZERO: Usd = Usd(0);

    /// `micros` micro-dollars (millionths of a dollar); `None` when negative or above
    /// [`MAX_USD_MICROS`].
    pub const fn from_micros(micros: i64) -> Option<Usd> {
        if micros >= 0 && micros <= MAX_USD_MICROS {
            Some(Usd(micros))
        } else {
            None
        }
    }

    /// `cents` hundredths of a dollar, e.g. `Usd::cents(5)` is `"0.05"`.
    pub const fn cents(cents: u32) -> Usd {
        Usd(cents as i64 * 10_000)
    }

    /// The amount in micro-dollars.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// The amount in dollars as a float, for display or for engines that take one
    /// (Cedar's decimals have four fractional digits). Never sent on the wire.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / MICROS as f64
    }

    /// The sum, saturating at [`MAX_USD_MICROS`].
    pub fn saturating_add(self, other: Usd) -> Usd {
        Usd(self.0.saturating_add(other.0).min(MAX_USD_MICROS))
    }

    /// The difference, floored at zero.
    pub fn saturating_sub(self, other: Usd) -> Usd {
        Usd(self.0.saturating_sub(other.0).max(0))
    }

    /// `tokens` at `self` per 1,000 tokens, rounded to the nearest micro-dollar (half
    /// away from zero) and saturating at [`MAX_USD_MICROS`].
    pub fn per_1k(self, tokens: u64) -> Usd {
        let exact = i128::from(self.0) * i128::from(tokens);
        let rounded = (exact + 500) / 1000;
        Usd(i64::try_from(rounded.min(i128::from(MAX_USD_MICROS))).unwrap_or(MAX_USD_MICROS))
    }

    /// Parses a decimal string of dollars; the error names `field`.
    pub fn parse(field: &str, text: &str) -> Result<Usd> {
        Usd::read(text)
            .map_err(|why| Error::invalid(field, format!("{field} must be {EXPECTED}; {why}")))
    }

    /// The amount `text` spells, or why it spells none.
    fn read(text: &str) -> std::result::Result<Usd, &'static str> {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (text, None),
        };
        if !digits(whole) {
            return Err("expected digits before any '.'");
        }
        if frac.is_some_and(|f| !digits(f)) {
            return Err("expected digits after the '.'");
        }
        let frac = frac.unwrap_or("").trim_end_matches('0');
        if frac.len() > 6 {
            return Err("it has more than 6 fractional digits");
        }
        const TOO_LARGE: &str = "it is above the maximum of 1000000000";
        let whole = whole.trim_start_matches('0');
        // At most 10 digits: the parse below cannot overflow.
        if whole.len() > 10 {
            return Err(TOO_LARGE);
        }
        let whole: i64 = whole.parse().unwrap_or(0);
        let frac: i64 = format!("{frac:0<6}").parse().unwrap_or(0);
        Usd::from_micros(whole * MICROS + frac).ok_or(TOO_LARGE)
    }
}

/// What an amount of money looks like, for error messages.
const EXPECTED: &str =
    "a decimal string of US dollars with at most 6 fractional digits, e.g. \"0.0025\"";

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / MICROS;
        let frac = self.0 % MICROS;
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:06}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl fmt::Debug for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Usd(\"{self}\")")
    }
}

impl FromStr for Usd {
    type Err = Error;
    fn from_str(s: &str) -> Result<Usd> {
        Usd::parse("usd", s)
    }
}

impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Usd, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Usd;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Usd, E> {
                Usd::read(v).map_err(|why| E::custom(format!("expected {EXPECTED}; {why}")))
            }
        }
        d.deserialize_str(V)
    }
}

/// A decimal string: up to 1000000000 with at most 6 significant fractional digits
/// (trailing zeros are accepted in requests).
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Usd {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Usd".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": USD_PATTERN,
            "description": "US dollars as a decimal string with at most 6 fractional digits (a micro-dollar), e.g. \"0.0025\"; never a JSON number. At most 1000000000.",
            "examples": ["0.0025", "12", "0.000001"],
        })
    }
}

/// The form of [`Usd`]'s text, as a regular expression (ECMA 262).
pub const USD_PATTERN: &str = r"^0*([0-9]{1,9}(\.[0-9]{1,6}0*)?|1000000000(\.0+)?)$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_shortest_exact_form() {
        for (text, micros, shown) in [
            ("0", 0, "0"),
            ("0.0025", 2_500, "0.0025"),
            ("1.50", 1_500_000, "1.5"),
            ("0.000001", 1, "0.000001"),
            ("000012", 12_000_000, "12"),
            ("0.1", 100_000, "0.1"),
            ("1000000000", MAX_USD_MICROS, "1000000000"),
        ] {
            let usd = Usd::parse("f", text).unwrap();
            assert_eq!(usd.micros(), micros, "{text}");
            assert_eq!(usd.to_string(), shown);
            assert_eq!(serde_json::to_string(&usd).unwrap(), format!("\"{shown}\""));
        }
    }

    #[test]
    fn refuses_what_is_not_an_exact_amount_and_names_the_field() {
        for bad in [
            "",
            ".5",
            "5.",
            "-1",
            "+1",
            "1e3",
            "0.0000001",
            "1,5",
            " 1",
            "NaN",
            "1000000000.000001",
            "99999999999999999999",
            "é",
        ] {
            let err = Usd::parse("llm_configs[0].prompt_usd_per_1k", bad).unwrap_err();
            assert_eq!(
                err.field(),
                Some("llm_configs[0].prompt_usd_per_1k"),
                "{bad:?}"
            );
            assert!(
                err.message().contains("decimal string"),
                "{bad:?}: {}",
                err.message()
            );
        }
        // Numbers are not accepted: they would travel through a binary float.
        assert!(serde_json::from_str::<Usd>("0.1").is_err());
        assert_eq!(
            serde_json::from_str::<Usd>("\"0.1\"").unwrap(),
            Usd::cents(10)
        );
    }

    #[test]
    fn prices_round_once_per_call_and_sums_saturate() {
        // 37 tokens at $0.0001 per 1k = 3.7 micro-dollars → 4.
        assert_eq!(Usd::from_micros(100).unwrap().per_1k(37).micros(), 4);
        assert_eq!(Usd::from_micros(100).unwrap().per_1k(35).micros(), 4);
        assert_eq!(Usd::from_micros(100).unwrap().per_1k(34).micros(), 3);
        let max = Usd::from_micros(MAX_USD_MICROS).unwrap();
        assert_eq!(max.per_1k(u64::MAX), max);
        assert_eq!(max.saturating_add(max), max);
        assert!(Usd::from_micros(-1).is_none());
    }
}
