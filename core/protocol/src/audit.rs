//! The audit chain: each run's events are hash-linked, so any change to a stored
//! event, its order, or a removed event is detected by [`verify`].
//!
//! `hash = SHA-256(prev_hash ‖ "\n" ‖ canonical JSON of {seq, at, type, data})`, hex;
//! canonical JSON has object keys sorted (serde_json's default map) and no spaces.
//! The first event's `prev_hash` is 64 zeros.

use sha2::{Digest, Sha256};

use crate::{AuditEvent, AuditVerification};

/// `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an event given its predecessor's hash.
pub fn event_hash(
    prev_hash: &str,
    seq: u64,
    at: &str,
    kind: &str,
    data: &serde_json::Value,
) -> String {
    #[derive(serde::Serialize)]
    struct Canon<'a> {
        seq: u64,
        at: &'a str,
        #[serde(rename = "type")]
        kind: &'a str,
        data: &'a serde_json::Value,
    }
    let body = serde_json::to_vec(&Canon {
        seq,
        at,
        kind,
        data,
    })
    .expect("JSON of a JSON value");
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(&body);
    hex::encode(h.finalize())
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
        if event_hash(&e.prev_hash, e.seq, &e.at, &e.kind, &e.data) != e.hash {
            return broken(e.seq, "event content does not match its hash".into());
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
