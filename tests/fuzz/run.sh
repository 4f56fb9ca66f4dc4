#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz with clang (ASan + UBSan + coverage) against
# the static libraries of a GCC build, and runs each for a fixed time from seeds made by
# make_seeds. A crash, a sanitizer report or a failed round-trip check fails the run; the
# input that did it is kept under OUT/artifacts.
#
#   tests/fuzz/run.sh [BUILD_DIR] [SECONDS_PER_TARGET] [OUT]
#   (defaults: build/default, 60, BUILD_DIR/fuzz)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build/default}" && pwd)
SECONDS_EACH=${2:-60}
OUT=${3:-$BUILD/fuzz}
CXX=${FUZZ_CXX:-clang++-14}
command -v "$CXX" > /dev/null || { echo "fuzz: $CXX not found (scripts/install-deps.sh installs it)"; exit 1; }
mkdir -p "$OUT/artifacts"
L=$BUILD/src
LIBS=("$L/vault/libtessera_vault.a" "$L/store/libtessera_store.a" "$L/erasure/libtessera_erasure.a"
  "$L/crypto/libtessera_crypto.a" "$L/base/libtessera_base.a"
  -lzstd -lisal -lssl -lcrypto -lcurl -lspdlog -lfmt -lpthread)
for lib in "${LIBS[@]:0:5}"; do
  [ -f "$lib" ] || { echo "fuzz: $lib missing: build $BUILD first"; exit 1; }
done
FLAGS=(-std=c++20 -g -O1 -I"$ROOT/src" -DSPDLOG_FMT_EXTERNAL -DSPDLOG_COMPILED_LIB)
SAN=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

echo "fuzz: building targets with $CXX"
"$CXX" "${FLAGS[@]}" "$ROOT/tests/fuzz/make_seeds.cpp" "${LIBS[@]}" -o "$OUT/make_seeds"
# The parsers are compiled from source with coverage; the rest comes from the libraries.
"$CXX" "${FLAGS[@]}" "${SAN[@]}" "$ROOT/tests/fuzz/vault_parse_fuzz.cpp" \
  "$ROOT/src/vault/model.cpp" "$ROOT/src/vault/config.cpp" "$ROOT/src/vault/keyring.cpp" \
  "$ROOT/src/vault/repository.cpp" "${LIBS[@]}" -o "$OUT/vault_parse_fuzz"
"$CXX" "${FLAGS[@]}" "${SAN[@]}" "$ROOT/tests/fuzz/codes_fuzz.cpp" "$ROOT/src/crypto/codes.cpp" \
  "$ROOT/src/base/status.cpp" -o "$OUT/codes_fuzz"
"$CXX" "${FLAGS[@]}" "${SAN[@]}" "$ROOT/tests/fuzz/s3_parse_fuzz.cpp" "$ROOT/src/store/s3_store.cpp" \
  "${LIBS[@]}" -o "$OUT/s3_parse_fuzz"

rm -rf "$OUT/seeds" && mkdir -p "$OUT/seeds/vault_parse" "$OUT/seeds/codes" "$OUT/seeds/s3_parse"
"$OUT/make_seeds" "$OUT/seeds/vault_parse"
printf '%s' "7K3M-9Q2P-XW4T-HB6N-0RCD" > "$OUT/seeds/codes/example"
printf '%s' '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated><Contents><Key>vault/data/ab/x&amp;y&#x4E2D;</Key><Size>123</Size></Contents><Contents><Key>vault/index/1</Key><Size>0</Size></Contents><NextContinuationToken>tok&lt;1&gt;</NextContinuationToken></ListBucketResult>' \
  > "$OUT/seeds/s3_parse/list"
printf '%s' 's3://agency-backup/vault/2026?endpoint=https://cloud-a.example:9000&region=ap-east-1&profile=hinet' \
  > "$OUT/seeds/s3_parse/url"

failed=0
for target in vault_parse codes s3_parse; do
  corpus=$OUT/corpus/$target
  mkdir -p "$corpus"
  echo "fuzz: $target for ${SECONDS_EACH}s"
  if "$OUT/${target}_fuzz" -max_total_time="$SECONDS_EACH" -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="$OUT/artifacts/${target}-" "$corpus" "$OUT/seeds/$target" \
    > "$OUT/$target.log" 2>&1; then
    echo "ok: $target: $(grep -E 'stat::number_of_executed_units' "$OUT/$target.log" | awk '{print $2}') inputs, no failure"
  else
    echo "FAILED: $target (log: $OUT/$target.log)"
    tail -n 30 "$OUT/$target.log" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
done
echo "$((3 - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
