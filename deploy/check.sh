#!/usr/bin/env bash
# Checks the deployment files: the unit with systemd-analyze, the proxy with nginx -t (against a
# throwaway certificate). Exits non-zero on any finding. Needs systemd and nginx (Debian).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The unit, as installed, with its binary and environment file where it expects them.
mkdir -p "$tmp/opt/portal" "$tmp/etc/portal"
printf '#!/bin/sh\n' > "$tmp/opt/portal/portal" && chmod +x "$tmp/opt/portal/portal"
: > "$tmp/etc/portal/portal.env"
sed -e "s#/opt/portal#$tmp/opt/portal#g" -e "s#/etc/portal#$tmp/etc/portal#g" \
  "$here/portal@.service" > "$tmp/portal@.service"
cp "$tmp/portal@.service" "$tmp/portal@3001.service"
out=$(systemd-analyze verify "$tmp/portal@3001.service" 2>&1 || true)
# Messages about other units of this machine are not ours.
ours=$(printf '%s\n' "$out" | grep "portal@" || true)
if [ -n "$ours" ]; then
  printf 'unit: %s\n' "$ours" >&2
  exit 1
fi
score=$(systemd-analyze security --offline=true "$tmp/portal@3001.service" 2>/dev/null \
  | grep -o 'Overall exposure level[^:]*: [0-9.]*' | awk '{print $NF}' || true)
echo "unit: verified; exposure ${score:-n/a} (systemd-analyze security, lower is safer)"

# The proxy, in a configuration of its own around the site file.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=salon.example \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1
sed -e "s#/etc/ssl/certs/salon.example.pem#$tmp/cert.pem#" \
  -e "s#/etc/ssl/private/salon.example.key#$tmp/key.pem#" \
  "$here/nginx.conf" > "$tmp/site.conf"
cat > "$tmp/nginx.conf" <<CONF
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events {}
http {
  client_body_temp_path $tmp/body;
  proxy_temp_path $tmp/proxy;
  include $tmp/site.conf;
}
CONF
nginx -t -q -c "$tmp/nginx.conf" -p "$tmp"
echo "proxy: nginx -t passed"
