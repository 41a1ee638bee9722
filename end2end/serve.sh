#!/bin/sh
# Starts the debug build of the portal for the Playwright tests: a fresh SQLite database with the
# demo salon, the dev mailbox, and the site that `cargo leptos build` wrote to ../target/site.
set -eu
port="${1:-3100}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/debug/portal"
data="$here/.data/$port"
rm -rf "$data"
mkdir -p "$data"
export PORTAL_DATA_DIR="$data"
export LEPTOS_SITE_ROOT="$root/target/site"
export LEPTOS_SITE_ADDR="127.0.0.1:$port"
export PORTAL_PUBLIC_URL="http://127.0.0.1:$port"
export PORTAL_SALON_NAME="${PORTAL_SALON_NAME:-Demo Salon}"
# Every browser of the run signs in from 127.0.0.1; the default 20 per hour is for one client.
export PORTAL_SIGNIN_PER_IP_PER_HOUR=1000
unset DATABASE_URL PORTAL_SMTP_URL PORTAL_CONFIG
"$bin" demo-data >/dev/null
exec "$bin" serve
