#!/usr/bin/env bash
# The local stack: PostgreSQL primary + streaming replica, Redis, enroll-server,
# node-agent, the alerter and Prometheus on 127.0.0.1, with demo data.
#
#   ./scripts/stack.sh                 build (release) and run; Ctrl-C stops everything
#   ./scripts/stack.sh --keep-data     keep databases, logs and config after exit
#   ./scripts/stack.sh --help          every devstack option
#
# Works on a fresh Debian machine with the Rust toolchain: the Debian packages
# are installed first when missing (as root; otherwise it says what to install).
# Arguments go to the devstack binary (testkit/src/bin/devstack).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

target_dir="${CARGO_TARGET_DIR:-$PWD/target}"

# Every package the stack runs; a package that does not exist in this checkout
# yet is skipped (devstack then prints a notice and runs without it).
packages=()
for p in enroll-server node-agent alerter testkit; do
  if [ -f "$p/Cargo.toml" ]; then
    packages+=(-p "$p")
  else
    echo "stack: package $p is not in this checkout; building without it" >&2
  fi
done

echo "==> cargo build --release ${packages[*]}" >&2
cargo build --release "${packages[@]}"

exec "$target_dir/release/devstack" --bin-dir "$target_dir/release" "$@"
