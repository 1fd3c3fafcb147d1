use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use super::*;

const VECTOR_FILES: &[(&str, &str)] = &[
    (
        "heroa-hmac-sha256.json",
        include_str!("../../../tests/vectors/webhooks/heroa-hmac-sha256.json"),
    ),
    (
        "standard-webhooks.json",
        include_str!("../../../tests/vectors/webhooks/standard-webhooks.json"),
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    #[allow(dead_code)]
    description: String,
    version: u32,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[allow(dead_code)]
    description: String,
    scheme: String,
    secret: Option<String>,
    secrets: Option<Vec<String>>,
    body: String,
    headers: BTreeMap<String, String>,
    now: Option<u64>,
    tolerance_seconds: Option<u64>,
    expect: String,
}

impl Case {
    fn secrets(&self) -> Vec<String> {
        match (&self.secret, &self.secrets) {
            (Some(s), None) => vec![s.clone()],
            (None, Some(list)) => list.clone(),
            _ => panic!("{}: exactly one of secret / secrets", self.name),
        }
    }

    fn options(&self, scheme: VerifyScheme) -> VerifyOptions {
        VerifyOptions {
            tolerance: Duration::from_secs(self.tolerance_seconds.unwrap_or(300)),
            now: self.now,
            scheme,
        }
    }

    /// Headers as a pair list, names as written in the vector (mixed case kept).
    fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

fn outcome(r: &Result<Verified, WebhookError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.kind(),
    }
}

#[test]
fn vectors() {
    let mut total = 0;
    for (file, text) in VECTOR_FILES {
        let vf: VectorFile =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{file} does not parse: {e}"));
        assert_eq!(vf.version, 1, "{file}");
        assert!(vf.cases.len() >= 20, "{file}: too few cases");
        for case in &vf.cases {
            total += 1;
            let ctx = format!("{file} / {}", case.name);
            let scheme = match case.scheme.as_str() {
                "heroa-hmac-sha256" => Scheme::Heroa,
                "standard-webhooks" => Scheme::StandardWebhooks,
                other => panic!("{ctx}: unknown scheme {other}"),
            };
            if scheme == Scheme::StandardWebhooks {
                assert!(case.now.is_some(), "{ctx}: timestamped case without now");
            }
            let secrets = case.secrets();
            let explicit = match scheme {
                Scheme::Heroa => VerifyScheme::Heroa,
                Scheme::StandardWebhooks => VerifyScheme::StandardWebhooks,
            };
            let pairs = case.header_pairs();
            let body = case.body.as_bytes();

            // Explicit scheme, free function.
            let r = verify(&pairs, body, &secrets, case.options(explicit));
            assert_eq!(outcome(&r), case.expect, "{ctx}: {r:?}");
            if let Ok(v) = &r {
                assert_eq!(v.scheme, scheme, "{ctx}");
                assert_eq!(v.scheme.as_str(), case.scheme, "{ctx}");
                if scheme == Scheme::StandardWebhooks {
                    let id = case
                        .headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("webhook-id"));
                    assert_eq!(v.msg_id.as_deref(), id.map(|(_, v)| v.trim()), "{ctx}");
                    assert!(v.timestamp.is_some(), "{ctx}");
                } else {
                    assert_eq!(v.msg_id, None, "{ctx}");
                    assert_eq!(v.timestamp, None, "{ctx}");
                }
            }
            // Auto-detection agrees (cases only carry their own scheme's headers).
            let auto = verify(&pairs, body, &secrets, case.options(VerifyScheme::Auto));
            assert_eq!(outcome(&auto), case.expect, "{ctx} (auto): {auto:?}");
            // The prepared Verifier agrees, with every header container.
            let verifier = Verifier::new(&secrets).unwrap();
            let map: HashMap<String, String> = case.headers.clone().into_iter().collect();
            let borrowed: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            for (how, r) in [
                (
                    "verifier/vec",
                    verifier.verify(&pairs, body, case.options(explicit)),
                ),
                (
                    "verifier/hashmap",
                    verifier.verify(&map, body, case.options(explicit)),
                ),
                (
                    "verifier/btreemap",
                    verifier.verify(&case.headers, body, case.options(explicit)),
                ),
                (
                    "verifier/slice",
                    verifier.verify(borrowed.as_slice(), body, case.options(explicit)),
                ),
            ] {
                assert_eq!(outcome(&r), case.expect, "{ctx} ({how}): {r:?}");
            }
            // Secrets given as SecretString agree too.
            let secret_strings: Vec<SecretString> = secrets
                .iter()
                .map(|s| SecretString::from(s.clone()))
                .collect();
            let r = verify(&pairs, body, &secret_strings, case.options(explicit));
            assert_eq!(outcome(&r), case.expect, "{ctx} (SecretString)");
            // Any accepted delivery stops verifying once the body changes by one byte.
            if case.expect == "ok" {
                let mut tampered = body.to_vec();
                tampered.push(b' ');
                let r = verify(&pairs, &tampered, &secrets, case.options(explicit));
                assert_eq!(r, Err(WebhookError::Mismatch), "{ctx} (tampered)");
            }
        }
    }
    assert!(total >= 70, "only {total} vector cases");
}

// ------------------------------------------------------------------ published examples

#[test]
fn github_docs_example() {
    let signer = Signer::new("It's a Secret to Everybody").unwrap();
    let h = signer.sign("msg_1", 1, b"Hello, World!").unwrap();
    assert_eq!(
        h.heroa_signature,
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
}

#[test]
fn standard_webhooks_spec_example() {
    let signer = Signer::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let h = signer
        .sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
    assert_eq!(
        h.webhook_signature,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
    assert_eq!(h.webhook_timestamp, "1614265330");
    assert_eq!(h.webhook_id, "msg_p5jXN8AQM9LWM0D4loKWxJek");
}

// ------------------------------------------------------------------ round trips

fn at(now: u64) -> VerifyOptions {
    VerifyOptions {
        now: Some(now),
        ..VerifyOptions::default()
    }
}

fn only(scheme: VerifyScheme, now: u64) -> VerifyOptions {
    VerifyOptions { scheme, ..at(now) }
}

#[test]
fn round_trip_both_schemes() {
    let body = br#"{"type":"run.completed","run_id":"run_1","status":"succeeded"}"#;
    for secret in [
        generate_secret(),
        SecretString::from("a plain secret, used as raw bytes"),
    ] {
        let signer = Signer::new(&secret).unwrap();
        let id = new_message_id();
        let h = signer.sign(&id, 1_767_225_600, body).unwrap();

        // All four headers, iterated and as owned pairs.
        let names: Vec<&str> = h.iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature",
                "heroa-signature"
            ]
        );
        let owned = h.to_vec();
        assert_eq!(owned.len(), 4);

        let v = verify(&h, body, &[&secret], at(1_767_225_600)).unwrap();
        assert_eq!(
            v,
            Verified {
                scheme: Scheme::StandardWebhooks,
                msg_id: Some(id.clone()),
                timestamp: Some(1_767_225_600),
                secret_index: 0,
            }
        );
        let v = verify(
            &owned,
            body,
            &[&secret],
            only(VerifyScheme::StandardWebhooks, 1_767_225_600),
        )
        .unwrap();
        assert_eq!(v.scheme, Scheme::StandardWebhooks);

        let v = verify(&h, body, &[&secret], only(VerifyScheme::Heroa, 0)).unwrap();
        assert_eq!(v.scheme, Scheme::Heroa);
        assert_eq!(v.msg_id, None);

        // Heroa header alone → auto picks Heroa; no timestamp check applies.
        let heroa_only = [("Heroa-Signature", h.heroa_signature.as_str())];
        let v = verify(&heroa_only, body, &[&secret], VerifyOptions::default()).unwrap();
        assert_eq!(v.scheme, Scheme::Heroa);

        // Wrong body fails under both schemes.
        for scheme in [VerifyScheme::Heroa, VerifyScheme::StandardWebhooks] {
            assert_eq!(
                verify(&h, b"{}", &[&secret], only(scheme, 1_767_225_600)),
                Err(WebhookError::Mismatch)
            );
        }
    }
}

#[test]
fn system_clock_is_used_when_now_is_none() {
    let secret = generate_secret();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let h = Signer::new(&secret)
        .unwrap()
        .sign("msg_now", now, b"x")
        .unwrap();
    verify(&h, b"x", &[&secret], VerifyOptions::default()).unwrap();
    let old = Signer::new(&secret)
        .unwrap()
        .sign("msg_old", now - 3600, b"x")
        .unwrap();
    assert_eq!(
        verify(&old, b"x", &[&secret], VerifyOptions::default()),
        Err(WebhookError::Expired { future: false })
    );
}

#[test]
fn rotation_accepts_every_listed_secret() {
    let old = generate_secret();
    let new = generate_secret();
    let body = b"run result";
    let by_old = Signer::new(&old)
        .unwrap()
        .sign("msg_a", 1000, body)
        .unwrap();
    let by_new = Signer::new(&new)
        .unwrap()
        .sign("msg_a", 1000, body)
        .unwrap();
    let both = [&old, &new];
    for scheme in [VerifyScheme::Heroa, VerifyScheme::StandardWebhooks] {
        let o = only(scheme, 1000);
        assert_eq!(verify(&by_old, body, &both, o).unwrap().secret_index, 0);
        assert_eq!(verify(&by_new, body, &both, o).unwrap().secret_index, 1);
        assert_eq!(
            verify(&by_old, body, &[&new], o),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(
            verify(&by_new, body, &[&old], o),
            Err(WebhookError::Mismatch)
        );
        let verifier = Verifier::new(&both).unwrap();
        assert_eq!(verifier.verify(&by_old, body, o).unwrap().secret_index, 0);
        assert_eq!(verifier.verify(&by_new, body, o).unwrap().secret_index, 1);
    }
    // Sender-side rotation: both signatures in one header, receiver knows only one.
    let combined = [
        ("webhook-id", "msg_a".to_owned()),
        ("webhook-timestamp", "1000".to_owned()),
        (
            "webhook-signature",
            format!("{} {}", by_old.webhook_signature, by_new.webhook_signature),
        ),
    ];
    assert_eq!(
        verify(&combined, body, &[&new], at(1000))
            .unwrap()
            .secret_index,
        0
    );
    assert_eq!(
        verify(&combined, body, &[&old], at(1000))
            .unwrap()
            .secret_index,
        0
    );
}

#[test]
fn tolerance_edges() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let h = Signer::new(secret)
        .unwrap()
        .sign("msg_t", 10_000, b"{}")
        .unwrap();
    let check = |now: u64, tolerance: u64| {
        verify(
            &h,
            b"{}",
            &[secret],
            VerifyOptions {
                tolerance: Duration::from_secs(tolerance),
                ..at(now)
            },
        )
        .map(|v| v.timestamp)
    };
    assert_eq!(check(10_300, 300), Ok(Some(10_000)));
    assert_eq!(
        check(10_301, 300),
        Err(WebhookError::Expired { future: false })
    );
    assert_eq!(check(9_700, 300), Ok(Some(10_000)));
    assert_eq!(
        check(9_699, 300),
        Err(WebhookError::Expired { future: true })
    );
    assert_eq!(check(10_000, 0), Ok(Some(10_000)));
    assert_eq!(
        check(10_001, 0),
        Err(WebhookError::Expired { future: false })
    );
    assert_eq!(check(9_999, 0), Err(WebhookError::Expired { future: true }));
    // Saturating arithmetic at the ends of the range.
    assert_eq!(check(0, u64::MAX), Ok(Some(10_000)));
    assert_eq!(check(u64::MAX, u64::MAX), Ok(Some(10_000)));
    assert_eq!(VerifyOptions::default().tolerance, Duration::from_secs(300));
    assert_eq!(
        WebhookError::Expired { future: true }.kind(),
        WebhookError::Expired { future: false }.kind()
    );
}

// ------------------------------------------------------------------ malformed input

#[test]
fn empty_and_truncated_signatures_never_verify() {
    let secret = generate_secret();
    let body = b"payload";
    let h = Signer::new(&secret)
        .unwrap()
        .sign("msg_x", 50, body)
        .unwrap();
    let good = h.webhook_signature.strip_prefix("v1,").unwrap();
    let raw = STANDARD.decode(good).unwrap();
    let mut candidates = vec![
        "v1,".to_owned(),
        "v1".to_owned(),
        String::new(),
        " ".to_owned(),
    ];
    for n in 0..raw.len() {
        candidates.push(format!("v1,{}", STANDARD.encode(&raw[..n])));
        candidates.push(format!(
            "v1,{}",
            STANDARD_NO_PAD_FOR_TESTS.encode(&raw[..n])
        ));
    }
    for n in 0..good.len() {
        candidates.push(format!("v1,{}", &good[..n]));
    }
    for sig in candidates {
        let headers = [
            ("webhook-id", "msg_x"),
            ("webhook-timestamp", "50"),
            ("webhook-signature", sig.as_str()),
        ];
        let r = verify(&headers, body, &[&secret], at(50));
        assert_eq!(
            r.as_ref().map_err(WebhookError::kind),
            Err("malformed"),
            "{sig:?}"
        );
    }
    // Heroa: every prefix of the hex is rejected.
    let hex_sig = h.heroa_signature.strip_prefix("sha256=").unwrap();
    for n in 0..hex_sig.len() {
        let v = format!("sha256={}", &hex_sig[..n]);
        let r = verify(&[("heroa-signature", v.as_str())], body, &[&secret], at(0));
        assert_eq!(r, Err(WebhookError::Malformed(HEROA_WHAT)), "{v}");
    }
}

const STANDARD_NO_PAD_FOR_TESTS: base64::engine::GeneralPurpose =
    base64::engine::general_purpose::STANDARD_NO_PAD;
const HEROA_WHAT: &str = "heroa-signature header (expected sha256=<64 hex digits>)";

#[test]
fn too_many_signatures_is_malformed() {
    let secret = generate_secret();
    let h = Signer::new(&secret)
        .unwrap()
        .sign("msg_m", 7, b"b")
        .unwrap();
    let wrong = format!("v1,{}", STANDARD.encode([7u8; 32]));
    let mut list = vec![wrong.clone(); MAX_SIGNATURES - 1];
    list.push(h.webhook_signature.clone());
    let mut headers = vec![
        ("webhook-id".to_owned(), "msg_m".to_owned()),
        ("webhook-timestamp".to_owned(), "7".to_owned()),
        ("webhook-signature".to_owned(), list.join(" ")),
    ];
    // MAX_SIGNATURES entries, the last one valid: ok.
    verify(&headers, b"b", &[&secret], at(7)).unwrap();
    list.push(wrong);
    headers[2].1 = list.join(" ");
    assert_eq!(
        verify(&headers, b"b", &[&secret], at(7)).map_err(|e| e.kind()),
        Err("malformed")
    );
}

#[test]
fn scheme_selection_and_missing_headers() {
    let secret = generate_secret();
    let h = Signer::new(&secret)
        .unwrap()
        .sign("msg_s", 5, b"b")
        .unwrap();
    let sw_only: Vec<(&str, &str)> = h
        .iter()
        .filter(|(k, _)| k.starts_with("webhook-"))
        .collect();
    let none: [(&str, &str); 0] = [];
    assert_eq!(
        verify(&sw_only, b"b", &[&secret], only(VerifyScheme::Heroa, 5)),
        Err(WebhookError::MissingHeader("heroa-signature"))
    );
    assert_eq!(
        verify(&none, b"b", &[&secret], at(5)),
        Err(WebhookError::MissingHeader("webhook-signature"))
    );
    assert_eq!(
        verify(
            &none,
            b"b",
            &[&secret],
            only(VerifyScheme::StandardWebhooks, 5)
        ),
        Err(WebhookError::MissingHeader("webhook-id"))
    );
    for missing in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let partial: Vec<(&str, &str)> = sw_only
            .iter()
            .copied()
            .filter(|(k, _)| *k != missing)
            .collect();
        assert_eq!(
            verify(
                &partial,
                b"b",
                &[&secret],
                only(VerifyScheme::StandardWebhooks, 5)
            ),
            Err(WebhookError::MissingHeader(missing))
        );
    }
    // heroa-signature wins over its x- alias when both are present.
    let both = [
        ("x-heroa-signature", "sha256=00"),
        ("heroa-signature", h.heroa_signature.as_str()),
    ];
    assert_eq!(
        verify(&both, b"b", &[&secret], at(5)).unwrap().scheme,
        Scheme::Heroa
    );
    // A broken Standard Webhooks signature is not rescued by a good Heroa one in Auto.
    let mixed = [
        ("webhook-id", "msg_s"),
        ("webhook-timestamp", "5"),
        ("webhook-signature", "v1,"),
        ("heroa-signature", h.heroa_signature.as_str()),
    ];
    assert_eq!(
        verify(&mixed, b"b", &[&secret], at(5)).map_err(|e| e.kind()),
        Err("malformed")
    );
    assert_eq!(
        verify(&mixed, b"b", &[&secret], only(VerifyScheme::Heroa, 5))
            .unwrap()
            .scheme,
        Scheme::Heroa
    );
}

// ------------------------------------------------------------------ secrets

#[test]
fn invalid_secrets() {
    let h = [("heroa-signature", "sha256=00")];
    let empty: [&str; 0] = [];
    assert_eq!(
        verify(&h, b"", &empty, at(0)),
        Err(WebhookError::InvalidSecret("no secrets given"))
    );
    assert_eq!(Verifier::new(&empty).unwrap_err().kind(), "invalid_secret");
    for bad in [
        "",
        "whsec_",
        "whsec_not base64!",
        "whsec_====",
        "whsec_YQ=x",
    ] {
        let e = Signer::new(bad).unwrap_err();
        assert_eq!(e.kind(), "invalid_secret", "{bad:?}");
        assert_eq!(
            verify(&h, b"", &[bad], at(0)).unwrap_err().kind(),
            "invalid_secret"
        );
        assert_eq!(Verifier::new(&[bad]).unwrap_err().kind(), "invalid_secret");
    }
    // An unusable secret anywhere in the list is reported, not skipped.
    let good = generate_secret();
    let list: [&dyn SecretSource; 2] = [&good, &"whsec_!!"];
    assert_eq!(
        verify(&h, b"", &list, at(0)).unwrap_err().kind(),
        "invalid_secret"
    );
    // whsec_ padding is optional.
    let padded = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAA==";
    let unpadded = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAA";
    let a = Signer::new(padded).unwrap().sign("m", 1, b"x").unwrap();
    let b = Signer::new(unpadded).unwrap().sign("m", 1, b"x").unwrap();
    assert_eq!(a.webhook_signature, b.webhook_signature);
    // ...but the Heroa key is the string as given, so the Heroa signatures differ.
    assert_ne!(a.heroa_signature, b.heroa_signature);
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let key_part = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let raw = "correct horse battery staple";
    let mut shown = vec![
        format!("{:?}", Signer::new(secret).unwrap()),
        format!("{:?}", Signer::new(raw).unwrap()),
        format!("{:?}", Verifier::new(&[secret, raw]).unwrap()),
        format!("{:?}", SecretString::from(secret)),
        format!("{:?}", generate_secret()),
    ];
    let errors = [
        Signer::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw!").unwrap_err(),
        Signer::new("").unwrap_err(),
        verify(&[("heroa-signature", "sha256=")], b"", &[secret], at(0)).unwrap_err(),
        verify(&[("heroa-signature", "nope")], b"", &[raw], at(0)).unwrap_err(),
        verify(
            &Signer::new(raw).unwrap().sign("m", 1, b"x").unwrap(),
            b"y",
            &[secret, raw, "whsec_AAAA"],
            at(1),
        )
        .unwrap_err(),
    ];
    for e in &errors {
        shown.push(format!("{e:?}"));
        shown.push(e.to_string());
    }
    for text in &shown {
        assert!(!text.contains(key_part), "secret leaked: {text}");
        assert!(!text.contains("horse"), "secret leaked: {text}");
        assert!(!text.contains("MfKQ"), "secret leaked: {text}");
    }
    assert!(shown[0].contains("REDACTED"));
}

#[test]
fn generated_secrets_and_ids() {
    let a = generate_secret();
    let b = generate_secret();
    assert_ne!(a.expose_secret(), b.expose_secret());
    let key = a.expose_secret().strip_prefix("whsec_").unwrap();
    assert_eq!(STANDARD.decode(key).unwrap().len(), 32);
    Signer::new(&a).unwrap();

    let id = new_message_id();
    assert!(id.starts_with("msg_"), "{id}");
    assert_eq!(id.len(), 28);
    assert!(
        id[4..]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
    assert_ne!(new_message_id(), id);
    // Every generated id is accepted by sign.
    Signer::new(&a).unwrap().sign(&id, 0, b"").unwrap();
}

#[test]
fn sign_rejects_bad_message_ids() {
    let signer = Signer::new("s").unwrap();
    let long = "m".repeat(256);
    for bad in ["", "msg.1", "msg 1", "msg\r\nx: y", "msg_é", long.as_str()] {
        assert_eq!(
            signer.sign(bad, 1, b"").unwrap_err(),
            WebhookError::Malformed("message id"),
            "{bad:?}"
        );
    }
    signer.sign(&"m".repeat(255), 1, b"").unwrap();
}

#[test]
fn header_lookup_impls() {
    let pairs = [
        ("Content-Type", "a"),
        ("WEBHOOK-ID", "b"),
        ("webhook-id", "c"),
    ];
    assert_eq!(
        pairs.header("webhook-id"),
        Some("b"),
        "first occurrence wins"
    );
    assert_eq!(pairs.header("content-type"), Some("a"));
    assert_eq!(pairs.header("missing"), None);
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(owned.header("webhook-id"), Some("b"));
    let map: HashMap<String, String> = [("Webhook-Id".to_owned(), "x".to_owned())].into();
    assert_eq!(map.header("webhook-id"), Some("x"));
    let exact: HashMap<String, &str> = [("webhook-id".to_owned(), "y")].into();
    assert_eq!(exact.header("webhook-id"), Some("y"));
    let tree: BTreeMap<String, String> = [("WEBHOOK-ID".to_owned(), "z".to_owned())].into();
    fn owned_id<H: HeaderLookup>(h: H) -> Option<String> {
        h.header("webhook-id").map(str::to_owned)
    }
    assert_eq!(owned_id(&tree).as_deref(), Some("z"));
    let signed = Signer::new("s").unwrap().sign("msg_h", 3, b"").unwrap();
    assert_eq!(signed.header("Webhook-Timestamp"), Some("3"));
}

#[test]
fn error_kinds_and_messages() {
    let cases = [
        (WebhookError::MissingHeader("webhook-id"), "missing_header"),
        (WebhookError::Malformed("x"), "malformed"),
        (WebhookError::Expired { future: false }, "expired"),
        (WebhookError::Expired { future: true }, "expired"),
        (WebhookError::Mismatch, "mismatch"),
        (
            WebhookError::InvalidSecret("empty secret"),
            "invalid_secret",
        ),
    ];
    for (e, kind) in cases {
        assert_eq!(e.kind(), kind);
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(
        WebhookError::MissingHeader("webhook-id").to_string(),
        "missing webhook header `webhook-id`"
    );
    assert!(
        WebhookError::Expired { future: true }
            .to_string()
            .contains("future")
    );
    assert_eq!(Scheme::Heroa.to_string(), "heroa-hmac-sha256");
    assert_eq!(Scheme::StandardWebhooks.as_str(), "standard-webhooks");
}
