#!/usr/bin/env bash
# The reference run: a release build, `pushbench run` with the default matrix
# (every transport, the default clients, rate and payload) into
# bench-results/<UTC date>-reference/, then that folder's README.md naming
# the exact command, the machine, the versions and the summary table.
#
# Usage: scripts/reference-run.sh [extra `pushbench run` flags...]
#   env CARGO_TARGET_DIR   where cargo builds (default: target)
#   env LABEL              folder suffix (default: reference)
#   env FORCE=1            replace an existing folder of the same name
# Run it on an otherwise quiet machine: the latency and CPU figures share
# the cores with whatever else runs (the README records the load average).
set -euo pipefail
cd "$(dirname "$0")/.."

label=${LABEL:-reference}
out=bench-results/$(date -u +%F)-$label
if [ -e "$out" ]; then
  if [ "${FORCE:-}" != 1 ]; then
    echo "reference-run: $out exists (FORCE=1 replaces it)" >&2
    exit 1
  fi
  rm -r "$out"
fi

cargo build --release -q -p pushbench-cli
exe=${CARGO_TARGET_DIR:-target}/release/pushbench

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%FT%TZ)
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
# The summary table goes to stdout (kept), the progress to stderr.
"$exe" run --out "$out" "$@" | tee "$summary"
finished=$(date -u +%FT%TZ)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cp "$summary" "$out/summary.txt"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
commit=$(git rev-parse HEAD)
dirty=$(git status --porcelain --untracked-files=no -- crates Cargo.toml Cargo.lock | wc -l)
if [ "$dirty" -gt 0 ]; then
  commit="$commit (plus $dirty uncommitted changed files under crates/, Cargo.*)"
fi
extra=""
matrix="The default matrix: every transport, the default clients, rate and payload"
if [ $# -gt 0 ]; then
  extra=" $*"
  matrix="The default matrix changed by \`$*\`"
fi
# The summary table, as report.md has it.
table=$(awk '/^## Summary/ {on = 1; next} on && /^## / {exit} on' "$out/report.md")

cat >"$out/README.md" <<EOF
# Reference run, $(date -u +%F)

Made by \`scripts/reference-run.sh${extra}\`, which ran (from the repository root):

\`\`\`sh
cargo build --release -p pushbench-cli
${exe} run --out ${out}${extra}
\`\`\`

${matrix} (the scenario is listed in [report.md](report.md)), against an
embedded \`pushbench serve\` child process on a loopback port.

## Machine

| what | value |
|---|---|
| CPUs (\`nproc\`) | $(nproc) |
| CPU | ${cpu} |
| memory | ${mem} |
| kernel | $(uname -sr) |
| load average before / after | ${load_before} / ${load_after} |
| started / finished (UTC) | ${started} / ${finished} |

## Versions

| what | version |
|---|---|
| rustc | $(rustc -V) |
| cargo | $(cargo -V) |
| pushbench | $("$exe" --version) |
| git commit | ${commit} |

## Summary
${table}

![bytes per event](bytes_per_event.svg)

Charts: [bytes per event](bytes_per_event.svg), [overhead](overhead.svg),
[latency percentiles](latency_percentiles.svg),
[bandwidth versus clients](bandwidth_vs_clients.svg) (PNG beside each).
Full report: [report.md](report.md), [report.html](report.html). Raw data:
[results.json](results.json), [results.csv](results.csv), the
HdrHistogram logs \`latency-*.hlog\`, and the terminal summary
[summary.txt](summary.txt).
EOF
echo "reference-run: wrote $out"
