#!/usr/bin/env bash
# Fails when the entities and the migrations disagree: migrates a scratch PostgreSQL database and
# a scratch SQLite file, then asks TypeORM's generator whether it would change anything.
set -euo pipefail
cd "$(dirname "$0")/.."
# One database per run, so that two checks (two worktrees, two CI jobs) never share one.
db=authswitch_migration_check_$$
data_dir=$(mktemp -d)
trap 'rm -rf "$data_dir"; su postgres -c "psql -qc \"DROP DATABASE IF EXISTS $db\"" >/dev/null 2>&1 || true' EXIT
su postgres -c "psql -qc \"DROP DATABASE IF EXISTS $db\"" >/dev/null
su postgres -c "psql -qc \"CREATE DATABASE $db OWNER authswitch\"" >/dev/null
for url in "postgres://authswitch:authswitch@127.0.0.1:5432/$db" ""; do
  export DATA_DIR="$data_dir" DATABASE_URL="$url" LOG_LEVEL=silent
  [ -n "$url" ] || unset DATABASE_URL
  npm run --silent typeorm -- migration:run >/dev/null
  npm run --silent typeorm -- migration:generate src/database/migrations/Unexpected --dryrun --check
done
echo "migrations match the entities (PostgreSQL and SQLite)"
