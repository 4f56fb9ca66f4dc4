#!/usr/bin/env bash
# A 函 with a 100 MiB attachment through a real exchange on 127.0.0.1 (one center, agency
# gateways A and B at their own loopback addresses, certificates from a test CA made
# here), through the `tessera` program as a clerk runs it:
#   - A sends it, B receives it, and the attachment arrives byte-identical;
#   - the send and the receive finish (each under a timeout, so that a hang fails the
#     scenario rather than blocking CI);
#   - both gateways journal it, attachment included, into their archives, which find it;
#   - B's archive gives its copy back (archive show, show --raw, export as .eml and mbox,
#     volume export) byte for byte, each in a peak RSS far below the message's size;
#   - the sending gateway, the receiving gateway and the center stream the document: the
#     peak resident memory (max RSS) of each stays far below what holding it would take
#     (the numbers are printed);
#   - an attachment over libclamav's default file limit (100 MiB) is scanned all the same:
#     one carrying EICAR is stopped at the sending gateway.
# Usage: exchange_large.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: exchange_large.sh PATH/TO/tessera}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin exchange-large
# shellcheck source=tests/integration/exchange_lib.sh
. "$ROOT/tests/integration/exchange_lib.sh"

A=A15060000H  # 臺南市政府
B=376570000A  # 臺南市政府教育局
PC=$(free_port)
SIZE_MIB=100
# Bounds on each process's peak resident memory (max RSS), from what was measured here for
# the 100 MiB document: the center 25 MiB; each gateway 61-63 MiB, of which about 34 MiB
# is there for any document (libclamav with the test signatures, TLS, SQLite, Xapian) and
# about 30 MiB is libclamav scanning the 100 MiB file (it keeps a quarter to a third of a file
# it scans resident: +32 MiB for 100 MiB in a bare libclamav program). tessera's own
# streaming holds a few buffers of 256 KiB to 1 MiB. One more copy of the document (or of
# its encrypted or base64 form) would add 100 MiB or more, so these bounds prove that it
# streams, with room to spare for other machines.
CENTER_LIMIT_MIB=48
GATEWAY_LIMIT_MIB=88
# `tessera archive` reading the archived 函 back (137 MiB: the attachment in base64), a
# piece of 1 MiB at a time: 27-29 MiB measured here. Holding it whole, as
# MessageStore::Raw did, took 163 MiB (show --raw, export eml, volume export), 300 MiB
# (export mbox) and 514 MiB (show).
ARCHIVE_LIMIT_MIB=80
bounded() {  # bounded WHAT KIB LIMIT_MIB
  local mib=$(($2 / 1024))
  if [ "$mib" -lt "$3" ]; then
    ok "$1: peak RSS $mib MiB (< $3 MiB)"
  else
    bad "$1: peak RSS $mib MiB, not under $3 MiB for a ${SIZE_MIB} MiB document"
  fi
}

# --- a test CA and every party's certificate
mkdir -p certs
"$TESSERA" pki init-ca --dir ca --name "Tessera Test GCA" > /dev/null
issue() { "$TESSERA" pki issue --ca ca "$@" > /dev/null; }
issue --name center --ip 127.0.0.1 --out certs/center
issue --name "$A 臺南市政府" --ip 127.0.0.11 --out certs/a
issue --name "$B 臺南市政府教育局" --ip 127.0.0.12 --key-type rsa --out certs/b
ok "test CA and certificates made"

# --- the registry, kept in the center's home, and installed on every host
export TESSERA_HOME=$WORK/center
R() { "$TESSERA" exchange registry "$@"; }
check "registry init" R init --network tainan-test
check "trust anchor" R anchor add ca/ca.pem
check "the center" R center add center --url "https://127.0.0.1:$PC" --ip 127.0.0.1 --cert certs/center.pem
check "agency A" R agency add "$A" --name 臺南市政府 --center center --cert certs/a.pem --ip 127.0.0.11
check "agency B" R agency add "$B" --name 臺南市政府教育局 --center center --cert certs/b.pem --ip 127.0.0.12
check "publish" R publish
PUB=$WORK/center/exchange/management/management.pub.pem
REG=$WORK/center/exchange/management/current.json
for host in center a b; do
  TESSERA_HOME=$WORK/$host "$TESSERA" exchange registry install "$REG" --key "$PUB" > /dev/null
done
ok "registry installed on every host"

# --- the center
TESSERA_HOME=$WORK/center "$TESSERA" exchange center run --id center --listen "127.0.0.1:$PC" \
  --cert certs/center.pem --key certs/center.key > "$WORK/center.log" 2>&1 &
CENTER_PID=$!
PIDS+=("$CENTER_PID")
center_up() {
  for _ in $(seq 100); do
    grep -q "listening" "$WORK/center.log" 2> /dev/null && return 0
    sleep 0.1
  done
  cat "$WORK/center.log"
  return 1
}
check "the center is up" center_up

# --- the document: a 函 with a 100 MiB attachment of random bytes
bash "$ROOT/scripts/make-clamav-test-db.sh" "$WORK/clamav" > /dev/null
mkdir -p docs
head -c $((SIZE_MIB << 20)) /dev/urandom > docs/survey.bin
write_letter docs/letter.di 0681936 檢送本市各級學校校園空間測繪資料1份，請查照。 survey.bin
check "the 函 is valid" "$TESSERA" exchange validate docs/letter.di --attach docs/survey.bin

# gateway HOST CODE IP: the command line of `tessera exchange` as that agency's gateway,
# in GATEWAY, the subcommand and its arguments to follow, the gateway's options in OPTIONS
# (an array, not a function, so that timeout and /usr/bin/time can run it).
gateway() {
  GATEWAY=(env "TESSERA_HOME=$WORK/$1" "$TESSERA" exchange)
  OPTIONS=(--agency "$2" --cert "certs/$1.pem" --key "certs/$1.key" --source-address "$3"
    --malware-db "$WORK/clamav")
}
GA() { gateway a "$A" 127.0.0.11; "${GATEWAY[@]}" "$@" "${OPTIONS[@]}"; }
GB() { gateway b "$B" 127.0.0.12; "${GATEWAY[@]}" "$@" "${OPTIONS[@]}"; }
# measured NAME SECONDS HOST CODE IP ARGS...: the gateway command under a timeout and
# /usr/bin/time, its peak RSS (KiB) and wall time (s) written to NAME.time.
measured() {
  local name=$1 seconds=$2
  gateway "$3" "$4" "$5"
  shift 5
  /usr/bin/time -f '%M %e' -o "$WORK/$name.time" timeout "$seconds" "${GATEWAY[@]}" "$@" "${OPTIONS[@]}"
}

# Generous limits: each takes seconds here; only a hang or a crawl reaches them.
expect_rc "A sends the 函 with its ${SIZE_MIB} MiB attachment" 0 measured send 90 a "$A" 127.0.0.11 send docs/letter.di --attach docs/survey.bin --json
ID=$(json_field '["id"]')
expect_rc "B receives it" 0 measured receive 90 b "$B" 127.0.0.12 receive --wait 10 --json
if [ "$(json_field '["documents"]')" = 1 ]; then ok "B got one document"; else bad "B got $(json_field '["documents"]') documents"; fi
expect_rc "B's inbox" 0 GB inbox --json
FILES=$(json_field '[0]["files"]')
check "the DI arrived byte-identical" cmp docs/letter.di "$FILES/letter.di"
check "the ${SIZE_MIB} MiB attachment arrived byte-identical" cmp docs/survey.bin "$FILES/survey.bin"
# Both archives keep the document with its attachment (the gateways journal what they send
# and receive), and find it by its subject.
expect_rc "A's archive finds the sent 函" 0 env TESSERA_HOME="$WORK/a" "$TESSERA" archive search 測繪資料 --json
in_log "with its attachment" "survey.bin"
expect_rc "B's archive finds the received 函" 0 env TESSERA_HOME="$WORK/b" "$TESSERA" archive search 測繪資料 --json
in_log "with its attachment" "survey.bin"
check "B's archived copy reads back whole, against its SHA-256" \
  env TESSERA_HOME="$WORK/b" timeout 60 "$TESSERA" archive verify --read-data

# --- B's archive gives the archived 函 back a piece at a time (it is stored in 1 MiB
# pieces): show (its summary and the raw message), export (.eml and mbox) and volume
# export each read it whole, check it against its SHA-256 and give it out byte for byte,
# in a peak RSS far below its size (see ARCHIVE_LIMIT_MIB).
expect_rc "B's archive lists the 函" 0 env TESSERA_HOME="$WORK/b" "$TESSERA" archive search 測繪資料 --json
MSG=$(json_field '["hits"][0]["id"]')
# archived NAME ARGS...: `tessera archive ARGS` on B's archive under a timeout and
# /usr/bin/time (peak RSS in KiB and seconds to NAME.time), its output to NAME.out.
archived() {
  local name=$1
  shift
  /usr/bin/time -f '%M %e' -o "$WORK/$name.time" env TESSERA_HOME="$WORK/b" timeout 120 \
    "$TESSERA" archive "$@" > "$WORK/$name.out" 2> "$WORK/$name.err"
}
check "archive show of the 函" archived show show "$MSG" --json
SHA=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sha256'])" "$WORK/show.out")
MSIZE=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['size'])" "$WORK/show.out")
if grep -qF survey.bin "$WORK/show.out"; then ok "show lists the attachment"; else bad "show lists no survey.bin"; fi
check "archive show --raw of the 函" archived show-raw show "$MSG" --raw
RAW=$WORK/show-raw.out
if [ "$(stat -c %s "$RAW")" = "$MSIZE" ] && [ "$(sha256sum < "$RAW" | cut -c1-64)" = "$SHA" ]; then
  ok "show --raw gives the ${MSIZE}-byte message, its SHA-256 as recorded"
else
  bad "show --raw gave $(stat -c %s "$RAW") bytes, not the recorded message"
fi
check "archive export --format eml" archived export-eml export "$MSG" --out "$WORK/eml"
check "the .eml is the message byte for byte" cmp "$RAW" "$WORK/eml/$MSG.eml"
check "archive export --format mbox" archived export-mbox export "$MSG" --format mbox --out "$WORK/out.mbox"
# A base64 attachment has no line to escape: the entry is its "From " line, the message
# and the blank line after it.
mbox_is_raw() { tail -n +2 "$WORK/out.mbox" | head -c "$MSIZE" | cmp - "$RAW"; }
check "the mbox holds the message byte for byte" mbox_is_raw
check "archive volume export" archived volume volume export --before 2100-01-01 --out "$WORK/vol"
check "the volume verifies" env TESSERA_HOME="$WORK/b" "$TESSERA" archive volume verify "$WORK/vol"
volume_is_raw() { tar -xOf "$WORK"/vol/tessera-volume-*.tar "messages/$SHA.eml" | cmp - "$RAW"; }
check "the volume holds the message byte for byte" volume_is_raw
for step in show show-raw export-eml export-mbox volume; do
  read -r kib secs < "$WORK/$step.time"
  echo "archive $step of the ${MSIZE}-byte message: ${secs} s"
  bounded "archive $step" "$kib" "$ARCHIVE_LIMIT_MIB"
done

expect_rc "A collects B's receipt" 0 measured receipt 60 a "$A" 127.0.0.11 receive --wait 10 --json
expect_rc "A's status of the document" 0 GA status "$ID" --json
state=$(json_field '["recipients"][0]["state"]')
if [ "$state" = received ]; then ok "B's signed receipt says received"; else bad "B's state is $state"; fi

# --- peak memory: the gateways' from /usr/bin/time, the center's from the kernel's
# high-water mark, read while it still runs
center_hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$CENTER_PID/status")
read -r send_kib send_s < "$WORK/send.time"
read -r recv_kib recv_s < "$WORK/receive.time"
echo "document: ${SIZE_MIB} MiB attachment; send ${send_s} s, receive ${recv_s} s"
bounded "the sending gateway" "$send_kib" "$GATEWAY_LIMIT_MIB"
bounded "the receiving gateway" "$recv_kib" "$GATEWAY_LIMIT_MIB"
bounded "the center" "$center_hwm" "$CENTER_LIMIT_MIB"

# --- over libclamav's default file limit, an infected attachment is still found
mkdir -p bad
cp docs/letter.di bad/letter.di
# shellcheck disable=SC2016 # the test string, not an expansion
printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > bad/survey.bin
truncate -s $(((SIZE_MIB << 20) + 4096)) bad/survey.bin
expect_fail "an attachment of ${SIZE_MIB} MiB + 4 KiB carrying EICAR is refused" \
  measured infected 90 a "$A" 127.0.0.11 send bad/letter.di --attach bad/survey.bin
in_log "the sender is told it carries malware" "malware"

stop_all
PIDS=()
finish
