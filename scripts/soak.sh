#!/usr/bin/env bash
# Runs a real sipprovd for MINUTES under mixed traffic (polls, first boots, a scanner, password
# rotations and audit log reads through the admin API, a reload each minute) and prints, each
# minute, its memory, open descriptors, database size and poll latency, then the drift between
# the first and the last third of the run. docs/reliability.md records a 30-minute run.
#
# Usage: scripts/soak.sh MINUTES [--json]
set -euo pipefail
minutes="${1:?usage: scripts/soak.sh MINUTES [--json]}"
shift
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p sipprov -p sipprovd
target="${CARGO_TARGET_DIR:-target}"
exec "$target/release/sipprov" "$@" bench soak --minutes "$minutes" --dir sipprov-bench
