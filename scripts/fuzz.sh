#!/usr/bin/env bash
# Fuzzes every door hostile input comes through, each target for a bounded time, and fails if
# any target finds an input that panics, breaks an invariant, hangs or exhausts memory.
#
#   scripts/fuzz.sh                       every target, FUZZ_SECONDS (15) each
#   FUZZ_SECONDS=300 scripts/fuzz.sh epcis sync_request
#
# FUZZ_SEED (1) seeds libFuzzer's mutations, so a run's sequence of inputs is repeatable (how
# far it gets in the time allowed depends on the machine). Each target starts from its seeds in
# fuzz/corpus/<target>/ (committed; never written to here) and keeps what it finds in a scratch
# directory. A crash leaves its input in fuzz/artifacts/<target>/: fix the product, then commit
# that input to fuzz/regressions/<target>/, which the crates' `cargo test` replays
# (ledger/tests/fuzz_inputs.rs, sync/tests/fuzz_inputs.rs, hub/tests/fuzz_inputs.rs).
#
# Build choices, for a cold build that fits a CI step on two cores:
# - No sanitizer (`-s none`). AddressSanitizer finds memory errors in unsafe code; the
#   project's crates forbid unsafe code, the C libraries (SQLite, zstd, aws-lc) are not
#   instrumented by it anyway, and it roughly doubles both the build and each run. What this
#   looks for (panics, failed assertions, arithmetic overflow: debug assertions and overflow
#   checks stay on, as cargo-fuzz builds by default) needs none.
# - 16 codegen units instead of cargo-fuzz's default of one: a much shorter build of the
#   larger crates (automerge, rxing, the hub's HTTP and TLS stack) for slightly slower runs.
# - fuzz/Cargo.toml's release profile optimises at level 1, not 3, and keeps line tables only:
#   30% less CPU for the cold build, for runs somewhat slower than they could be.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-15}"
seed="${FUZZ_SEED:-1}"
# The stable toolchain builds the sanitizer-coverage instrumentation cargo-fuzz asks for.
export RUSTC_BOOTSTRAP=1
build=(-s none --codegen-units 16)

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

start=$(date +%s)
echo "fuzz: building ${#targets[@]} targets"
cargo fuzz build "${build[@]}"
echo "fuzz: built in $(( $(date +%s) - start )) s; ${seconds} s per target, seed ${seed}"

scratch="$(mktemp -d)"
# The targets' ledgers and registries, in memory where there is room for them; a fuzz run ends
# without dropping them, so they are removed here.
fixtures="$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)"
export CUSTODIAN_FUZZ_SCRATCH="$fixtures"
trap 'rm -rf "$scratch" "$fixtures"' EXIT
failed=()
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target" "fuzz/artifacts/$target"
  log="$scratch/$target.log"
  if cargo fuzz run "${build[@]}" "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -seed="$seed" -timeout=30 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$target/" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    final=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || true)
    echo "fuzz: $target: ${runs:-?} runs, ${final:-no coverage line}, no crash"
  else
    echo "fuzz: $target FAILED; the end of its log:"
    tail -n 40 "$log"
    ls -1 "fuzz/artifacts/$target"/* 2>/dev/null | sed 's/^/fuzz:   input: /' || true
    failed+=("$target")
  fi
done

echo "fuzz: every target in $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
  exit 1
fi
