#!/usr/bin/env bash
# Runs every check and test of the workspace, the same way CI does.
#
#   ./scripts/test.sh            fmt, cargo deny, clippy -D warnings, then all tests
#   ./scripts/test.sh -p alerter extra arguments go to `cargo test`
#
# Tests start their own PostgreSQL (primary + streaming replica), redis-server,
# promtool and prometheus-node-exporter on free ports in temporary directories;
# the Debian packages are installed first when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

echo "==> cargo fmt --check"
cargo fmt --all -- --check

# Dependency policy (deny.toml): permissive licences, no second version of
# a crate beyond the listed exceptions, crates.io only, no yanked crates,
# and RustSec advisories when their database (on GitHub) can be fetched.
DENY_VERSION=0.20.2
if ! cargo deny --version 2>/dev/null | grep -q " $DENY_VERSION\$"; then
  echo "==> installing cargo-deny $DENY_VERSION (once)"
  cargo install --locked --quiet "cargo-deny@$DENY_VERSION"
fi
echo "==> cargo deny"
cargo deny --log-level error check licenses bans sources
if getent hosts github.com >/dev/null 2>&1; then
  cargo deny --log-level error check advisories
else
  echo "NOTICE: github.com does not resolve here: RustSec advisories not checked" >&2
fi

echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "==> cargo test"
if [ $# -eq 0 ]; then
  set -- --workspace
fi
cargo test "$@"
