#!/usr/bin/env bash
# Runs every check and test of the workspace, the same way CI does.
#
#   ./scripts/test.sh            fmt, clippy -D warnings, then all tests
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

echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "==> cargo test"
if [ $# -eq 0 ]; then
  set -- --workspace
fi
cargo test "$@"
