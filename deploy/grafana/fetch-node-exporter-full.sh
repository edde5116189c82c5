#!/usr/bin/env bash
# Downloads the Node Exporter Full dashboard (grafana.com id 1860) into a
# Grafana dashboard provisioning folder, as node-exporter-full.json.
#
#   deploy/grafana/fetch-node-exporter-full.sh DIR [REVISION]
#
#   DIR       the folder a Grafana file provider loads (e.g. ./dashboards,
#             mounted at /etc/grafana/dashboards in docker-compose.yml)
#   REVISION  a revision number of the dashboard; default: latest
#
# Environment:
#   NODE_EXPORTER_FULL_URL     download from here instead (an http(s):// or
#                              file:// URL, e.g. an internal mirror)
#   GRAFANA_DATASOURCE_UID     data source uid put where a revision exported
#                              for sharing asks for `${DS_PROMETHEUS}`
#                              (default: prometheus, the stack's data source)
#   FETCH_TIMEOUT_SECONDS      give up after this long (default: 30)
#
# The dashboard is not kept in the repository; it is fetched when the stack
# is deployed. A failed download never fails the deployment: the script says
# why on stderr and exits 0, keeping a copy fetched earlier if there is one.
# Only a usage error exits non-zero (2).
set -euo pipefail

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; }

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  usage
  exit 2
fi
dir=$1
revision=${2:-latest}
case "$revision" in
  latest | [0-9]*) ;;
  *) echo "fetch-node-exporter-full: REVISION must be a number or 'latest', not '$revision'" >&2; exit 2 ;;
esac
url=${NODE_EXPORTER_FULL_URL:-https://grafana.com/api/dashboards/1860/revisions/$revision/download}
uid=${GRAFANA_DATASOURCE_UID:-prometheus}
timeout=${FETCH_TIMEOUT_SECONDS:-30}
target="$dir/node-exporter-full.json"

skip() {
  echo "fetch-node-exporter-full: NOT installed: $*" >&2
  if [ -s "$target" ]; then
    echo "fetch-node-exporter-full: keeping the copy fetched earlier: $target" >&2
  else
    echo "fetch-node-exporter-full: Grafana starts without Node Exporter Full; the project's own dashboards are unaffected." >&2
    echo "fetch-node-exporter-full: to add it later, run this script again where $url is reachable, or import id 1860 in Grafana's UI." >&2
  fi
  exit 0
}

mkdir -p "$dir" 2>/dev/null || skip "cannot create $dir"
tmp=$(mktemp "$dir/.node-exporter-full.XXXXXX" 2>/dev/null) || skip "cannot write to $dir"
trap 'rm -f "$tmp"' EXIT

if command -v curl >/dev/null 2>&1; then
  curl -fsSL --max-time "$timeout" -o "$tmp" "$url" 2>"$tmp.err" \
    || { err=$(cat "$tmp.err"); rm -f "$tmp.err"; skip "download of $url failed: ${err:-curl error}"; }
  rm -f "$tmp.err"
elif command -v wget >/dev/null 2>&1; then
  wget -q -T "$timeout" -O "$tmp" "$url" || skip "download of $url failed (wget)"
else
  skip "neither curl nor wget is installed"
fi

# What came back must be the dashboard, not an error page.
head -c 1 "$tmp" | grep -q '{' || skip "$url did not return JSON"
grep -q '"Node Exporter Full"' "$tmp" || skip "$url did not return the Node Exporter Full dashboard"

# A revision exported for sharing refers to its data source as an input,
# which file provisioning does not fill in: name the stack's data source.
sed -i "s/\${DS_PROMETHEUS}/$uid/g" "$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$target"
trap - EXIT
echo "fetch-node-exporter-full: installed $target (revision $revision from $url)" >&2
