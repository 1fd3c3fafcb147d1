#!/usr/bin/env bash
# The Go binding's test suite, from a fresh machine or a warm one:
#   1. the C-ABI static library (heroa-ffi) built and copied to lib/ (build.sh);
#      its header include/heroa.h is checked against the crate by the Rust suite
#      (cargo test -p heroa-ffi header_is_current);
#   2. `heroa serve` (the CLI) built, for the remote transport;
#   3. gofmt and go vet;
#   4. go test -race: every scenario on the embedded runtime and against heroa serve,
#      context cancellation, errors, Go skills, the shared vectors, the deploy guide's
#      Go example, the onboarding guide in Go (examples/go), the types against the
#      protocol schema, a goroutine and cgo-handle leak check;
#   5. the benchmarks once each (bench/, their agreement checks; no timing).
# Usage: bash bindings-go/run_tests.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$here"
echo "== $(go version)"
bash build.sh >/dev/null
(cd "$root" && cargo build --locked -q -p heroa-cli)
# The deploy guide's example keeps the guide's own indentation: it is not ours to reformat.
unformatted="$(gofmt -l . "$root/examples/go" | grep -v '/examples/go/deploy-guide/' || true)"
if [ -n "$unformatted" ]; then
  echo "gofmt: not formatted: $unformatted" >&2
  exit 1
fi
go vet ./...
(cd "$root/examples/go" && go vet ./...)
HEROA_BIN="$root/target/debug/heroa" go test -race -count=1 ./...
# The benchmarks (their own module: the peers they compare with are theirs only),
# once each: every peer's answer is checked against heroa's before timing.
(cd bench && go vet ./... && go test -run '^$' -bench . -benchtime 1x ./... >/dev/null)
