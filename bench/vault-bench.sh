#!/usr/bin/env bash
# Side-by-side benchmark of the tessera vault against restic and borg.
#
# Usage: bench/vault-bench.sh [--tessera-bin PATH] [--help]
# Environment (all optional):
#   BENCH_SCALE=1          data set size factor (1 = ~1.5 GiB; 0.02 = smoke run)
#   BENCH_DIR=/tmp/tessera-bench   work dir (data, repositories, restores)
#   BENCH_KEEP=0           1 = keep the work dir after the run
#   BENCH_TOOLS="tessera restic borg"   which tools to run (order = run order)
#   BENCH_OUT=bench/out    where vault-bench.json and vault-bench.md go
#   BENCH_SEED=20240601    data set seed (the mutation uses BENCH_SEED+1)
#   BENCH_PHASE_TIMEOUT=3600   seconds before one timed command is killed
#   TESSERA_BIN=build/default/src/cli/tessera
#   TESSERA_N=5 TESSERA_K=3    Reed-Solomon shape for tessera (n stores, threshold k)
# Exit status: 0 when every tool completed every phase and every restore was
# identical (performance targets that are missed do NOT fail the run);
# 1 when a tool failed or a restore differed; 2 on a usage / setup error.
# See bench/README.md for what each number means.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")

usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --tessera-bin) TESSERA_BIN=$2; shift 2 ;;
    --tessera-bin=*) TESSERA_BIN=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "vault-bench: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

BENCH_SCALE=${BENCH_SCALE:-1}
BENCH_DIR=${BENCH_DIR:-/tmp/tessera-bench}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_TOOLS=${BENCH_TOOLS:-"tessera restic borg"}
BENCH_OUT=${BENCH_OUT:-$HERE/out}
BENCH_SEED=${BENCH_SEED:-20240601}
BENCH_PHASE_TIMEOUT=${BENCH_PHASE_TIMEOUT:-3600}
TESSERA_BIN=${TESSERA_BIN:-$REPO/build/default/src/cli/tessera}
TESSERA_N=${TESSERA_N:-5}
TESSERA_K=${TESSERA_K:-3}
BORG_COMPRESSION=${BORG_COMPRESSION:-zstd,3}
RESTIC_COMPRESSION=${RESTIC_COMPRESSION:-auto}

BENCH_NAME=vault-bench
# shellcheck source=bench/bench_lib.sh
. "$HERE/bench_lib.sh"

# ---------------------------------------------------------------- pre-flight
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is missing: apt-get install time"
/usr/bin/time -f '%M' -o /dev/null true 2>/dev/null || die "/usr/bin/time is not GNU time: apt-get install time"
command -v python3 >/dev/null || die "python3 is required"
[[ $TESSERA_BIN = /* ]] || TESSERA_BIN=$PWD/$TESSERA_BIN
case "$BENCH_DIR" in /|/tmp|/tmp/|"") die "refusing BENCH_DIR=$BENCH_DIR" ;; esac
[[ $BENCH_DIR = /* ]] || BENCH_DIR=$PWD/$BENCH_DIR
python3 -c "import sys; s=float(sys.argv[1]); assert 0 < s <= 20" "$BENCH_SCALE" 2>/dev/null \
  || die "BENCH_SCALE must be a number in (0, 20], got '$BENCH_SCALE'"
for t in $BENCH_TOOLS; do
  case "$t" in tessera|restic|borg) ;; *) die "unknown tool in BENCH_TOOLS: $t" ;; esac
done

bench_workdir "$BENCH_DIR" logs meta
mkdir -p "$BENCH_OUT"

DATA=$W/data

# Per-tool environment: keep every cache and config inside the work dir.
export TESSERA_HOME=$W/tessera/home
export RESTIC_PASSWORD=vault-bench-password
export RESTIC_REPOSITORY=$W/restic/repo
export RESTIC_CACHE_DIR=$W/restic/cache
export BORG_PASSPHRASE=vault-bench-password
export BORG_REPO=$W/borg/repo
export BORG_BASE_DIR=$W/borg/base
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_DISPLAY_PASSPHRASE=no
mkdir -p "$TESSERA_HOME" "$W/restic" "$W/borg" "$BORG_BASE_DIR"

TESSERA_STORES=()
for i in $(seq 1 "$TESSERA_N"); do TESSERA_STORES+=("$W/tessera/store$i"); done

declare -A TOOL_OK=()
for t in $BENCH_TOOLS; do TOOL_OK[$t]=1; done

repo_paths() {
  case "$1" in
    tessera) printf '%s\n' "${TESSERA_STORES[@]}" ;;
    restic) echo "$RESTIC_REPOSITORY" ;;
    borg) echo "$BORG_REPO" ;;
  esac
}
local_paths() {
  case "$1" in
    tessera) echo "$TESSERA_HOME" ;;
    restic) echo "$RESTIC_CACHE_DIR" ;;
    borg) echo "$BORG_BASE_DIR" ;;
  esac
}
du_sum() {  # sum of du -sb over existing paths given on stdin
  local total=0 p n
  while read -r p; do
    [[ -e $p ]] || continue
    n=$(du -sb "$p" | cut -f1)
    total=$((total + n))
  done
  echo "$total"
}

# the fields of record: TOOL PHASE STATUS RC WALL USER SYS RSS_KB REPO_BEFORE REPO_AFTER LOCAL_AFTER SYNC_S NOTE

# measure TOOL PHASE [ok-exit-codes] -- CMD...
# Runs CMD under GNU time with stdout/stderr in $W/logs/TOOL-PHASE.{out,err}.
measure() {
  local tool=$1 phase=$2 okcodes=0
  shift 2
  if [[ $1 != -- ]]; then okcodes=$1; shift; fi
  shift  # --
  local base=$W/logs/$tool-$phase
  sync
  local before after local_after
  before=$(repo_paths "$tool" | du_sum)
  local rc=0
  /usr/bin/time -f '%e %U %S %M' -o "$base.time" \
    timeout --kill-after=30 "$BENCH_PHASE_TIMEOUT" "$@" </dev/null >"$base.out" 2>"$base.err" || rc=$?
  local s0 s1 sync_s
  s0=$(date +%s.%N); sync; s1=$(date +%s.%N)
  sync_s=$(python3 -c "print(round($s1-$s0, 3))")
  after=$(repo_paths "$tool" | du_sum)
  local_after=$(local_paths "$tool" | du_sum)
  local wall=0 user=0 sys=0 rss=0
  if [[ -s $base.time ]]; then
    read -r wall user sys rss < <(tail -n 1 "$base.time") || true
  fi
  [[ $wall =~ ^[0-9.]+$ ]] || { wall=0 user=0 sys=0 rss=0; }
  local status=ok note=""
  if [[ " ${okcodes//,/ } " != *" $rc "* ]]; then
    status=failed
    [[ $rc = 124 || $rc = 137 ]] && note="timed out after ${BENCH_PHASE_TIMEOUT}s"
    [[ $rc = 127 ]] && note="command not found: $1"
    [[ $rc -gt 128 && $rc != 137 ]] && note="killed by signal $((rc - 128))"
  elif [[ $rc != 0 ]]; then
    note="exit $rc (warning)"
  fi
  record "$tool" "$phase" "$status" "$rc" "$wall" "$user" "$sys" "$rss" "$before" "$after" "$local_after" "$sync_s" "$note"
  if [[ $status = ok ]]; then
    log "$tool $phase: ${wall}s, user ${user}s, sys ${sys}s, peak RSS $((rss / 1024)) MiB${note:+ ($note)}"
    return 0
  fi
  log "$tool $phase: FAILED (exit $rc${note:+, $note}); stderr tail:"
  tail -n 8 "$base.err" | sed 's/^/    | /'
  return 1
}

skip() { record "$1" "$2" skipped "" 0 0 0 0 0 0 0 0 "${3:-earlier phase failed}"; }

tool_cmd() {  # tool_cmd TOOL ACTION -> prints nothing; sets CMD array
  local tool=$1 action=$2
  case "$tool/$action" in
    tessera/init)
      CMD=("$TESSERA_BIN" vault init)
      local s
      for s in "${TESSERA_STORES[@]}"; do CMD+=(--store "file://$s"); done
      CMD+=(--threshold "$TESSERA_K") ;;
    tessera/backup|tessera/incremental)
      if [[ $TESSERA_JSON_GLOBAL = 1 ]]; then CMD=("$TESSERA_BIN" --json vault backup "$DATA")
      else CMD=("$TESSERA_BIN" vault backup --json "$DATA"); fi ;;
    tessera/restore) CMD=("$TESSERA_BIN" vault restore latest --target "$RESTORE") ;;
    tessera/verify) CMD=("$TESSERA_BIN" vault verify --read-data) ;;
    tessera/stats)
      if [[ $TESSERA_JSON_GLOBAL = 1 ]]; then CMD=("$TESSERA_BIN" --json vault stats)
      else CMD=("$TESSERA_BIN" vault stats --json); fi ;;
    restic/init) CMD=(restic init --repository-version 2) ;;
    restic/backup|restic/incremental)
      CMD=(restic backup --json --compression "$RESTIC_COMPRESSION" --host vault-bench "$DATA") ;;
    restic/restore) CMD=(restic restore latest --target "$RESTORE") ;;
    restic/verify) CMD=(restic check --read-data) ;;
    restic/stats) CMD=(restic stats --json --mode raw-data) ;;
    borg/init) CMD=(borg init --encryption=repokey-blake2) ;;
    borg/backup) CMD=(borg create --json --compression "$BORG_COMPRESSION" ::initial "$DATA") ;;
    borg/incremental) CMD=(borg create --json --compression "$BORG_COMPRESSION" ::incremental "$DATA") ;;
    borg/restore) CMD=(env -C "$RESTORE" borg extract ::incremental) ;;
    borg/verify) CMD=(borg check --verify-data) ;;
    borg/stats) CMD=(borg info --json) ;;
  esac
}
# Exit codes that still mean "done": borg 1 = warning; restic backup 3 =
# some source files unreadable (the snapshot is written; the restore check
# would catch missing data).
ok_codes() {
  case "$1/$2" in
    borg/*) echo 0,1 ;;
    restic/backup|restic/incremental) echo 0,3 ;;
    *) echo 0 ;;
  esac
}

# warm_repository TOOL: reads the tool's repository and cache once, untimed. The bench
# runs every phase from a warm page cache; a repository is not warm just because it was
# written, since a tool may write it past the cache (tessera writes shards with direct
# I/O), and reading it back from disk would then be timed for that tool alone.
warm_repository() {
  local p
  { repo_paths "$1"; local_paths "$1"; } | while read -r p; do
    [[ -e $p ]] && find "$p" -type f -exec cat {} + >/dev/null 2>&1
  done
  return 0
}

run_phase() {  # run_phase TOOL PHASE
  local tool=$1 phase=$2
  if [[ ${TOOL_OK[$tool]} != 1 ]]; then skip "$tool" "$phase"; return 1; fi
  tool_cmd "$tool" "$phase"
  [[ $phase = restore || $phase = verify ]] && warm_repository "$tool"
  if ! measure "$tool" "$phase" "$(ok_codes "$tool" "$phase")" -- "${CMD[@]}"; then
    return 1
  fi
}

tool_version() {
  case "$1" in
    tessera) if [[ -x $TESSERA_BIN ]]; then timeout 20 "$TESSERA_BIN" --version </dev/null 2>&1 | head -n 1 || true; else echo "missing: $TESSERA_BIN"; fi ;;
    restic) restic version 2>&1 | head -n 1 || echo missing ;;
    borg) borg --version 2>&1 | head -n 1 || echo missing ;;
  esac
}

# ---------------------------------------------------------------- settings
{
  echo "scale=$BENCH_SCALE"
  echo "seed=$BENCH_SEED"
  echo "tools=$BENCH_TOOLS"
  echo "work_dir=$W"
  echo "work_fs=$(df -PT "$W" | awk 'NR==2 {print $2}')"
  echo "tessera_bin=$TESSERA_BIN"
  echo "tessera_n=$TESSERA_N"
  echo "tessera_k=$TESSERA_K"
  echo "borg_compression=$BORG_COMPRESSION"
  echo "restic_compression=$RESTIC_COMPRESSION"
  echo "phase_timeout=$BENCH_PHASE_TIMEOUT"
  for t in tessera restic borg; do echo "version_$t=$(tool_version $t)"; done
  echo "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$W/meta/settings.env"

# tessera's --json is a global option (given before `vault`) in the current
# CLI; if a later CLI moves it onto the subcommands, the top-level help no
# longer lists it and we put it after the subcommand instead.
TESSERA_JSON_GLOBAL=1
if [[ -x $TESSERA_BIN ]] && ! timeout 20 "$TESSERA_BIN" --help </dev/null 2>&1 | grep -q -- '--json'; then
  TESSERA_JSON_GLOBAL=0
fi

# Missing binaries are reported as a failed tool, not a crashed run.
for t in $BENCH_TOOLS; do
  case "$t" in
    tessera) bin=$TESSERA_BIN ;;
    *) bin=$(command -v "$t" || echo "$t") ;;
  esac
  if [[ ! -x $bin ]]; then
    echo "binary not found or not executable: $bin" >"$W/logs/$t-init.err"
    record "$t" init failed 127 0 0 0 0 0 0 0 0 "binary not found: $bin"
    log "$t: FAILED, binary not found: $bin"
    TOOL_OK[$t]=0
  fi
done

# ---------------------------------------------------------------- data set
log "generating data set (scale $BENCH_SCALE) in $DATA"
python3 "$HERE/gen_dataset.py" generate --out "$DATA" --scale "$BENCH_SCALE" --seed "$BENCH_SEED" \
  >"$W/meta/dataset.json"
sync
# Read everything once so that every tool starts from a warm page cache
# (dropping caches needs root privileges we do not assume; all tools run
# under the same conditions instead).
python3 "$HERE/gen_dataset.py" manifest --root "$DATA" --out "$W/meta/manifest-initial.json" \
  >"$W/meta/manifest-initial-info.json"
log "data set: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.1f MB in %d files, generated in %s s" % (d["bytes"] / 1e6, d["files"], d["seconds"]))' "$W/meta/dataset.json")"

# ---------------------------------------------------------------- init + initial backup
for t in $BENCH_TOOLS; do
  if [[ ${TOOL_OK[$t]} = 1 ]]; then
    log "== $t: init"
    run_phase "$t" init || TOOL_OK[$t]=0
  fi
  log "== $t: initial backup"
  run_phase "$t" backup || TOOL_OK[$t]=0
done

# ---------------------------------------------------------------- mutation
log "mutating 5% of the files (seed $((BENCH_SEED + 1)))"
python3 "$HERE/gen_dataset.py" mutate --root "$DATA" --fraction 0.05 --seed "$((BENCH_SEED + 1))" \
  >"$W/meta/mutation.json"
sync
python3 "$HERE/gen_dataset.py" manifest --root "$DATA" --out "$W/meta/manifest.json" >"$W/meta/manifest-info.json"

for t in $BENCH_TOOLS; do
  log "== $t: incremental backup"
  run_phase "$t" incremental || TOOL_OK[$t]=0
done

# ---------------------------------------------------------------- restore + verify
RESTORE_BAD=0
for t in $BENCH_TOOLS; do
  log "== $t: restore"
  RESTORE=$W/restore-$t
  rm -rf "$RESTORE"; mkdir -p "$RESTORE"
  if run_phase "$t" restore; then
    root=$(python3 "$HERE/gen_dataset.py" locate --restored "$RESTORE" 2>/dev/null || true)
    if [[ -z $root ]]; then
      echo '{"identical": false, "problems": 1, "first": ["data set root (marker file) not found in the restore target"]}' \
        >"$W/meta/compare-$t.json"
    else
      python3 "$HERE/gen_dataset.py" compare --manifest "$W/meta/manifest.json" --restored "$root" \
        >"$W/meta/compare-$t.json" || true
    fi
    if python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["identical"] else 1)' "$W/meta/compare-$t.json"; then
      log "$t restore: identical to the source ($(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["files_checked"])' "$W/meta/compare-$t.json") files)"
    else
      RESTORE_BAD=1
      log "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
      log "!!! $t RESTORE DIFFERS FROM THE SOURCE"
      python3 -c 'import json,sys; [print("!!!   " + p) for p in json.load(open(sys.argv[1]))["first"]]' "$W/meta/compare-$t.json"
      log "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    fi
  fi
  # Removed only after every tool has restored: deleting ~35,000 files just before the
  # next tool's restore made ext4 slower at creating that tool's files (perf showed
  # __ext4_new_inode scanning recently deleted inodes), which penalised whoever came next.
  log "== $t: verify"
  run_phase "$t" verify || true
  # Informational, untimed: the tool's own view of its repository.
  if [[ ${TOOL_OK[$t]} = 1 ]]; then
    tool_cmd "$t" stats
    timeout 600 "${CMD[@]}" </dev/null >"$W/logs/$t-stats.out" 2>"$W/logs/$t-stats.err" || true
  fi
done
for t in $BENCH_TOOLS; do rm -rf "$W/restore-$t"; done

echo "finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$W/meta/settings.env"

# ---------------------------------------------------------------- report
rc=0
python3 "$HERE/report.py" --work "$W" --out "$BENCH_OUT" || rc=$?
if [[ $RESTORE_BAD = 1 ]]; then
  log "!!! at least one restore differed from the source: see the report"
  rc=1
fi
exit "$rc"
