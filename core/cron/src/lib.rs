//! Cron schedules: a 5-field cron expression parser and next-fire-time calculator, in UTC.
//!
//! The syntax and semantics are those of Vixie cron (the `cron` on Debian, Ubuntu, RHEL
//! via cronie, …), which is what people who write crontabs expect:
//!
//! ```text
//! ┌───────────── minute        0-59
//! │ ┌─────────── hour          0-23
//! │ │ ┌───────── day_of_month  1-31
//! │ │ │ ┌─────── month         1-12 or JAN-DEC
//! │ │ │ │ ┌───── day_of_week   0-7 (0 and 7 are Sunday) or SUN-SAT
//! │ │ │ │ │
//! 0 3 * * *      03:00 UTC every day
//! ```
//!
//! * Each field is a comma-separated list of items; an item is `*`, a number `N`, a
//!   range `A-B`, or one of those with a step: `*/S`, `A-B/S`, or `A/S` (from `A` to the
//!   field's maximum). Month and weekday names (three letters, any case) may stand
//!   wherever a number may, including in ranges (`MON-FRI`); steps are numbers. As the
//!   end of a range, `SUN` means 7, so `MON-SUN` is the whole week.
//! * Rejected: values out of range, reversed ranges (`5-3`), a step of 0 or one larger
//!   than the field's span (`*/90` minutes), empty list items (`1,,2`), a field count
//!   other than 5 (no seconds or year field), and Quartz extensions (`?`, `L`, `W`, `#`).
//!   Every rejection is a [`CronError`] that names the field, the offending token and
//!   what was expected.
//! * **Day of month and day of week** (the Vixie rule): if both fields are restricted, a
//!   day fires when *either* matches — `0 0 13 * FRI` fires on every 13th and on every
//!   Friday. If either field starts with `*`, a day must match both, which for a plain
//!   `*` means only the other field restricts. Like Vixie cron, "starts with `*`" is
//!   literal: `0 0 */2 * MON` fires on odd-numbered days that are Mondays, not on odd
//!   days *or* Mondays.
//! * **Macros**: `@yearly` and `@annually` (`0 0 1 1 *`), `@monthly` (`0 0 1 * *`),
//!   `@weekly` (`0 0 * * 0`), `@daily` and `@midnight` (`0 0 * * *`), `@hourly`
//!   (`0 * * * *`), in any case. `@reboot` is rejected: schedules fire at wall-clock
//!   times, never at startup.
//!
//! Times are Unix seconds, UTC; there is no time zone or daylight saving handling. A
//! schedule fires at second 0 of each matching minute. [`Cron::next_after`] jumps month
//! by month, day by day and hour by hour, so it never scans minute by minute. It returns
//! `None` only when the expression can never fire (`0 0 30 2 *`, February 30th): the
//! Gregorian calendar repeats every 400 years, so the search stops after 400 years
//! without a match, which is exact rather than a heuristic cut-off — in that worst case
//! a call costs a few thousand cheap month steps. [`Cron::never_fires`] tells such
//! expressions apart up front.
//!
//! [`Display`](fmt::Display) gives the normalized expression: fields separated by one
//! space, names replaced by numbers (`MON-FRI` → `1-5`), leading zeros dropped, macros
//! expanded (`@daily` → `0 0 * * *`). It parses back to the same schedule. Serde
//! (de)serializes a [`Cron`] as that string.
//!
//! ```
//! use heroa_cron::Cron;
//! let cron = Cron::parse("0 9 * * mon-fri")?;
//! assert_eq!(cron.to_string(), "0 9 * * 1-5");
//! // Saturday 2026-04-25 12:00 UTC -> Monday 2026-04-27 09:00 UTC.
//! assert_eq!(cron.next_after(1_777_118_400), Some(1_777_280_400));
//! # Ok::<(), heroa_cron::CronError>(())
//! ```

#![forbid(unsafe_code)]

#[cfg(test)]
#[path = "../../testing/test_rng.rs"]
#[allow(dead_code)]
mod test_rng;

use std::fmt;
use std::iter::FusedIterator;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How far [`Cron::next_after`] searches: the Gregorian calendar (leap years and
/// weekdays) repeats exactly every 400 years, so a schedule without a fire time in 400
/// years never fires.
const SEARCH_YEARS: i64 = 400;

/// Longest offending token quoted back in an error, in characters.
const MAX_TOKEN_CHARS: usize = 64;

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One of the five fields of a cron expression, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CronField {
    /// Minute of the hour, 0-59.
    Minute,
    /// Hour of the day, 0-23.
    Hour,
    /// Day of the month, 1-31.
    DayOfMonth,
    /// Month, 1-12 or `JAN`-`DEC`.
    Month,
    /// Day of the week, 0-7 (0 and 7 are Sunday) or `SUN`-`SAT`.
    DayOfWeek,
}

impl CronField {
    /// The five fields in expression order.
    pub const ALL: [CronField; 5] = [
        CronField::Minute,
        CronField::Hour,
        CronField::DayOfMonth,
        CronField::Month,
        CronField::DayOfWeek,
    ];

    /// The field's name: `minute`, `hour`, `day_of_month`, `month` or `day_of_week`.
    pub fn as_str(self) -> &'static str {
        match self {
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day_of_month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day_of_week",
        }
    }

    /// The smallest and largest number the field accepts (day of week: 0-7).
    pub fn bounds(self) -> (u32, u32) {
        match self {
            CronField::Minute => (0, 59),
            CronField::Hour => (0, 23),
            CronField::DayOfMonth => (1, 31),
            CronField::Month => (1, 12),
            CronField::DayOfWeek => (0, 7),
        }
    }

    /// Where `*` and `A/S` end: the maximum, except Saturday (6) for the day of week.
    fn open_max(self) -> u32 {
        match self {
            CronField::DayOfWeek => 6,
            other => other.bounds().1,
        }
    }

    /// The names the field accepts, with the value of the first one.
    fn names(self) -> (&'static [&'static str], u32) {
        match self {
            CronField::Month => (&MONTH_NAMES, 1),
            CronField::DayOfWeek => (&DAY_NAMES, 0),
            _ => (&[], 0),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            CronField::Minute => "a minute 0-59",
            CronField::Hour => "an hour 0-23",
            CronField::DayOfMonth => "a day of the month 1-31",
            CronField::Month => "a month 1-12 or JAN-DEC",
            CronField::DayOfWeek => "a day of the week 0-7 (0 and 7 are Sunday) or SUN-SAT",
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a cron expression was rejected. Serializes with a `kind` tag, e.g.
/// `{"kind": "field", "field": "minute", "text": "0,60", "token": "60", …}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CronError {
    /// The expression is empty or only whitespace.
    #[error(
        "empty cron expression; expected 5 fields \"minute hour day_of_month month day_of_week\" (UTC) or a macro such as @daily"
    )]
    Empty,
    /// The expression does not have exactly 5 fields.
    #[error(
        "cron expression {expression:?} has {found} field(s); expected 5: \"minute hour day_of_month month day_of_week\" (UTC), without seconds or year"
    )]
    FieldCount {
        /// The expression as given (truncated if long).
        expression: String,
        /// How many whitespace-separated fields it has.
        found: usize,
    },
    /// An `@` macro that is not supported (`@reboot`) or not known.
    #[error("unsupported cron macro {token:?}: {reason}")]
    Macro {
        /// The macro as given (truncated if long).
        token: String,
        /// Why, and what is supported.
        reason: &'static str,
    },
    /// One field is malformed or out of range.
    #[error("invalid {field} field {text:?}: {problem}; expected {expected}")]
    Field {
        /// Which field.
        field: CronField,
        /// The whole field as given (truncated if long).
        text: String,
        /// The offending part of it: a list item, value or step (truncated if long).
        token: String,
        /// What is wrong with the token.
        problem: String,
        /// What the field accepts.
        expected: &'static str,
    },
}

impl CronError {
    /// The field at fault, if the error is about one field.
    pub fn field(&self) -> Option<CronField> {
        match self {
            CronError::Field { field, .. } => Some(*field),
            _ => None,
        }
    }

    /// The offending token, if there is one.
    pub fn token(&self) -> Option<&str> {
        match self {
            CronError::Field { token, .. } | CronError::Macro { token, .. } => Some(token),
            _ => None,
        }
    }
}

/// A parsed cron schedule. Cheap to clone; see the [module docs](self) for semantics.
///
/// Equality compares schedules field by field (as sets of values, `7` folded into `0`),
/// not the text: `0 0 * * 7` equals `0 0 * * SUN`.
#[derive(Clone)]
pub struct Cron {
    /// Bit `n` set: minute `n` fires (bits 0-59).
    minutes: u64,
    /// Bits 0-23.
    hours: u64,
    /// Bits 1-31.
    days_of_month: u64,
    /// Bits 1-12.
    months: u64,
    /// Bits 0-6, Sunday = 0 (a `7` is stored as bit 0).
    days_of_week: u64,
    /// Vixie rule: both day fields restricted, so a day matches if either matches.
    day_or: bool,
    /// The normalized expression.
    text: String,
}

impl Cron {
    /// Parses a 5-field cron expression or a macro (`@daily`, …); see the
    /// [module docs](self) for the accepted syntax.
    pub fn parse(expression: &str) -> Result<Cron, CronError> {
        let trimmed = expression.trim();
        if trimmed.is_empty() {
            return Err(CronError::Empty);
        }
        if trimmed.starts_with('@') {
            return Cron::parse_macro(trimmed);
        }
        let parts: Vec<&str> = trimmed.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = parts[..] else {
            return Err(CronError::FieldCount {
                expression: truncate(trimmed),
                found: parts.len(),
            });
        };
        let minute = parse_field(CronField::Minute, minute)?;
        let hour = parse_field(CronField::Hour, hour)?;
        let dom = parse_field(CronField::DayOfMonth, dom)?;
        let month = parse_field(CronField::Month, month)?;
        let dow = parse_field(CronField::DayOfWeek, dow)?;
        let text = [&minute.text, &hour.text, &dom.text, &month.text, &dow.text]
            .map(String::as_str)
            .join(" ");
        Ok(Cron {
            minutes: minute.bits,
            hours: hour.bits,
            days_of_month: dom.bits,
            months: month.bits,
            days_of_week: dow.bits,
            day_or: !dom.star && !dow.star,
            text,
        })
    }

    fn parse_macro(token: &str) -> Result<Cron, CronError> {
        let expansion = match token.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            "@reboot" => {
                return Err(CronError::Macro {
                    token: truncate(token),
                    reason: "schedules fire at wall-clock times (UTC), never at startup",
                });
            }
            _ => {
                let reason = if token.split_whitespace().nth(1).is_some() {
                    "a macro stands alone, without fields after it; expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"
                } else {
                    "expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"
                };
                return Err(CronError::Macro {
                    token: truncate(token),
                    reason,
                });
            }
        };
        Cron::parse(expansion)
    }

    /// The normalized expression, as [`Display`](fmt::Display) writes it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first fire time strictly after `unix_secs`: second 0 of the first matching
    /// minute. `None` if the schedule never fires (e.g. `0 0 30 2 *`) or the next fire
    /// time does not fit in an `i64`.
    pub fn next_after(&self, unix_secs: i64) -> Option<i64> {
        self.next_between(unix_secs, i64::MAX)
    }

    /// Whether the minute containing `unix_secs` is a fire minute (seconds are ignored).
    pub fn matches(&self, unix_secs: i64) -> bool {
        let minute_index = unix_secs.div_euclid(60);
        let (year, month, day) = civil_from_days(minute_index.div_euclid(1440));
        let minute_of_day = minute_index.rem_euclid(1440);
        has(self.minutes, (minute_of_day % 60) as u32)
            && has(self.hours, (minute_of_day / 60) as u32)
            && has(self.months, month)
            && has(self.day_mask(year, month), day)
    }

    /// The fire times `t` with `from < t <= to`, in order. The bounds suit a scheduler
    /// catching up: pass the last time it looked and now.
    pub fn fires_between(&self, from: i64, to: i64) -> Fires<'_> {
        Fires {
            cron: self,
            after: from,
            until: to,
            done: false,
        }
    }

    /// All fire times strictly after `from`, in order (unbounded).
    pub fn fires_after(&self, from: i64) -> Fires<'_> {
        self.fires_between(from, i64::MAX)
    }

    /// Whether the schedule can never fire, like `0 0 30 2 *` (February 30th) or
    /// `0 0 31 4,6,9,11 *`. Exact: the calendar repeats every 400 years.
    pub fn never_fires(&self) -> bool {
        self.next_after(0).is_none()
    }

    /// The first fire time `t` with `after < t <= until`.
    fn next_between(&self, after: i64, until: i64) -> Option<i64> {
        if after >= until {
            return None;
        }
        // Minute index of the first candidate: the minute after the one holding `after`.
        let start = after.div_euclid(60) + 1;
        let (mut year, mut month, mut day) = civil_from_days(start.div_euclid(1440));
        let minute_of_day = start.rem_euclid(1440);
        let mut hour = (minute_of_day / 60) as u32;
        let mut minute = (minute_of_day % 60) as u32;
        let until_year = civil_from_days(until.div_euclid(86_400)).0;
        let last_year = until_year.min(year + SEARCH_YEARS);

        // Each step either accepts the current unit or moves to the start of the next
        // candidate month, day or hour; lower units reset whenever a higher one moves.
        loop {
            if year > last_year {
                return None;
            }
            if !has(self.months, month) {
                match next_bit(self.months, month + 1) {
                    Some(next) => month = next,
                    None => {
                        year += 1;
                        month = self.months.trailing_zeros();
                    }
                }
                (day, hour, minute) = (1, 0, 0);
                continue;
            }
            match next_bit(self.day_mask(year, month), day) {
                None => {
                    if month == 12 {
                        (year, month) = (year + 1, 1);
                    } else {
                        month += 1;
                    }
                    (day, hour, minute) = (1, 0, 0);
                    continue;
                }
                Some(next) if next != day => (day, hour, minute) = (next, 0, 0),
                Some(_) => {}
            }
            match next_bit(self.hours, hour) {
                None => {
                    (day, hour, minute) = (day + 1, 0, 0);
                    continue;
                }
                Some(next) if next != hour => (hour, minute) = (next, 0),
                Some(_) => {}
            }
            match next_bit(self.minutes, minute) {
                None => {
                    (hour, minute) = (hour + 1, 0);
                    continue;
                }
                Some(next) => minute = next,
            }
            let secs = i128::from(days_from_civil(year, month, day)) * 86_400
                + i128::from(hour * 3600 + minute * 60);
            let secs = i64::try_from(secs).ok()?;
            return (secs <= until).then_some(secs);
        }
    }

    /// The days of `month` in `year` that fire, as bits 1-31.
    fn day_mask(&self, year: i64, month: u32) -> u64 {
        let len = days_in_month(year, month);
        let valid = ((1u64 << (len + 1)) - 1) & !1;
        let first_weekday = weekday(days_from_civil(year, month, 1));
        // One week starting at day 1, then repeated: bit d <=> weekday (first + d - 1) % 7.
        let mut week = 0u64;
        for offset in 0..7 {
            if has(self.days_of_week, (first_weekday + offset) % 7) {
                week |= 1 << (offset + 1);
            }
        }
        let by_weekday = week | week << 7 | week << 14 | week << 21 | week << 28;
        let days = if self.day_or {
            self.days_of_month | by_weekday
        } else {
            self.days_of_month & by_weekday
        };
        days & valid
    }

    fn key(&self) -> (u64, u64, u64, u64, u64, bool) {
        (
            self.minutes,
            self.hours,
            self.days_of_month,
            self.months,
            self.days_of_week,
            self.day_or,
        )
    }
}

impl PartialEq for Cron {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Cron {}

impl std::hash::Hash for Cron {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Debug for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Cron").field(&self.text).finish()
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Cron {
    type Err = CronError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cron::parse(s)
    }
}

impl Serialize for Cron {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Cron {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Cron::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Iterator over fire times, from [`Cron::fires_between`] or [`Cron::fires_after`].
#[derive(Debug, Clone)]
pub struct Fires<'a> {
    cron: &'a Cron,
    after: i64,
    until: i64,
    done: bool,
}

impl Iterator for Fires<'_> {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        if self.done {
            return None;
        }
        match self.cron.next_between(self.after, self.until) {
            Some(t) => {
                self.after = t;
                Some(t)
            }
            None => {
                self.done = true;
                None
            }
        }
    }
}

impl FusedIterator for Fires<'_> {}

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

struct ParsedField {
    bits: u64,
    /// The field starts with `*` (Vixie's DOM_STAR / DOW_STAR).
    star: bool,
    text: String,
}

/// Builds a [`CronError::Field`].
struct FieldErr<'a> {
    field: CronField,
    text: &'a str,
}

impl FieldErr<'_> {
    fn at(&self, token: &str, problem: impl Into<String>) -> CronError {
        CronError::Field {
            field: self.field,
            text: truncate(self.text),
            token: truncate(token),
            problem: problem.into(),
            expected: self.field.expected(),
        }
    }
}

fn parse_field(field: CronField, text: &str) -> Result<ParsedField, CronError> {
    let err = FieldErr { field, text };
    let mut bits = 0u64;
    let mut items = Vec::new();
    for item in text.split(',') {
        if item.is_empty() {
            return Err(err.at(text, "empty list item"));
        }
        let (item_bits, normalized) = parse_item(&err, item)?;
        bits |= item_bits;
        items.push(normalized);
    }
    if field == CronField::DayOfWeek && has(bits, 7) {
        bits = (bits & !(1 << 7)) | 1;
    }
    Ok(ParsedField {
        bits,
        star: text.starts_with('*'),
        text: items.join(","),
    })
}

/// One list item: `*`, `N`, `A-B`, `*/S`, `A-B/S` or `A/S`.
fn parse_item(err: &FieldErr<'_>, item: &str) -> Result<(u64, String), CronError> {
    let field = err.field;
    let (min, max) = field.bounds();
    let has_step = item.contains('/');
    let (base, step) = match item.split_once('/') {
        None => (item, None),
        Some((base, step)) => {
            if base.is_empty() {
                return Err(err.at(item, "missing `*`, value or range before `/`"));
            }
            (base, Some(parse_step(err, item, step)?))
        }
    };
    let (start, end, base_text) = if base == "*" {
        (min, field.open_max(), "*".to_owned())
    } else if let Some((a, b)) = base.split_once('-') {
        if a.is_empty() {
            return Err(err.at(item, "missing range start before `-`"));
        }
        if b.is_empty() {
            return Err(err.at(item, "missing range end after `-`"));
        }
        let start = parse_value(err, a)?;
        let mut end = parse_value(err, b)?;
        // `MON-SUN`: Sunday as the end of a range is 7, not 0.
        if field == CronField::DayOfWeek && start > 0 && b.eq_ignore_ascii_case("SUN") {
            end = 7;
        }
        if start > end {
            return Err(err.at(
                item,
                format!("range {item} is reversed ({start} > {end}); write A-B with A <= B"),
            ));
        }
        (start, end, format!("{start}-{end}"))
    } else {
        let value = parse_value(err, base)?;
        // `A/S` runs from A to the field's maximum; a lone `A` is just A.
        let end = if step.is_some() {
            field.open_max().max(value)
        } else {
            value
        };
        (value, end, value.to_string())
    };
    debug_assert!(min <= start && end <= max);
    let step = step.unwrap_or(1);
    let mut bits = 0u64;
    for value in (start..=end).step_by(step as usize) {
        bits |= 1 << value;
    }
    let text = if has_step {
        format!("{base_text}/{step}")
    } else {
        base_text
    };
    Ok((bits, text))
}

fn parse_step(err: &FieldErr<'_>, item: &str, step: &str) -> Result<u32, CronError> {
    let field = err.field;
    if step.is_empty() {
        return Err(err.at(item, "missing step after `/`"));
    }
    if !step.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err.at(step, format!("step {step:?} in {item:?} is not a number")));
    }
    let span = field.open_max() - field.bounds().0 + 1;
    let value = step.parse::<u32>().unwrap_or(u32::MAX);
    if value == 0 {
        return Err(err.at(item, format!("step 0 in {item:?} must be at least 1")));
    }
    if value > span {
        return Err(err.at(
            item,
            format!("step {value} in {item:?} is larger than the {field} field's span of {span}"),
        ));
    }
    Ok(value)
}

/// A number or a name, range-checked.
fn parse_value(err: &FieldErr<'_>, token: &str) -> Result<u32, CronError> {
    let field = err.field;
    let (min, max) = field.bounds();
    if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
        return match token.parse::<u32>() {
            Ok(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(err.at(
                token,
                format!("{token} is out of range {min}-{max} for {field}"),
            )),
        };
    }
    let (names, first) = field.names();
    if let Some(index) = names.iter().position(|n| n.eq_ignore_ascii_case(token)) {
        return Ok(first + index as u32);
    }
    let problem = if is_quartz(token) {
        format!("{token:?} is a Quartz extension, not supported")
    } else if token.contains('*') {
        format!("{token:?} is not valid; `*` stands alone or as `*/S`")
    } else if names.is_empty() {
        format!("{token:?} is not a number")
    } else {
        format!("{token:?} is neither a number nor a three-letter name")
    };
    Err(err.at(token, problem))
}

/// Quartz-only syntax: `?`, `L`, `5L`, `15W`, `LW`, `5#3`.
fn is_quartz(token: &str) -> bool {
    let digits = token.trim_end_matches(['L', 'W', 'l', 'w']);
    token == "?"
        || token.contains('#')
        || (digits.len() < token.len() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// `s` cut to [`MAX_TOKEN_CHARS`] characters, marked with `…` when cut.
fn truncate(s: &str) -> String {
    match s.char_indices().nth(MAX_TOKEN_CHARS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Bits and calendar arithmetic
// ---------------------------------------------------------------------------------------

fn has(bits: u64, n: u32) -> bool {
    n < 64 && (bits >> n) & 1 == 1
}

/// The smallest set bit at position `>= from`.
fn next_bit(bits: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = bits >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

fn is_leap_year(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Day of the week of a day number (days since 1970-01-01, a Thursday); Sunday = 0.
fn weekday(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (i64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day number (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    /// Unix seconds of a UTC date-time literal: `at!(2026-04-25 03:00)`.
    macro_rules! at {
        ($($t:tt)*) => {
            time::macros::datetime!($($t)* UTC).unix_timestamp()
        };
    }

    fn cron(expr: &str) -> Cron {
        Cron::parse(expr).unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
    }

    fn iso(t: Option<i64>) -> String {
        match t {
            Some(t) => OffsetDateTime::from_unix_timestamp(t)
                .unwrap()
                .format(&Rfc3339)
                .unwrap(),
            None => "None".to_owned(),
        }
    }

    fn next(expr: &str, after: i64) -> String {
        iso(cron(expr).next_after(after))
    }

    fn fires(expr: &str, from: i64, to: i64) -> Vec<String> {
        cron(expr)
            .fires_between(from, to)
            .map(|t| iso(Some(t)))
            .collect()
    }

    // -- The documented examples -------------------------------------------------------

    #[test]
    fn daily_at_three_utc() {
        assert_eq!(
            next("0 3 * * *", at!(2026-04-25 02:59:59)),
            "2026-04-25T03:00:00Z"
        );
        // Strictly after: exactly 03:00 moves to the next day.
        assert_eq!(
            next("0 3 * * *", at!(2026-04-25 03:00:00)),
            "2026-04-26T03:00:00Z"
        );
        assert_eq!(
            next("0 3 * * *", at!(2026-04-25 03:00:30)),
            "2026-04-26T03:00:00Z"
        );
        assert_eq!(
            next("0 3 * * *", at!(2026-12-31 23:59:59)),
            "2027-01-01T03:00:00Z"
        );
    }

    #[test]
    fn every_fifteen_minutes() {
        assert_eq!(
            next("*/15 * * * *", at!(2026-04-25 10:00)),
            "2026-04-25T10:15:00Z"
        );
        assert_eq!(
            next("*/15 * * * *", at!(2026-04-25 10:14:59)),
            "2026-04-25T10:15:00Z"
        );
        assert_eq!(
            next("*/15 * * * *", at!(2026-04-25 23:50)),
            "2026-04-26T00:00:00Z"
        );
        assert_eq!(
            fires("*/15 * * * *", at!(2026-04-25 10:00), at!(2026-04-25 11:00)),
            [
                "2026-04-25T10:15:00Z",
                "2026-04-25T10:30:00Z",
                "2026-04-25T10:45:00Z",
                "2026-04-25T11:00:00Z",
            ]
        );
    }

    #[test]
    fn weekdays_skip_the_weekend() {
        // 2026-04-24 is a Friday.
        let expr = "0 9 * * MON-FRI";
        assert_eq!(next(expr, at!(2026-04-24 08:00)), "2026-04-24T09:00:00Z");
        assert_eq!(next(expr, at!(2026-04-24 09:00)), "2026-04-27T09:00:00Z");
        assert_eq!(next(expr, at!(2026-04-25 12:00)), "2026-04-27T09:00:00Z");
        assert_eq!(
            fires(expr, at!(2026-04-23 12:00), at!(2026-04-29 12:00)),
            [
                "2026-04-24T09:00:00Z",
                "2026-04-27T09:00:00Z",
                "2026-04-28T09:00:00Z",
                "2026-04-29T09:00:00Z",
            ]
        );
    }

    #[test]
    fn first_of_the_month_across_month_ends() {
        let expr = "0 0 1 * *";
        assert_eq!(next(expr, at!(2027-12-31 23:59:59)), "2028-01-01T00:00:00Z");
        assert_eq!(next(expr, at!(2028-01-01 00:00)), "2028-02-01T00:00:00Z");
        assert_eq!(next(expr, at!(2028-02-28 12:00)), "2028-03-01T00:00:00Z");
        assert_eq!(next(expr, at!(2028-02-29 23:59)), "2028-03-01T00:00:00Z");
        assert_eq!(next(expr, at!(2026-04-30 23:59:59)), "2026-05-01T00:00:00Z");
        assert_eq!(
            fires(expr, at!(2028-01-15 00:00), at!(2028-05-15 00:00)).len(),
            4
        );
    }

    #[test]
    fn february_29th() {
        assert_eq!(
            next("0 0 29 2 *", at!(2026-04-25 03:00)),
            "2028-02-29T00:00:00Z"
        );
        assert_eq!(
            next("0 0 29 2 *", at!(2028-02-29 00:00)),
            "2032-02-29T00:00:00Z"
        );
        // 2100 is not a leap year: the gap is eight years.
        assert_eq!(
            next("0 0 29 2 *", at!(2097-01-01 00:00)),
            "2104-02-29T00:00:00Z"
        );
        assert!(!cron("0 0 29 2 *").never_fires());
    }

    #[test]
    fn impossible_dates_never_fire() {
        for expr in [
            "0 0 30 2 *",
            "0 0 31 2 *",
            "0 0 31 4,6,9,11 *",
            "0 0 30,31 feb *",
        ] {
            let c = cron(expr);
            assert_eq!(c.next_after(at!(2026-04-25 03:00)), None, "{expr}");
            assert_eq!(c.next_after(0), None, "{expr}");
            assert!(c.never_fires(), "{expr}");
            assert_eq!(c.fires_after(0).next(), None, "{expr}");
        }
        // ...but a weekday rescues them (Vixie OR rule).
        assert_eq!(
            next("0 0 30 2 MON", at!(2026-01-01 00:00)),
            "2026-02-02T00:00:00Z"
        );
        // In AND mode (a day field starts with `*`) the weekday cannot rescue them.
        assert!(cron("0 0 30 2 */1").never_fires());
        assert!(!cron("0 0 30 2 0-6").never_fires());
        assert!(!cron("0 0 31 * *").never_fires());
        assert_eq!(
            next("0 0 31 * *", at!(2026-04-01 00:00)),
            "2026-05-31T00:00:00Z"
        );
    }

    #[test]
    fn vixie_or_rule_for_both_day_fields() {
        // April 2026: the 13th is a Monday; Fridays are the 3rd, 10th, 17th, 24th.
        assert_eq!(
            fires("0 0 13 * FRI", at!(2026-03-31 12:00), at!(2026-04-30 12:00)),
            [
                "2026-04-03T00:00:00Z",
                "2026-04-10T00:00:00Z",
                "2026-04-13T00:00:00Z",
                "2026-04-17T00:00:00Z",
                "2026-04-24T00:00:00Z",
            ]
        );
        // One `*` field: only the other restricts.
        assert_eq!(
            fires("0 0 13 * *", at!(2026-03-31 12:00), at!(2026-05-31 12:00)),
            ["2026-04-13T00:00:00Z", "2026-05-13T00:00:00Z"]
        );
        assert_eq!(
            fires("0 0 * * FRI", at!(2026-04-01 00:00), at!(2026-04-14 00:00)),
            ["2026-04-03T00:00:00Z", "2026-04-10T00:00:00Z"]
        );
        // Vixie quirk: a field that starts with `*` counts as unrestricted, so days must
        // match both: odd days that are Mondays (April 2026 Mondays: 6, 13, 20, 27).
        assert_eq!(
            fires(
                "0 0 */2 * MON",
                at!(2026-04-01 00:00),
                at!(2026-04-30 00:00)
            ),
            ["2026-04-13T00:00:00Z", "2026-04-27T00:00:00Z"]
        );
        // Not starting with `*`: OR again (the 1st, and every Monday).
        assert_eq!(
            fires("0 0 1 * MON", at!(2026-04-01 00:00), at!(2026-04-14 00:00)),
            ["2026-04-06T00:00:00Z", "2026-04-13T00:00:00Z"]
        );
        assert_eq!(
            fires("0 0 1 * MON", at!(2026-03-31 00:00), at!(2026-04-07 00:00)),
            ["2026-04-01T00:00:00Z", "2026-04-06T00:00:00Z"]
        );
    }

    #[test]
    fn seven_is_sunday() {
        // 2026-04-25 is a Saturday.
        for expr in [
            "0 0 * * 0",
            "0 0 * * 7",
            "0 0 * * sun",
            "0 0 * * SUN",
            "@weekly",
        ] {
            assert_eq!(
                next(expr, at!(2026-04-25 12:00)),
                "2026-04-26T00:00:00Z",
                "{expr}"
            );
            assert_eq!(cron(expr), cron("0 0 * * 0"), "{expr}");
        }
        // Friday to Sunday, however it is written.
        for expr in [
            "0 0 * * 5-7",
            "0 0 * * FRI-SUN",
            "0 0 * * 5,6,0",
            "0 0 * * fri,sat,7",
        ] {
            assert_eq!(
                fires(expr, at!(2026-04-20 12:00), at!(2026-04-27 12:00)),
                [
                    "2026-04-24T00:00:00Z",
                    "2026-04-25T00:00:00Z",
                    "2026-04-26T00:00:00Z"
                ],
                "{expr}"
            );
        }
        assert_eq!(cron("0 0 * * MON-SUN"), cron("0 0 * * 0-6"));
        assert_eq!(cron("0 0 * * MON-SUN").to_string(), "0 0 * * 1-7");
        assert_eq!(cron("0 0 * * SUN-SUN").to_string(), "0 0 * * 0-0");
        assert_eq!(cron("0 0 * * SUN-SUN"), cron("0 0 * * 0"));
    }

    #[test]
    fn names_are_case_insensitive() {
        let reference = cron("0 0 * 1,2,12 1-5");
        for expr in [
            "0 0 * JAN,FEB,DEC MON-FRI",
            "0 0 * jan,feb,dec mon-fri",
            "0 0 * Jan,fEb,DeC Mon-fRI",
            "0 0 * jan-feb,12 1-FRI",
        ] {
            assert_eq!(cron(expr), reference, "{expr}");
        }
        assert_eq!(
            cron("0 0 * jan-feb,12 1-FRI").to_string(),
            "0 0 * 1-2,12 1-5"
        );
    }

    #[test]
    fn steps_ranges_and_lists() {
        let c = cron("5/20 1-10/3,22 * * *");
        assert_eq!(c.minutes, 1 << 5 | 1 << 25 | 1 << 45);
        assert_eq!(c.hours, 1 << 1 | 1 << 4 | 1 << 7 | 1 << 10 | 1 << 22);
        assert_eq!(cron("* * * * *").minutes, (1 << 60) - 1);
        assert_eq!(cron("* * * * *").days_of_week, 0x7f);
        assert_eq!(cron("* * * */5 *").months, 1 << 1 | 1 << 6 | 1 << 11);
        assert_eq!(cron("* * * * 1/2").days_of_week, 1 << 1 | 1 << 3 | 1 << 5);
        assert_eq!(
            cron("* * * * 1-7/2").days_of_week,
            1 | 1 << 1 | 1 << 3 | 1 << 5
        );
        assert_eq!(cron("*/60 * * * *").minutes, 1);
        assert_eq!(cron("0 0 */31 * *").days_of_month, 1 << 1);
        assert_eq!(cron("59/1 * * * *").minutes, 1 << 59);
    }

    #[test]
    fn macros() {
        for (alias, expansion) in [
            ("@yearly", "0 0 1 1 *"),
            ("@annually", "0 0 1 1 *"),
            ("@monthly", "0 0 1 * *"),
            ("@weekly", "0 0 * * 0"),
            ("@daily", "0 0 * * *"),
            ("@midnight", "0 0 * * *"),
            ("@hourly", "0 * * * *"),
            ("  @DAILY ", "0 0 * * *"),
            ("@Hourly", "0 * * * *"),
        ] {
            let c = cron(alias);
            assert_eq!(c, cron(expansion), "{alias}");
            assert_eq!(c.to_string(), expansion, "{alias}");
        }
        assert_eq!(
            next("@yearly", at!(2026-04-25 03:00)),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            next("@hourly", at!(2026-04-25 03:00)),
            "2026-04-25T04:00:00Z"
        );

        let err = Cron::parse("@reboot").unwrap_err();
        assert!(matches!(err, CronError::Macro { .. }), "{err:?}");
        assert!(err.to_string().contains("@reboot"), "{err}");
        assert!(err.to_string().contains("startup"), "{err}");
        for bad in ["@fortnightly", "@daily 5", "@", "@ daily"] {
            let err = Cron::parse(bad).unwrap_err();
            assert!(matches!(err, CronError::Macro { .. }), "{bad}: {err:?}");
            assert!(err.to_string().contains("@hourly"), "{err}");
        }
    }

    #[test]
    fn display_normalizes_and_round_trips() {
        for (input, normalized) in [
            ("  0   9 * *  mon-FRI ", "0 9 * * 1-5"),
            ("00 09 01 01 00", "0 9 1 1 0"),
            ("*/15\t*\t*\t*\t*", "*/15 * * * *"),
            ("0 0 13 * FRI", "0 0 13 * 5"),
            ("5/20 1-10/3,22 * Jun-aug/1 *", "5/20 1-10/3,22 * 6-8/1 *"),
            ("0 0 */2 * MON", "0 0 */2 * 1"),
            ("0 0 * * 7", "0 0 * * 7"),
        ] {
            let c = cron(input);
            assert_eq!(c.to_string(), normalized, "{input:?}");
            assert_eq!(c.as_str(), normalized);
            assert_eq!(cron(normalized), c);
            assert_eq!(cron(normalized).to_string(), normalized);
            assert_eq!(normalized.parse::<Cron>().unwrap(), c);
        }
        assert_eq!(format!("{:?}", cron("@daily")), r#"Cron("0 0 * * *")"#);
    }

    #[test]
    fn equality_is_by_schedule() {
        assert_eq!(cron("0,30 * * * *"), cron("*/30 * * * *"));
        assert_ne!(cron("0 0 1 * MON"), cron("0 0 */31 * MON")); // OR vs AND
        assert_ne!(cron("0 0 * * *"), cron("0 1 * * *"));
        let set: std::collections::HashSet<Cron> =
            ["0 0 * * 0", "0 0 * * 7", "@weekly", "0 0 * * 1"]
                .map(cron)
                .into_iter()
                .collect();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn matches_whole_minutes() {
        let c = cron("0 3 * * *");
        assert!(c.matches(at!(2026-04-25 03:00:00)));
        assert!(c.matches(at!(2026-04-25 03:00:59)));
        assert!(!c.matches(at!(2026-04-25 03:01:00)));
        assert!(!c.matches(at!(2026-04-25 02:59:59)));
        let c = cron("0 0 13 * FRI");
        assert!(c.matches(at!(2026-04-13 00:00))); // Monday the 13th
        assert!(c.matches(at!(2026-04-17 00:00))); // Friday
        assert!(!c.matches(at!(2026-04-14 00:00)));
    }

    #[test]
    fn before_the_epoch_and_extremes() {
        assert_eq!(
            next("0 3 * * *", at!(1969-12-31 12:00)),
            "1970-01-01T03:00:00Z"
        );
        assert_eq!(
            next("0 0 29 2 *", at!(1900-01-01 00:00)),
            "1904-02-29T00:00:00Z"
        );
        assert_eq!(next("*/15 * * * *", -1), "1970-01-01T00:00:00Z");
        assert_eq!(next("*/15 * * * *", -60), "1970-01-01T00:00:00Z");
        assert_eq!(next("*/15 * * * *", -901), "1969-12-31T23:45:00Z");
        assert!(cron("0 0 31 12 *").matches(at!(1600-12-31 00:00)));
        // No panics or overflow at the ends of the range.
        for expr in ["* * * * *", "0 0 29 2 *", "0 0 30 2 *", "59 23 31 12 *"] {
            let c = cron(expr);
            assert_eq!(c.next_after(i64::MAX), None);
            let near_end = i64::MAX - 86_400 * 366;
            assert!(c.next_after(near_end).is_none_or(|t| t > near_end));
            let _ = c.next_after(i64::MIN);
            let _ = c.matches(i64::MIN);
            let _ = c.matches(i64::MAX);
            assert_eq!(c.fires_between(10, 10).next(), None);
            assert_eq!(c.fires_between(10, 5).next(), None);
        }
        // The first whole minute after i64::MIN still fits.
        let first = (i64::MIN.div_euclid(60) + 1) * 60;
        assert_eq!(cron("* * * * *").next_after(i64::MIN), Some(first));
    }

    #[test]
    fn fires_iterators() {
        let c = cron("0 12 * * *");
        let from = at!(2026-04-25 12:00);
        // (from, to]: excludes `from`, includes `to`.
        let got: Vec<i64> = c.fires_between(from, at!(2026-04-28 12:00)).collect();
        assert_eq!(
            got,
            [
                at!(2026-04-26 12:00),
                at!(2026-04-27 12:00),
                at!(2026-04-28 12:00)
            ]
        );
        let got: Vec<i64> = c.fires_after(from).take(3).collect();
        assert_eq!(
            got,
            [
                at!(2026-04-26 12:00),
                at!(2026-04-27 12:00),
                at!(2026-04-28 12:00)
            ]
        );
        let never = cron("0 0 30 2 *");
        let mut it = never.fires_after(0);
        assert_eq!(it.next(), None);
        assert_eq!(it.next(), None);
        // A bounded window does not search past its end.
        assert_eq!(
            cron("0 0 29 2 *")
                .fires_between(0, at!(1971-01-01 00:00))
                .count(),
            0
        );
    }

    // -- Errors ------------------------------------------------------------------------

    #[test]
    fn every_field_error_names_its_field_and_token() {
        use CronField::*;
        let cases: &[(&str, CronField, &str)] = &[
            ("60 * * * *", Minute, "60"),
            ("99999999999 * * * *", Minute, "99999999999"),
            ("* 24 * * *", Hour, "24"),
            ("* * 0 * *", DayOfMonth, "0"),
            ("* * 32 * *", DayOfMonth, "32"),
            ("* * * 0 *", Month, "0"),
            ("* * * 13 *", Month, "13"),
            ("* * * * 8", DayOfWeek, "8"),
            ("5-3 * * * *", Minute, "5-3"),
            ("* 23-1 * * *", Hour, "23-1"),
            ("* * * DEC-JAN *", Month, "DEC-JAN"),
            ("* * * * FRI-MON", DayOfWeek, "FRI-MON"),
            ("* * * * 7-1", DayOfWeek, "7-1"),
            ("*/0 * * * *", Minute, "*/0"),
            ("* 1-5/0 * * *", Hour, "1-5/0"),
            ("* */25 * * *", Hour, "*/25"),
            ("*/61 * * * *", Minute, "*/61"),
            ("* * * * */8", DayOfWeek, "*/8"),
            ("1,,2 * * * *", Minute, "1,,2"),
            ("1, * * * *", Minute, "1,"),
            ("* ,1 * * *", Hour, ",1"),
            ("* * * JAN-FOO *", Month, "FOO"),
            ("MON * * * *", Minute, "MON"),
            ("* * JAN * *", DayOfMonth, "JAN"),
            ("* * * MON *", Month, "MON"),
            ("* * * * JAN", DayOfWeek, "JAN"),
            ("* * * * MONDAY", DayOfWeek, "MONDAY"),
            ("* * ? * *", DayOfMonth, "?"),
            ("* * L * *", DayOfMonth, "L"),
            ("* * 15W * *", DayOfMonth, "15W"),
            ("* * * * 5#3", DayOfWeek, "5#3"),
            ("* * * * 5L", DayOfWeek, "5L"),
            ("/5 * * * *", Minute, "/5"),
            ("5/ * * * *", Minute, "5/"),
            ("*/x * * * *", Minute, "x"),
            ("1/2/3 * * * *", Minute, "2/3"),
            ("1-2-3 * * * *", Minute, "2-3"),
            ("-5 * * * *", Minute, "-5"),
            ("5- * * * *", Minute, "5-"),
            ("** * * * *", Minute, "**"),
            ("a * * * *", Minute, "a"),
            ("+5 * * * *", Minute, "+5"),
            ("* * * * */MON", DayOfWeek, "MON"),
            ("* * 1.5 * *", DayOfMonth, "1.5"),
            ("* * * * ５", DayOfWeek, "５"),
        ];
        for &(expr, field, token) in cases {
            let err = Cron::parse(expr).expect_err(expr);
            assert_eq!(err.field(), Some(field), "{expr}: {err}");
            assert_eq!(err.token(), Some(token), "{expr}: {err}");
            let message = err.to_string();
            assert!(message.contains(field.as_str()), "{expr}: {message}");
            assert!(message.contains(field.expected()), "{expr}: {message}");
            assert!(message.contains(token), "{expr}: {message}");
        }
        assert_eq!(
            Cron::parse("60 * * * *").unwrap_err().to_string(),
            r#"invalid minute field "60": 60 is out of range 0-59 for minute; expected a minute 0-59"#
        );
        assert_eq!(
            Cron::parse("0 0 * * FRI-MON").unwrap_err().to_string(),
            r#"invalid day_of_week field "FRI-MON": range FRI-MON is reversed (5 > 1); write A-B with A <= B; expected a day of the week 0-7 (0 and 7 are Sunday) or SUN-SAT"#
        );
        assert_eq!(
            Cron::parse("*/0 * * * *").unwrap_err().to_string(),
            r#"invalid minute field "*/0": step 0 in "*/0" must be at least 1; expected a minute 0-59"#
        );
    }

    #[test]
    fn whole_expression_errors() {
        assert_eq!(Cron::parse(""), Err(CronError::Empty));
        assert_eq!(Cron::parse(" \t\n"), Err(CronError::Empty));
        for (expr, found) in [
            ("* * * *", 4),
            ("0 * * * * *", 6),
            ("0 0 1 1 * 2026", 6),
            ("*", 1),
        ] {
            let err = Cron::parse(expr).unwrap_err();
            assert_eq!(
                err,
                CronError::FieldCount {
                    expression: expr.to_owned(),
                    found
                },
                "{expr}"
            );
            assert!(err.to_string().contains("expected 5"), "{err}");
            assert_eq!(err.field(), None);
        }
        // Long input is quoted back truncated.
        let long = format!("{} * * * *", "1,".repeat(1000));
        let err = Cron::parse(&long).unwrap_err();
        assert_eq!(err.field(), Some(CronField::Minute));
        assert!(err.to_string().len() < 400, "{err}");
    }

    #[test]
    fn serde_round_trip() {
        let c = cron("0 9 * * mon-fri");
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#""0 9 * * 1-5""#);
        assert_eq!(serde_json::from_str::<Cron>(&json).unwrap(), c);
        let err = serde_json::from_str::<Cron>(r#""0 25 * * *""#).unwrap_err();
        assert!(err.to_string().contains("hour"), "{err}");

        let err = Cron::parse("0 25 * * *").unwrap_err();
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            serde_json::json!({
                "kind": "field",
                "field": "hour",
                "text": "25",
                "token": "25",
                "problem": "25 is out of range 0-23 for hour",
                "expected": "an hour 0-23",
            })
        );
        assert_eq!(
            serde_json::to_value(CronError::Empty).unwrap(),
            serde_json::json!({"kind": "empty"})
        );
        assert_eq!(
            serde_json::to_value(CronField::DayOfMonth).unwrap(),
            "day_of_month"
        );
    }

    // -- Calendar arithmetic against the `time` crate -----------------------------------

    #[test]
    fn civil_conversions_agree_with_time() {
        let mut rng = Rng(7);
        let days = (0..2000)
            .map(|_| rng.range(-400_000, 400_000))
            .chain(-800..800)
            .chain([-719_468, 47_482, 47_541, 11_016, 11_017]);
        for day in days {
            let dt = OffsetDateTime::from_unix_timestamp(day * 86_400).unwrap();
            let (y, m, d) = civil_from_days(day);
            assert_eq!(
                (y, m, d),
                (
                    i64::from(dt.year()),
                    u32::from(u8::from(dt.month())),
                    u32::from(dt.day())
                ),
                "day {day}"
            );
            assert_eq!(days_from_civil(y, m, d), day);
            assert_eq!(
                weekday(day),
                u32::from(dt.weekday().number_days_from_sunday())
            );
            assert_eq!(days_in_month(y, m), u32::from(dt.month().length(dt.year())));
        }
    }

    // -- Randomized comparison with a brute-force reference -----------------------------

    use crate::test_rng::Rng;

    /// Uniform in `0..n`, for the `u32` fields.
    fn below(rng: &mut Rng, n: u32) -> u32 {
        rng.below(n as usize) as u32
    }

    /// A random expression and, computed independently of the parser, what it means.
    struct Spec {
        expr: String,
        /// Per field: `sets[f][v]` for every value `v` in `0..=max` (day of week 0-7).
        sets: [Vec<bool>; 5],
        dom_star: bool,
        dow_star: bool,
    }

    impl Spec {
        fn random(rng: &mut Rng, star_percent: [u32; 5]) -> Spec {
            let mut texts = Vec::new();
            let sets = CronField::ALL.map(|field| {
                let (text, set) = random_field(rng, field, star_percent[field as usize]);
                texts.push(text);
                set
            });
            let dom_star = texts[2].starts_with('*');
            let dow_star = texts[4].starts_with('*');
            Spec {
                expr: texts.join(" "),
                sets,
                dom_star,
                dow_star,
            }
        }

        /// Brute force: does this minute (given as its calendar parts) fire?
        fn fires(&self, dt: OffsetDateTime) -> bool {
            let [minutes, hours, doms, months, dows] = &self.sets;
            let weekday = usize::from(dt.weekday().number_days_from_sunday());
            let dom_ok = doms[usize::from(dt.day())];
            let dow_ok = dows[weekday] || (weekday == 0 && dows[7]);
            let day_ok = if self.dom_star || self.dow_star {
                dom_ok && dow_ok
            } else {
                dom_ok || dow_ok
            };
            minutes[usize::from(dt.minute())]
                && hours[usize::from(dt.hour())]
                && months[usize::from(u8::from(dt.month()))]
                && day_ok
                && dt.second() == 0
        }

        /// Brute force: scan minute by minute, up to `horizon` minutes.
        fn next_after(&self, after: i64, horizon: i64) -> Option<i64> {
            let first = (after.div_euclid(60) + 1) * 60;
            (0..horizon)
                .map(|i| first + 60 * i)
                .find(|&t| self.fires(OffsetDateTime::from_unix_timestamp(t).unwrap()))
        }
    }

    fn random_value(rng: &mut Rng, field: CronField, lo: u32, hi: u32) -> (u32, String) {
        let value = lo + below(rng, hi - lo + 1);
        let (names, first) = field.names();
        let text = if !names.is_empty()
            && value >= first
            && value - first < names.len() as u32
            && rng.chance(40)
        {
            let name = names[(value - first) as usize];
            match rng.below(3) {
                0 => name.to_owned(),
                1 => name.to_ascii_lowercase(),
                _ => format!("{}{}", &name[..1], name[1..].to_ascii_lowercase()),
            }
        } else {
            value.to_string()
        };
        (value, text)
    }

    fn random_field(rng: &mut Rng, field: CronField, star_percent: u32) -> (String, Vec<bool>) {
        let (min, max) = field.bounds();
        // `*` and `A/S` end on Saturday for the day of week (written out, not shared
        // with the parser, so the reference stays independent).
        let open_max = if field == CronField::DayOfWeek {
            6
        } else {
            max
        };
        let mut set = vec![false; max as usize + 1];
        if rng.chance(u64::from(star_percent)) {
            (min..=open_max).for_each(|v| set[v as usize] = true);
            return ("*".to_owned(), set);
        }
        let mut items = Vec::new();
        for _ in 0..=below(rng, 3) {
            let span = open_max - min + 1;
            let step = if rng.chance(50) {
                1 + below(rng, span)
            } else {
                1 + below(rng, 4)
            };
            let (lo, hi, text) = match below(rng, 6) {
                0 => (min, open_max, format!("*/{step}")),
                1 | 2 => {
                    let (v, t) = random_value(rng, field, min, max);
                    items.push(t);
                    set[v as usize] = true;
                    continue;
                }
                3 | 4 => {
                    let (a, at) = random_value(rng, field, min, max);
                    let (b, bt) = random_value(rng, field, a, max);
                    if rng.chance(50) {
                        (a, b, format!("{at}-{bt}/{step}"))
                    } else {
                        (a, b, format!("{at}-{bt}"))
                    }
                }
                _ => {
                    let (a, at) = random_value(rng, field, min, max);
                    (a, open_max.max(a), format!("{at}/{step}"))
                }
            };
            let step = if text.contains('/') { step } else { 1 };
            let mut v = lo;
            while v <= hi {
                set[v as usize] = true;
                v += step;
            }
            items.push(text);
        }
        (items.join(","), set)
    }

    #[test]
    fn random_expressions_match_brute_force() {
        let mut rng = Rng(0x5eed);
        let mut compared = 0;
        let mut found = 0;
        for case in 0..300 {
            // Mostly dense schedules, so the brute force stays fast; some sparse ones.
            let spec = Spec::random(&mut rng, [20, 30, 50, 70, 50]);
            let c = Cron::parse(&spec.expr)
                .unwrap_or_else(|e| panic!("case {case}: {:?}: {e}", spec.expr));
            assert_eq!(
                cron(&c.to_string()),
                c,
                "case {case}: {:?} -> {c}",
                spec.expr
            );
            for _ in 0..3 {
                // 1901-2199 and any second, to cover 2100 and times before the epoch.
                let after = rng.range(at!(1901-01-01 00:00), at!(2199-01-01 00:00));
                let horizon = 60 * 24 * 45;
                let expected = spec.next_after(after, horizon);
                let got = c.next_after(after);
                compared += 1;
                match expected {
                    Some(_) => {
                        found += 1;
                        assert_eq!(
                            iso(got),
                            iso(expected),
                            "case {case}: {:?} after {}",
                            spec.expr,
                            iso(Some(after))
                        );
                    }
                    // Nothing within the horizon: the answer, if any, lies beyond it.
                    None => assert!(
                        got.is_none_or(|t| t >= (after.div_euclid(60) + 1 + horizon) * 60),
                        "case {case}: {:?} after {} gave {}",
                        spec.expr,
                        iso(Some(after)),
                        iso(got)
                    ),
                }
                // `matches` agrees minute by minute on a short window.
                for i in 0..30 {
                    let t = after + 60 * i;
                    let dt = OffsetDateTime::from_unix_timestamp(t - t.rem_euclid(60)).unwrap();
                    assert_eq!(
                        c.matches(t),
                        spec.fires(dt),
                        "case {case}: {:?} at {t}",
                        spec.expr
                    );
                }
            }
        }
        assert!(
            found > compared / 2,
            "too few comparisons found a time: {found}/{compared}"
        );
    }

    #[test]
    fn random_day_schedules_match_day_by_day_brute_force() {
        // Sparse day rules (the hard part), checked over up to 30 years day by day.
        let mut rng = Rng(0xda7e);
        for case in 0..200 {
            let spec = Spec::random(&mut rng, [0, 0, 30, 30, 30]);
            let [minutes, hours, ..] = &spec.sets;
            // Use a single minute and hour so the reference can step by days.
            let (Some(minute), Some(hour)) = (
                minutes.iter().position(|&b| b),
                hours.iter().position(|&b| b),
            ) else {
                unreachable!()
            };
            let mut fields: Vec<String> = spec.expr.split(' ').map(str::to_owned).collect();
            fields[0] = minute.to_string();
            fields[1] = hour.to_string();
            let expr = fields.join(" ");
            let c = cron(&expr);
            let after = rng.range(at!(1950-01-01 00:00), at!(2150-01-01 00:00));
            let first_day = after.div_euclid(86_400);
            let time_of_day = (hour * 3600 + minute * 60) as i64;
            let expected = (0..30 * 366)
                .map(|i| (first_day + i) * 86_400 + time_of_day)
                .filter(|&t| t > after)
                .find(|&t| {
                    let dt = OffsetDateTime::from_unix_timestamp(t).unwrap();
                    let [_, _, doms, months, dows] = &spec.sets;
                    let weekday = usize::from(dt.weekday().number_days_from_sunday());
                    let dom_ok = doms[usize::from(dt.day())];
                    let dow_ok = dows[weekday] || (weekday == 0 && dows[7]);
                    let day_ok = if spec.dom_star || spec.dow_star {
                        dom_ok && dow_ok
                    } else {
                        dom_ok || dow_ok
                    };
                    months[usize::from(u8::from(dt.month()))] && day_ok
                });
            let got = c.next_after(after);
            match expected {
                Some(_) => assert_eq!(
                    iso(got),
                    iso(expected),
                    "case {case}: {expr:?} after {after}"
                ),
                None => assert!(
                    got.is_none_or(|t| t > after + 29 * 366 * 86_400),
                    "case {case}: {expr:?} after {after} gave {}",
                    iso(got)
                ),
            }
            // `never_fires` is exact: compare with a 400-year day-by-day scan when in doubt.
            if got.is_none() {
                assert!(c.never_fires(), "case {case}: {expr:?}");
            }
        }
    }

    #[test]
    fn never_fires_is_exact_over_the_400_year_cycle() {
        // Every day-of-month/month combination, with and without a weekday.
        for month in 1..=12u32 {
            for day in 1..=31u32 {
                let c = cron(&format!("0 0 {day} {month} *"));
                let possible = day <= days_in_month(2000, month);
                assert_eq!(c.never_fires(), !possible, "{day} {month}");
            }
        }
        // AND mode with a rare combination: Feb 29th on a Monday (every 28 years, with
        // century gaps) is found however far the start is from it.
        let c = cron("0 0 */29 2 1");
        assert!(!c.never_fires());
        let mut rng = Rng(99);
        for _ in 0..50 {
            let after = rng.range(at!(1600-01-01 00:00), at!(2400-01-01 00:00));
            let t = c.next_after(after).unwrap();
            let dt = OffsetDateTime::from_unix_timestamp(t).unwrap();
            assert!(dt.day() == 1 || dt.day() == 29, "{dt}");
            assert_eq!(dt.weekday(), time::Weekday::Monday, "{dt}");
            assert!(c.matches(t));
            // Nothing in between: check day by day.
            let mut day = after.div_euclid(86_400) + 1;
            while day * 86_400 < t {
                assert!(!c.matches(day * 86_400), "{after} -> {dt}: {day}");
                day += 1;
            }
        }
    }
}
