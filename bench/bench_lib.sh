# shellcheck shell=bash
# What the side-by-side benchmark scripts share (sourced, not run): messages, the work
# directory and its clean-up, the results file. The script sets BENCH_NAME first.

die() { echo "$BENCH_NAME: $*" >&2; exit 2; }
log() { printf '[%s %(%H:%M:%S)T] %s\n' "$BENCH_NAME" -1 "$*"; }

# bench_workdir DIR SUBDIR...: makes DIR the work dir W (a previous run's is removed; any
# other non-empty directory is refused), with its SUBDIRs; removes it at exit unless
# BENCH_KEEP=1. RESULTS is the tab-separated results file in it.
bench_workdir() {
  W=$1
  shift
  local mark=.$BENCH_NAME-workdir
  if [[ -e $W ]]; then
    if [[ -e $W/$mark ]]; then
      rm -rf "$W"
    elif [[ -n $(ls -A "$W") ]]; then
      die "$W exists, is not empty and is not a $BENCH_NAME work dir; remove it or set BENCH_DIR"
    fi
  fi
  mkdir -p "$W"
  local d
  for d in "$@"; do mkdir -p "$W/$d"; done
  touch "$W/$mark"
  RESULTS=$W/results.tsv
  : >"$RESULTS"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

# shellcheck disable=SC2317  # invoked through trap
bench_cleanup() {
  local rc=$?
  if [[ ${BENCH_KEEP:-0} = 1 ]]; then
    log "work dir kept: $W"
  else
    log "removing work dir $W (BENCH_KEEP=1 keeps it)"
    rm -rf "$W"
  fi
  exit "$rc"
}

# record FIELD...: one tab-separated line of results.
record() { local IFS=$'\t'; echo "$*" >>"$RESULTS"; }
