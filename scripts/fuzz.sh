#!/usr/bin/env bash
# Fuzzes every target of the cargo-fuzz project in fuzz/ for a bounded time
# and writes fuzz/summary.tsv (target, seconds, runs, crashes, corpus; a
# header line first), which scripts/reliability.sh reads. Exit 0: no target
# crashed; 1: a target crashed (its input is in fuzz/artifacts/<target>/;
# it becomes a fixed bug and a regression test, see docs/fuzzing.md);
# 2: the build or a run failed.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60)
#   env FUZZ_TARGETS     targets to run, space-separated (default: all,
#                        from `cargo fuzz list`)
#   env FUZZ_SANITIZER   none (default) or address; see below
#   env FUZZ_MAX_LEN     longest input libFuzzer generates (default 8192)
#   env CARGO_BUILD_JOBS as for cargo: the build's parallelism
#
# The stable toolchain: cargo-fuzz instruments with `-Cpasses=sancov-module`
# and `-Cllvm-args=-sanitizer-coverage-*`, which stable rustc accepts; only
# its default sanitizer (`-Zsanitizer=address`) is nightly-only. So the
# default here is `-s none` (`--sanitizer none`): libFuzzer with coverage,
# comparison tracing, no sanitizer, no RUSTC_BOOTSTRAP. A crash is then a
# panic: an index out of range, an `expect`, a failed check of the target,
# or (with `-a`, debug assertions, always passed here) an integer overflow.
# The workspace forbids `unsafe`, so AddressSanitizer would only watch the
# dependencies' unsafe code; FUZZ_SANITIZER=address gets it anyway, by
# letting stable rustc take `-Zsanitizer` with RUSTC_BOOTSTRAP=1 (the ASan
# runtime ships with the stable x86_64 Linux toolchain). That is an
# unsupported escape hatch, so it is opt-in and never the default.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a C++ compiler (for
# libFuzzer). One libFuzzer process at a time (no -jobs/-fork): the machine
# is shared. New corpus entries land in fuzz/corpus/<target>/ beside the
# committed seed-* files (git ignores them); logs in fuzz/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
case "$seconds" in
'' | *[!0-9]*)
  echo "fuzz.sh: SECONDS_PER_TARGET must be a whole number, got \`$seconds\`" >&2
  exit 2
  ;;
esac
sanitizer=${FUZZ_SANITIZER:-none}
max_len=${FUZZ_MAX_LEN:-8192}
case "$sanitizer" in
none) ;;
address) export RUSTC_BOOTSTRAP=1 ;;
*)
  echo "fuzz.sh: FUZZ_SANITIZER must be none or address, got \`$sanitizer\`" >&2
  exit 2
  ;;
esac
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz is missing (cargo install cargo-fuzz)" >&2
  exit 2
fi

# -s: the sanitizer (see above); -a: debug assertions, so overflows panic.
flags=(-s "$sanitizer" -a)
if ! cargo fuzz build "${flags[@]}"; then
  echo "fuzz.sh: build failed" >&2
  exit 2
fi
read -r -a targets <<<"${FUZZ_TARGETS:-$(cargo fuzz list | tr '\n' ' ')}"

mkdir -p fuzz/logs
summary=fuzz/summary.tsv
printf 'target\tseconds\truns\tcrashes\tcorpus\n' >"$summary"
status=0
# Crash, out-of-memory, timeout and leak inputs (not slow units).
count_artifacts() {
  find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' \
    -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l
}
for target in "${targets[@]}"; do
  corpus=fuzz/corpus/$target
  artifacts=fuzz/artifacts/$target
  log=fuzz/logs/$target.log
  mkdir -p "$corpus" "$artifacts"
  before=$(count_artifacts)
  echo "fuzz.sh: $target for ${seconds}s" >&2
  start=$(date +%s)
  rc=0
  # -timeout: an input taking 10 s is a hang (classifying 8 KiB takes
  # microseconds); -print_final_stats gives the run count even on a crash.
  cargo fuzz run "${flags[@]}" "$target" "$corpus" -- \
    -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
    -print_final_stats=1 >"$log" 2>&1 || rc=$?
  elapsed=$(($(date +%s) - start))
  crashes=$(($(count_artifacts) - before))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  # The in-memory corpus of libFuzzer's last status line (`corp: N/size`).
  entries=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  printf '%s\t%s\t%s\t%s\t%s\n' "$target" "$elapsed" "${runs:-0}" "$crashes" \
    "${entries:-$(find "$corpus" -type f | wc -l)}" >>"$summary"
  if [ "$crashes" -gt 0 ]; then
    echo "fuzz.sh: $target crashed; input(s) in $artifacts, log $log:" >&2
    grep -m 5 -E "panicked at|ERROR: libFuzzer" "$log" >&2 || true
    status=1
  elif [ "$rc" -ne 0 ]; then
    echo "fuzz.sh: $target failed (exit $rc) without a crash input; see $log" >&2
    tail -n 20 "$log" >&2
    if [ "$status" -eq 0 ]; then status=2; fi
  fi
done
column -t -s $'\t' "$summary" >&2 || cat "$summary" >&2
exit "$status"
