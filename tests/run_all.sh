#!/usr/bin/env bash
# The whole test suite: formatting, lints (benches included), every Rust test (unit,
# doc, the behaviour suite on both transports, crash recovery, CLI, deploy, streams,
# webhooks, OpenAPI conformance), the main example, and each binding's suite.
# Benchmarks are type-checked by clippy here and run with `cargo bench`
# (figures in BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --lib --bins --tests --examples --locked
cargo test --workspace --doc --locked
cargo run --locked -q --example onboarding > /dev/null
for suite in bindings-*/run_tests.sh; do
  [ -f "$suite" ] || continue
  echo "== $suite"
  bash "$suite"
done
echo "all suites passed"
