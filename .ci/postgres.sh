#!/usr/bin/env bash
# Starts Debian's PostgreSQL (installing it if missing), makes a test role with a password made
# fresh on every run, drops databases left by earlier test runs, and prints TEST_POSTGRES_URL.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$version main$"; then
  pg_createcluster "$version" main >&2
fi
pg_ctlcluster "$version" main start >&2 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 && break
  sleep 1
done
password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAt -h /var/run/postgresql $*"; }
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_roles WHERE rolname='portal_test'\"")" != "1" ]; then
  psql_admin "-c \"CREATE ROLE portal_test LOGIN CREATEDB\"" >&2
fi
psql_admin "-c \"ALTER ROLE portal_test PASSWORD '$password'\"" >&2
for db in $(psql_admin "-c \"SELECT datname FROM pg_database WHERE datname LIKE 'portal_test_%'\""); do
  psql_admin "-c \"DROP DATABASE IF EXISTS $db\"" >&2 || true
done
echo "postgres://portal_test:$password@127.0.0.1:5432/postgres"
