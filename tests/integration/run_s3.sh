#!/bin/bash
# Runs an S3 integration test binary against a throwaway Ceph radosgw: starts it with
# scripts/s3-up.sh in a temporary directory, exports S3_ENDPOINT, S3_ACCESS_KEY,
# S3_SECRET_KEY and S3_REGION, runs the binary, and stops radosgw however the run ends.
#
# Usage: tests/integration/run_s3.sh TEST_BINARY [ARGS...]
#   e.g. tests/integration/run_s3.sh build/default/tests/integration/s3_store_itest
# Env:   S3_PORT (default: a free port)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 TEST_BINARY [ARGS...]" >&2; exit 2; }
BIN=$1
shift
[ -x "$BIN" ] || { echo "run_s3: $BIN is not an executable (build it first)" >&2; exit 2; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=${S3_PORT:-}
if [ -z "$PORT" ]; then
  PORT=$((20000 + RANDOM % 20000))
  while port_busy "$PORT"; do PORT=$((PORT + 1)); done
fi

DIR=$(mktemp -d "${TMPDIR:-/tmp}/tessera-s3.XXXXXX")
trap '"$ROOT/scripts/s3-down.sh" "$DIR"' EXIT
# stdout carries the credentials: keep them off the terminal and out of CI logs.
"$ROOT/scripts/s3-up.sh" "$DIR" "$PORT" >/dev/null
set -a
. "$DIR/env"
set +a
echo "run_s3: radosgw at $S3_ENDPOINT" >&2
"$BIN" "$@"
