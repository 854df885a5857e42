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

# shellcheck source=lib/bench.sh
source scripts/lib/bench.sh
bench_prepare "${LABEL:-reference}"

bench_start
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
# The summary table goes to stdout (kept), the progress to stderr.
"$exe" run --out "$out" "$@" | tee "$summary"
bench_finish
cp "$summary" "$out/summary.txt"

extra=""
matrix="The default matrix: every transport, the default clients, rate and payload"
if [ $# -gt 0 ]; then
  extra=" $*"
  matrix="The default matrix changed by \`$*\`"
fi
# The summary table, as report.md has it.
table=$(bench_section "$out/report.md" Summary)

cat >"$out/README.md" <<EOF
# Reference run, $(date -u +%F)

Made by \`scripts/reference-run.sh${extra}\`, which ran (from the repository root):

\`\`\`sh
cargo build --release -p pushbench-cli
${exe} run --out ${out}${extra}
\`\`\`

${matrix} (the scenario is listed in [report.md](report.md)), against an
embedded \`pushbench serve\` child process on a loopback port.

$(bench_machine_md)

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
