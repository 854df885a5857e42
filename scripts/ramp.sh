#!/usr/bin/env bash
# Connection ramp: how fast one `pushbench serve` accepts connections.
# Every client of a phase connects at once (zero ramp-up), 1,000, 5,000 and
# 10,000 clients per transport; "all connected after" is the time until the
# last client had its first session (for WebSocket, its upgrade), and
# connections/s that count over that time. Writes
# bench-results/<UTC date>-ramp/ with a README (command, machine, versions).
#
# Usage: scripts/ramp.sh [extra `pushbench run` flags...]
#   env FORCE=1   replace an existing folder of the same name
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/bench.sh
source scripts/lib/bench.sh
bench_prepare "${LABEL:-ramp}"

bench_run run --out "$out" --transports ws,sse,stream,long-poll,short-poll \
  --clients 1000,5000,10000 --rate 1 --ramp-up 0 --warmup 2 --duration 3 "$@"

cat >"$out/README.md" <<EOT
# Connection ramp, $(date -u +%F)

$(bench_command_md "$@")

Every client of a phase is started at once (\`--ramp-up 0\`): the figure is
how fast the server (one \`pushbench serve\` child, its listen backlog and
the kernel's SYN handling) and the load generator together get them all
connected on this machine. Setup is each connection's TCP connect (plus the
WebSocket upgrade); "all connected after" runs from the phase's start to
the last client's first session.

$(bench_machine_md)

## Connections
$(bench_section "$out/report.md" Connections)

## Summary
$(bench_section "$out/report.md" Summary)

Full report: [report.md](report.md). Raw data: [results.json](results.json).
EOT
echo "ramp: wrote $out"
