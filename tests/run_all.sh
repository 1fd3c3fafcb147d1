#!/usr/bin/env bash
# The whole test suite: formatting, lints, every Rust test (unit, behaviour suite on
# both transports, crash recovery, CLI), examples and benches compiled and run once.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --all-targets --locked
cargo run --locked -q --example onboarding > /dev/null
echo "all suites passed"
