#!/usr/bin/env bash
# Installs schemathesis (PyPI) into a virtualenv under the target directory,
# once, and prints the path of its `schemathesis` command. The contract test
# (enroll-server/tests/api/contract.rs) calls this; so can a person:
#
#   "$(./scripts/schemathesis.sh)" run http://127.0.0.1:8080/api-docs/openapi.json
#
# Needs python3 with venv (Debian: python3-venv) and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.32.5
venv="${CARGO_TARGET_DIR:-$PWD/target}/schemathesis-$VERSION"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "schemathesis.sh: installing schemathesis $VERSION into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
fi
echo "$venv/bin/schemathesis"
