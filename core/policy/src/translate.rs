//! Source translation from the Heroa policy dialect to plain Cedar.
//!
//! The dialect is Cedar plus three conveniences (the parent module's docs give
//! the precise rules). This file holds a small
//! Cedar tokenizer (it knows string literals with escapes and `//` comments),
//! the rewrite planner, the renderer, and the map that takes a byte offset in
//! the translated text back to the original document.

use super::{Diagnostic, Translation, TranslationRule};

/// Largest number of fractional digits a Cedar `decimal` holds.
const MAX_DECIMAL_DIGITS: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Identifier or keyword (`[_a-zA-Z][_a-zA-Z0-9]*`), also slots (`?principal`).
    Ident,
    /// Integer literal, possibly merged with a unary minus.
    Int,
    /// Decimal literal `digits.digits`, possibly merged with a unary minus.
    Decimal,
    /// String literal (possibly unterminated, then it runs to the end).
    Str,
    /// Punctuation or operator.
    Punct,
    /// Anything Cedar does not know; left for Cedar to reject.
    Other,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    kind: Kind,
    /// Byte offset of the first byte (the `-` for a merged negative number).
    start: usize,
    /// Byte offset one past the last byte.
    end: usize,
    /// Byte offset where the digits of a number start (after any `-` and
    /// whitespace); equals `start` for other tokens.
    digits: usize,
}

impl Token {
    fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.start..self.end]
    }
    fn is(&self, src: &str, s: &str) -> bool {
        self.text(src) == s
    }
    fn negative(&self) -> bool {
        self.digits != self.start
    }
    /// The number as written, with a `-` directly before the digits when negative.
    fn number(&self, src: &str) -> String {
        let digits = &src[self.digits..self.end];
        if self.negative() {
            format!("-{digits}")
        } else {
            digits.to_string()
        }
    }
}

const TWO_CHAR_PUNCT: [&str; 7] = ["::", "==", "!=", "<=", ">=", "&&", "||"];

fn is_ident_start(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}
fn is_ident_char(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

/// Splits Cedar source into tokens, skipping whitespace and `//` comments.
fn tokenize(src: &str) -> Vec<Token> {
    let b = src.as_bytes();
    let n = b.len();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < n {
        let c = b[i];
        let start = i;
        let kind;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < n && b[i] != b'\n' && b[i] != b'\r' {
                i += 1;
            }
            continue;
        } else if c == b'"' {
            i += 1;
            while i < n {
                match b[i] {
                    b'\\' => i += 2,
                    b'"' => {
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
            i = i.min(n);
            kind = Kind::Str;
        } else if is_ident_start(c)
            || (c == b'?' && b.get(i + 1).is_some_and(|&d| is_ident_start(d)))
        {
            i += 1;
            while i < n && is_ident_char(b[i]) {
                i += 1;
            }
            kind = Kind::Ident;
        } else if c.is_ascii_digit() {
            while i < n && b[i].is_ascii_digit() {
                i += 1;
            }
            if i + 1 < n && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                i += 1;
                while i < n && b[i].is_ascii_digit() {
                    i += 1;
                }
                kind = Kind::Decimal;
            } else {
                kind = Kind::Int;
            }
        } else if c.is_ascii() {
            if i + 1 < n && TWO_CHAR_PUNCT.iter().any(|p| p.as_bytes() == &b[i..i + 2]) {
                i += 2;
            } else {
                i += 1;
            }
            kind = Kind::Punct;
        } else {
            // A non-ASCII character: whitespace is skipped, anything else is
            // passed on for Cedar to report.
            let ch = src[i..].chars().next().unwrap_or(' ');
            i += ch.len_utf8();
            if ch.is_whitespace() {
                continue;
            }
            kind = Kind::Other;
        }
        out.push(Token {
            kind,
            start,
            end: i,
            digits: start,
        });
    }
    merge_negative_numbers(src, out)
}

/// Keywords that cannot end an operand (so a `-` after them is unary).
const NON_OPERAND_KEYWORDS: [&str; 11] = [
    "if", "then", "else", "in", "has", "like", "is", "when", "unless", "permit", "forbid",
];

/// Merges a unary `-` with the number literal that follows it, so that `-0.5`
/// is one literal. A `-` is unary when the token before it cannot end an
/// operand (an operator, an opening bracket, a keyword, or nothing).
fn merge_negative_numbers(src: &str, tokens: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut iter = tokens.into_iter().peekable();
    while let Some(t) = iter.next() {
        if t.kind == Kind::Punct
            && t.is(src, "-")
            && let Some(next) = iter.peek()
            && matches!(next.kind, Kind::Int | Kind::Decimal)
            && !out.last().is_some_and(|p| ends_operand(src, p))
        {
            let next = *next;
            iter.next();
            out.push(Token {
                kind: next.kind,
                start: t.start,
                end: next.end,
                digits: next.start,
            });
            continue;
        }
        out.push(t);
    }
    out
}

fn ends_operand(src: &str, t: &Token) -> bool {
    match t.kind {
        Kind::Int | Kind::Decimal | Kind::Str => true,
        Kind::Ident => !NON_OPERAND_KEYWORDS.contains(&t.text(src)),
        Kind::Punct => matches!(t.text(src), ")" | "]" | "}"),
        Kind::Other => false,
    }
}

/// Tokens that end an operand of a relation (`<`, `in`, …) at bracket depth 0.
fn is_relation_boundary(src: &str, t: &Token) -> bool {
    match t.kind {
        Kind::Punct => matches!(
            t.text(src),
            "&&" | "||" | "," | ";" | ":" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "=" | "@"
        ),
        Kind::Ident => matches!(
            t.text(src),
            "if" | "then"
                | "else"
                | "in"
                | "has"
                | "like"
                | "is"
                | "when"
                | "unless"
                | "permit"
                | "forbid"
        ),
        _ => false,
    }
}

fn is_open(src: &str, t: &Token) -> bool {
    t.kind == Kind::Punct && matches!(t.text(src), "(" | "[" | "{")
}
fn is_close(src: &str, t: &Token) -> bool {
    t.kind == Kind::Punct && matches!(t.text(src), ")" | "]" | "}")
}

/// Index of the first token of the operand that ends just before token `op`.
fn left_operand_start(src: &str, toks: &[Token], op: usize) -> usize {
    let mut depth = 0usize;
    let mut i = op;
    while i > 0 {
        let t = &toks[i - 1];
        if is_close(src, t) {
            depth += 1;
        } else if is_open(src, t) {
            if depth == 0 {
                return i;
            }
            depth -= 1;
        } else if depth == 0 && is_relation_boundary(src, t) {
            return i;
        }
        i -= 1;
    }
    0
}

/// Index one past the last token of the operand that starts just after token `op`.
fn right_operand_end(src: &str, toks: &[Token], op: usize) -> usize {
    let mut depth = 0usize;
    let mut i = op + 1;
    while i < toks.len() {
        let t = &toks[i];
        if is_open(src, t) {
            depth += 1;
        } else if is_close(src, t) {
            if depth == 0 {
                return i;
            }
            depth -= 1;
        } else if depth == 0 && is_relation_boundary(src, t) {
            return i;
        }
        i += 1;
    }
    toks.len()
}

/// Index of the bracket that closes the one at `open`, if any.
fn matching_close(src: &str, toks: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(open) {
        if is_open(src, t) {
            depth += 1;
        } else if is_close(src, t) {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// How an operand of a comparison is typed, as far as the translation can tell.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OperandType {
    /// A decimal literal, a `decimal("…")` call, or an attribute whose name ends in `_usd`.
    Decimal,
    /// A lone integer literal (can be coerced to a decimal).
    IntLiteral,
    Other,
}

fn operand_type(src: &str, ops: &[Token]) -> OperandType {
    match ops {
        [t] if t.kind == Kind::Decimal => return OperandType::Decimal,
        [t] if t.kind == Kind::Int => return OperandType::IntLiteral,
        [f, o, s, c]
            if f.is(src, "decimal") && o.is(src, "(") && s.kind == Kind::Str && c.is(src, ")") =>
        {
            return OperandType::Decimal;
        }
        _ => {}
    }
    // A member-access chain `var(.ident | ["str"])+` whose last name ends in `_usd`.
    let Some(first) = ops.first() else {
        return OperandType::Other;
    };
    if first.kind != Kind::Ident || !matches!(first.text(src), "principal" | "resource" | "context")
    {
        return OperandType::Other;
    }
    let mut i = 1;
    let mut last: Option<&str> = None;
    while i < ops.len() {
        if ops[i].is(src, ".") && ops.get(i + 1).is_some_and(|t| t.kind == Kind::Ident) {
            last = Some(ops[i + 1].text(src));
            i += 2;
        } else if ops[i].is(src, "[")
            && ops.get(i + 1).is_some_and(|t| t.kind == Kind::Str)
            && ops.get(i + 2).is_some_and(|t| t.is(src, "]"))
        {
            let s = ops[i + 1].text(src);
            last = Some(s.get(1..s.len().saturating_sub(1)).unwrap_or(""));
            i += 3;
        } else {
            return OperandType::Other;
        }
    }
    match last {
        Some(name) if name.ends_with("_usd") => OperandType::Decimal,
        _ => OperandType::Other,
    }
}

/// One piece of a rewrite's replacement text.
#[derive(Debug)]
enum Part {
    /// Synthesized text; the offset is the original position it stands for.
    Text(String, usize),
    /// A byte range of the original, rendered recursively (with nested rewrites).
    Src(usize, usize),
}

#[derive(Debug)]
struct Rewrite {
    start: usize,
    end: usize,
    rule: TranslationRule,
    parts: Vec<Part>,
    children: Vec<usize>,
}

/// A contiguous piece of the translated output.
#[derive(Clone, Copy, Debug)]
struct Piece {
    out_start: usize,
    len: usize,
    /// `Some(orig_start)` when copied from the original, `None` when synthesized.
    copied_from: Option<usize>,
    /// Original offset a synthesized piece stands for.
    anchor: usize,
    /// Innermost translation (index into `translations`) whose output holds this piece.
    translation: Option<usize>,
}

/// Where a byte offset of the translated text comes from in the original.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    /// Byte offset in the original document.
    pub offset: usize,
    /// Innermost translation whose output holds the position.
    pub translation: Option<usize>,
}

/// The result of translating one document.
#[derive(Debug, Clone)]
pub(crate) struct Translated {
    /// Plain Cedar text.
    pub cedar: String,
    /// Every rewrite, ordered by position in the original.
    pub translations: Vec<Translation>,
    /// Errors found while translating (e.g. too many decimal digits).
    pub diagnostics: Vec<Diagnostic>,
    pieces: Vec<Piece>,
    original_len: usize,
}

impl Translated {
    /// Maps a byte offset in [`Translated::cedar`] back to the original document.
    pub fn origin(&self, out_offset: usize) -> Origin {
        if self.pieces.is_empty() || out_offset >= self.cedar.len() {
            return Origin {
                offset: self.original_len,
                translation: None,
            };
        }
        let idx = self
            .pieces
            .partition_point(|p| p.out_start <= out_offset)
            .saturating_sub(1);
        let p = &self.pieces[idx];
        match p.copied_from {
            Some(orig) => Origin {
                offset: orig + (out_offset - p.out_start).min(p.len),
                translation: p.translation,
            },
            None => Origin {
                offset: p.anchor,
                translation: p.translation,
            },
        }
    }
}

/// Renders rewrites into output text while recording pieces.
struct Renderer<'a> {
    src: &'a str,
    rewrites: &'a [Rewrite],
    out: String,
    pieces: Vec<Piece>,
    stack: Vec<usize>,
    /// Output range of each rewrite.
    ranges: Vec<(usize, usize)>,
    /// Rewrite index -> translation index.
    tr_index: &'a [usize],
}

impl Renderer<'_> {
    fn current(&self) -> Option<usize> {
        self.stack.last().map(|&r| self.tr_index[r])
    }

    fn copy(&mut self, a: usize, b: usize) {
        if a >= b {
            return;
        }
        let translation = self.current();
        let out_start = self.out.len();
        self.out.push_str(&self.src[a..b]);
        if let Some(last) = self.pieces.last_mut()
            && last.translation == translation
            && last.copied_from.is_some_and(|o| o + last.len == a)
        {
            last.len += b - a;
            return;
        }
        self.pieces.push(Piece {
            out_start,
            len: b - a,
            copied_from: Some(a),
            anchor: a,
            translation,
        });
    }

    fn synth(&mut self, text: &str, anchor: usize) {
        let translation = self.current();
        self.pieces.push(Piece {
            out_start: self.out.len(),
            len: text.len(),
            copied_from: None,
            anchor,
            translation,
        });
        self.out.push_str(text);
    }

    fn range(&mut self, a: usize, b: usize, candidates: &[usize]) {
        let mut pos = a;
        for &c in candidates {
            let r = &self.rewrites[c];
            if r.start >= pos && r.end <= b {
                self.copy(pos, r.start);
                self.rewrite(c);
                pos = self.rewrites[c].end;
            }
        }
        self.copy(pos, b);
    }

    fn rewrite(&mut self, idx: usize) {
        let rewrites = self.rewrites;
        let r = &rewrites[idx];
        let out_start = self.out.len();
        self.stack.push(idx);
        for part in &r.parts {
            match part {
                Part::Text(t, anchor) => self.synth(t, *anchor),
                Part::Src(a, b) => self.range(*a, *b, &r.children),
            }
        }
        self.stack.pop();
        self.ranges[idx] = (out_start, self.out.len());
    }
}

/// 1-based line and column (in characters) of a byte offset of `src`.
pub(crate) fn line_col(src: &str, offset: usize) -> (u32, u32) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// Whether `-?digits(.digits)?` (at most 4 fractional digits) fits a Cedar
/// decimal: an `i64` count of ten-thousandths.
pub(crate) fn decimal_in_range(number: &str) -> bool {
    let (neg, body) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int = int.trim_start_matches('0');
    if int.len() > 20 || frac.len() > MAX_DECIMAL_DIGITS {
        return false;
    }
    let (Ok(int), Ok(frac)) = (
        format!("0{int}").parse::<i128>(),
        format!("{frac:0<4}").parse::<i128>(),
    ) else {
        return false;
    };
    let scaled = int * 10_000 + frac;
    if neg {
        -scaled >= i128::from(i64::MIN)
    } else {
        scaled <= i128::from(i64::MAX)
    }
}

/// Checks a decimal literal (`-?digits.digits`) against Cedar's `decimal` limits.
fn check_decimal(number: &str) -> Result<(), String> {
    let frac_digits = number.split_once('.').map_or(0, |(_, f)| f.len());
    if frac_digits > MAX_DECIMAL_DIGITS {
        return Err(format!(
            "decimal literal `{number}` has {frac_digits} fractional digits; Cedar decimals allow at most {MAX_DECIMAL_DIGITS}"
        ));
    }
    if decimal_in_range(number) {
        Ok(())
    } else {
        Err(format!(
            "decimal literal `{number}` is out of range for a Cedar decimal (at most 922337203685477.5807 in magnitude)"
        ))
    }
}

/// Rule 1 rewrite of a number token into `decimal("…")`.
fn literal_to_decimal(src: &str, t: &Token) -> Rewrite {
    Rewrite {
        start: t.start,
        end: t.end,
        rule: TranslationRule::DecimalLiteral,
        parts: vec![Part::Text(decimal_call(src, t), t.start)],
        children: Vec::new(),
    }
}

/// `decimal("…")` for a number token (an integer gets a `.0`).
fn decimal_call(src: &str, t: &Token) -> String {
    let n = t.number(src);
    if t.kind == Kind::Int {
        format!("decimal(\"{n}.0\")")
    } else {
        format!("decimal(\"{n}\")")
    }
}

fn comparison_method(op: &str) -> Option<&'static str> {
    match op {
        "<" => Some("lessThan"),
        "<=" => Some("lessThanOrEqual"),
        ">" => Some("greaterThan"),
        ">=" => Some("greaterThanOrEqual"),
        _ => None,
    }
}

fn overlaps_badly(a: (usize, usize), b: (usize, usize)) -> bool {
    let disjoint = a.1 <= b.0 || b.1 <= a.0;
    let nested = (a.0 <= b.0 && b.1 <= a.1) || (b.0 <= a.0 && a.1 <= b.1);
    !disjoint && !nested
}

/// Translates a document of the Heroa dialect into plain Cedar.
pub(crate) fn translate(src: &str) -> Translated {
    let toks = tokenize(src);
    let mut rewrites: Vec<Rewrite> = Vec::new();
    let mut diagnostics = Vec::new();
    // Rule 1: decimal literals.
    for t in &toks {
        if t.kind != Kind::Decimal {
            continue;
        }
        let number = t.number(src);
        if let Err(message) = check_decimal(&number) {
            let (line, column) = line_col(src, t.start);
            diagnostics.push(Diagnostic {
                line,
                column,
                message,
                help: Some(
                    "round the literal to 4 fractional digits, e.g. `0.1235` instead of `0.12345`"
                        .to_string(),
                ),
                translated: None,
            });
        }
        rewrites.push(literal_to_decimal(src, t));
    }

    // Rules 2 and 3: comparisons with decimals and `in` with a set of literals.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        let candidate = if t.kind == Kind::Punct {
            comparison(src, &toks, k)
        } else if t.kind == Kind::Ident && t.is(src, "in") {
            set_membership(src, &toks, k).map(|rw| (Some(rw), Vec::new()))
        } else {
            None
        };
        let Some((structural, coercions)) = candidate else {
            continue;
        };
        if let Some(rw) = structural {
            let span = (rw.start, rw.end);
            if spans.iter().any(|&s| overlaps_badly(s, span)) {
                continue;
            }
            spans.push(span);
            rewrites.push(rw);
        }
        for c in coercions {
            if !rewrites
                .iter()
                .any(|r| r.start == c.start && r.end == c.end)
            {
                rewrites.push(c);
            }
        }
    }

    if rewrites.is_empty() {
        return Translated {
            cedar: src.to_string(),
            translations: Vec::new(),
            diagnostics,
            pieces: vec![Piece {
                out_start: 0,
                len: src.len(),
                copied_from: Some(0),
                anchor: 0,
                translation: None,
            }],
            original_len: src.len(),
        };
    }

    // Build the nesting tree: sort by (start, longest first).
    let mut order: Vec<usize> = (0..rewrites.len()).collect();
    order.sort_by(|&a, &b| {
        (rewrites[a].start, std::cmp::Reverse(rewrites[a].end))
            .cmp(&(rewrites[b].start, std::cmp::Reverse(rewrites[b].end)))
    });
    let mut roots = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    for &r in &order {
        while let Some(&top) = stack.last() {
            if rewrites[top].end <= rewrites[r].start {
                stack.pop();
            } else {
                break;
            }
        }
        match stack.last() {
            Some(&parent) => rewrites[parent].children.push(r),
            None => roots.push(r),
        }
        stack.push(r);
    }
    // Translation index = position in `order`.
    let mut tr_index = vec![0usize; rewrites.len()];
    for (pos, &r) in order.iter().enumerate() {
        tr_index[r] = pos;
    }

    let mut renderer = Renderer {
        src,
        rewrites: &rewrites,
        out: String::with_capacity(src.len() + 64),
        pieces: Vec::new(),
        stack: Vec::new(),
        ranges: vec![(0, 0); rewrites.len()],
        tr_index: &tr_index,
    };
    renderer.range(0, src.len(), &roots);
    let Renderer {
        out,
        pieces,
        ranges,
        ..
    } = renderer;

    let translations = order
        .iter()
        .map(|&r| {
            let rw = &rewrites[r];
            let (line, column) = line_col(src, rw.start);
            Translation {
                line,
                column,
                original: src[rw.start..rw.end].to_string(),
                translated: out[ranges[r].0..ranges[r].1].to_string(),
                rule: rw.rule,
            }
        })
        .collect();
    Translated {
        cedar: out,
        translations,
        diagnostics,
        pieces,
        original_len: src.len(),
    }
}

/// Rule 2: `A < B` (and `<=`, `>`, `>=`) with a decimal operand becomes
/// `A.lessThan(B)`; a lone integer literal on the other side becomes a decimal.
/// Rule 2b: `==`/`!=` with a decimal operand only coerce an integer literal.
fn comparison(src: &str, toks: &[Token], k: usize) -> Option<(Option<Rewrite>, Vec<Rewrite>)> {
    let op = toks[k].text(src);
    let method = comparison_method(op);
    if method.is_none() && !matches!(op, "==" | "!=") {
        return None;
    }
    let ls = left_operand_start(src, toks, k);
    let re = right_operand_end(src, toks, k);
    if ls >= k || re <= k + 1 {
        return None;
    }
    let left = &toks[ls..k];
    let right = &toks[k + 1..re];
    let lt = operand_type(src, left);
    let rt = operand_type(src, right);
    if lt != OperandType::Decimal && rt != OperandType::Decimal {
        return None;
    }
    // Coerce a lone integer literal on the other side.
    let coercions: Vec<Rewrite> = [(lt, ls), (rt, k + 1)]
        .into_iter()
        .filter(|&(ty, _)| ty == OperandType::IntLiteral)
        .map(|(_, idx)| literal_to_decimal(src, &toks[idx]))
        .collect();
    let Some(method) = method else {
        return Some((None, coercions));
    };
    let (l0, l1) = (left[0].start, left[left.len() - 1].end);
    let (r0, r1) = (right[0].start, right[right.len() - 1].end);
    let op_at = toks[k].start;
    // The receiver needs parentheses unless it is a single member chain or literal.
    let simple = {
        let mut depth = 0usize;
        let mut simple = true;
        for t in left {
            if is_open(src, t) {
                depth += 1;
            } else if is_close(src, t) {
                depth = depth.saturating_sub(1);
            } else if depth == 0
                && t.kind == Kind::Punct
                && matches!(t.text(src), "+" | "-" | "*" | "/" | "%" | "!")
            {
                simple = false;
            }
        }
        simple
    };
    let mut parts = Vec::new();
    if !simple {
        parts.push(Part::Text("(".to_string(), l0));
    }
    parts.push(Part::Src(l0, l1));
    if !simple {
        parts.push(Part::Text(")".to_string(), op_at));
    }
    parts.push(Part::Text(format!(".{method}("), op_at));
    parts.push(Part::Src(r0, r1));
    parts.push(Part::Text(")".to_string(), r1));
    let structural = Rewrite {
        start: l0,
        end: r1,
        rule: TranslationRule::DecimalComparison,
        parts,
        children: Vec::new(),
    };
    Some((Some(structural), coercions))
}

/// Rule 3: `EXPR in [lit, …]` becomes `[lit, …].contains(EXPR)` when every
/// element of the set is a string, number or boolean literal.
fn set_membership(src: &str, toks: &[Token], k: usize) -> Option<Rewrite> {
    let open = k + 1;
    if !toks.get(open)?.is(src, "[") {
        return None;
    }
    let close = matching_close(src, toks, open)?;
    if !toks[close].is(src, "]") || right_operand_end(src, toks, k) != close + 1 {
        return None;
    }
    let elems = &toks[open + 1..close];
    if elems.is_empty() {
        return None;
    }
    // Elements alternate literal, comma, literal, … (a trailing comma is allowed).
    for (i, t) in elems.iter().enumerate() {
        let ok = if i % 2 == 0 {
            matches!(t.kind, Kind::Str | Kind::Int | Kind::Decimal)
                || (t.kind == Kind::Ident && matches!(t.text(src), "true" | "false"))
        } else {
            t.is(src, ",")
        };
        if !ok {
            return None;
        }
    }
    let ls = left_operand_start(src, toks, k);
    if ls >= k || (ls > 0 && toks[ls - 1].is(src, "is")) {
        return None;
    }
    let (l0, l1) = (toks[ls].start, toks[k - 1].end);
    let (s0, s1) = (toks[open].start, toks[close].end);
    let in_at = toks[k].start;
    Some(Rewrite {
        start: l0,
        end: s1,
        rule: TranslationRule::SetMembership,
        parts: vec![
            Part::Src(s0, s1),
            Part::Text(".contains(".to_string(), in_at),
            Part::Src(l0, l1),
            Part::Text(")".to_string(), s1),
        ],
        children: Vec::new(),
    })
}

/// Line and column of the `permit` / `forbid` keyword of each statement of
/// `src`, in order. Statements end at a `;` outside brackets.
pub(crate) fn effect_lines(src: &str) -> Vec<(u32, u32)> {
    let toks = tokenize(src);
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut seen_effect = false;
    for t in &toks {
        if is_open(src, t) {
            depth += 1;
        } else if is_close(src, t) {
            depth = depth.saturating_sub(1);
        } else if depth == 0 && t.is(src, ";") {
            seen_effect = false;
        } else if depth == 0
            && !seen_effect
            && t.kind == Kind::Ident
            && matches!(t.text(src), "permit" | "forbid")
        {
            seen_effect = true;
            out.push(line_col(src, t.start));
        }
    }
    out
}

/// When the token at `offset` is the `(` of a `permit` / `forbid` that
/// directly follows the end of a previous policy (`)` or `}`), the byte offset
/// just after that end: the place where a `;` is probably missing.
pub(crate) fn missing_semicolon_before(src: &str, offset: usize) -> Option<usize> {
    let toks = tokenize(src);
    let i = toks.iter().position(|t| t.start == offset)?;
    if i < 2 || !toks[i].is(src, "(") {
        return None;
    }
    let effect = &toks[i - 1];
    let before = &toks[i - 2];
    (matches!(effect.text(src), "permit" | "forbid") && matches!(before.text(src), ")" | "}"))
        .then_some(before.end)
}

/// The top-level `context` attributes that Cedar text `cedar` can read
/// (`context.a`, `context["a"]`, `context has a`), or `None` when it uses
/// `context` as a whole value (then every attribute may matter).
pub(crate) fn context_keys(cedar: &str) -> Option<Vec<String>> {
    let toks = tokenize(cedar);
    let mut keys = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if t.kind != Kind::Ident || !t.is(cedar, "context") {
            continue;
        }
        let next = toks.get(i + 1);
        let after = toks.get(i + 2);
        let key = match (next, after) {
            (Some(n), Some(a))
                if (n.is(cedar, ".") || n.is(cedar, "has")) && a.kind == Kind::Ident =>
            {
                a.text(cedar).to_string()
            }
            (Some(n), Some(a))
                if (n.is(cedar, "[") || n.is(cedar, "has")) && a.kind == Kind::Str =>
            {
                let s = a.text(cedar);
                let inner = s.get(1..s.len().saturating_sub(1))?;
                if inner.contains('\\') {
                    return None;
                }
                inner.to_string()
            }
            _ => return None,
        };
        keys.push(key);
    }
    Some(keys)
}

/// An upper bound on the nesting depth of the expressions in Cedar text
/// `cedar`, from its tokens. Within each element of a bracket (or each
/// policy), a root-to-leaf path passes some of its `&&`, `||` and `if` nodes
/// (each counted once) and then stays in one *piece* between them (operators
/// binding tighter than `&&` cannot span it): the piece's other operators and
/// keywords, plus its deepest bracket (or 1 for a leaf).
pub(crate) fn nesting_bound(cedar: &str) -> usize {
    /// One open bracket.
    #[derive(Default)]
    struct Group {
        /// `&&`, `||` and `if` in the current element.
        chain: usize,
        /// Other operators and keywords in the current piece.
        operators: usize,
        /// Deepest bracket in the current piece.
        nested: usize,
        /// Deepest piece of the current element.
        piece: usize,
        /// Deepest element of the bracket so far.
        deepest: usize,
    }
    impl Group {
        fn end_piece(&mut self) {
            self.piece = self.piece.max(self.operators + self.nested.max(1));
            self.operators = 0;
            self.nested = 0;
        }
        fn end_element(&mut self) {
            self.end_piece();
            self.deepest = self.deepest.max(self.chain + self.piece);
            self.chain = 0;
            self.piece = 0;
        }
    }
    /// Closes the innermost open bracket, if any.
    fn close(open: &mut Vec<Group>, top: &mut Group) -> bool {
        let Some(mut inner) = open.pop() else {
            return false;
        };
        inner.end_element();
        let outer = open.last_mut().unwrap_or(top);
        outer.nested = outer.nested.max(1 + inner.deepest);
        true
    }
    /// Whether a token ends an operand, so that a `[` right after it is an
    /// index (`e["a"]`, an attribute access node) and not a set literal.
    fn ends_operand(kind: Kind, text: &str) -> bool {
        match kind {
            Kind::Str | Kind::Int | Kind::Decimal => true,
            Kind::Ident => !matches!(
                text,
                "in" | "has" | "like" | "is" | "if" | "then" | "else" | "when" | "unless"
            ),
            Kind::Punct => matches!(text, ")" | "]"),
            Kind::Other => false,
        }
    }
    let mut open: Vec<Group> = Vec::new();
    let mut top = Group::default();
    let mut after_operand = false;
    for t in tokenize(cedar) {
        let group = open.last_mut().unwrap_or(&mut top);
        let text = t.text(cedar);
        let indexes = after_operand && text == "[";
        after_operand = ends_operand(t.kind, text);
        if indexes {
            group.operators += 1;
        }
        match (t.kind, text) {
            (Kind::Punct, "(" | "[" | "{") => open.push(Group::default()),
            (Kind::Punct, ")" | "]" | "}") => {
                close(&mut open, &mut top);
            }
            (Kind::Punct, "," | ";") => group.end_element(),
            (Kind::Punct, "&&" | "||") | (Kind::Ident, "if") => {
                group.end_piece();
                group.chain += 1;
            }
            (Kind::Ident, "then" | "else") => group.end_piece(),
            (Kind::Punct, ":" | "::" | "@") => {}
            (Kind::Punct, _) | (Kind::Ident, "in" | "has" | "like" | "is") => {
                group.operators += 1;
            }
            _ => {}
        }
    }
    while close(&mut open, &mut top) {}
    top.end_element();
    top.deepest
}
