# Shared by the scripts that write a bench-results/<UTC date>-<label>/
# folder: the release build, the folder, and the README's machine and
# versions sections. Source it from the repository root.
#
#   bench_prepare LABEL   sets $out (refusing to replace it unless FORCE=1)
#                         and $exe (the release binary, built first);
#                         env BENCH_ROOT puts the folder elsewhere than
#                         bench-results/ (a smoke run's scratch folder);
#                         env PUSHBENCH_BIN names a prebuilt binary to use
#                         instead (a smoke run's debug build)
#   bench_start / bench_finish
#                         record the time and load average around the run
#   bench_machine_md      prints the "## Machine" and "## Versions" sections
#   bench_section FILE H  prints the "## H" section of a Markdown FILE
#   bench_run ARGS...     runs the binary, keeping summary.txt and run.log
#   bench_env VAR...      sets $command_env to the script's settings that
#                         came from the environment (VAR="value" each)
#   bench_command_md ...  prints the README's "Made by" paragraph (with
#                         $command_env before the command)

# Sets $tree_commit (HEAD) and $tree_dirty (how many files under crates/
# and Cargo.* differ from it).
bench_tree_state() {
  tree_commit=$(git rev-parse HEAD)
  tree_dirty=$(git status --porcelain --untracked-files=no -- crates Cargo.toml Cargo.lock | wc -l)
}

bench_prepare() {
  out=${BENCH_ROOT:-bench-results}/$(date -u +%F)-$1
  if [ -e "$out" ]; then
    if [ "${FORCE:-}" != 1 ]; then
      echo "$0: $out exists (FORCE=1 replaces it)" >&2
      exit 1
    fi
    rm -r "$out"
  fi
  # The tree the binary is built from, as the run starts: files edited
  # while it runs are not in it.
  bench_tree_state
  if [ -n "${PUSHBENCH_BIN:-}" ]; then
    exe=$PUSHBENCH_BIN
  else
    cargo build --release -q -p pushbench-cli
    exe=${CARGO_TARGET_DIR:-target}/release/pushbench
  fi
  mkdir -p "$out"
}

bench_start() {
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  started=$(date -u +%FT%TZ)
}

bench_finish() {
  finished=$(date -u +%FT%TZ)
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
}

bench_machine_md() {
  local cpu mem commit dirty
  # The model name alone can be as vague as "AMD EPYC" in a VM: family,
  # model and stepping say which generation (as results.json's machine.cpu).
  cpu=$(awk -F': *' '
    $1 ~ /^model name/ && !name { name = $2 }
    $1 ~ /^cpu family/ && !family { family = $2 }
    $1 ~ /^model[ \t]*$/ && !model { model = $2 }
    $1 ~ /^stepping/ && !stepping { stepping = $2 }
    END { printf "%s (family %s, model %s, stepping %s)", name, family, model, stepping }
  ' /proc/cpuinfo)
  mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
  [ -n "${tree_commit:-}" ] || bench_tree_state
  commit=$tree_commit
  dirty=$tree_dirty
  if [ "$dirty" -gt 0 ]; then
    commit="$commit (plus $dirty uncommitted changed files under crates/, Cargo.*)"
  fi
  cat <<EOT
## Machine

| what | value |
|---|---|
| CPUs (\`nproc\`) | $(nproc) |
| CPU | ${cpu} |
| memory | ${mem} |
| kernel | $(uname -sr) |
| open files (soft / hard) | $(ulimit -Sn) / $(ulimit -Hn) |
| load average before / after | ${load_before} / ${load_after} |
| started / finished (UTC) | ${started} / ${finished} |

## Versions

| what | version |
|---|---|
| rustc | $(rustc -V) |
| cargo | $(cargo -V) |
| pushbench | $("$exe" --version) |
| git commit | ${commit} |
EOT
}

bench_section() {
  awk -v h="## $2" '$0 == h {on = 1; next} on && /^## / {exit} on' "$1"
}

# bench_run ARGS...: runs `$exe ARGS...` between bench_start and
# bench_finish; stdout is kept in summary.txt, stderr in run.log (both also
# shown).
bench_run() {
  ran=("$@")
  bench_start
  "$exe" "$@" 2> >(tee "$out/run.log" >&2) | tee "$out/summary.txt"
  bench_finish
}

# bench_env VAR...: the settings among VAR... that came from the
# environment, for the README's command (so it names the folder's LABEL
# and every other setting the run took).
bench_env() {
  command_env=
  local v
  for v in "$@"; do
    [ -n "${!v:-}" ] && command_env+="${command_env:+ }$v=\"${!v}\""
  done
  return 0
}

# bench_command_md SCRIPT_ARGS...: the README's "Made by" paragraph with the
# commands bench_run ran (after $prelude, when set).
bench_command_md() {
  cat <<EOT
Made by \`${command_env:+$command_env }scripts/$(basename "$0")${*:+ $*}\`, which ran (from the repository root):

\`\`\`sh
${prelude:+$prelude
}cargo build --release -p pushbench-cli
${exe} ${ran[*]}
\`\`\`
EOT
}
