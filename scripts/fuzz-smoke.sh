#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (coverage-guided, libFuzzer with
# AddressSanitizer through cargo-fuzz), from its committed seeds (fuzz/seeds/<target>) and its
# working corpus (fuzz/corpus/<target>). Fails, naming the target and the input saved under
# fuzz/artifacts/, if any target panics, crashes, leaks past its memory limit or hangs on one
# input. A finding becomes a regression test in the crate that had the bug.
#
# Usage: scripts/fuzz-smoke.sh SECONDS [TARGET...]   (default: every target)
# cargo-fuzz wants a nightly compiler for its sanitizer flags; RUSTC_BOOTSTRAP lets the stable
# toolchain take them.
set -euo pipefail
seconds="${1:?usage: scripts/fuzz-smoke.sh SECONDS [TARGET...]}"
shift
cd "$(dirname "$0")/.."

if ! cargo fuzz --version 2>/dev/null | grep -q "0.13.2"; then
    cargo install cargo-fuzz --version 0.13.2 --locked --quiet
fi
export RUSTC_BOOTSTRAP=1

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# One build for every target; each run below finds it done.
if ! cargo fuzz build >fuzz/build.log 2>&1; then
    tail -n 40 fuzz/build.log >&2
    echo "fuzz: the targets do not build" >&2
    exit 1
fi
failed=()
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target" "fuzz/seeds/$target"
    echo "fuzz: $target for ${seconds}s"
    # -timeout: one input running 10 s is a hang; -rss_limit_mb: a leak or runaway allocation.
    if ! cargo fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"fuzz/corpus/$target.log" 2>&1; then
        tail -n 40 "fuzz/corpus/$target.log" >&2
        failed+=("$target")
    else
        grep -E "^stat::number_of_executed_units|^Done" "fuzz/corpus/$target.log" | sed "s/^/  /" || true
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no finding"
