#!/bin/bash
# Entry point of the streaming replica (runs as the postgres user).
#
# First start (empty data directory): wait for the primary, then copy it with
# `pg_basebackup -R -X stream`, which also writes standby.signal and
# primary_conninfo. Every later start resumes streaming from where it was.
set -euo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
: "${PRIMARY_HOST:=postgres-primary}"
: "${PRIMARY_PORT:=5432}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT"; do
    echo "replica: waiting for $PRIMARY_HOST:$PRIMARY_PORT"
    sleep 1
  done
  rm -rf "${PGDATA:?}"/*
  PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup \
    -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U replicator \
    -D "$PGDATA" -R -X stream -c fast --progress
  chmod 0700 "$PGDATA"
fi

exec postgres -D "$PGDATA" -c hot_standby=on -c hot_standby_feedback=on
