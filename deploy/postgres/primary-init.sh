#!/bin/bash
# Runs once, when the primary's data directory is first created (the official
# image's /docker-entrypoint-initdb.d hook): a role for streaming replication,
# a pg_hba.conf line that lets it connect from the compose network, and the
# DML-only role enroll-server runs as (app-role.sql). The schema belongs to
# $POSTGRES_USER, which applies migrations.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'pw';
SQL

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_user=enroll_app -v app_password="$ENROLL_DB_PASSWORD" \
  -v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" \
  -f /etc/enroll/app-role.sql

echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
