#!/usr/bin/env bash
# The same boot storm against nginx from Debian's package (static files, client certificates
# required) and against sipprovd, each pinned to core 0 with the load generator on core 1.
#
#   scripts/bench-vs-nginx.sh [SECONDS] [PHONES]
#
# Prints nginx's figures, sipprovd's (the `steady` scenario of `sipprov bench compare`), and
# the ratio sipprovd/nginx. Installs nginx if it is missing (Debian or Ubuntu, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
phones="${2:-200}"
bench_dir="$(mktemp -d)"
trap 'kill "${nginx_pid:-0}" 2>/dev/null || true; rm -rf "$bench_dir"' EXIT

if ! command -v nginx >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi
cargo build --release --locked -q -p sipprovd -p sipprov
sipprov=target/release/sipprov
# Server on core 0, load generator on core 1, when there are two cores and taskset.
server_core=() storm_core=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    server_core=(taskset -c 0) storm_core=(taskset -c 1)
fi

# The bench PKI and phones (made on first use), and one 4 KB file per phone for nginx to serve.
"$sipprov" bench storm --dir "$bench_dir" --phones "$phones" --target 127.0.0.1:9 --duration 0 --json >/dev/null || true
mkdir -p "$bench_dir/www"
chmod 755 "$bench_dir" "$bench_dir/www"   # nginx's workers run as an unprivileged user
for n in $(seq 1 "$phones"); do
    mac=$(printf '001565%06x' "$n")
    head -c 4096 /dev/zero | tr '\0' '#' >"$bench_dir/www/$mac.cfg"
done
cat >"$bench_dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $bench_dir/nginx.pid;
error_log $bench_dir/error.log;
events { worker_connections 4096; }
http {
    access_log $bench_dir/access.log;
    server {
        listen 127.0.0.1:9445 ssl;
        ssl_certificate $bench_dir/server.pem;
        ssl_certificate_key $bench_dir/server.key;
        ssl_client_certificate $bench_dir/device-ca.pem;
        ssl_verify_client on;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        root $bench_dir/www;
        add_header Cache-Control no-store;
    }
}
CONF
"${server_core[@]}" nginx -c "$bench_dir/nginx.conf" </dev/null >/dev/null 2>&1 &
nginx_pid=$!
sleep 1
nginx_report=$("${storm_core[@]}" "$sipprov" bench storm --dir "$bench_dir" --phones "$phones" --target 127.0.0.1:9445 \
    --duration "$seconds" --json)
kill "$nginx_pid"
echo "nginx:    $nginx_report"
sipprovd_report=$("$sipprov" bench compare --dir "$bench_dir" --scenarios steady --phones "$phones" \
    --duration "$seconds" --json)
echo "sipprovd: $sipprovd_report"
python3 - "$nginx_report" "$sipprovd_report" <<'PY'
import json, sys
nginx = json.loads(sys.argv[1])
steady = json.loads(sys.argv[2])["scenarios"]["steady"]["sipprovd"]
if not nginx["conn_per_s"]:
    sys.exit(f"nginx served nothing: {nginx['errors']}")
print(f"sipprovd/nginx: {steady['conn_per_s'] / nginx['conn_per_s']:.2f}x conn/s, "
      f"p99 {steady['p99_ms']} ms vs {nginx['p99_ms']} ms")
PY
