#!/usr/bin/env bash
# Requests per second of the privacy notice page (SSR) and of a bare axum handler (/livez) on
# the same release server, with wrk on loopback, and their ratio; plus the server's peak memory.
set -euo pipefail
bin="${1:?usage: notice.sh path/to/release/portal}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
port="${BENCH_PORT:-3200}"
duration="${BENCH_SECONDS:-10}"
conns="${BENCH_CONNECTIONS:-50}"
data=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT

export PORTAL_DATA_DIR="$data" LEPTOS_SITE_ROOT="$root/target/site" LEPTOS_SITE_ADDR="127.0.0.1:$port"
export PORTAL_PUBLIC_URL="http://127.0.0.1:$port" PORTAL_DEV_MAILBOX=1 RUST_LOG=warn
unset DATABASE_URL PORTAL_SMTP_URL PORTAL_CONFIG
"$bin" demo-data >/dev/null
"$bin" serve >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

rps() {
  wrk -t2 -c"$conns" -d"${duration}s" -H 'Accept-Language: zh-CN' "http://127.0.0.1:$port$1" \
    | awk '/Requests\/sec/ {print $2}'
}
# Check the page really is the rendered notice before timing it.
curl -fs -H 'Accept-Language: zh-CN' "http://127.0.0.1:$port/privacy" | grep -q '隐私政策'

bare=$(rps /livez)
page=$(rps /privacy)
peak_kib=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "wrk -t2 -c$conns -d${duration}s, release build, $(nproc) cores"
printf 'bare axum handler (/livez):     %10.0f req/s\n' "$bare"
printf 'privacy notice page (/privacy): %10.0f req/s\n' "$page"
awk -v p="$page" -v b="$bare" 'BEGIN { printf "ratio notice/bare:              %10.2f (goal >= 0.50)\n", p / b }'
echo "server peak resident memory:    $(( peak_kib / 1024 )) MiB"
