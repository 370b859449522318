#!/usr/bin/env bash
# Bounded fuzz smoke run of every carp-proto fuzz target (kmod/proto/fuzz), for `make test`.
#
# - Works with rustup *stable* only: targets are built with `cargo fuzz build -s none`
#   (libFuzzer + SanitizerCoverage through stable codegen flags, no sanitizer runtime: the
#   crate is #![forbid(unsafe_code)]) and `-a` (debug assertions and overflow checks on).
# - Installs cargo-fuzz (`cargo install cargo-fuzz --locked`) when `cargo fuzz` is missing.
# - Runs each target for FUZZ_SMOKE_SECS seconds (default 10) from its checked-in seed corpus
#   (kmod/proto/fuzz/corpus/<target>, only read) plus a scratch corpus in a temp dir, one
#   target at a time (one core). The whole script aims to finish within FUZZ_SMOKE_BUDGET
#   seconds (default 230) including the cargo-fuzz install and the build: when those were
#   slow, the remaining time is shared among the targets (never below 3 s each).
# - A crash/timeout/OOM fails the run; the reproducer is kept in kmod/proto/fuzz/artifacts/.
#
# Environment: FUZZ_SMOKE_SECS (per target), FUZZ_SMOKE_BUDGET (whole run),
# FUZZ_SMOKE_TARGETS (space-separated subset).
# Ends with "fuzz-smoke: N passed, M failed"; exit status 0 only if nothing failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FUZZ="$ROOT/kmod/proto/fuzz"
SECS="${FUZZ_SMOKE_SECS:-10}"
BUDGET="${FUZZ_SMOKE_BUDGET:-230}"
# rustup's cargo and cargo-fuzz live here; never let Debian's /usr/bin/cargo win for host work.
if [ -d "$HOME/.cargo/bin" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

t0=$(date +%s)
elapsed() { echo $(( $(date +%s) - t0 )); }

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    s=$(date +%s)
    cargo install cargo-fuzz --locked --quiet
    echo "fuzz-smoke: cargo-fuzz installed in $(( $(date +%s) - s )) s"
fi
echo "fuzz-smoke: $(cargo fuzz --version), $(rustc --version)"

cd "$FUZZ"
s=$(date +%s)
cargo fuzz build -s none -a
echo "fuzz-smoke: targets built in $(( $(date +%s) - s )) s"

BIN="$FUZZ/target/x86_64-unknown-linux-gnu/release"
if [ -n "${FUZZ_SMOKE_TARGETS:-}" ]; then
    read -r -a targets <<<"$FUZZ_SMOKE_TARGETS"
else
    mapfile -t targets < <(cargo fuzz list)
fi
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz-smoke: no targets"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
remaining=${#targets[@]}
for t in "${targets[@]}"; do
    # Share what is left of the budget (about 1 s per target goes to start-up).
    secs=$(( (BUDGET - $(elapsed)) / remaining - 1 ))
    [ "$secs" -le "$SECS" ] || secs=$SECS
    [ "$secs" -ge 3 ] || secs=3
    remaining=$((remaining - 1))
    seeds="$FUZZ/corpus/$t"
    [ -d "$seeds" ] || { echo "fuzz-smoke: $t: no seed corpus at $seeds"; failed=$((failed + 1)); continue; }
    mkdir -p "$work/$t" "$work/art"
    log="$work/$t.log"
    status=0
    # The scratch dir comes first: libFuzzer writes new inputs there, never into the seeds.
    "$BIN/$t" "$work/$t" "$seeds" \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -artifact_prefix="$work/art/$t-" -print_final_stats=1 >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    nseeds=$(find "$seeds" -type f | wc -l)
    if [ "$status" -eq 0 ]; then
        passed=$((passed + 1))
        echo "fuzz-smoke: $t: ok, ${runs:-?} runs in ${secs} s, ${cov:-cov: ?}, $nseeds seeds"
    else
        failed=$((failed + 1))
        echo "fuzz-smoke: $t: FAILED (exit $status) after ${runs:-?} runs"
        grep -E 'panicked|ERROR|SUMMARY|assertion' "$log" | head -20 || true
        mkdir -p "$FUZZ/artifacts/$t"
        for a in "$work"/art/"$t"-*; do
            [ -e "$a" ] || continue
            cp "$a" "$FUZZ/artifacts/$t/"
            echo "fuzz-smoke: reproducer kept: kmod/proto/fuzz/artifacts/$t/$(basename "$a")"
            echo "fuzz-smoke: rerun: (cd kmod/proto/fuzz && cargo fuzz run -s none -a $t artifacts/$t/$(basename "$a"))"
        done
    fi
done

echo "fuzz-smoke: finished in $(elapsed) s"
echo "fuzz-smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
