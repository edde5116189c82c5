#!/bin/bash
# Runs once, when the primary's data directory is first created (the official
# image's /docker-entrypoint-initdb.d hook): a role for streaming replication
# and a pg_hba.conf line that lets it connect from the compose network.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'pw';
SQL

echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
