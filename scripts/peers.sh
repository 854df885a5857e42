#!/usr/bin/env bash
# Peers: pushbench side by side with the tools people use instead, in one
# run (`pushbench peers`): short polling as fast as possible against /poll
# by pushbench's client, wrk and h2load --h1 (same connections, alternating
# rounds), and WebSocket fan-out by the same pushbench load against
# `pushbench serve`, a Node `ws` broadcast server and a Bun.serve pub/sub
# one (scripts/peers/).
# Writes bench-results/<UTC date>-peers/: peers.json, peers.md, the ratio
# chart, every pushbench run behind the figures, the tools' raw output, and
# a README naming the command, machine and versions.
#
# Needs: wrk and h2load (apt-get install wrk nghttp2-client), node and npm
# (the `ws` and `bun` packages, bun's binary with it, are installed here
# from the npm registry, as locked).
# Usage: scripts/peers.sh [extra `pushbench peers` flags...]
#   env FORCE=1   replace an existing folder of the same name
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/bench.sh
source scripts/lib/bench.sh
npm ci --prefix scripts/peers --no-audit --no-fund --silent
bench_prepare "${LABEL:-peers}"

prelude="npm ci --prefix scripts/peers"
bench_run peers --out "$out" "$@"

cat >"$out/README.md" <<EOT
# pushbench beside its peers, $(date -u +%F)

$(bench_command_md "$@")

$(bench_machine_md)
| wrk | $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2) |
| h2load | $(h2load --version | head -1) |
| node | $(node --version) |
| ws (npm) | $(node -p "require('./scripts/peers/node_modules/ws/package.json').version") |
| bun (npm) | $(scripts/peers/node_modules/.bin/bun --version) |

## Comparisons

$(sed -n '/^| comparison/,/^$/p' "$out/peers.md")

![ratios](peers.svg)

How each figure was measured, round by round: [peers.md](peers.md). Raw
data: [peers.json](peers.json), the tools' output in [logs/](logs/), each
pushbench run in its own folder (results.json, report.md), the progress
log [run.log](run.log).
EOT
echo "peers: wrote $out"
