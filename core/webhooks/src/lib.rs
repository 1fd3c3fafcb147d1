//! Signed webhook deliveries: signing (Heroa side) and verification (receiver side).
//!
//! After each run Heroa POSTs the run result to your endpoint. Every delivery is
//! signed twice, so a receiver can verify it with whichever scheme it prefers:
//!
//! 1. **Heroa HMAC** (GitHub-compatible form). Header
//!    `heroa-signature: sha256=<lowercase hex HMAC-SHA256(key, raw body)>`, where the
//!    key is the UTF-8 bytes of the signing secret *exactly as shown to you*
//!    (for a `whsec_…` secret the whole string, prefix included). It has no
//!    timestamp, so it does not protect against replays: prefer scheme 2.
//! 2. **[Standard Webhooks](https://www.standardwebhooks.com/)**. Headers
//!    `webhook-id`, `webhook-timestamp` (unix seconds) and
//!    `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`
//!    (several space-separated entries are allowed, e.g. during secret rotation).
//!    The key is the base64-decoded part after `whsec_`. **A secret without the
//!    `whsec_` prefix is used as its raw UTF-8 bytes** (the Standard Webhooks
//!    reference libraries would base64-decode it instead). The timestamp must be
//!    within [`VerifyOptions::tolerance`] (default 300 s) of now, in both directions.
//!
//! ```
//! # use heroa_webhooks::*;
//! let secret = generate_secret();
//! let signer = Signer::new(&secret)?;
//! let body = br#"{"type":"run.completed"}"#;
//! let headers = signer.sign(&new_message_id(), 1_767_225_600, body)?;
//!
//! // Receiver: headers may be any `HeaderLookup` (slices or Vecs of pairs, HashMap, ...).
//! let options = VerifyOptions { now: Some(1_767_225_610), ..VerifyOptions::default() };
//! let verified = verify(&headers, body, &[&secret], options)?;
//! assert_eq!(verified.scheme, Scheme::StandardWebhooks);
//! # Ok::<(), WebhookError>(())
//! ```
//!
//! Language-neutral test vectors live in `tests/vectors/webhooks/*.json`.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE_NO_PAD,
};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

#[cfg(test)]
mod tests;

type HmacSha256 = Hmac<Sha256>;

/// Heroa HMAC signature header: `sha256=<hex>`.
pub const HEROA_SIGNATURE_HEADER: &str = "heroa-signature";
/// Accepted alias of [`HEROA_SIGNATURE_HEADER`] (read only when that one is absent).
pub const X_HEROA_SIGNATURE_HEADER: &str = "x-heroa-signature";
/// Standard Webhooks message id header.
pub const WEBHOOK_ID_HEADER: &str = "webhook-id";
/// Standard Webhooks timestamp header (unix seconds).
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Standard Webhooks signature header (`v1,<base64>`, space separated).
pub const WEBHOOK_SIGNATURE_HEADER: &str = "webhook-signature";
/// Prefix of serialized Standard Webhooks secrets.
pub const SECRET_PREFIX: &str = "whsec_";
/// Default timestamp tolerance of [`VerifyOptions`]: 300 seconds, both directions.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// At most this many `v1` signatures of one `webhook-signature` header are checked;
/// a header with more is [`WebhookError::Malformed`] (bounds the work per request).
pub const MAX_SIGNATURES: usize = 8;

const MAC_LEN: usize = 32;
/// Length of a standard, padded base64 encoding of 32 bytes.
const MAC_B64_LEN: usize = 44;

/// Base64 for `whsec_` secrets: standard alphabet, padding optional.
const SECRET_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

// ------------------------------------------------------------------ errors

/// Why a delivery was rejected (or a secret refused). Messages never contain
/// secrets, nor any text taken from the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required header is absent; holds its (lowercase) name.
    #[error("missing webhook header `{0}`")]
    MissingHeader(&'static str),
    /// A header (or the message id given to [`Signer::sign`]) is not in the
    /// expected form; holds what was malformed.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// The Standard Webhooks timestamp is outside the tolerance window: too old,
    /// or, when `future` is true, too far in the future. (Both are one kind,
    /// `expired`, with a flag rather than two variants.)
    #[error("webhook timestamp is outside the tolerance window ({})", if *future { "in the future" } else { "too old" })]
    Expired {
        /// True when the timestamp is ahead of now by more than the tolerance.
        future: bool,
    },
    /// Well-formed signature(s), but none matches the body under any given secret.
    #[error("webhook signature does not match")]
    Mismatch,
    /// A secret is unusable (empty, bad `whsec_` base64) or none was given;
    /// holds the reason (never the secret).
    #[error("invalid webhook secret: {0}")]
    InvalidSecret(&'static str),
}

impl WebhookError {
    /// Stable snake_case name of the kind, as used by the test vectors' `expect`:
    /// `missing_header`, `malformed`, `expired`, `mismatch`, `invalid_secret`.
    pub fn kind(&self) -> &'static str {
        match self {
            WebhookError::MissingHeader(_) => "missing_header",
            WebhookError::Malformed(_) => "malformed",
            WebhookError::Expired { .. } => "expired",
            WebhookError::Mismatch => "mismatch",
            WebhookError::InvalidSecret(_) => "invalid_secret",
        }
    }
}

// ------------------------------------------------------------------ secrets

/// Anything a signing secret can be read from: `str`, `String`, [`SecretString`]
/// (and references to them).
pub trait SecretSource {
    /// The secret text (`whsec_<base64>` or any other non-empty string).
    fn secret_str(&self) -> &str;
}

impl SecretSource for str {
    fn secret_str(&self) -> &str {
        self
    }
}

impl SecretSource for String {
    fn secret_str(&self) -> &str {
        self
    }
}

impl SecretSource for SecretString {
    fn secret_str(&self) -> &str {
        self.expose_secret()
    }
}

impl<T: SecretSource + ?Sized> SecretSource for &T {
    fn secret_str(&self) -> &str {
        (**self).secret_str()
    }
}

/// One parsed secret: the key bytes of each scheme.
struct ParsedSecret<'a> {
    /// Heroa HMAC key: the secret's UTF-8 bytes as given.
    heroa: &'a [u8],
    /// Standard Webhooks key when it differs from `heroa` (decoded `whsec_`).
    decoded: Option<SecretSlice<u8>>,
}

impl<'a> ParsedSecret<'a> {
    fn parse(secret: &'a str) -> Result<Self, WebhookError> {
        if secret.is_empty() {
            return Err(WebhookError::InvalidSecret("empty secret"));
        }
        let decoded = match secret.strip_prefix(SECRET_PREFIX) {
            Some(b64) => {
                let mut key = SECRET_B64.decode(b64).map_err(|_| {
                    WebhookError::InvalidSecret("whsec_ secret is not valid base64")
                })?;
                if key.is_empty() {
                    return Err(WebhookError::InvalidSecret(
                        "whsec_ secret has an empty key",
                    ));
                }
                // Clone into an exact-size buffer (so boxing it does not reallocate
                // and leave a copy behind), then wipe the decoder's buffer.
                let out = SecretSlice::from(key.clone());
                key.zeroize();
                Some(out)
            }
            None => None,
        };
        Ok(ParsedSecret {
            heroa: secret.as_bytes(),
            decoded,
        })
    }

    fn key(&self, scheme: Scheme) -> &[u8] {
        match (scheme, &self.decoded) {
            (Scheme::StandardWebhooks, Some(decoded)) => decoded.expose_secret(),
            _ => self.heroa,
        }
    }

    fn mac(&self, scheme: Scheme) -> HmacSha256 {
        hmac_with(self.key(scheme))
    }
}

fn hmac_with(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    buf
}

/// A new signing secret: `whsec_` + standard base64 of 32 random bytes from the
/// operating system.
///
/// # Panics
/// If the operating system's random number generator fails.
pub fn generate_secret() -> SecretString {
    let mut key = random_bytes::<32>();
    let mut text = String::with_capacity(SECRET_PREFIX.len() + MAC_B64_LEN);
    text.push_str(SECRET_PREFIX);
    STANDARD.encode_string(key, &mut text);
    key.zeroize();
    SecretString::from(text)
}

/// A new message id: `msg_` + 24 URL-safe base64 characters (18 random bytes).
/// It never contains `.`, as Standard Webhooks requires.
///
/// # Panics
/// If the operating system's random number generator fails.
pub fn new_message_id() -> String {
    let mut id = String::with_capacity(4 + 24);
    id.push_str("msg_");
    URL_SAFE_NO_PAD.encode_string(random_bytes::<18>(), &mut id);
    id
}

// ------------------------------------------------------------------ headers

/// Case-insensitive read access to request headers.
///
/// Implemented for slices, arrays and `Vec`s of `(name, value)` pairs (`&str` or
/// `String`), for `HashMap`/`BTreeMap<String, _>` and for [`SignedHeaders`]. With
/// repeated names the first occurrence wins.
pub trait HeaderLookup {
    /// The value of the first header named `name` (compared ignoring ASCII case;
    /// callers pass lowercase names).
    fn header(&self, name: &str) -> Option<&str>;
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderLookup for [(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> HeaderLookup for [(K, V); N] {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderLookup for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

impl<V: AsRef<str>, S: BuildHasher> HeaderLookup for HashMap<String, V, S> {
    fn header(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(v) => Some(v.as_ref()),
            None => self
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_ref()),
        }
    }
}

impl<V: AsRef<str>> HeaderLookup for BTreeMap<String, V> {
    fn header(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(v) => Some(v.as_ref()),
            None => self
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_ref()),
        }
    }
}

impl<T: HeaderLookup + ?Sized> HeaderLookup for &T {
    fn header(&self, name: &str) -> Option<&str> {
        (**self).header(name)
    }
}

/// The four headers of a signed delivery (none of them is secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub webhook_id: String,
    /// `webhook-timestamp` (unix seconds).
    pub webhook_timestamp: String,
    /// `webhook-signature`: `v1,<base64>`.
    pub webhook_signature: String,
    /// `heroa-signature`: `sha256=<hex>`.
    pub heroa_signature: String,
}

impl SignedHeaders {
    /// `(name, value)` pairs, names lowercase, in the order `webhook-id`,
    /// `webhook-timestamp`, `webhook-signature`, `heroa-signature`.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            (WEBHOOK_ID_HEADER, self.webhook_id.as_str()),
            (WEBHOOK_TIMESTAMP_HEADER, self.webhook_timestamp.as_str()),
            (WEBHOOK_SIGNATURE_HEADER, self.webhook_signature.as_str()),
            (HEROA_SIGNATURE_HEADER, self.heroa_signature.as_str()),
        ]
        .into_iter()
    }

    /// Owned `(name, value)` pairs, same order as [`SignedHeaders::iter`].
    pub fn to_vec(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

impl HeaderLookup for SignedHeaders {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

// ------------------------------------------------------------------ signing

/// Signs deliveries with one secret under both schemes.
///
/// `Debug` shows no key material.
#[derive(Clone)]
pub struct Signer {
    heroa: HmacSha256,
    standard: HmacSha256,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer { secret: [REDACTED] }")
    }
}

impl Signer {
    /// A signer for `secret`: `whsec_<base64>` (as made by [`generate_secret`]) or
    /// any other non-empty string, which is then used as raw UTF-8 bytes for both
    /// schemes. For the Heroa scheme the key is always the whole string as given.
    pub fn new<S: SecretSource + ?Sized>(secret: &S) -> Result<Signer, WebhookError> {
        let parsed = ParsedSecret::parse(secret.secret_str())?;
        Ok(Signer {
            heroa: parsed.mac(Scheme::Heroa),
            standard: parsed.mac(Scheme::StandardWebhooks),
        })
    }

    /// The four headers for `body` sent as message `msg_id` at `timestamp_secs`
    /// (unix seconds). `msg_id` must be 1 to 255 printable ASCII characters
    /// without `.` (otherwise [`WebhookError::Malformed`]); use [`new_message_id`],
    /// and keep the id across retries (receivers use it to deduplicate).
    pub fn sign(
        &self,
        msg_id: &str,
        timestamp_secs: u64,
        body: &[u8],
    ) -> Result<SignedHeaders, WebhookError> {
        if msg_id.is_empty()
            || msg_id.len() > 255
            || !msg_id.bytes().all(|b| b.is_ascii_graphic() && b != b'.')
        {
            return Err(WebhookError::Malformed("message id"));
        }
        let timestamp = timestamp_secs.to_string();
        let standard = self
            .standard
            .clone()
            .chain_update(msg_id)
            .chain_update(b".")
            .chain_update(&timestamp)
            .chain_update(b".")
            .chain_update(body)
            .finalize()
            .into_bytes();
        let mut webhook_signature = String::with_capacity(3 + MAC_B64_LEN);
        webhook_signature.push_str("v1,");
        STANDARD.encode_string(standard, &mut webhook_signature);
        let heroa = self
            .heroa
            .clone()
            .chain_update(body)
            .finalize()
            .into_bytes();
        Ok(SignedHeaders {
            webhook_id: msg_id.to_owned(),
            webhook_timestamp: timestamp,
            webhook_signature,
            heroa_signature: format!("sha256={}", hex::encode(heroa)),
        })
    }
}

// ------------------------------------------------------------------ verifying

/// A signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `heroa-signature: sha256=<hex>` over the raw body.
    Heroa,
    /// Standard Webhooks `webhook-id` / `webhook-timestamp` / `webhook-signature`.
    StandardWebhooks,
}

impl Scheme {
    /// The name used by the test vectors: `heroa-hmac-sha256` or `standard-webhooks`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Heroa => "heroa-hmac-sha256",
            Scheme::StandardWebhooks => "standard-webhooks",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which scheme [`verify`] checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum VerifyScheme {
    /// `webhook-signature` present → Standard Webhooks; else `heroa-signature`
    /// (or `x-heroa-signature`) present → Heroa; else
    /// [`WebhookError::MissingHeader`]`("webhook-signature")`.
    #[default]
    Auto,
    /// Only the Heroa HMAC scheme.
    Heroa,
    /// Only Standard Webhooks.
    StandardWebhooks,
}

/// Options of [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Largest accepted distance between `webhook-timestamp` and now, in whole
    /// seconds, both directions, inclusive (default 300 s). Heroa HMAC deliveries
    /// carry no timestamp and are not checked.
    pub tolerance: Duration,
    /// "Now" in unix seconds; `None` reads the system clock (set it in tests).
    pub now: Option<u64>,
    /// Scheme to check (default [`VerifyScheme::Auto`]).
    pub scheme: VerifyScheme,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            tolerance: DEFAULT_TOLERANCE,
            now: None,
            scheme: VerifyScheme::Auto,
        }
    }
}

/// A delivery that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The scheme that verified.
    pub scheme: Scheme,
    /// `webhook-id` (Standard Webhooks only: the Heroa HMAC does not cover it).
    /// Use it to drop duplicate deliveries.
    pub msg_id: Option<String>,
    /// `webhook-timestamp` (Standard Webhooks only).
    pub timestamp: Option<u64>,
    /// Index in the secrets list of the secret that matched (useful to tell when
    /// an old secret can be retired).
    pub secret_index: usize,
}

/// Verifies a delivery: `headers` as received, `body` the exact raw bytes (before
/// any JSON parsing), `secrets` every currently valid secret (several during a
/// rotation; any one matching is enough).
///
/// Comparisons are constant-time and only full 32-byte signatures are compared.
/// Errors, in the order checked: [`WebhookError::InvalidSecret`] (no secret, or an
/// unusable one), [`WebhookError::MissingHeader`], [`WebhookError::Malformed`],
/// [`WebhookError::Expired`] (Standard Webhooks), [`WebhookError::Mismatch`].
///
/// To check many deliveries against the same secrets, [`Verifier`] parses them once.
pub fn verify<H, S>(
    headers: &H,
    body: &[u8],
    secrets: &[S],
    options: VerifyOptions,
) -> Result<Verified, WebhookError>
where
    H: HeaderLookup + ?Sized,
    S: SecretSource,
{
    if secrets.is_empty() {
        return Err(WebhookError::InvalidSecret("no secrets given"));
    }
    let parsed = secrets
        .iter()
        .map(|s| ParsedSecret::parse(s.secret_str()))
        .collect::<Result<Vec<_>, _>>()?;
    verify_with(headers, body, options, parsed.len(), |i, scheme| {
        parsed[i].mac(scheme)
    })
}

/// Verifies deliveries against a fixed list of secrets, parsed and keyed once.
///
/// `Debug` shows only the number of secrets.
#[derive(Clone)]
pub struct Verifier {
    /// (Heroa key, Standard Webhooks key) per secret, as keyed HMAC states.
    keys: Vec<(HmacSha256, HmacSha256)>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Verifier {{ secrets: {} [REDACTED] }}", self.keys.len())
    }
}

impl Verifier {
    /// Parses `secrets` (at least one; same rules as [`Signer::new`]).
    pub fn new<S: SecretSource>(secrets: &[S]) -> Result<Verifier, WebhookError> {
        if secrets.is_empty() {
            return Err(WebhookError::InvalidSecret("no secrets given"));
        }
        let keys = secrets
            .iter()
            .map(|s| {
                let p = ParsedSecret::parse(s.secret_str())?;
                Ok((p.mac(Scheme::Heroa), p.mac(Scheme::StandardWebhooks)))
            })
            .collect::<Result<Vec<_>, WebhookError>>()?;
        Ok(Verifier { keys })
    }

    /// Same as [`verify`] with this verifier's secrets.
    pub fn verify<H: HeaderLookup + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        options: VerifyOptions,
    ) -> Result<Verified, WebhookError> {
        verify_with(headers, body, options, self.keys.len(), |i, scheme| {
            let (heroa, standard) = &self.keys[i];
            match scheme {
                Scheme::Heroa => heroa.clone(),
                Scheme::StandardWebhooks => standard.clone(),
            }
        })
    }
}

fn verify_with<H, F>(
    headers: &H,
    body: &[u8],
    options: VerifyOptions,
    n_secrets: usize,
    mac: F,
) -> Result<Verified, WebhookError>
where
    H: HeaderLookup + ?Sized,
    F: Fn(usize, Scheme) -> HmacSha256,
{
    let scheme = match options.scheme {
        VerifyScheme::Heroa => Scheme::Heroa,
        VerifyScheme::StandardWebhooks => Scheme::StandardWebhooks,
        VerifyScheme::Auto => {
            if headers.header(WEBHOOK_SIGNATURE_HEADER).is_some() {
                Scheme::StandardWebhooks
            } else if heroa_header(headers).is_some() {
                Scheme::Heroa
            } else {
                return Err(WebhookError::MissingHeader(WEBHOOK_SIGNATURE_HEADER));
            }
        }
    };
    match scheme {
        Scheme::Heroa => verify_heroa(headers, body, n_secrets, mac),
        Scheme::StandardWebhooks => verify_standard(headers, body, options, n_secrets, mac),
    }
}

fn heroa_header<H: HeaderLookup + ?Sized>(headers: &H) -> Option<&str> {
    headers
        .header(HEROA_SIGNATURE_HEADER)
        .or_else(|| headers.header(X_HEROA_SIGNATURE_HEADER))
}

fn verify_heroa<H, F>(
    headers: &H,
    body: &[u8],
    n_secrets: usize,
    mac: F,
) -> Result<Verified, WebhookError>
where
    H: HeaderLookup + ?Sized,
    F: Fn(usize, Scheme) -> HmacSha256,
{
    const WHAT: &str = "heroa-signature header (expected sha256=<64 hex digits>)";
    let value = heroa_header(headers).ok_or(WebhookError::MissingHeader(HEROA_SIGNATURE_HEADER))?;
    let hex_digits = value
        .trim()
        .strip_prefix("sha256=")
        .ok_or(WebhookError::Malformed(WHAT))?;
    let mut tag = [0u8; MAC_LEN];
    if hex_digits.len() != 2 * MAC_LEN || hex::decode_to_slice(hex_digits, &mut tag).is_err() {
        return Err(WebhookError::Malformed(WHAT));
    }
    for i in 0..n_secrets {
        if mac(i, Scheme::Heroa)
            .chain_update(body)
            .verify_slice(&tag)
            .is_ok()
        {
            return Ok(Verified {
                scheme: Scheme::Heroa,
                msg_id: None,
                timestamp: None,
                secret_index: i,
            });
        }
    }
    Err(WebhookError::Mismatch)
}

/// Canonical decimal: digits only, no sign, no leading zero (except "0"), fits u64.
fn parse_timestamp(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    s.parse().ok()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn verify_standard<H, F>(
    headers: &H,
    body: &[u8],
    options: VerifyOptions,
    n_secrets: usize,
    mac: F,
) -> Result<Verified, WebhookError>
where
    H: HeaderLookup + ?Sized,
    F: Fn(usize, Scheme) -> HmacSha256,
{
    let id = headers
        .header(WEBHOOK_ID_HEADER)
        .ok_or(WebhookError::MissingHeader(WEBHOOK_ID_HEADER))?
        .trim();
    let ts_text = headers
        .header(WEBHOOK_TIMESTAMP_HEADER)
        .ok_or(WebhookError::MissingHeader(WEBHOOK_TIMESTAMP_HEADER))?
        .trim();
    let sig_header = headers
        .header(WEBHOOK_SIGNATURE_HEADER)
        .ok_or(WebhookError::MissingHeader(WEBHOOK_SIGNATURE_HEADER))?;
    if id.is_empty() {
        return Err(WebhookError::Malformed("webhook-id header (empty)"));
    }
    let timestamp = parse_timestamp(ts_text).ok_or(WebhookError::Malformed(
        "webhook-timestamp header (expected unix seconds)",
    ))?;

    let now = options.now.unwrap_or_else(unix_now);
    let tolerance = options.tolerance.as_secs();
    if timestamp < now.saturating_sub(tolerance) {
        return Err(WebhookError::Expired { future: false });
    }
    if timestamp > now.saturating_add(tolerance) {
        return Err(WebhookError::Expired { future: true });
    }

    // Usable v1 signatures: exactly 32 bytes of standard padded base64. Anything
    // else (other versions, empty or truncated v1 entries) is skipped.
    let mut sigs = [[0u8; MAC_LEN]; MAX_SIGNATURES];
    let mut n_sigs = 0;
    for entry in sig_header.split_ascii_whitespace() {
        let Some(("v1", b64)) = entry.split_once(',') else {
            continue;
        };
        if b64.len() != MAC_B64_LEN {
            continue;
        }
        let mut buf = [0u8; MAC_LEN];
        if STANDARD.decode_slice(b64, &mut buf) != Ok(MAC_LEN) {
            continue;
        }
        if n_sigs == MAX_SIGNATURES {
            return Err(WebhookError::Malformed(
                "webhook-signature header (too many signatures)",
            ));
        }
        sigs[n_sigs] = buf;
        n_sigs += 1;
    }
    if n_sigs == 0 {
        return Err(WebhookError::Malformed(
            "webhook-signature header (no v1,<base64 of 32 bytes> entry)",
        ));
    }
    let sigs = &sigs[..n_sigs];

    for i in 0..n_secrets {
        let computed = mac(i, Scheme::StandardWebhooks)
            .chain_update(id)
            .chain_update(b".")
            .chain_update(ts_text)
            .chain_update(b".")
            .chain_update(body);
        // `verify_slice` compares in constant time and rejects any length but 32.
        if sigs
            .iter()
            .any(|sig| computed.clone().verify_slice(sig).is_ok())
        {
            return Ok(Verified {
                scheme: Scheme::StandardWebhooks,
                msg_id: Some(id.to_owned()),
                timestamp: Some(timestamp),
                secret_index: i,
            });
        }
    }
    Err(WebhookError::Mismatch)
}
