#!/usr/bin/env bash
# The whole test suite: formatting, lints (benches included), every Rust test (unit,
# doc, the behaviour suite on both transports, crash recovery, CLI, deploy, streams,
# webhooks, OpenAPI conformance against the bridge's catalogue, the bridge), the
# generated protocol documents and a schemathesis run against them, the
# feature builds of the split crates, the main example, and each binding's suite.
# Benchmarks are type-checked by clippy here and run with `cargo bench`
# (figures in BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --lib --bins --tests --examples --locked
cargo test --workspace --doc --locked
# The crates build where their users are: the runtime without its default features
# (no local deploy, no HTTP clients), the thin client and the stand-alone crates
# alone (their dependency trees are checked by core/client/tests/dependencies.rs).
cargo check --locked -p heroa-runtime --no-default-features
cargo check --locked -p heroa-client -p heroa-protocol -p heroa-policy -p heroa-sse -p heroa-webhooks -p heroa-cron
cargo check --locked -p heroa-bridge --no-default-features
# The schema derives (the source of openapi.json) alone.
cargo check --locked -p heroa-protocol -p heroa-sse --features heroa-protocol/schema,heroa-sse/schema
cargo run --locked -q --example onboarding > /dev/null
# The protocol fuzzed against its own document: schemathesis, every check but the
# three tests/schemathesis/README.md explains, against a throw-away `heroa serve`.
cargo build --locked -q -p heroa-cli
ST_NETNS_OPTIONAL=1 ST_MAX_TIME=120 bash tests/schemathesis/run.sh
for suite in bindings-*/run_tests.sh; do
  [ -f "$suite" ] || continue
  echo "== $suite"
  bash "$suite"
done
echo "all suites passed"
