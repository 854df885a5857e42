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
# Then, with the same serve flags, `pushbench capacity --transports
# ws,sse,stream` (folder transports/): how close SSE and HTTP streaming
# come to the WebSocket's fan-out on the same server, in ROUNDS rounds
# (default 2: transports/, transports-2/, ...), as the capacity search
# moves by a tenth or more between runs minutes apart. It bisects five
# times (--refine 5) after doubling: its last step is 1/32 of the span the
# doubling left, 3 % of the rate or less, fine enough to tell 10 % apart.
# Its ceiling is 200,000 ev/s (env TRANSPORTS_MAX_RATE): at 100,000 the
# WebSocket held the ceiling itself (peers-4), which capped the figure
# SSE and streaming are compared with.
# Usage: scripts/peers.sh [extra `pushbench peers` flags...]
#   env FORCE=1   replace an existing folder of the same name
#   env SERVE_ARGS  flags of the measured `pushbench serve` (default
#                 `--workers 1`: one thread, as the Node and Bun peers run)
#   env TRANSPORTS=0  skip the transports search
#   env ROUNDS=N  rounds of the transports search (default 2)
#   env TRANSPORTS_MAX_RATE  its highest rate, ev/s (default 200000)
#   env KEEP=1    keep today's folder's peers part (peers.json there) and
#                 run only the transports search again
# The commit each part was made at is in commit-peers.txt and
# transports*/commit.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/bench.sh
source scripts/lib/bench.sh
bench_env LABEL SERVE_ARGS TRANSPORTS TRANSPORTS_MAX_RATE ROUNDS KEEP
npm ci --prefix scripts/peers --no-audit --no-fund --silent
prelude="npm ci --prefix scripts/peers"
serve_args=()
for a in ${SERVE_ARGS---workers 1}; do serve_args+=("--serve-arg=$a"); done
kept=bench-results/$(date -u +%F)-${LABEL:-peers}
if [ "${KEEP:-}" = 1 ] && [ -e "$kept/peers.json" ]; then
  # Today's folder already has the peers part: only the transports part
  # runs again (into a fresh transports/).
  out=$kept
  cargo build --release -q -p pushbench-cli
  exe=${CARGO_TARGET_DIR:-target}/release/pushbench
  ran=(peers --out "$out" "${serve_args[@]}" "$@")
  rm -rf "$out"/transports "$out"/transports-*
else
  bench_prepare "${LABEL:-peers}"
  # A missed goal makes `peers` exit 1; the folder is still written.
  bench_run peers --out "$out" "${serve_args[@]}" "$@" || echo "peers: exit $?" >&2
fi
git rev-parse HEAD >"$out/commit-peers.txt.tmp"
[ -e "$out/commit-peers.txt" ] || mv "$out/commit-peers.txt.tmp" "$out/commit-peers.txt"
rm -f "$out/commit-peers.txt.tmp"
# The transports search (the same every round) and its folders, one per
# round.
transports=(capacity --transports ws,sse,stream --clients 100 --payload 128
  --duration 4 --warmup 1 --ramp-up 0.5 --refine 5 --max-p99 100
  --max-rate "${TRANSPORTS_MAX_RATE:-200000}" "${serve_args[@]}")
rounds=()
if [ "${TRANSPORTS:-1}" = 1 ]; then
  for r in $(seq "${ROUNDS:-2}"); do
    dir=transports$([ "$r" = 1 ] || echo "-$r")
    rounds+=("$dir")
    mkdir -p "$out/$dir"
    git rev-parse HEAD >"$out/$dir/commit.txt"
    "$exe" "${transports[@]}" --out "$out/$dir" >"$out/$dir/summary.txt" 2>"$out/$dir/run.log" ||
      echo "peers: the transports search exited $? (see $out/$dir/run.log)" >&2
  done
fi

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

$(for dir in "${rounds[@]}"; do cat <<EOT2
## SSE and HTTP streaming beside WebSocket: $dir/

\`$exe ${transports[*]} --out $out/$dir\` (a fresh server per rate, the same search as
the fan-out's): [$dir/]($dir/report.md)

$(bench_section "$out/$dir/report.md" Capacity)
EOT2
done)

How each figure was measured, round by round: [peers.md](peers.md). Raw
data: [peers.json](peers.json), the tools' output in [logs/](logs/), each
pushbench run in its own folder (results.json, report.md), the progress
log [run.log](run.log).
EOT
echo "peers: wrote $out"
