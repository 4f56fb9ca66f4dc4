#!/usr/bin/env bash
# Runs the whole test suite, as CI does: the program built as it is installed, the unit
# tests under AddressSanitizer + UndefinedBehaviorSanitizer, integration tests against real
# servers started here on 127.0.0.1 (Ceph radosgw as S3, Postfix, slapd, ClamAV), the
# command-line scenarios (corruption and repair, prune, drills, kill -9), the web console
# in Chromium, and the parsers under libFuzzer.
# Ends with one line "N passed, N failed"; exits non-zero if anything failed.
#
# Time (2 cores): the sanitizer build and the fuzz targets' build run in the background
# (at lower priority) while the scenarios, which mostly wait on servers, run in front.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
JOBS=${JOBS:-$(nproc)}
LOGDIR=${TEST_LOGDIR:-$ROOT/build/test-logs}
mkdir -p "$LOGDIR"

passed=0
failed=0
failures=()

# Each step says when it started (seconds into the run), so a slow one shows in the log.
note() { printf '\n=== %s (at %d:%02d)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }
record() {  # name passed failed
  passed=$((passed + $2))
  failed=$((failed + $3))
  if [ "$3" -gt 0 ]; then failures+=("$1 ($3 failed)"); fi
}
# Runs the unit tests with ctest (one test per executable, see tests/unit/CMakeLists.txt) and
# counts the test cases from GoogleTest's XML report of each executable; an executable that
# ends without a report (a crash, a sanitizer's abort) counts as one failure more.
run_unit_tests() {  # name preset
  local name=$1 preset=$2
  local log="$LOGDIR/$name.log" reports="$LOGDIR/$name-xml"
  local started=$SECONDS
  rm -rf "$reports" && mkdir -p "$reports"
  GTEST_OUTPUT="xml:$reports/" ctest --preset "$preset" -j "$JOBS" --output-on-failure > "$log" 2>&1
  local line
  line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$log" | tail -n 1)
  if [ -z "$line" ]; then
    tail -n 40 "$log"
    echo "!! $name: ctest did not report a summary (see $log)"
    record "$name" 0 1
    return
  fi
  local p=0 f=0 executable report header tests failures errors disabled
  while read -r executable; do
    report="$reports/$executable.xml"
    if [ ! -f "$report" ]; then
      f=$((f + 1))
      continue
    fi
    header=$(grep -m 1 -o '<testsuites [^>]*>' "$report")
    tests=$(echo "$header" | sed -E 's/.* tests="([0-9]+)".*/\1/')
    failures=$(echo "$header" | sed -E 's/.* failures="([0-9]+)".*/\1/')
    errors=$(echo "$header" | sed -E 's/.* errors="([0-9]+)".*/\1/')
    disabled=$(echo "$header" | sed -E 's/.* disabled="([0-9]+)".*/\1/')
    p=$((p + tests - failures - errors - disabled))
    f=$((f + failures + errors))
  done < <(ctest --preset "$preset" -N | sed -nE 's/^ *Test +#[0-9]+: (.*)$/\1/p')
  # A failed executable whose report counts no failure still failed (a leak found at exit).
  local failed_executables
  failed_executables=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/')
  if [ "$failed_executables" -gt 0 ] && [ "$f" -eq 0 ]; then f=$failed_executables; fi
  echo "$name: $p passed, $f failed in $((SECONDS - started)) s (log: $log)"
  if [ "$f" -gt 0 ]; then
    grep -E "^\[  FAILED  \] [A-Za-z_0-9]+\.[A-Za-z_0-9/]+|\*\*\*(Failed|Exception|Timeout)|ERROR: (Address|Leak)Sanitizer|runtime error" "$log" | head -n 40
  fi
  record "$name" "$p" "$f"
}
# Counts a script from its last line "N passed, N failed".
run_script() {  # name command...
  local name=$1; shift
  local log="$LOGDIR/$name.log"
  local started=$SECONDS
  "$@" > "$log" 2>&1
  local rc=$?
  local line p f
  line=$(grep -E "^[0-9]+ passed, [0-9]+ failed" "$log" | tail -n 1)
  p=0; f=0
  if [ -n "$line" ]; then
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  elif grep -qE "^\[  PASSED  \] [0-9]+ tests?" "$log"; then  # a GoogleTest binary
    line=ok
    p=$(grep -E "^\[  PASSED  \] [0-9]+ tests?" "$log" | tail -n 1 | sed -E 's/.*\] ([0-9]+) .*/\1/')
    f=$(grep -E "^\[  FAILED  \] [0-9]+ tests?, listed below" "$log" | tail -n 1 | sed -E 's/.*\] ([0-9]+) .*/\1/')
    f=${f:-0}
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  if [ "$rc" -eq 0 ] && [ -z "$line" ]; then p=1; fi
  echo "$name: $p passed, $f failed in $((SECONDS - started)) s (log: $log)"
  if [ "$f" -gt 0 ]; then tail -n 40 "$log"; fi
  record "$name" "$p" "$f"
}

note "dependencies"
scripts/install-deps.sh || { echo "cannot install dependencies"; echo "0 passed, 1 failed"; exit 1; }

note "in the background, at lower priority: the unit tests under ASan + UBSan"
# Started before the program's build so that it takes up whatever CPU that build leaves idle.
(
  cmake --preset asan > "$LOGDIR/configure-asan.log" 2>&1 &&
    nice -n 10 cmake --build --preset asan -j "$JOBS" --target unit_tests \
      > "$LOGDIR/build-asan.log" 2>&1
) < /dev/null > /dev/null 2>&1 &  # holds none of this script's output open
asan_build=$!

note "build (RelWithDebInfo): the program, the S3 integration test, the benchmarks"
# The unit tests are built and run once, under the sanitizers (below); `ctest --preset
# default` still runs them in a developer's build.
if ! { cmake --preset default > "$LOGDIR/configure.log" 2>&1 &&
  cmake --build --preset default -j "$JOBS" --target tessera s3_store_itest benchmarks \
    > "$LOGDIR/build.log" 2>&1; }; then
  tail -n 60 "$LOGDIR/configure.log" "$LOGDIR/build.log"
  echo "0 passed, 1 failed"
  exit 1
fi
TESSERA="$ROOT/build/default/src/cli/tessera"

note "in the background: the fuzz targets"
FUZZ_STEP=build JOBS=1 nice -n 10 bash tests/fuzz/run.sh "$ROOT/build/default" 0 \
  > "$LOGDIR/fuzz-build.log" 2>&1 &
fuzz_build=$!

note "integration: real S3 (Ceph radosgw on 127.0.0.1)"
S3DIR=$(mktemp -d /tmp/tessera-s3.XXXXXX)
if scripts/s3-up.sh "$S3DIR" "${S3_PORT:-7480}" > "$LOGDIR/s3-up.log" 2>&1; then
  set -a; . "$S3DIR/env"; set +a
  run_script s3-store "$ROOT/build/default/tests/integration/s3_store_itest"
  run_script vault-s3 tests/integration/vault_s3.sh "$TESSERA"
else
  cat "$LOGDIR/s3-up.log"
  record s3-up 0 1
fi
scripts/s3-down.sh "$S3DIR" > /dev/null 2>&1 || true

note "command-line scenarios"
for script in tests/integration/vault_cli_*.sh tests/integration/vault_crash.sh \
  tests/integration/archive_cli.sh tests/integration/archive_retention.sh \
  tests/integration/archive_backup.sh tests/integration/archive_access.sh \
  tests/integration/archive_volume.sh tests/integration/archive_journal.sh \
  tests/integration/pki_cli.sh tests/integration/exchange_validate.sh \
  tests/integration/exchange_registry.sh tests/integration/guard_syslog.sh \
  tests/integration/guard_integrity.sh tests/integration/console_accounts.sh \
  tests/integration/console_https.sh \
  tests/integration/exchange_network.sh tests/integration/exchange_expiry.sh \
  tests/integration/exchange_large.sh tests/integration/serve_roles.sh; do
  [ -f "$script" ] || continue
  run_script "$(basename "$script" .sh)" bash "$script" "$TESSERA"
done

note "web console in Chromium (tests/e2e; screenshots in build/e2e-artifacts)"
run_script e2e-console bash tests/e2e/run.sh "$TESSERA"

note "unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
if wait "$asan_build"; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_unit_tests unit-asan asan
else
  tail -n 60 "$LOGDIR/configure-asan.log" "$LOGDIR/build-asan.log"
  record asan-build 0 1
fi

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
note "fuzzing the parsers (libFuzzer, $FUZZ_SECONDS s per target)"
if wait "$fuzz_build"; then
  FUZZ_STEP=run run_script fuzz bash tests/fuzz/run.sh "$ROOT/build/default" "$FUZZ_SECONDS"
else
  tail -n 40 "$LOGDIR/fuzz-build.log"
  record fuzz-build 0 1
fi

note "summary"
echo "the whole run took $((SECONDS / 60)) min $((SECONDS % 60)) s"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
