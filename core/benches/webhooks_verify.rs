//! Webhook signature verification of a 1 KiB body, both schemes: the one-shot
//! `verify` (parses the secret on every call) and a prepared `Verifier`.
//! Target: at most 1 µs per verification.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use heroa::webhooks::{Signer, Verifier, VerifyOptions, VerifyScheme, generate_secret, verify};
use secrecy::SecretString;

const NOW: u64 = 1_767_225_600;

fn body_1kib() -> Vec<u8> {
    let mut body = br#"{"type":"run.completed","run_id":"run_01j9z6k3m4","output":""#.to_vec();
    body.resize(1024 - 2, b'x');
    body.extend_from_slice(br#""}"#);
    assert_eq!(body.len(), 1024);
    body
}

fn bench_verify(c: &mut Criterion) {
    let secret: SecretString = generate_secret();
    let body = body_1kib();
    let headers = Signer::new(&secret)
        .unwrap()
        .sign("msg_2Yl0cTRm3WJx6Qb8Hc1dNp9E", NOW, &body)
        .unwrap()
        .to_vec();
    let verifier = Verifier::new(&[&secret]).unwrap();

    let mut g = c.benchmark_group("webhooks_verify_1KiB");
    g.throughput(Throughput::Bytes(body.len() as u64));
    for (name, scheme) in [
        ("standard_webhooks", VerifyScheme::StandardWebhooks),
        ("heroa_hmac", VerifyScheme::Heroa),
    ] {
        let options = VerifyOptions {
            now: Some(NOW),
            scheme,
            ..VerifyOptions::default()
        };
        g.bench_function(format!("verify/{name}"), |b| {
            b.iter(|| {
                verify(
                    black_box(&headers),
                    black_box(&body),
                    &[&secret],
                    black_box(options),
                )
                .unwrap()
            })
        });
        g.bench_function(format!("verifier/{name}"), |b| {
            b.iter(|| {
                verifier
                    .verify(black_box(&headers), black_box(&body), black_box(options))
                    .unwrap()
            })
        });
    }
    let signer = Signer::new(&secret).unwrap();
    g.bench_function("sign/both_schemes", |b| {
        b.iter(|| {
            signer
                .sign(
                    "msg_2Yl0cTRm3WJx6Qb8Hc1dNp9E",
                    black_box(NOW),
                    black_box(&body),
                )
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
