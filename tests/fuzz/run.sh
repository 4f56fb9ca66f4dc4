#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz with clang (ASan + UBSan + coverage) against
# the static libraries of a GCC build, and runs each for a fixed time from seeds made by
# make_seeds. A crash, a sanitizer report or a failed round-trip check fails the run; the
# input that did it is kept under OUT/artifacts.
#
#   tests/fuzz/run.sh [BUILD_DIR] [SECONDS_PER_TARGET] [OUT]
#   (defaults: build/default, 60, BUILD_DIR/fuzz)
# FUZZ_STEP=build only builds the targets and makes the seeds; FUZZ_STEP=run only runs what
# an earlier build step made (scripts/test.sh builds while other tests run); default both.
set -euo pipefail
STEP=${FUZZ_STEP:-all}
case "$STEP" in all | build | run) ;; *) echo "fuzz: FUZZ_STEP must be all, build or run, not $STEP"; exit 2 ;; esac
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
# shellcheck disable=SC2054  # one flag whose value is a comma-separated list
SAN=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
JOBS=${JOBS:-$(nproc)}

# in_background COMMAND...: runs it in the background, at most JOBS at a time; `settle`
# waits for all of them and fails if any failed.
pending=()
background_failed=0
in_background() {
  "$@" &
  pending+=($!)
  if [ "${#pending[@]}" -ge "$JOBS" ]; then
    wait "${pending[0]}" || background_failed=1
    pending=("${pending[@]:1}")
  fi
}
settle() {
  for pid in "${pending[@]}"; do wait "$pid" || background_failed=1; done
  pending=()
  [ "$background_failed" -eq 0 ]
}

if [ "$STEP" != run ]; then
echo "fuzz: building targets with $CXX ($JOBS at a time)"
in_background "$CXX" "${FLAGS[@]}" "$ROOT/tests/fuzz/make_seeds.cpp" "${LIBS[@]}" -o "$OUT/make_seeds"
# The parsers are compiled from source with coverage; the rest comes from the libraries.
in_background "$CXX" "${FLAGS[@]}" "${SAN[@]}" "$ROOT/tests/fuzz/vault_parse_fuzz.cpp" \
  "$ROOT/src/vault/model.cpp" "$ROOT/src/vault/config.cpp" "$ROOT/src/vault/keyring.cpp" \
  "$ROOT/src/vault/repository.cpp" "${LIBS[@]}" -o "$OUT/vault_parse_fuzz"
in_background "$CXX" "${FLAGS[@]}" "${SAN[@]}" "$ROOT/tests/fuzz/codes_fuzz.cpp" "$ROOT/src/crypto/codes.cpp" \
  "$ROOT/src/base/status.cpp" -o "$OUT/codes_fuzz"
in_background "$CXX" "${FLAGS[@]}" "${SAN[@]}" "$ROOT/tests/fuzz/s3_parse_fuzz.cpp" "$ROOT/src/store/s3_store.cpp" \
  "${LIBS[@]}" -o "$OUT/s3_parse_fuzz"
read -r -a GMIME_FLAGS <<< "$(pkg-config --cflags --libs gmime-3.0)"
in_background "$CXX" "${FLAGS[@]}" "${SAN[@]}" "$ROOT/tests/fuzz/mail_parse_fuzz.cpp" "$ROOT/src/archive/mime.cpp" \
  "$ROOT/src/archive/mbox.cpp" "$ROOT/src/archive/charset.cpp" "$ROOT/src/archive/tnef.cpp" \
  "$L/archive/libtessera_archive.a" "${LIBS[@]}" "${GMIME_FLAGS[@]}" -larchive \
  -o "$OUT/mail_parse_fuzz"
in_background "$CXX" "${FLAGS[@]}" "${SAN[@]}" "$ROOT/tests/fuzz/smtp_session_fuzz.cpp" \
  "$ROOT/src/archive/smtp_session.cpp" "$ROOT/src/archive/journal.cpp" \
  "$L/archive/libtessera_archive.a" "${LIBS[@]}" "${GMIME_FLAGS[@]}" -larchive -lsqlite3 \
  -o "$OUT/smtp_session_fuzz"

read -r -a XAPIAN_FLAGS <<< "$(pkg-config --cflags --libs xapian-core)"
in_background "$CXX" "${FLAGS[@]}" "${SAN[@]}" "$ROOT/tests/fuzz/search_text_fuzz.cpp" \
  "$ROOT/src/archive/search_index.cpp" "$ROOT/src/archive/search_terms.cpp" \
  "$ROOT/src/archive/attachment_text.cpp" "$L/archive/libtessera_archive.a" "${LIBS[@]}" \
  "${GMIME_FLAGS[@]}" "${XAPIAN_FLAGS[@]}" -larchive -lsqlite3 -o "$OUT/search_text_fuzz"

in_background "$CXX" "${FLAGS[@]}" "${SAN[@]}" "$ROOT/tests/fuzz/volume_parse_fuzz.cpp" \
  "$ROOT/src/archive/volume.cpp" "$L/archive/libtessera_archive.a" "${LIBS[@]}" \
  "${GMIME_FLAGS[@]}" -larchive -lsqlite3 -o "$OUT/volume_parse_fuzz"

# 公文 DI/SW: the parser, its DTD validation and the rendering, with the compiled-in DTDs
# the build generated (src/exchange/CMakeLists.txt).
read -r -a XML2_FLAGS <<< "$(pkg-config --cflags --libs libxml-2.0)"
[ -f "$BUILD/src/exchange/di_dtd_files.cpp" ] || { echo "fuzz: $BUILD/src/exchange/di_dtd_files.cpp missing: configure $BUILD first"; exit 1; }
in_background "$CXX" "${FLAGS[@]}" "${SAN[@]}" "$ROOT/tests/fuzz/di_parse_fuzz.cpp" \
  "$ROOT/src/exchange/document.cpp" "$ROOT/src/exchange/document_render.cpp" \
  "$ROOT/src/exchange/dtd.cpp" "$BUILD/src/exchange/di_dtd_files.cpp" \
  "$L/base/libtessera_base.a" "${XML2_FLAGS[@]}" -lspdlog -lfmt -lpthread -o "$OUT/di_parse_fuzz"

# HTML mail for the console: the sanitiser, whose output the target parses again with libxml2.
in_background "$CXX" "${FLAGS[@]}" "${SAN[@]}" "$ROOT/tests/fuzz/html_sanitize_fuzz.cpp" \
  "$ROOT/src/archive/html_sanitizer.cpp" "$L/base/libtessera_base.a" "${XML2_FLAGS[@]}" \
  -lspdlog -lfmt -lpthread -o "$OUT/html_sanitize_fuzz"

settle || { echo "fuzz: a target did not build"; exit 1; }

rm -rf "$OUT/seeds" && mkdir -p "$OUT/seeds/vault_parse" "$OUT/seeds/codes" "$OUT/seeds/s3_parse" \
  "$OUT/seeds/mail_parse" "$OUT/seeds/smtp_session" "$OUT/seeds/search_text" \
  "$OUT/seeds/volume_parse" "$OUT/seeds/di_parse" "$OUT/seeds/html_sanitize"
"$OUT/make_seeds" "$OUT/seeds/vault_parse"
printf '%s' "7K3M-9Q2P-XW4T-HB6N-0RCD" > "$OUT/seeds/codes/example"
printf '%s' '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated><Contents><Key>vault/data/ab/x&amp;y&#x4E2D;</Key><Size>123</Size></Contents><Contents><Key>vault/index/1</Key><Size>0</Size></Contents><NextContinuationToken>tok&lt;1&gt;</NextContinuationToken></ListBucketResult>' \
  > "$OUT/seeds/s3_parse/list"
printf '%s' 's3://agency-backup/vault/2026?endpoint=https://cloud-a.example:9000&region=ap-east-1&profile=hinet' \
  > "$OUT/seeds/s3_parse/url"

# Mail seeds: Big5 headers (encoded, split across a character, raw), a nested multipart
# with an RFC 2231 file name and an attached message.
printf 'From: =?x-big5?B?vkc=?= <a@b.tw>\r\nSubject: =?big5?B?sOq1?= =?big5?B?fKe9?= \266\154\245\363\r\nContent-Type: text/plain; charset=ms950\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=B6l=A5=F3\r\n' \
  > "$OUT/seeds/mail_parse/big5"
printf 'Subject: n\r\nContent-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\nContent-Type: text/html; charset=gb2312\r\n\r\n<p>x</p>\r\n--o\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8'"''"'%%E5%%85%%AC.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: =?ISO-2022-JP?B?GyRCMnE1RBsoQg==?=\r\n\r\nbody\r\n--o--\r\n' \
  > "$OUT/seeds/mail_parse/multipart"

# SMTP/LMTP: a pipelined LMTP session with a journal copy, and an SMTP one cut in pieces.
printf '\001LHLO m\r\nMAIL FROM:<a@b> SIZE=10\r\nRCPT TO:<j@x>\r\nRCPT TO:<@r:k@x>\r\nDATA\r\nX-Envelope-To: t@gov.tw\r\n x-envelope-to: <b@gov.tw>\r\nSubject: s\r\n\r\n..dot\r\n.\r\nRSET\r\nQUIT\r\n' \
  > "$OUT/seeds/smtp_session/lmtp"
printf '\006EHLO m\nMAIL FROM:<>\nRCPT TO:<x@y>\nDATA\nSubject: a very long subject line that is cut into pieces\n\n.\nNOOP\n' \
  > "$OUT/seeds/smtp_session/smtp"

# Search: a query with every field, and the markup of a docx paragraph.
printf '%s' '國稅局 "郵件 備份" from:鄭 to:"chief@gov.tw" subject:公文 attachment:報告.pdf after:2024-01-01 before:2024-12-31 has:attachment ＡＢＣ' \
  > "$OUT/seeds/search_text/query"
printf '%s' '<w:p><w:r><w:t>國稅</w:t></w:r><w:r><w:t>局 &amp; &#x90F5;&#20214;</w:t></w:r></w:p><text:s/><script>x</script>' \
  > "$OUT/seeds/search_text/markup"

# Volumes: a manifest, and a whole (small) volume made by the scenario's export.
printf '%s\n' '{' '"format":"tessera-volume",' '"version":1,' '"tool":"tessera 0.1.0",' \
  '"set":"5da5f8fd6bb5b73c94185521ef7e0172",' '"created_at":"2026-12-03T12:28:39Z",' \
  '"range":{"after":null,"before":1704240000,"after_utc":null,"before_utc":"2024-01-03T00:00:00Z"},' \
  '"volume":{"number":1,"count":1},' \
  '"signing_key":{"algorithm":"Ed25519","fingerprint":"7f72","public_key":"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAlG8EKOKIlgonf/7HBLKB2weDkZUnt1n4bMXjssicMBQ=\n-----END PUBLIC KEY-----\n"},' \
  '"files":{"README.txt":"5a8ba27201c79955521ce99f32e5727b29203a1c3b1e2241bbaf69834b1d543f","SHA256SUMS":"408d54f4eded879ec6fa76d47538724e00389d8c72874930202d1726d55f98a0","volume-signing.pub.pem":"dfd59e0162ab6ff421f3b1aa7f3b987d307000922160c9758ff23dabece9b879"},' \
  '"message_count":1,' '"message_bytes":95,' '"messages":[' \
  '{"path":"messages/6e649696999f762aa1ab389df6e7fd2689e769eeab0ab6b17a739d1d3ba2c6b9.eml","sha256":"6e649696999f762aa1ab389df6e7fd2689e769eeab0ab6b17a739d1d3ba2c6b9","size":95,"date":1704070800,"first_seen":1796300918,"message_id":"m1@x","subject":"國稅局","from":"a@b","deliveries":[{"received_at":1796300918,"source":"import","origin":"mail/1.eml","folder":"mail","envelope_from":"","recipients":["bcc@x"]}]}' \
  ']}' > "$OUT/seeds/volume_parse/manifest"
SEED_HOME=$(mktemp -d)
printf 'From: a@b\nSubject: s\nDate: Tue, 02 Jan 2024 09:00:00 +0000\n\nbody\n' > "$SEED_HOME/m.eml"
if TESSERA_HOME=$SEED_HOME "$BUILD/src/cli/tessera" archive import "$SEED_HOME/m.eml" > /dev/null 2>&1 &&
  TESSERA_HOME=$SEED_HOME "$BUILD/src/cli/tessera" archive volume export --before 2025-01-01 \
    --out "$SEED_HOME/vols" > /dev/null 2>&1; then
  cp "$SEED_HOME"/vols/*.tar "$OUT/seeds/volume_parse/volume.tar"
fi
rm -rf "$SEED_HOME"

# DI/SW: the test files, valid and invalid (Big5, a roster, XXE and entity bombs included).
cp "$ROOT"/tests/data/exchange/*.di "$ROOT"/tests/data/exchange/*.sw "$OUT/seeds/di_parse/"

# HTML mail: a newsletter's tables, styles and images, and the tricks a sanitiser must see
# through (obfuscated schemes, markup inside markup, handlers in broken tags).
printf '%s' '<html><head><style>p{color:red}</style><meta charset="big5"></head><body background="https://x/bg.gif"><table width="100%" cellpadding=2><tr><td style="color: #333; background: url(https://t.example/p.gif)"><a href="https://gov.tw/a?b=1&amp;c=2" onclick="x()">國稅局</a><img src="data:image/png;base64,iVBORw0KGgo=" alt=a><img src="//t.example/p.gif"></td></tr></table></body></html>' \
  > "$OUT/seeds/html_sanitize/newsletter"
printf '%s' '<a href="jav&#x09;ascript:alert(1)">x</a><a href=" java&#10;script:y">y</a><scr<script>ipt>alert(1)</script><svg><p><style><img src=x onerror=alert(1)></style></p></svg><div style="x:expression(1);b\61 ckground:url(x)"></div></div><img src=x onerror=alert(1)//' \
  > "$OUT/seeds/html_sanitize/tricks"
fi
[ "$STEP" = build ] && { echo "fuzz: targets built in $OUT"; exit 0; }

targets=(vault_parse codes s3_parse mail_parse smtp_session search_text volume_parse di_parse
  html_sanitize)
# Each target runs alone for SECONDS_EACH on one core; JOBS of them at a time.
fuzz_target() {
  local target=$1 corpus=$OUT/corpus/$1
  mkdir -p "$corpus"
  "$OUT/${target}_fuzz" -max_total_time="$SECONDS_EACH" -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="$OUT/artifacts/${target}-" "$corpus" "$OUT/seeds/$target" \
    > "$OUT/$target.log" 2>&1
}
declare -A status_of
running=()
collect_oldest() {
  local oldest=${running[0]} rc=0
  wait "${oldest#*:}" || rc=$?
  status_of[${oldest%%:*}]=$rc
  running=("${running[@]:1}")
}
for target in "${targets[@]}"; do
  echo "fuzz: $target for ${SECONDS_EACH}s"
  fuzz_target "$target" &
  running+=("$target:$!")
  if [ "${#running[@]}" -ge "$JOBS" ]; then collect_oldest; fi
done
while [ "${#running[@]}" -gt 0 ]; do collect_oldest; done
failed=0
for target in "${targets[@]}"; do
  if [ "${status_of[$target]}" -eq 0 ]; then
    echo "ok: $target: $(grep -E 'stat::number_of_executed_units' "$OUT/$target.log" | awk '{print $2}') inputs, no failure"
  else
    echo "FAILED: $target (log: $OUT/$target.log)"
    tail -n 30 "$OUT/$target.log" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
done
echo "$((${#targets[@]} - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
