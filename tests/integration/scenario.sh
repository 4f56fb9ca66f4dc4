# Shared by the command-line scenario scripts (source it): a scratch directory, the pass
# and fail counters, and the checks. Each script ends with `finish`, whose line
# "N passed, N failed" scripts/test.sh reads.

# scenario_begin NAME: makes $WORK (removed on exit), points TESSERA_HOME into it, clears
# the settings a caller's environment could leak in, and changes into it.
scenario_begin() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessera-$1.XXXXXX")
  # Some scenarios take permissions away; give them back so that the directory goes.
  trap 'chmod -R u+rwx "$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
  export TESSERA_HOME=$WORK/home
  unset TESSERA_CONFIG TESSERA_PASSPHRASE
  cd "$WORK"
  passed=0
  failed=0
}

ok() {
  echo "ok: $*"
  passed=$((passed + 1))
}
bad() {
  echo "FAILED: $*"
  failed=$((failed + 1))
}

# check WHAT COMMAND...: passes when the command succeeds; its output is shown only when
# it fails.
check() {
  local what=$1
  shift
  if "$@" > "$WORK/check.log" 2>&1; then
    ok "$what"
  else
    bad "$what"
    sed 's/^/    /' "$WORK/check.log"
  fi
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
