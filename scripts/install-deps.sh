#!/usr/bin/env bash
# Installs the Debian packages the stack and its tests need, if they are missing.
#
#   postgresql               primary + streaming replica (tests, local stack)
#   redis-server             waiting queue, sessions
#   prometheus               `promtool`, the oracle for rule files and rule tests,
#                            and Prometheus itself for the alerter benchmark
#   prometheus-node-exporter the oracle for node-agent
#   prometheus-alertmanager  `amtool`, the oracle for the alerter's Alertmanager
#                            API, and the peer in the notification benchmark
#   haproxy                  the load balancer in front of the enroll-servers
#   chromium, chromium-driver the students' page's browser tests (headless,
#                            driven through chromedriver)
#   python3-venv             the contract test's schemathesis (from PyPI, into
#                            a virtualenv under target/: scripts/schemathesis.sh)
#   python3-aiosmtpd         the SMTP server students' mail goes to in tests,
#                            the local stack and the rush benchmark
#
# Idempotent: when everything is present it returns at once without touching apt.
set -euo pipefail

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

[ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || need+=(postgresql)
have_cmd redis-server || need+=(redis-server)
have_cmd promtool || need+=(prometheus)
have_cmd prometheus-node-exporter || need+=(prometheus-node-exporter)
{ have_cmd prometheus-alertmanager && have_cmd amtool; } || need+=(prometheus-alertmanager)
have_cmd haproxy || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || need+=(python3-aiosmtpd)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: missing Debian packages: ${need[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: not running as root; install them yourself, e.g.:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi
if ! have_cmd apt-get; then
  echo "install-deps: no apt-get on this machine; install the equivalents of: ${need[*]}" >&2
  echo "  (PostgreSQL >= 13 with initdb/pg_basebackup, redis-server, promtool," >&2
  echo "   prometheus-node-exporter, alertmanager, haproxy, python3 with aiosmtpd," >&2
  echo "   chromium + chromedriver at /usr/bin/chromium and /usr/bin/chromedriver)" >&2
  echo "   and put them on PATH." >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends keeps the install small; none of the recommends are needed.
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's packages may start their own services where an init system exists; the
# project never uses them (tests and the local stack start their own on free ports).
echo "install-deps: installed ${need[*]}" >&2
