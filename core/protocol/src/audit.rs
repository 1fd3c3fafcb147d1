//! The audit chain: each run's events are hash-linked, so any change to a stored
//! event, its order, or a removed event is detected by [`verify`].
//!
//! `hash = SHA-256(prev_hash ‖ "\n" ‖ canonical JSON of the event)`, hex; the first
//! event's `prev_hash` is 64 zeros. The chain format is versioned by each event's
//! `chain_version`:
//!
//! * **2** (every event written now): the canonical JSON is RFC 8785 (the JSON
//!   Canonicalization Scheme) of `{chain_version, seq, at, type, data}` — keys sorted
//!   by UTF-16 code units, numbers in their shortest ECMAScript form, no spaces — so
//!   any language with a JCS implementation verifies it byte for byte, whatever its
//!   map order. `chain_version` is inside the hash, so it cannot be downgraded.
//! * **1** (events written before; no `chain_version` field): serde_json's compact
//!   text of `{seq, at, type, data}` with `data`'s keys in the order they were
//!   inserted, which is the order the stored JSON keeps. This crate reads JSON with
//!   that order preserved, so every Rust build verifies them.
//!
//! `tests/vectors/audit/` holds chains of both formats that every language's suite
//! verifies.

use sha2::{Digest, Sha256};

use crate::{AuditEvent, AuditVerification};

/// `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain format of events written now.
pub const CHAIN_VERSION: u32 = 2;

/// `chain_version` of events that carry none.
pub fn format_1() -> u32 {
    1
}

/// Whether an event is of format 1 (its `chain_version` is not serialized).
pub fn is_format_1(v: &u32) -> bool {
    *v == 1
}

/// The hash of an event of format `chain_version` given its predecessor's hash;
/// `None` for a format this build does not know.
pub fn event_hash_v(
    chain_version: u32,
    prev_hash: &str,
    seq: u64,
    at: &str,
    kind: &str,
    data: &serde_json::Value,
) -> Option<String> {
    #[derive(serde::Serialize)]
    struct Canon<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        chain_version: Option<u32>,
        seq: u64,
        at: &'a str,
        #[serde(rename = "type")]
        kind: &'a str,
        data: &'a serde_json::Value,
    }
    let body = match chain_version {
        1 => serde_json::to_vec(&Canon {
            chain_version: None,
            seq,
            at,
            kind,
            data,
        }),
        2 => serde_json_canonicalizer::to_vec(&Canon {
            chain_version: Some(2),
            seq,
            at,
            kind,
            data,
        }),
        _ => return None,
    }
    .ok()?;
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(&body);
    Some(hex::encode(h.finalize()))
}

/// The hash of an event written now ([`CHAIN_VERSION`]).
pub fn event_hash(
    prev_hash: &str,
    seq: u64,
    at: &str,
    kind: &str,
    data: &serde_json::Value,
) -> String {
    event_hash_v(CHAIN_VERSION, prev_hash, seq, at, kind, data)
        .expect("the current chain format hashes every JSON value")
}

/// Builds the next event of a chain.
pub fn next_event(
    prev: Option<&AuditEvent>,
    at: String,
    kind: &str,
    data: serde_json::Value,
) -> AuditEvent {
    let (seq, prev_hash) = match prev {
        Some(p) => (p.seq + 1, p.hash.clone()),
        None => (0, GENESIS.to_string()),
    };
    let hash = event_hash(&prev_hash, seq, &at, kind, &data);
    AuditEvent {
        seq,
        at,
        kind: kind.to_string(),
        data,
        prev_hash,
        hash,
        chain_version: CHAIN_VERSION,
    }
}

/// Checks a run's chain: sequence numbers, links and hashes.
pub fn verify(run_id: &str, events: &[AuditEvent]) -> AuditVerification {
    let broken = |at: u64, reason: String| AuditVerification {
        run_id: run_id.to_string(),
        valid: false,
        events: events.len() as u64,
        broken_at: Some(at),
        reason: Some(reason),
    };
    let mut prev = GENESIS.to_string();
    for (i, e) in events.iter().enumerate() {
        if e.seq != i as u64 {
            return broken(i as u64, format!("event {i} has sequence number {}", e.seq));
        }
        if e.prev_hash != prev {
            return broken(e.seq, "link to the previous event does not match".into());
        }
        match event_hash_v(
            e.chain_version,
            &e.prev_hash,
            e.seq,
            &e.at,
            &e.kind,
            &e.data,
        ) {
            None => {
                return broken(
                    e.seq,
                    format!(
                        "event {} has chain_version {}, which this build does not know",
                        e.seq, e.chain_version
                    ),
                );
            }
            Some(h) if h != e.hash => {
                return broken(e.seq, "event content does not match its hash".into());
            }
            Some(_) => {}
        }
        // A chain never goes back to an older format.
        if i > 0 && e.chain_version < events[i - 1].chain_version {
            return broken(
                e.seq,
                "the chain format goes back to an older version".into(),
            );
        }
        prev = e.hash.clone();
    }
    if events.is_empty() {
        return broken(0, "the audit record has no events".into());
    }
    AuditVerification {
        run_id: run_id.to_string(),
        valid: true,
        events: events.len() as u64,
        broken_at: None,
        reason: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain() -> Vec<AuditEvent> {
        let a = next_event(
            None,
            "2026-01-01T00:00:00Z".into(),
            "run.started",
            json!({"x": 1}),
        );
        let b = next_event(
            Some(&a),
            "2026-01-01T00:00:01Z".into(),
            "run.completed",
            json!({}),
        );
        vec![a, b]
    }

    #[test]
    fn intact_chain_verifies_and_tampering_is_detected() {
        let c = chain();
        assert!(verify("run_x", &c).valid);
        let mut t = c.clone();
        t[0].data = json!({"x": 2});
        let v = verify("run_x", &t);
        assert!(!v.valid);
        assert_eq!(v.broken_at, Some(0));
        let mut t = c.clone();
        t.remove(0);
        assert!(!verify("run_x", &t).valid);
        let mut t = c;
        t[1].prev_hash = GENESIS.into();
        assert!(!verify("run_x", &t).valid);
    }
}
