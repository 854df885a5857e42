#!/usr/bin/env bash
# Shards as load hosts of their own, and a merged run against one process.
#
# Starts one `pushbench serve` and runs the same scenario twice against it:
#   1. as N shards (`run --segment I/N --start-at T`), each in a network
#      namespace of its own joined to the host by a veth pair (its own
#      address, so its own ephemeral ports), then `pushbench merge`d;
#   2. as one process (`run --segment 0/1`, the same schedule and clients),
#      from the first shard's namespace;
# then `pushbench compare --equivalence` judges whether the merged run
# measured what the one process did (docs/scaling.md, "Is a merged run the
# same as one process?").
#
# Needs root for the namespaces. Without root it says so and falls back
# to loopback: the shards run on the host, their clients spread over the
# source addresses 127.0.0.1 to 127.0.0.N (--source-addresses N); they
# share the host's ports, which is what the namespaces avoid.
#
# Writes bench-results/<UTC date>-shards/: shard-I/ (each shard's
# results.json and histogram logs), merged/ (the merged result and its
# report), single/ (the 1-process run), equivalence.md (the comparison),
# and a README naming the commands, machine, versions, each shard's
# address and clock offset, and the verdicts.
#
# Usage: scripts/shards.sh [--shards N] [--clients C] [--transports LIST]
#                          [--rate R] [--duration S] [-- extra `run` flags...]
#   defaults: 4 shards, 2000 clients, sse,ws, 20 events/s, 10 s measured
#   env FORCE=1        replace an existing folder of the same name
#   env LABEL          folder suffix (default: shards)
#   env BENCH_ROOT     parent folder (default: bench-results)
#   env PUSHBENCH_BIN  a prebuilt binary instead of the release build
#   env NO_NETNS=1     the loopback fallback even as root
set -euo pipefail
cd "$(dirname "$0")/.."

shards=4 clients=2000 transports=sse,ws rate=20 duration=10
args=("$@")
while [ $# -gt 0 ]; do
  case $1 in
    --shards) shards=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --transports) transports=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "$0: unknown option $1 (see the usage at the top of $0)" >&2; exit 2 ;;
  esac
done
extra=("$@")
for n in "$shards" "$clients"; do
  case $n in '' | *[!0-9]* | 0) echo "$0: --shards and --clients take a whole number above 0, got '$n'" >&2; exit 2 ;; esac
done
if [ "$shards" -gt 250 ]; then
  echo "$0: --shards is at most 250 (one address block each)" >&2
  exit 2
fi

# shellcheck source=lib/bench.sh
source scripts/lib/bench.sh
bench_prepare "${LABEL:-shards}"

# What this script made, removed on any exit.
namespaces=() interfaces=() server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  for dev in "${interfaces[@]}"; do ip link del "$dev" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The namespaces: named as pushbench's own links name theirs
# (pushbench-<pid>-<n>-c, host end pb<pid>-<n>h), so a later run's stale
# cleanup removes what a killed one left; one /30 each in 10.213.0.0/16,
# skipping blocks the host already uses.
mode=loopback
if [ "$(id -u)" = 0 ] && [ "${NO_NETNS:-}" != 1 ] && command -v ip >/dev/null; then
  mode=netns
fi
inside=() host_end=()
if [ "$mode" = netns ]; then
  used=$(ip -o -4 addr show; ip -4 route show table all)
  block=$(( ($$ * 977) % 8192 ))
  for ((i = 0; i < shards; i++)); do
    while :; do
      third=$(( (block % 8192) / 32 )) fourth=$(( (block % 32) * 8 ))
      block=$((block + 1))
      taken=0
      for ((k = 0; k < 8; k++)); do
        grep -qE "10\.213\.$third\.$((fourth + k))([/ ]|$)" <<<"$used" && taken=1
      done
      [ "$taken" = 0 ] && break
    done
    ns=pushbench-$$-$i-c dev=pb$$-${i}h
    host_end+=("10.213.$third.$((fourth + 5))") inside+=("10.213.$third.$((fourth + 6))")
    ip netns add "$ns"
    namespaces+=("$ns")
    ip -n "$ns" link set lo up
    ip link add "$dev" type veth peer name pbctl netns "$ns"
    interfaces+=("$dev")
    ip addr add "${host_end[i]}/30" dev "$dev"
    ip link set "$dev" up
    ip -n "$ns" addr add "${inside[i]}/30" dev pbctl
    ip -n "$ns" link set pbctl up
  done
  server_ip=${host_end[0]}
  for ((i = 1; i < shards; i++)); do
    ip -n "${namespaces[i]}" route add "$server_ip/32" via "${host_end[i]}"
  done
  in_shard() { ip netns exec "${namespaces[$1]}" "${@:2}"; }
  source_flags=()
else
  echo "$0: not root (or NO_NETNS=1): no network namespaces; the shards run on" \
    "the host over loopback, their clients spread over 127.0.0.1 to 127.0.0.$shards" >&2
  server_ip=127.0.0.1
  in_shard() { "${@:2}"; }
  source_flags=(--source-addresses "$shards")
fi

# The server, on the first namespace's host end (or loopback).
serve=(serve --addr "$server_ip:0" --rate "$rate" --payload 64)
coproc SERVER { exec "$exe" "${serve[@]}" 2>"$out/serve.log"; }
server_pid=$SERVER_PID
read -r first_line <&"${SERVER[0]}"
target=${first_line#pushbench listening on }
case $target in http://*) ;; *) echo "$0: serve said '$first_line'" >&2; exit 1 ;; esac

scenario=(--target "$target" --clients "$clients" --transports "$transports"
  --duration "$duration" --warmup 2 --ramp-up 5 "${source_flags[@]}" "${extra[@]}")
# Every shard starts its phases on this schedule (server clock; one host
# here, so one clock): far enough ahead for N processes to start.
start_in() { echo $(($(date +%s) + $1)); }

bench_start
start_at=$(start_in $((5 + shards)))
pids=()
for ((i = 0; i < shards; i++)); do
  mkdir -p "$out/shard-$i"
  in_shard "$i" "$exe" run "${scenario[@]}" --segment "$i/$shards" --start-at "$start_at" \
    --no-report --out "$out/shard-$i" --wire-log "$out/shard-$i/wire.jsonl" \
    >"$out/shard-$i.log" 2>&1 &
  pids+=($!)
done
for i in "${!pids[@]}"; do
  wait "${pids[i]}" || { echo "$0: shard $i failed; see $out/shard-$i.log" >&2; exit 1; }
done
"$exe" merge $(for ((i = 0; i < shards; i++)); do echo "$out/shard-$i"; done) \
  --out "$out/merged" >"$out/merge.log" 2>&1

single_start=$(start_in 5)
mkdir -p "$out/single"
in_shard 0 "$exe" run "${scenario[@]}" --segment 0/1 --start-at "$single_start" \
  --out "$out/single" --wire-log "$out/single/wire.jsonl" >"$out/single.log" 2>&1
bench_finish

set +e
# From inside the folder, so the comparison names single/ and merged/.
exe_path=$(realpath "$exe")
(cd "$out" && "$exe_path" compare single merged --equivalence --out equivalence.md \
  >equivalence.txt 2>&1)
same=$?
set -e
if [ "$same" = 0 ]; then
  outcome="every count and byte figure of every phase is the same within its stated allowance"
else
  outcome="some count or byte figure is NOT the same (marked DIFFERS below)"
fi

# Each shard's source addresses as its wire log shows them, and its clock.
shard_rows=$(for ((i = 0; i < shards; i++)); do
  dir=$out/shard-$i
  sources=$(jq -r '.local | sub(":[0-9]+$"; "")' "$dir/wire.jsonl" | sort -u | paste -sd ' ')
  jq -r --arg i "$i/$shards" --arg src "$sources" \
    '"| \($i) | \($src) | \(.clock.offset_us) | \(.clock.uncertainty_us) | \([.phases[].clients] | map(tostring) | join(", ")) | \([.phases[].events.missed] | add) |"' \
    "$dir/results.json"
done)

cat >"$out/README.md" <<EOT
# $shards shards $([ "$mode" = netns ] && echo "in network namespaces" || echo "over loopback") against one process, $(date -u +%F)

Made by \`scripts/shards.sh${args[*]:+ ${args[*]}}\`: one \`pushbench serve\`
(\`${serve[*]}\`), $shards shards of \`pushbench run ${scenario[*]}\`
(\`--segment I/$shards --start-at T\`, $(
  [ "$mode" = netns ] && echo "each in a network namespace of its own joined to the host by a veth pair" \
    || echo "on the host over loopback, the clients spread over 127.0.0.1 to 127.0.0.$shards: **no namespaces** (not root, or NO_NETNS=1)"
)), \`pushbench merge\`d into [merged/](merged/), then the same scenario
as one process (\`--segment 0/1\`) into [single/](single/), then
\`pushbench compare single merged --equivalence\`.

$(bench_machine_md)

## Shards

| segment | source addresses (wire log) | clock offset µs | uncertainty µs | clients per phase | missed |
|---|---|---|---|---|---|
$shard_rows

The server listened on \`$target\`.

## Merged against one process

Outcome: $outcome.

$(cat "$out/equivalence.md")

What each allowance means and why: docs/scaling.md, "Is a merged run the
same as one process?". Raw data: each folder's results.json and
histogram logs, the logs (*.log), the plain-text table
[equivalence.txt](equivalence.txt).
EOT
echo "shards: wrote $out ($mode)"
