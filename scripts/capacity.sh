#!/usr/bin/env bash
# Capacity: the highest event rate each transport sustains on this machine
# (100 clients, 128-byte payloads; doubling, then bisecting, one fresh
# server per rate), then latency at 50 % and 90 % of it. Writes
# bench-results/<UTC date>-capacity/ with the results, the report, the
# capacity chart and a README naming the command, machine and versions.
#
# Usage: scripts/capacity.sh [extra `pushbench capacity` flags...]
#   env FORCE=1   replace an existing folder of the same name
#   env LABEL     folder suffix (default: capacity)
# Run it on an otherwise quiet machine: server and load generator share
# the cores, and the limit found is the machine's, for both together.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/bench.sh
source scripts/lib/bench.sh
bench_prepare "${LABEL:-capacity}"

bench_run capacity --out "$out" --clients 100 --duration 5 --warmup 1 --load-duration 10 "$@"

cat >"$out/README.md" <<EOT
# Capacity, $(date -u +%F)

$(bench_command_md "$@")

For each transport, phases of 100 clients at rising event rates against a
fresh \`pushbench serve\` child per rate (doubling from 20 ev/s, then three
bisection steps); a rate is sustained when its phase missed, duplicated and
reordered nothing, had no client errors, delivered at least 98 % of the
window's events within it (short polling: less one poll interval's share),
and kept p99 under 100 ms (short polling: plus its 250 ms interval). Then
10-second phases at 50 % and 90 % of the highest sustained rate. Every
step's verdict is in [run.log](run.log) and \`results.json\` (\`capacity\`).

$(bench_machine_md)

## Capacity
$(bench_section "$out/report.md" Capacity)

![capacity](capacity.svg)

## Connections
$(bench_section "$out/report.md" Connections)

Full report: [report.md](report.md), [report.html](report.html). Raw data:
[results.json](results.json), [results.csv](results.csv), the HdrHistogram
logs \`latency-*.hlog\`, and the terminal summary [summary.txt](summary.txt).
EOT
echo "capacity: wrote $out"
