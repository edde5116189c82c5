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

# hot_standby_feedback stays off. With it, the primary may not clean up any
# row version the replica could still need as of the replica's last report,
# and the replica reports every wal_receiver_status_interval (10 s): every
# version of the course rows admission updates dozens of times a second
# would pile up for seconds, and each lookup of those rows walks them
# (measured during the rush benchmark: admission's statements that touch
# course rows took 5-9x as long, and PostgreSQL used 1.4-1.8 instead of
# 0.7-1.1 CPU-s per rush). What it would prevent — a replica
# query cancelled because replay must remove rows it still reads — does not
# arise for reads of milliseconds: replay waits up to
# max_standby_streaming_delay (30 s) for them, and a read that fails on a
# replica is retried on the primary.
exec postgres -D "$PGDATA" -c hot_standby=on -c hot_standby_feedback=off
