//! Encryption at rest for vault values: XChaCha20-Poly1305 with a 256-bit key the
//! runtime manages, a random 192-bit nonce per value, and the entry's identity as
//! associated data (a ciphertext moved to another entry does not decrypt).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use heroa_protocol::error::{Error, Result};

/// The runtime's data-encryption key. Never printed.
#[derive(Clone)]
pub struct SealingKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey([REDACTED])")
    }
}

impl SealingKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        heroa_protocol::ids::random_bytes(k.as_mut());
        SealingKey(k)
    }

    /// From 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self> {
        let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| {
            Error::invalid(
                "vault_key",
                "the vault key must be 64 hexadecimal characters",
            )
        })?);
        let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            Error::invalid(
                "vault_key",
                "the vault key must be 64 hexadecimal characters",
            )
        })?;
        Ok(SealingKey(Zeroizing::new(arr)))
    }

    /// As 64 hex characters (for the key file).
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_ref()))
    }

    /// Encrypts `value`; returns nonce ‖ ciphertext.
    pub fn seal(&self, aad: &str, value: &SecretString) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new(self.0.as_ref().into());
        let mut nonce = [0u8; 24];
        heroa_protocol::ids::random_bytes(&mut nonce);
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: value.expose_secret().as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        out
    }

    /// Decrypts what [`SealingKey::seal`] produced for the same `aad`.
    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<SecretString> {
        if sealed.len() < 24 + 16 {
            return Err(Error::internal("vault ciphertext is truncated"));
        }
        let cipher = XChaCha20Poly1305::new(self.0.as_ref().into());
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    XNonce::from_slice(&sealed[..24]),
                    Payload {
                        msg: &sealed[24..],
                        aad: aad.as_bytes(),
                    },
                )
                .map_err(|_| {
                    Error::internal(
                        "vault value failed authentication (wrong vault key or tampered data)",
                    )
                })?,
        );
        let text =
            std::str::from_utf8(&plain).map_err(|_| Error::internal("vault value is not UTF-8"))?;
        Ok(SecretString::from(text.to_owned()))
    }
}

/// SHA-256 of a secret value, hex: the fingerprint for rotation tracking.
pub fn fingerprint(value: &SecretString) -> String {
    hex::encode(Sha256::digest(value.expose_secret().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_binding() {
        let k = SealingKey::generate();
        let v = SecretString::from("s3cr3t-value".to_string());
        let sealed = k.seal("ws/vlt_a", &v);
        assert!(!sealed.windows(6).any(|w| w == b"s3cr3t"));
        assert_eq!(
            k.open("ws/vlt_a", &sealed).unwrap().expose_secret(),
            "s3cr3t-value"
        );
        assert!(k.open("ws/vlt_b", &sealed).is_err());
        assert!(SealingKey::generate().open("ws/vlt_a", &sealed).is_err());
        let k2 = SealingKey::from_hex(&k.to_hex()).unwrap();
        assert!(k2.open("ws/vlt_a", &sealed).is_ok());
        assert_eq!(format!("{k:?}"), "SealingKey([REDACTED])");
    }

    #[test]
    fn fingerprint_is_sha256_hex() {
        let v = SecretString::from("abc".to_string());
        assert_eq!(
            fingerprint(&v),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
