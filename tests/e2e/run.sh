#!/usr/bin/env bash
# Runs the web console's browser tests against PATH/TO/tessera: installs playwright-core
# from the committed lock if node_modules is missing (no browser is downloaded: Debian's
# /usr/bin/chromium is used), then node's test runner. Ends with "N passed, N failed"
# (scripts/test.sh reads it); fails, never skips, when node or Chromium is missing.
# Screenshots: $TESSERA_E2E_ARTIFACTS (default build/e2e-artifacts).
set -uo pipefail
TESSERA=${1:?usage: tests/e2e/run.sh PATH/TO/tessera}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
fail() { echo "FAILED: $*"; echo "0 passed, 1 failed"; exit 1; }
[ -x "$TESSERA" ] || fail "no tessera binary at $TESSERA"
TESSERA_BIN=$(cd "$(dirname "$TESSERA")" && pwd)/$(basename "$TESSERA")
command -v node > /dev/null || fail "node is missing (apt-get install nodejs npm)"
# playwright-core 1.65 needs Node.js 20 or later (Debian 12's own nodejs is 18).
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node.js $(node --version) is too old: playwright-core needs 20 or later"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || fail "Chromium is missing at ${CHROMIUM:-/usr/bin/chromium} (apt-get install chromium)"
export TESSERA_E2E_ARTIFACTS=${TESSERA_E2E_ARTIFACTS:-$ROOT/build/e2e-artifacts}
mkdir -p "$TESSERA_E2E_ARTIFACTS"
cd "$HERE" || exit 1
if [ ! -d node_modules/playwright-core ]; then
  command -v npm > /dev/null || fail "npm is missing (apt-get install npm)"
  npm ci --no-audit --no-fund || fail "npm ci in tests/e2e"
fi
started=$SECONDS
TAP="$TESSERA_E2E_ARTIFACTS/console.tap"
TESSERA_BIN=$TESSERA_BIN node --test --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$TAP" ./*.test.mjs
rc=$?
pass=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$TAP" | tail -n 1)
bad=$(sed -nE 's/^# (fail|cancelled) ([0-9]+)$/\2/p' "$TAP" | paste -sd+ - | bc 2> /dev/null)
pass=${pass:-0}
bad=${bad:-0}
if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
echo "e2e: screenshots in $TESSERA_E2E_ARTIFACTS; took $((SECONDS - started)) s"
echo "$pass passed, $bad failed"
[ "$rc" -eq 0 ] && [ "$bad" -eq 0 ]
