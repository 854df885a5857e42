#!/usr/bin/env bash
# Servers: `pushbench serve` side by side with the servers people run
# (nginx + Nchan, Pushpin, Socket.IO, Bun, Node + ws), every technique each
# offers, in one run per client count (`pushbench servers`): the highest
# sustained deliveries per second (a capacity search per server and
# technique), and at a common load the bytes per event by class, p50/p99,
# events missed, CPU per delivery and RSS per connection, with the ratios
# of pushbench serve against each server.
# Writes bench-results/<UTC date>-servers/: clients-100/ and, where the
# open-files limit allows it, clients-1000/, each with servers.json,
# servers.md, a chart per technique and of the ratios, and every run in
# its own folder; and a README naming the commands, machine and versions
# of every server.
#
# Needs the servers of scripts/targets/ (.ci/run installs them: nginx-light
# and libnginx-mod-nchan, pushpin, node and npm; the npm packages are
# installed here from the npm registry, as locked). A kind whose start
# script is missing or fails is reported as not measured.
# Usage: scripts/servers.sh [extra `pushbench servers` flags...]
#   env FORCE=1   replace an existing folder of the same name
#   env CLIENTS="100 1000"   the client counts (each its own run)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/bench.sh
source scripts/lib/bench.sh

prelude=""
# node-ws and bun run scripts/peers' relays (ws, and bun's binary from npm).
for dir in scripts/peers/ scripts/targets/*/; do
  if [ -f "$dir/package-lock.json" ]; then
    npm ci --prefix "$dir" --no-audit --no-fund --silent
    prelude="${prelude:+$prelude
}npm ci --prefix ${dir%/}"
  fi
done
bench_prepare "${LABEL:-servers}"
base=$out

# Each client is a socket of pushbench's and one of the server's (its own
# process, with this limit too): 1,000 clients need well over 1,024 files.
hard=$(ulimit -Hn)
commands=()
skipped=()
for clients in ${CLIENTS:-100 1000}; do
  need=$((clients + 256))
  if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    skipped+=("$clients clients: the open-files hard limit is $hard, under the $need they need")
    continue
  fi
  out=$base/clients-$clients
  mkdir -p "$out"
  # The capacity searches (a search per server and technique, about 20)
  # run at the first client count only; the larger counts measure the
  # common load (with --no-capacity, 50 ev/s unless --rate says), which is
  # what they are for: bytes, latency, CPU and memory per connection at
  # scale. A search at 1,000 clients would take about an hour here.
  scope=()
  [ "$clients" = "${CLIENTS_FIRST:=$clients}" ] || scope=(--no-capacity)
  # A run that stops early still writes what it measured: keep going.
  if ! bench_run servers --clients "$clients" --out "$out" "${scope[@]}" "$@"; then
    skipped+=("$clients clients: \`pushbench servers\` failed (see clients-$clients/run.log)")
  fi
  commands+=("$exe ${ran[*]}")
done
out=$base

version_of() { "$@" 2>&1 | head -1 || true; }
package_version() {
  node -p "require('./$1/package.json').version" 2>/dev/null || echo "not installed"
}
bun_exe=${BUN:-$(ls scripts/peers/node_modules/.bin/bun 2>/dev/null || true)}

cat >"$out/README.md" <<EOT
# pushbench serve beside the servers people run, $(date -u +%F)

Made by \`scripts/$(basename "$0")${*:+ $*}\`, which ran (from the repository root):

\`\`\`sh
${prelude:+$prelude
}cargo build --release -p pushbench-cli
$(printf '%s\n' "${commands[@]}")
\`\`\`
$(for s in "${skipped[@]}"; do printf '\nNot run: %s.\n' "$s"; done)

$(bench_machine_md)
| nginx | $(version_of nginx -v) |
| libnginx-mod-nchan (Debian) | $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo "not installed") |
| pushpin | $(version_of pushpin --version) |
| node | $(version_of node --version) |
| socket.io (npm) | $(package_version scripts/targets/socketio/node_modules/socket.io) |
| ws (npm) | $(package_version scripts/peers/node_modules/ws) |
| bun | $(if [ -n "$bun_exe" ]; then version_of "$bun_exe" --version; else echo "not installed"; fi) |

$(for dir in "$out"/clients-*/; do
  [ -f "$dir/servers.md" ] || continue
  name=$(basename "$dir")
  printf '## %s\n\n' "${name/clients-/} clients"
  bench_section "$dir/servers.md" "pushbench serve against each server"
  printf '\n![ratios](%s/servers-ratios.svg)\n\n' "$name"
  printf 'Every technique and server, how it was measured and each run: [%s/servers.md](%s/servers.md); raw data [%s/servers.json](%s/servers.json), the progress log %s/run.log.\n\n' \
    "$name" "$name" "$name" "$name" "$name"
done)
EOT
echo "servers: wrote $out"
