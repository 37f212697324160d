#!/usr/bin/env bash
# Instructions a steady poll costs, counted by valgrind's callgrind: the bare baseline and
# sipprovd (its `steady` instance of `sipprov bench compare`), each under the same storm.
#
#   scripts/bench-instructions.sh [SIPPROVD]
#
# Counts do not drift with the machine's load as rates do (two runs of one build agree to about
# 0.01 %), so they tell apart changes of 1 % that alternating storms cannot. They leave out the
# kernel and cache misses: a change that saves instructions saves at least as much time, but
# time also goes where no instruction count shows (docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p sipprovd -p sipprov
sipprov=target/release/sipprov
sipprovd="$(realpath "${1:-target/release/sipprovd}")"
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 1; }
dir="$(mktemp -d)"
trap 'kill "${server_pid:-0}" 2>/dev/null || true; rm -rf "$dir"' EXIT
# Server on core 0, storms on core 1, when there are two cores and taskset.
server_core=() storm_core=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    server_core=(taskset -c 0) storm_core=(taskset -c 1)
fi

# The bench PKI, 200 phones, and sipprovd's steady instance (each phone delivered and purged).
"$sipprov" bench compare --sipprovd "$sipprovd" --scenarios steady --rounds 1 --duration 1 --dir "$dir" >/dev/null

# Waits for LOG to hold a line matching PATTERN (at most a minute), then prints that line.
wait_for() {
    for _ in $(seq 600); do
        grep -m1 "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "the server did not start: $(cat "$1")" >&2
    exit 1
}

# Storms the server at ADDR (running under callgrind as server_pid): a warm-up, then a counted
# storm; prints the instructions per connection.
count() {
    local addr="$1" name="$2"
    local storm=("${storm_core[@]}" "$sipprov" bench storm --target "$addr" --dir "$dir" --phones 200 --concurrency 4)
    "${storm[@]}" --duration 5 >/dev/null
    callgrind_control -z "$server_pid" >/dev/null 2>&1
    "${storm[@]}" --duration 20 --json >"$dir/$name.json"
    callgrind_control -d "$server_pid" >/dev/null 2>&1
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    local connections total
    connections=$(grep -o '"connections":[0-9]*' "$dir/$name.json" | cut -d: -f2)
    total=$(grep -h '^summary:' "$dir/$name".callgrind.*.* | awk '{ sum += $2 } END { print sum }')
    echo $((total / connections))
}

"${server_core[@]}" valgrind --tool=callgrind --callgrind-out-file="$dir/baseline.callgrind.%p" \
    "$sipprov" bench baseline --listen 127.0.0.1:0 --dir "$dir" >"$dir/baseline.log" 2>/dev/null &
server_pid=$!
baseline_addr=$(wait_for "$dir/baseline.log" '^listening on ' | sed 's/^listening on //')
baseline=$(count "$baseline_addr" baseline)

(cd "$dir/sipprovd-steady" && exec "${server_core[@]}" valgrind --tool=callgrind \
    --callgrind-out-file="$dir/sipprovd.callgrind.%p" "$sipprovd" run --config sipprov.toml \
    2>"$dir/sipprovd.log" >/dev/null) &
server_pid=$!
sipprovd_addr=$(wait_for "$dir/sipprovd.log" '"serving"' | grep -o '"phones":"[^"]*"' | cut -d'"' -f4)
sipprovd_count=$(count "$sipprovd_addr" sipprovd)

awk -v b="$baseline" -v s="$sipprovd_count" 'BEGIN {
    printf "instructions per connection: baseline %d, sipprovd %d (+%.1f %%)\n", b, s, 100 * (s - b) / b
}'
