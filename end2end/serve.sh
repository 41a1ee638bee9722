#!/bin/sh
# Starts the portal for the Playwright tests: a fresh SQLite database with the demo salon, the dev
# mailbox, and the site that `cargo leptos build` wrote to ../target/site. The debug build by
# default; PORTAL_E2E_PROFILE=release runs the release build (what users deploy).
set -eu
port="${1:-3100}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/${PORTAL_E2E_PROFILE:-debug}/portal"
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
# Mail lands in the dev mailbox, which the specs read; it is switched on by name, for loopback only.
export PORTAL_DEV_MAILBOX=1
unset DATABASE_URL PORTAL_SMTP_URL PORTAL_CONFIG
"$bin" demo-data >/dev/null
# The server's log (method, path, status, latency, warnings; never a personal value) goes to a
# file that `make e2e` prints when a spec fails, so a failure can be read against the server.
NO_COLOR=1 exec "$bin" serve >"$data/server.log" 2>&1
