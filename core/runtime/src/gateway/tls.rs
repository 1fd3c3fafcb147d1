//! Server certificates chosen by SNI, issued on demand by the local CA and cached.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use time::{Duration, OffsetDateTime};

use super::ca::{LocalCa, normalize_dns_name};
use super::{Result, RouteTable};

/// A cached leaf is re-issued once less than this much validity is left.
const RENEW_BEFORE: Duration = Duration::days(30);
/// Upper bound on cached leaves; past it, the cache is emptied (names are re-issued lazily).
const MAX_CACHED: usize = 4096;

struct Cached {
    key: Arc<CertifiedKey>,
    renew_at: OffsetDateTime,
}

/// Picks the certificate for a TLS handshake:
/// - SNI `<domain>` or `*.<domain>` names, and host names present in the route table, get
///   an exact leaf for that name (issued on first use, cached, renewed before expiry);
/// - no SNI, or any other name, gets the `*.<domain>` wildcard certificate (so a client
///   asking for a foreign name fails verification instead of making us mint certificates).
pub(crate) struct SniResolver {
    ca: LocalCa,
    domain: String,
    routes: RouteTable,
    provider: Arc<CryptoProvider>,
    cache: Mutex<HashMap<String, Cached>>,
}

impl fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self.cache.lock().map(|c| c.len()).unwrap_or_default();
        f.debug_struct("SniResolver")
            .field("domain", &self.domain)
            .field("cached", &cached)
            .finish_non_exhaustive()
    }
}

impl SniResolver {
    /// Builds the resolver and issues the default (wildcard) certificate up front, so a
    /// broken CA fails at start rather than at the first handshake.
    pub(crate) fn new(
        ca: LocalCa,
        domain: String,
        routes: RouteTable,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self> {
        let resolver = SniResolver {
            ca,
            domain,
            routes,
            provider,
            cache: Mutex::new(HashMap::new()),
        };
        resolver.wildcard()?;
        Ok(resolver)
    }

    fn wildcard_name(&self) -> String {
        format!("*.{}", self.domain)
    }

    fn wildcard(&self) -> Result<Arc<CertifiedKey>> {
        self.get_or_issue(&self.wildcard_name(), |ca| ca.issue_wildcard(&self.domain))
    }

    fn in_domain(&self, name: &str) -> bool {
        name == self.domain
            || name
                .strip_suffix(self.domain.as_str())
                .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1)
    }

    fn is_routed(&self, name: &str) -> bool {
        self.routes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains_key(name)
    }

    fn get_or_issue(
        &self,
        name: &str,
        issue: impl FnOnce(&LocalCa) -> Result<super::IssuedCert>,
    ) -> Result<Arc<CertifiedKey>> {
        let now = OffsetDateTime::now_utc();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = cache.get(name)
                && hit.renew_at > now
            {
                return Ok(hit.key.clone());
            }
        }
        // Issue outside the lock; a concurrent handshake for the same name may issue a
        // second leaf, which is harmless (last one wins the cache slot).
        let issued = issue(&self.ca)?;
        let key = Arc::new(issued.certified_key(&self.provider)?);
        // (A leaf capped by a CA about to expire is not re-issued on every handshake.)
        let renew_at = (issued.not_after() - RENEW_BEFORE).max(now + Duration::hours(1));
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(
            name.to_owned(),
            Cached {
                key: key.clone(),
                renew_at,
            },
        );
        tracing::debug!(name, "issued gateway leaf certificate");
        Ok(key)
    }

    fn resolve_name(&self, sni: Option<&str>) -> Result<Arc<CertifiedKey>> {
        let Some(sni) = sni else {
            return self.wildcard();
        };
        let Ok(name) = normalize_dns_name(sni, false) else {
            return self.wildcard();
        };
        if self.in_domain(&name) || self.is_routed(&name) {
            self.get_or_issue(&name, |ca| ca.issue(&name))
        } else {
            self.wildcard()
        }
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match self.resolve_name(client_hello.server_name()) {
            Ok(key) => Some(key),
            Err(err) => {
                tracing::warn!(
                    sni = client_hello.server_name(),
                    error = %err,
                    "gateway could not issue a certificate"
                );
                None
            }
        }
    }
}
