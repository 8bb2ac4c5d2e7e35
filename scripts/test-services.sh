#!/usr/bin/env bash
# Installs and starts what the e2e tests talk to: Redis, PostgreSQL and Chromium,
# all from Debian's packages. Idempotent; needs root (apt-get, PostgreSQL's own user).
set -euo pipefail

PG_USER=${PG_USER:-authswitch}
PG_PASSWORD=${PG_PASSWORD:-authswitch}
PG_DB=${PG_DB:-authswitch_test}

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Redis: PID 1 is not systemd here, so daemonize it ourselves.
if ! redis-cli -p 6379 ping >/dev/null 2>&1; then
  redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --save '' --appendonly no
  for _ in $(seq 1 50); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
redis-cli -p 6379 ping >/dev/null

# PostgreSQL refuses to run as root: start the Debian cluster as its own user.
pg_version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^${pg_version} *main"; then
  pg_createcluster "$pg_version" main >/dev/null
fi
if ! pg_lsclusters -h | grep -q "^${pg_version} *main .*online"; then
  pg_ctlcluster "$pg_version" main start
fi
for _ in $(seq 1 50); do su postgres -c "pg_isready -q" && break; sleep 0.2; done

su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='${PG_USER}'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"CREATE ROLE ${PG_USER} LOGIN PASSWORD '${PG_PASSWORD}'\""
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='${PG_DB}'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"CREATE DATABASE ${PG_DB} OWNER ${PG_USER}\""

echo "services ready: redis://127.0.0.1:6379 postgres://${PG_USER}@127.0.0.1:5432/${PG_DB} $(command -v chromium)"
