//! The runtime's local certificate authority.
//!
//! A [`LocalCa`] is a self-signed ECDSA P-256 CA certificate plus its private key. It is
//! created once, persisted as `ca.pem` / `ca-key.pem` in a directory chosen by the caller
//! (the key file is written with mode `0600`), and used by the gateway to issue short-lived
//! leaf certificates for the host names it serves. Users trust the exported CA certificate
//! ([`LocalCa::ca_pem`]) to get a clean TLS connection to `https://<id>.<domain>`.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use super::{GatewayError, Result};

/// File name of the CA certificate inside the CA directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key inside the CA directory (mode `0600` on Unix).
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// Validity of a newly created CA certificate, in days (about ten years).
pub const CA_VALIDITY_DAYS: i64 = 3650;
/// Validity of an issued leaf certificate, in days.
pub const LEAF_VALIDITY_DAYS: i64 = 90;

/// Backdating applied to `notBefore`, to tolerate small clock differences.
const BACKDATE: Duration = Duration::hours(1);
/// How long `load_or_create` waits for a concurrent creator to finish writing.
const CONCURRENT_CREATE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A local certificate authority that issues TLS certificates for the gateway.
///
/// Cheap to clone (the key material is shared). `Debug` never prints the private key.
#[derive(Clone)]
pub struct LocalCa {
    inner: Arc<CaInner>,
}

struct CaInner {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    not_after: OffsetDateTime,
    dir: Option<PathBuf>,
}

impl fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Issuer`'s own Debug elides the key too, but keep full control here.
        f.debug_struct("LocalCa")
            .field("dir", &self.inner.dir)
            .field("cert_der_len", &self.inner.cert_der.len())
            .field("key", &"[redacted]")
            .finish()
    }
}

impl LocalCa {
    /// Creates a new CA in memory (not persisted). See [`LocalCa::save`] and
    /// [`LocalCa::load_or_create`].
    pub fn generate() -> Result<LocalCa> {
        Ok(LocalCa {
            inner: Arc::new(generate_inner()?),
        })
    }

    /// Builds a CA from a PEM certificate and its PEM private key (PKCS#8, SEC1 or PKCS#1).
    ///
    /// Fails if the certificate cannot be parsed, is not a signing CA, or does not belong
    /// to the key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<LocalCa> {
        Self::from_pem_in(cert_pem, key_pem, None)
    }

    fn from_pem_in(cert_pem: &str, key_pem: &str, dir: Option<PathBuf>) -> Result<LocalCa> {
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| GatewayError::InvalidCa(format!("CA certificate is not PEM: {e}")))?;
        let key = KeyPair::from_pem(key_pem)
            .map_err(|e| GatewayError::InvalidCa(format!("CA key is not a usable PEM key: {e}")))?;

        // The certificate must carry the key's public half.
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let pair = CertifiedKey::from_der(vec![cert_der.clone()], key_der, &provider())
            .map_err(|e| GatewayError::InvalidCa(format!("CA certificate and key: {e}")))?;
        pair.keys_match().map_err(|e| {
            GatewayError::InvalidCa(format!("CA certificate does not match the key: {e}"))
        })?;

        let issuer = Issuer::from_ca_cert_der(&cert_der, key)
            .map_err(|e| GatewayError::InvalidCa(format!("CA certificate: {e}")))?;
        let usages = issuer.key_usages();
        if !usages.is_empty() && !usages.contains(&KeyUsagePurpose::KeyCertSign) {
            return Err(GatewayError::InvalidCa(
                "CA certificate's key usage does not allow signing certificates".into(),
            ));
        }
        let (not_before, not_after) = validity(&cert_der).ok_or_else(|| {
            GatewayError::InvalidCa("CA certificate has no readable validity period".into())
        })?;
        let now = OffsetDateTime::now_utc();
        if now > not_after {
            return Err(GatewayError::InvalidCa(format!(
                "CA certificate expired on {not_after}; remove the CA files to create a new CA \
                 (and trust the new one)"
            )));
        }
        if now + BACKDATE < not_before {
            return Err(GatewayError::InvalidCa(format!(
                "CA certificate is not valid before {not_before}"
            )));
        }
        if not_after - now < Duration::days(LEAF_VALIDITY_DAYS) {
            tracing::warn!(%not_after, "local CA certificate expires soon");
        }
        let ca = LocalCa {
            inner: Arc::new(CaInner {
                cert_pem: cert_pem.to_owned(),
                cert_der,
                issuer,
                not_after,
                dir,
            }),
        };
        ca.self_check()?;
        Ok(ca)
    }

    /// Issues a throw-away leaf and verifies it the way a client would (webpki, trusting
    /// only this CA): catches a certificate that is not a CA, constraints that exclude the
    /// leaves we issue, and the like. (webpki ignores a trust anchor's own validity, which
    /// is why expiry is checked separately.)
    fn self_check(&self) -> Result<()> {
        use rustls::client::WebPkiServerVerifier;
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::{ServerName, UnixTime};

        const PROBE: &str = "self-check.heroa.invalid";
        let leaf = self.issue(PROBE)?;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.inner.cert_der.clone())
            .map_err(|e| GatewayError::InvalidCa(format!("CA certificate: {e}")))?;
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::new(provider()))
                .build()
                .map_err(|e| GatewayError::InvalidCa(format!("CA certificate: {e}")))?;
        let name = ServerName::try_from(PROBE)
            .map_err(|e| GatewayError::InvalidHost(format!("{PROBE}: {e}")))?;
        verifier
            .verify_server_cert(leaf.cert_der(), &[], &name, &[], UnixTime::now())
            .map_err(|e| {
                GatewayError::InvalidCa(format!("certificates it issues do not verify: {e}"))
            })?;
        Ok(())
    }

    /// Loads the CA from `dir/ca.pem` and `dir/ca-key.pem`.
    ///
    /// On Unix, a key file readable by group or others is tightened to `0600` (with a warning).
    pub fn load(dir: impl AsRef<Path>) -> Result<LocalCa> {
        let dir = dir.as_ref();
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let cert_pem =
            fs::read_to_string(&cert_path).map_err(|e| GatewayError::io(cert_path.display(), e))?;
        tighten_key_permissions(&key_path)?;
        let key_pem =
            fs::read_to_string(&key_path).map_err(|e| GatewayError::io(key_path.display(), e))?;
        Self::from_pem_in(&cert_pem, &key_pem, Some(dir.to_path_buf()))
    }

    /// Loads the CA persisted in `dir`, or creates and persists a new one if `dir` holds
    /// neither `ca.pem` nor `ca-key.pem`. The directory is created (mode `0700`) if needed.
    ///
    /// Fails, without touching anything, if only one of the two files exists. Safe against
    /// a concurrent creator: files are never overwritten.
    pub fn load_or_create(dir: impl AsRef<Path>) -> Result<LocalCa> {
        let dir = dir.as_ref();
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        match (exists(&cert_path)?, exists(&key_path)?) {
            (true, true) => return Self::load(dir),
            (false, false) => {}
            (true, false) => return Err(partial_state(&key_path, &cert_path)),
            (false, true) => return Err(partial_state(&cert_path, &key_path)),
        }
        let mut inner = generate_inner()?;
        match save_inner(&inner, dir) {
            Ok(()) => {
                inner.dir = Some(dir.to_path_buf());
                Ok(LocalCa {
                    inner: Arc::new(inner),
                })
            }
            Err(GatewayError::AlreadyExists(_)) => {
                // Another process created the CA at the same time: use theirs.
                let deadline = std::time::Instant::now() + CONCURRENT_CREATE_WAIT;
                loop {
                    match Self::load(dir) {
                        Ok(ca) => return Ok(ca),
                        Err(e) if std::time::Instant::now() >= deadline => return Err(e),
                        Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
                    }
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Persists this CA as `dir/ca.pem` and `dir/ca-key.pem` (key mode `0600`), creating
    /// `dir` (mode `0700`) if needed. Never overwrites: fails with
    /// [`GatewayError::AlreadyExists`] if either file is already there.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        save_inner(&self.inner, dir.as_ref())
    }

    /// The CA certificate, PEM-encoded: what a client or an OS trust store imports.
    pub fn ca_pem(&self) -> &str {
        &self.inner.cert_pem
    }

    /// The CA certificate, DER-encoded.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.inner.cert_der
    }

    /// End of the CA certificate's validity.
    pub fn not_after(&self) -> OffsetDateTime {
        self.inner.not_after
    }

    /// The directory this CA was loaded from or persisted to, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.inner.dir.as_deref()
    }

    /// Path of the exported CA certificate file, if the CA is persisted.
    pub fn cert_path(&self) -> Option<PathBuf> {
        self.inner.dir.as_ref().map(|d| d.join(CA_CERT_FILE))
    }

    /// Issues a leaf certificate (serverAuth, ~90 days) for one DNS host name.
    ///
    /// A name of the form `*.example` is issued as a wildcard.
    pub fn issue(&self, host: &str) -> Result<IssuedCert> {
        let host = normalize_dns_name(host, true)?;
        self.issue_names(vec![host])
    }

    /// Issues a wildcard leaf certificate for `*.<domain>` that also covers `<domain>`.
    pub fn issue_wildcard(&self, domain: &str) -> Result<IssuedCert> {
        let domain = normalize_dns_name(domain, false)?;
        self.issue_names(vec![format!("*.{domain}"), domain])
    }

    /// Issues a leaf certificate for several DNS names (the first is also the subject CN).
    pub fn issue_for(&self, names: &[&str]) -> Result<IssuedCert> {
        let names = names
            .iter()
            .map(|n| normalize_dns_name(n, true))
            .collect::<Result<Vec<_>>>()?;
        self.issue_names(names)
    }

    fn issue_names(&self, names: Vec<String>) -> Result<IssuedCert> {
        let Some(first) = names.first() else {
            return Err(GatewayError::InvalidHost(
                "a certificate needs at least one name".into(),
            ));
        };
        let now = whole_seconds(OffsetDateTime::now_utc());
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, first.as_str());
        params.distinguished_name = dn;
        params.subject_alt_names = names
            .iter()
            .map(|n| {
                n.clone()
                    .try_into()
                    .map(SanType::DnsName)
                    .map_err(|e| GatewayError::InvalidHost(format!("{n}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - BACKDATE;
        // A leaf never outlives its CA (clients that check the CA's validity would reject it).
        params.not_after = (now + Duration::days(LEAF_VALIDITY_DAYS)).min(self.inner.not_after);
        params.serial_number = Some(random_serial()?);

        let key = KeyPair::generate().map_err(|e| GatewayError::cert("generate leaf key", e))?;
        let cert = params
            .signed_by(&key, &self.inner.issuer)
            .map_err(|e| GatewayError::cert("sign leaf certificate", e))?;
        Ok(IssuedCert {
            names,
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key,
            not_after: params.not_after,
        })
    }
}

/// A leaf certificate issued by a [`LocalCa`], with its private key.
///
/// `Debug` never prints the private key.
pub struct IssuedCert {
    names: Vec<String>,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    key: KeyPair,
    not_after: OffsetDateTime,
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert")
            .field("names", &self.names)
            .field("not_after", &self.not_after)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl IssuedCert {
    /// The DNS names (subject alternative names) the certificate is valid for.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The leaf certificate, PEM-encoded.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The leaf certificate, DER-encoded.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The private key, PKCS#8 PEM. Handle with care.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// The private key, PKCS#8 DER, as rustls takes it.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }

    /// End of validity.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// A rustls `CertifiedKey` (chain = the leaf alone) ready for a server config.
    pub fn certified_key(&self, provider: &CryptoProvider) -> Result<CertifiedKey> {
        CertifiedKey::from_der(vec![self.cert_der.clone()], self.key_der(), provider)
            .map_err(GatewayError::Tls)
    }
}

/// The crypto provider used throughout the gateway (aws-lc-rs, the one reqwest uses).
pub(crate) fn provider() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// Lower-cases and validates a DNS name (no trailing dot). `*.` as the whole first label
/// is accepted when `allow_wildcard`.
pub(crate) fn normalize_dns_name(name: &str, allow_wildcard: bool) -> Result<String> {
    let lower = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let invalid = |why: &str| GatewayError::InvalidHost(format!("{name:?}: {why}"));
    if lower.is_empty() || lower.len() > 253 {
        return Err(invalid("empty or longer than 253 characters"));
    }
    for (i, label) in lower.split('.').enumerate() {
        if label == "*" && i == 0 && allow_wildcard && lower.len() > 2 {
            continue;
        }
        if label.is_empty() || label.len() > 63 {
            return Err(invalid("empty label or label longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid("only letters, digits, '-' and '_' are allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid("a label cannot start or end with '-'"));
        }
    }
    Ok(lower)
}

/// Certificates carry whole seconds; keep in-memory times identical to what is encoded.
fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

/// One DER element: (tag, contents, rest). Definite lengths only (DER).
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// `notBefore` and `notAfter` of an X.509 certificate.
fn validity(cert_der: &[u8]) -> Option<(OffsetDateTime, OffsetDateTime)> {
    const SEQUENCE: u8 = 0x30;
    let (SEQUENCE, cert, _) = der_next(cert_der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = der_next(cert)? else {
        return None;
    };
    let (tag, _, mut rest) = der_next(tbs)?;
    if tag == 0xa0 {
        // [0] version, then the serial number.
        (_, _, rest) = der_next(rest)?;
    }
    (_, _, rest) = der_next(rest)?; // signature algorithm
    (_, _, rest) = der_next(rest)?; // issuer
    let (SEQUENCE, validity, _) = der_next(rest)? else {
        return None;
    };
    let (tag, value, rest) = der_next(validity)?;
    let not_before = der_time(tag, value)?;
    let (tag, value, _) = der_next(rest)?;
    Some((not_before, der_time(tag, value)?))
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn der_time(tag: u8, value: &[u8]) -> Option<OffsetDateTime> {
    let text = std::str::from_utf8(value).ok()?.strip_suffix('Z')?;
    let (year, rest) = match (tag, text.len()) {
        (0x17, 12) => {
            let yy: i32 = text[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        (0x18, 14) => (text[..4].parse().ok()?, &text[4..]),
        _ => return None,
    };
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |i: usize| rest[i..i + 2].parse::<u8>().ok();
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(field(0)?).ok()?, field(2)?)
            .ok()?;
    let time = time::Time::from_hms(field(4)?, field(6)?, field(8)?).ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_utc())
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    provider()
        .secure_random
        .fill(&mut buf)
        .map_err(|_| GatewayError::Certificate("system random number generator failed".into()))?;
    Ok(buf)
}

/// A positive, 16-byte, minimally encoded serial number.
fn random_serial() -> Result<SerialNumber> {
    let mut bytes = random_bytes::<16>()?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn exists(path: &Path) -> Result<bool> {
    path.try_exists()
        .map_err(|e| GatewayError::io(path.display(), e))
}

fn partial_state(missing: &Path, present: &Path) -> GatewayError {
    GatewayError::InvalidCa(format!(
        "{} exists but {} does not; restore it or remove both to create a new CA",
        present.display(),
        missing.display()
    ))
}

fn generate_inner() -> Result<CaInner> {
    let suffix = hex(&random_bytes::<4>()?);
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, format!("Heroa Local CA {suffix}"));
    name.push(DnType::OrganizationName, "Heroa local development CA");

    let now = whole_seconds(OffsetDateTime::now_utc());
    let mut params = CertificateParams::default();
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - BACKDATE;
    params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
    params.serial_number = Some(random_serial()?);

    let key = KeyPair::generate().map_err(|e| GatewayError::cert("generate CA key", e))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| GatewayError::cert("self-sign CA certificate", e))?;
    // Build the issuer from the certificate itself, so that a generated CA and a loaded one
    // behave exactly the same (issuer name and key identifier come from the certificate).
    let cert_der = cert.der().clone();
    let issuer = Issuer::from_ca_cert_der(&cert_der, key)
        .map_err(|e| GatewayError::cert("parse generated CA certificate", e))?;
    Ok(CaInner {
        cert_pem: cert.pem(),
        cert_der,
        issuer,
        not_after: params.not_after,
        dir: None,
    })
}

fn save_inner(inner: &CaInner, dir: &Path) -> Result<()> {
    create_private_dir(dir)?;
    let key_pem = Zeroizing::new(inner.issuer.key().serialize_pem());
    write_new(&dir.join(CA_KEY_FILE), key_pem.as_bytes(), 0o600)?;
    write_new(&dir.join(CA_CERT_FILE), inner.cert_pem.as_bytes(), 0o644)
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| GatewayError::io(dir.display(), e))
}

/// Writes `contents` to `path` without ever overwriting an existing file and without ever
/// exposing a partly written file under `path`: write a temporary file, then hard-link it
/// into place (atomic, fails if `path` exists).
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", hex(&random_bytes::<6>()?)));
    let result = (|| -> io::Result<()> {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
            // File systems without hard links: no-clobber check, then rename.
            Err(_) if !path.exists() => fs::rename(&tmp, path),
            Err(e) => Err(e),
        }
    })();
    let _ = fs::remove_file(&tmp);
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(GatewayError::AlreadyExists(path.to_path_buf()))
        }
        Err(e) => Err(GatewayError::io(path.display(), e)),
    }
}

#[cfg(unix)]
fn tighten_key_permissions(key_path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(key_path).map_err(|e| GatewayError::io(key_path.display(), e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %key_path.display(),
            mode = format!("{mode:o}"),
            "CA key file was readable by others; setting mode 0600"
        );
        fs::set_permissions(key_path, fs::Permissions::from_mode(0o600))
            .map_err(|e| GatewayError::io(key_path.display(), e))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten_key_permissions(_key_path: &Path) -> Result<()> {
    Ok(())
}
