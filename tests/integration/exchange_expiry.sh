#!/usr/bin/env bash
# What runs out in an exchange network, end to end through the `tessera` program with an
# exchange center and two agency gateways as separate processes on 127.0.0.1:
#   - a document its recipient does not collect within the policy's delivery period
#     expires: the center sends the sender a signed "expired" receipt, the sender's status
#     shows it per recipient, and the recipient no longer gets the document;
#   - agencies whose certificates expire within 60, 30 and 7 days get each warning once
#     (in the center's audit log), not again after a restart;
#   - an agency whose every certificate has expired is suspended automatically, with the
#     regulation's reason, and documents cannot be sent to it.
# Usage: exchange_expiry.sh PATH/TO/tessera
set -u
TESSERA=$(realpath "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin exchange-expiry
# shellcheck source=tests/integration/exchange_lib.sh
. "$ROOT/tests/integration/exchange_lib.sh"

A=A15060000H  # 臺南市政府
B=376570000A  # 臺南市政府教育局
W60=379000000A
W30=379010000A
W7=379020000A
E=A09000000E  # every certificate expired
PORT=$(free_port)
EXPIRY=6  # seconds a document waits for its recipient

mkdir -p certs
"$TESSERA" pki init-ca --dir ca --name "Tessera Test GCA" > /dev/null
issue() { "$TESSERA" pki issue --ca ca "$@" > /dev/null; }
issue --name center --ip 127.0.0.1 --out certs/center
issue --name "$A 臺南市政府" --ip 127.0.0.11 --out certs/a
issue --name "$B 臺南市政府教育局" --ip 127.0.0.12 --out certs/b
issue --name "$W60 in 45 days" --ip 127.0.0.21 --days 45 --out certs/w60
issue --name "$W30 in 20 days" --ip 127.0.0.22 --days 20 --out certs/w30
issue --name "$W7 in 5 days" --ip 127.0.0.23 --days 5 --out certs/w7
issue --name "$E expired" --ip 127.0.0.14 --days 0 --not-before 2024-01-01 --not-after 2025-01-01 --out certs/e
ok "test CA and certificates made"

export TESSERA_HOME=$WORK/management
R() { "$TESSERA" exchange registry "$@"; }
check "registry init" R init --network expiry-test
check "trust anchor" R anchor add ca/ca.pem
check "the center" R center add center --url "https://127.0.0.1:$PORT" --ip 127.0.0.1 --cert certs/center.pem
check "agency A" R agency add "$A" --name 臺南市政府 --center center --cert certs/a.pem --ip 127.0.0.11
check "agency B" R agency add "$B" --name 臺南市政府教育局 --center center --cert certs/b.pem --ip 127.0.0.12
check "an agency whose certificate ends in 45 days" R agency add "$W60" --name 六十日 --center center --cert certs/w60.pem --ip 127.0.0.21
check "one whose certificate ends in 20 days" R agency add "$W30" --name 三十日 --center center --cert certs/w30.pem --ip 127.0.0.22
check "one whose certificate ends in 5 days" R agency add "$W7" --name 七日 --center center --cert certs/w7.pem --ip 127.0.0.23
check "one whose certificate has expired" R agency add "$E" --name 過期機關 --center center --cert certs/e.pem --ip 127.0.0.14
expect_fail "a delivery expiry of zero is refused" R policy set --delivery-expiry-seconds 0
check "documents expire after $EXPIRY s" R policy set --delivery-expiry-seconds "$EXPIRY"
check "publish" R publish
PUB=$(ls "$WORK"/management/exchange/management/management.pub.pem)
REG=$WORK/management/exchange/management/current.json
for host in center a b; do
  TESSERA_HOME=$WORK/$host "$TESSERA" exchange registry install "$REG" --key "$PUB" > /dev/null
done
ok "registry installed on every host"

start_center() {
  TESSERA_HOME=$WORK/center "$TESSERA" exchange center run --id center --listen "127.0.0.1:$PORT" \
    --cert certs/center.pem --key certs/center.key >> "$WORK/center.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    grep -q "listening" "$WORK/center.log" 2> /dev/null && return 0
    sleep 0.1
  done
  cat "$WORK/center.log"
  return 1
}
check "center up" start_center

bash "$ROOT/scripts/make-clamav-test-db.sh" "$WORK/clamav" > /dev/null
mkdir -p docs
write_letter docs/letter.di 0681936 請於期限內收文

GW() {  # GW HOST CODE IP command...
  local host=$1 code=$2 ip=$3
  shift 3
  TESSERA_HOME=$WORK/$host "$TESSERA" exchange "$@" --agency "$code" --cert "certs/$host.pem" \
    --key "certs/$host.key" --source-address "$ip" --malware-db "$WORK/clamav"
}
GA() { GW a "$A" 127.0.0.11 "$@"; }
GB() { GW b "$B" 127.0.0.12 "$@"; }

# --- a document B does not collect in time
expect_rc "A sends a 函 to B" 0 GA send docs/letter.di --json
ID=$(json_field '["id"]')
expect_rc "A's status before the expiry" 0 GA status "$ID" --json
[ "$(json_field '["recipients"][0]["state"]')" = accepted ] && ok "B's copy waits at the center" ||
  bad "state before the expiry: $(json_field '["recipients"][0]["state"]')"
state=""
for _ in $(seq 20); do
  GA receive --wait 2 --json > /dev/null 2>&1
  GA status "$ID" --json > "$WORK/last.log" 2>&1
  state=$(json_field '["recipients"][0]["state"]')
  [ "$state" = expired ] && break
done
[ "$state" = expired ] && ok "A holds the center's signed 'expired' receipt for B" || bad "state after the expiry: $state"
reason=$(json_field '["recipients"][0]["reason"]')
case "$reason" in
  *"$B"*) ok "the receipt says B did not collect it ($reason)" ;;
  *) bad "the expired receipt's reason: $reason" ;;
esac
expect_rc "A's list of sent documents" 0 GA receipts --json
python3 -c "import json,sys; d=[x for x in json.load(open('$WORK/last.log')) if x['id']=='$ID']; sys.exit(0 if d and d[0]['recipients'][0]['state']=='expired' else 1)" &&
  ok "the expiry shows in A's receipts" || bad "A's receipts do not show the expiry"
expect_rc "B collects what is waiting" 0 GB receive --wait 1 --json
[ "$(json_field '["documents"]')" = 0 ] && ok "the expired document is no longer delivered to B" ||
  bad "B got $(json_field '["documents"]') documents after the expiry"

# --- certificates: warnings, and automatic suspension once every certificate expired
audit() { TESSERA_HOME=$WORK/center "$TESSERA" archive audit 2>&1; }
warned() { audit | grep "exchange.certificate-warning" | grep -c "$1"; }
[ "$(warned "$W60")" = 1 ] && audit | grep "$W60" | grep -q "60-day warning" &&
  ok "the agency 45 days from expiry got the 60-day warning" || bad "$W60: $(audit | grep "$W60")"
[ "$(warned "$W30")" = 1 ] && audit | grep "$W30" | grep -q "30-day warning" &&
  ok "the agency 20 days from expiry got the 30-day warning" || bad "$W30: $(audit | grep "$W30")"
[ "$(warned "$W7")" = 1 ] && audit | grep "$W7" | grep -q "7-day warning" &&
  ok "the agency 5 days from expiry got the 7-day warning" || bad "$W7: $(audit | grep "$W7")"
[ "$(warned "$A")" = 0 ] && ok "agencies with a year left get no warning" || bad "A was warned"
audit | grep "exchange.suspend" | grep "$E" | grep -q "certificate-expired" &&
  ok "the agency whose certificates all expired was suspended automatically (certificate-expired)" ||
  bad "no automatic suspension of $E: $(audit | grep "$E")"
grep -q "expires in" "$WORK/center.log" && ok "the warnings are in the center's log too" || bad "no warning in the center's log"
cp docs/letter.di docs/to-e.di
sed -i "s/<機關代碼>$B</<機關代碼>$E</; s/臺南市政府教育局/過期機關/g" docs/to-e.di
expect_fail "A cannot send to the agency whose certificates expired" GA send docs/to-e.di
in_log "A is told why" "no valid certificate"

stop_all
PIDS=()
check "center restarted" start_center
sleep 1
[ "$(warned "$W60")" = 1 ] && [ "$(warned "$W30")" = 1 ] && [ "$(warned "$W7")" = 1 ] &&
  ok "each warning is given once, not again after a restart" ||
  bad "warnings after the restart: $W60=$(warned "$W60") $W30=$(warned "$W30") $W7=$(warned "$W7")"
[ "$(audit | grep "exchange.suspend" | grep -c "$E")" = 1 ] && ok "the automatic suspension is made once" ||
  bad "suspensions of $E: $(audit | grep "exchange.suspend" | grep -c "$E")"

stop_all
PIDS=()
finish
