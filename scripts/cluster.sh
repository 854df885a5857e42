#!/usr/bin/env bash
# Beyond one machine, on one machine: server nodes sharing one event
# stream through Redis (`serve --cluster`), load from shards (`run
# --segment I/N`) merged into one result (`pushbench merge`).
#
# Four parts, each in its own folder of bench-results/<UTC date>-cluster/:
#   fleet/      3 nodes on one Redis, 4 load shards, scenarios/cluster-50k.toml
#               (50,000 concurrent connections per phase, WebSocket then SSE,
#               1 event/s): shard-I/ and merged/ (one result, report included);
#   kill/       the same fleet at scenarios/cluster-kill.toml (WebSocket, SSE,
#               long polling): in each phase the node holding the generator
#               lease is killed (SIGKILL) mid-window and started again 5 s
#               later on its port; its clients resume on the others;
#   backplane/  one node alone against the same node with --cluster (its
#               Redis hop): a capacity search each (WebSocket, 100 clients),
#               then both at one common rate; backplane.json holds the ratios;
#   shards/     scripts/shards.sh: 4 merged shards against one process, the
#               same scenario, judged by `pushbench compare --equivalence`.
# and a README naming the commands, machine and versions.
#
# Needs redis-server (Debian's; .ci/run installs it) and jq. The nodes and
# the shards share this machine's cores: the figures say what one host
# does, the method is what a real cluster runs (docs/scaling.md).
#
# Usage: scripts/cluster.sh
#   env FORCE=1          replace an existing folder of the same name
#   env PARTS="fleet kill backplane shards"   which parts to run
#   env FLEET_SCENARIO / KILL_SCENARIO        other scenario files
#   env SHARDS=4 NODES=3                      the fleet's shape
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/bench.sh
source scripts/lib/bench.sh

for tool in redis-server jq; do
  command -v "$tool" >/dev/null || { echo "$0: \`$tool\` is missing (apt-get install redis-server jq)" >&2; exit 127; }
done
parts=${PARTS:-fleet kill backplane shards}
shards=${SHARDS:-4}
nodes=${NODES:-3}
fleet_scenario=${FLEET_SCENARIO:-scenarios/cluster-50k.toml}
kill_scenario=${KILL_SCENARIO:-scenarios/cluster-kill.toml}
bench_prepare "${LABEL:-cluster}"
base=$out
bench_start

# The nodes this script started (stopped after each part) and Redis:
# stopped on any exit.
pids=() redis_pid=
stop_nodes() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_nodes
  if [ -n "$redis_pid" ]; then kill -TERM "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Redis, once for every part (each part its own key prefix).
coproc REDIS { exec scripts/lib/redis-start 2>"$base/redis.stderr"; }
redis_pid=$REDIS_PID
read -r -t 30 line <&"${REDIS[0]}" || { echo "$0: redis did not start: $(cat "$base/redis.stderr")" >&2; exit 1; }
redis=${line#redis listening on }
redis_version=$(redis-server --version | awk '{print $3}')

# node_start KEY PORT LOG [serve flags...]: starts a cluster node on
# 127.0.0.1:PORT (0: a free one); sets $node_url and $node_pid.
node_start() {
  local key=$1 port=$2 log=$3 fifo
  shift 3
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  "$exe" serve --addr "127.0.0.1:$port" --cluster "$redis" --cluster-key "$key" \
    --rate 1 --payload 128 "$@" >"$fifo" 2>>"$log" &
  node_pid=$!
  pids+=("$node_pid")
  exec {fd}<"$fifo"
  rm -f "$fifo"
  read -r -t 30 line <&"$fd" || { echo "$0: a node did not start: $(tail -5 "$log")" >&2; exit 1; }
  exec {fd}<&-
  node_url=${line#pushbench listening on }
}

# fleet KEY DIR: starts $nodes nodes on key KEY, logging into DIR; sets
# $urls (comma-separated), $node_urls and $node_pids.
fleet() {
  local key=$1 dir=$2 i
  node_urls=() node_pids=()
  for i in $(seq "$nodes"); do
    node_start "$key" 0 "$dir/node-$i.log"
    node_urls+=("$node_url")
    node_pids+=("$node_pid")
  done
  urls=$(IFS=,; echo "${node_urls[*]}")
}

# shards_run DIR SCENARIO START_AT: runs $shards shards of SCENARIO against
# $urls at START_AT (Unix seconds), then merges them into DIR/merged.
shards_run() {
  local dir=$1 scenario=$2 start_at=$3 i failed=0
  local shard_pids=() shard_dirs=()
  for i in $(seq 0 $((shards - 1))); do
    shard_dirs+=("$dir/shard-$i")
    "$exe" run --scenario "$scenario" --target "$urls" --segment "$i/$shards" \
      --start-at "$start_at" --out "$dir/shard-$i" --no-report \
      >"$dir/shard-$i.txt" 2>"$dir/shard-$i.log" &
    shard_pids+=("$!")
  done
  for pid in "${shard_pids[@]}"; do wait "$pid" || failed=1; done
  # A shard that failed half way still wrote what it measured: merge it.
  "$exe" merge "${shard_dirs[@]}" --out "$dir/merged" >"$dir/merged.txt" 2>"$dir/merge.log" || failed=1
  return $failed
}

# The wall-clock schedule of a sharded run (docs/scaling.md, "The shared
# schedule"): phase k starts at start_at + k * slot.
slot_of() {
  awk -F' *= *' '
    BEGIN { ramp = 0.5; warm = 1; dur = 9; poll = 250 }
    $1 == "ramp_up_s" { ramp = $2 } $1 == "warmup_s" { warm = $2 }
    $1 == "duration_s" { dur = $2 } $1 == "poll_interval_ms" { poll = $2 }
    END {
      drain = 2 * poll / 1000; if (drain < 2) drain = 2
      print ramp + 2 + warm + dur + drain + 3, ramp + 2 + warm + dur / 2
    }' "$1"
}
phases_of() {
  sed -n 's/^transports *= *\[\(.*\)\]/\1/p' "$1" | tr ',' '\n' | grep -c .
}
future() { echo $(( $(date +%s) + $1 )); }

status=0
for part in $parts; do
  dir=$base/$part
  mkdir -p "$dir"
  case $part in
    fleet)
      fleet fleet "$dir"
      start_at=$(future 10)
      echo "fleet: $nodes nodes ($urls), $shards shards of $fleet_scenario at $start_at" >&2
      shards_run "$dir" "$fleet_scenario" "$start_at" || status=1
      ;;
    kill)
      fleet kill "$dir"
      start_at=$(future 10)
      read -r slot mid < <(slot_of "$kill_scenario")
      echo "kill: $nodes nodes ($urls), $shards shards of $kill_scenario at $start_at" >&2
      shards_run "$dir" "$kill_scenario" "$start_at" &
      run_pid=$!
      : >"$dir/kills.txt"
      for k in $(seq 0 $(($(phases_of "$kill_scenario") - 1))); do
        at=$(jq -n "$start_at + $k * $slot + $mid")
        sleep "$(jq -n "[($at) - $(date +%s.%N), 0] | max")"
        # The node holding the generator lease: its death also moves the
        # generator (docs/scaling.md).
        victim=0
        for i in "${!node_urls[@]}"; do
          if curl -sf -m 2 "${node_urls[$i]}/stats" | jq -e '.cluster.generator_lease_held == true' >/dev/null; then victim=$i; fi
        done
        port=${node_urls[$victim]##*:}
        kill -KILL "${node_pids[$victim]}"
        echo "phase $k: killed node $((victim + 1)) (${node_urls[$victim]}) at $(date -u +%T.%N)" | tee -a "$dir/kills.txt" >&2
        sleep 5
        node_start kill "$port" "$dir/node-$((victim + 1)).log"
        node_pids[victim]=$node_pid
        echo "phase $k: node $((victim + 1)) started again at $(date -u +%T.%N)" | tee -a "$dir/kills.txt" >&2
      done
      wait "$run_pid" || status=1
      ;;
    backplane)
      # The same node, alone and on Redis: a capacity search each, then
      # both at half the clustered node's highest sustained rate.
      common=(--transports ws --clients 100 --payload 128 --warmup 1 --ramp-up 0.5)
      "$exe" capacity "${common[@]}" --duration 4 --refine 3 --max-p99 100 --no-report \
        --out "$dir/capacity-alone" >"$dir/capacity-alone.txt" 2>"$dir/capacity-alone.log" || status=1
      "$exe" capacity "${common[@]}" --duration 4 --refine 3 --max-p99 100 --no-report \
        --serve-arg=--cluster="$redis" --serve-arg=--cluster-key=backplane-capacity \
        --out "$dir/capacity-cluster" >"$dir/capacity-cluster.txt" 2>"$dir/capacity-cluster.log" || status=1
      rate=$(jq '[.capacity.transports[0].max_rate / 2, 1] | max | floor' "$dir/capacity-cluster/results.json")
      "$exe" run "${common[@]}" --duration 10 --rate "$rate" --no-report \
        --out "$dir/common-alone" >"$dir/common-alone.txt" 2>"$dir/common-alone.log" || status=1
      "$exe" run "${common[@]}" --duration 10 --rate "$rate" --no-report \
        --serve-arg=--cluster="$redis" --serve-arg=--cluster-key=backplane-common \
        --out "$dir/common-cluster" >"$dir/common-cluster.txt" 2>"$dir/common-cluster.log" || status=1
      jq -n --slurpfile ca "$dir/capacity-alone/results.json" --slurpfile cc "$dir/capacity-cluster/results.json" \
        --slurpfile ra "$dir/common-alone/results.json" --slurpfile rc "$dir/common-cluster/results.json" '
        def cap(r): r[0].capacity.transports[0];
        def lat(r): r[0].phases[0].latency_us;
        def cpu(r): r[0].phases[0].derived.server_cpu_us_per_delivery // null;
        {
          transport: "ws", clients: 100,
          capacity: {alone: cap($ca).max_delivered_per_second, cluster: cap($cc).max_delivered_per_second,
                     alone_rate: cap($ca).max_rate, cluster_rate: cap($cc).max_rate},
          common_rate: $rc[0].phases[0].rate,
          latency_us: {alone: {p50: lat($ra).p50, p99: lat($ra).p99, max: lat($ra).max},
                       cluster: {p50: lat($rc).p50, p99: lat($rc).p99, max: lat($rc).max}},
          missed: {alone: $ra[0].phases[0].events.missed, cluster: $rc[0].phases[0].events.missed}
        }
        | .ratios = {
            capacity: (.capacity.cluster / .capacity.alone),
            p50: (.latency_us.cluster.p50 / .latency_us.alone.p50),
            p99: (.latency_us.cluster.p99 / .latency_us.alone.p99)
          }' >"$dir/backplane.json"
      ;;
    shards)
      BENCH_ROOT=$dir LABEL=shards FORCE=1 PUSHBENCH_BIN=$exe scripts/shards.sh --shards "$shards" \
        >"$dir/shards.txt" 2>"$dir/shards.log" || status=1
      ;;
    *) echo "$0: unknown part '$part' (fleet, kill, backplane, shards)" >&2; exit 2 ;;
  esac
  # Stop this part's nodes before the next part.
  stop_nodes
done
bench_finish

{
  echo "# Cluster run, $started"
  echo
  echo "Made by \`scripts/cluster.sh\` (PARTS=\"$parts\", SHARDS=$shards, NODES=$nodes)"
  echo "from the repository root: $nodes \`pushbench serve --cluster\` nodes on one"
  echo "Redis $redis_version (Debian's redis-server, loopback, no persistence),"
  echo "$shards \`pushbench run --segment I/$shards\` shards, merged by \`pushbench merge\`."
  echo "Every command with its flags is in the script; each part's folder"
  echo "keeps every process's output."
  echo
  bench_machine_md
  echo "| redis-server | $redis_version |"
  for part in $parts; do
    echo
    echo "## $part"
    echo
    case $part in
      fleet | kill)
        [ -f "$base/$part/kills.txt" ] && { echo '```'; cat "$base/$part/kills.txt"; echo '```'; echo; }
        echo '```'
        cat "$base/$part/merged.txt" 2>/dev/null || echo "(no merged result: see the logs)"
        echo '```'
        ;;
      backplane)
        echo '```json'
        cat "$base/$part/backplane.json" 2>/dev/null || echo "(no backplane.json: see the logs)"
        echo '```'
        ;;
      shards)
        echo "See [shards/](shards/) (scripts/shards.sh's own README)."
        ;;
    esac
  done
} >"$base/README.md"
echo "wrote $base/README.md" >&2
exit $status
