#!/usr/bin/env bash
# A real exchange network on 127.0.0.1, every party a separate process with its own home
# and certificate from a test CA this script makes: a management center publishing the
# signed registry, two exchange centers, three agency gateways (each registered at its own
# loopback address). Checked end to end through the `tessera` program:
#   - a 函 with two attachments from A to B (same center): accepted receipt, B receives
#     it byte-identical and valid, A sees B's signed "received" receipt;
#   - 一文多發: one DI + SW to B and C, C homed at the other center (forwarded);
#   - a document carrying malware is stopped at the sending gateway;
#   - a suspended agency can neither send nor receive, its documents are held, and it gets
#     them after an authorised resume;
#   - `exchange health` reports a gateway's registry, certificate, clock and center as ok;
#   - an agency whose certificate has expired, and a gateway connecting from an address
#     not registered for it, are refused before any request is read; the expired one's
#     `exchange health` fails, naming the expiry;
#   - a center killed with SIGKILL under load and restarted loses no accepted document,
#     and the recipient sees each one exactly once.
# Usage: exchange_network.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: exchange_network.sh PATH/TO/tessera}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin exchange-network
# shellcheck source=tests/integration/exchange_lib.sh
. "$ROOT/tests/integration/exchange_lib.sh"

A=A15060000H  # 臺南市政府
B=376570000A  # 臺南市政府教育局
C=379000000A  # 臺南市政府衛生局
E=A09000000E  # an agency whose certificate has expired
PM=$(free_port)
PA=$(free_port)
PB=$(free_port)

# --- a test CA and every party's certificate
mkdir -p certs
"$TESSERA" pki init-ca --dir ca --name "Tessera Test GCA" > /dev/null
issue() { "$TESSERA" pki issue --ca ca "$@" > /dev/null; }
issue --name management --ip 127.0.0.1 --out certs/management
issue --name center-a --ip 127.0.0.1 --out certs/center-a
issue --name center-b --ip 127.0.0.1 --key-type rsa --out certs/center-b
issue --name "$A 臺南市政府" --ip 127.0.0.11 --out certs/a
issue --name "$B 臺南市政府教育局" --ip 127.0.0.12 --key-type rsa --out certs/b
issue --name "$C 臺南市政府衛生局" --ip 127.0.0.13 --out certs/c
issue --name "$E expired" --ip 127.0.0.14 --days 0 --not-before 2024-01-01 --not-after 2025-01-01 --out certs/e
ok "test CA and certificates made"

# --- the management center's registry
export TESSERA_HOME=$WORK/management
R() { "$TESSERA" exchange registry "$@"; }
check "registry init" R init --network tainan-test
check "trust anchor" R anchor add ca/ca.pem
check "management host" R center add management --url "https://127.0.0.1:$PM" --ip 127.0.0.1 --cert certs/management.pem
check "center-a" R center add center-a --url "https://127.0.0.1:$PA" --ip 127.0.0.1 --cert certs/center-a.pem
check "center-b" R center add center-b --url "https://127.0.0.1:$PB" --ip 127.0.0.1 --cert certs/center-b.pem
check "agency A" R agency add "$A" --name 臺南市政府 --center center-a --cert certs/a.pem --ip 127.0.0.11
check "agency B" R agency add "$B" --name 臺南市政府教育局 --center center-a --cert certs/b.pem --ip 127.0.0.12
check "agency C" R agency add "$C" --name 臺南市政府衛生局 --center center-b --cert certs/c.pem --ip 127.0.0.13
check "agency E" R agency add "$E" --name 過期機關 --center center-a --cert certs/e.pem --ip 127.0.0.14
check "publish" R publish
PUB=$(ls "$WORK"/management/exchange/management/management.pub.pem)
REG=$WORK/management/exchange/management/current.json

for host in management center-a center-b a b c e; do
  TESSERA_HOME=$WORK/$host "$TESSERA" exchange registry install "$REG" --key "$PUB" > /dev/null
done
ok "registry installed on every host"

# --- the servers
start_center() {  # start_center HOME ID PORT [extra...]
  local home=$1 id=$2 port=$3
  shift 3
  TESSERA_HOME=$WORK/$home ${CENTER_WRAPPER:-} "$TESSERA" exchange center run --id "$id" --listen "127.0.0.1:$port" \
    --cert "certs/$id.pem" --key "certs/$id.key" "$@" > "$WORK/$home.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    grep -q "listening" "$WORK/$home.log" 2> /dev/null && return 0
    sleep 0.1
  done
  cat "$WORK/$home.log"
  return 1
}
check "management center up" start_center management management "$PM" --publish-registry
check "center-a up" start_center center-a center-a "$PA"
CENTER_A_PID=${PIDS[-1]}
check "center-b up" start_center center-b center-b "$PB"

# --- documents
bash "$ROOT/scripts/make-clamav-test-db.sh" "$WORK/clamav" > /dev/null
mkdir -p docs
printf '%%PDF-1.4 說明 (a stand-in for a PDF)\n' > docs/附件一.pdf
python3 -c "import os; open('docs/report.odt','wb').write(os.urandom(200000))"
write_letter docs/letter.di 0681935 函轉有關啟動居家辦公期間進行公文電子交換作業相關事宜 附件一.pdf report.odt

GW() {  # GW HOST CODE IP command...
  local host=$1 code=$2 ip=$3
  shift 3
  TESSERA_HOME=$WORK/$host "$TESSERA" exchange "$@" --agency "$code" --cert "certs/$host.pem" \
    --key "certs/$host.key" --source-address "$ip" --malware-db "$WORK/clamav"
}
GA() { GW a "$A" 127.0.0.11 "$@"; }
GB() { GW b "$B" 127.0.0.12 "$@"; }
GC() { GW c "$C" 127.0.0.13 "$@"; }

expect_rc "A sends a 函 with two attachments to B" 0 GA send docs/letter.di --attach docs/附件一.pdf --attach docs/report.odt --json
ID1=$(json_field '["id"]')
# What a gateway process killed mid-pull left is removed; a running process's file is kept.
INCOMING_B=$WORK/b/exchange/gateway/incoming
mkdir -p "$INCOMING_B"
sleep 0 &
DEAD=$!
wait "$DEAD"
echo partial > "$INCOMING_B/pull-$DEAD.part"
echo partial > "$INCOMING_B/pull-$$.part"
expect_rc "B receives" 0 GB receive --wait 5 --json
[ "$(json_field '["documents"]')" = 1 ] && ok "B got one document" || bad "B got $(json_field '["documents"]') documents"
check "a finished process's half-pulled file is removed" test ! -e "$INCOMING_B/pull-$DEAD.part"
check "a running process's pull file is kept" test -e "$INCOMING_B/pull-$$.part"
rm -f "$INCOMING_B/pull-$$.part"
# An acknowledgement riding on a pull (GET /v1/inbox?ack=D) is refused when it names no
# delivery of the caller's, or no number; nothing is leased then.
BCURL() {
  curl -s -o "$WORK/curl.out" -w '%{http_code}' --interface 127.0.0.12 --cacert ca/ca.pem \
    --cert certs/b.pem --key certs/b.key "https://127.0.0.1:$PA$1"
}
code=$(BCURL "/v1/inbox?wait=0&ack=999999")
[ "$code" = 404 ] && ok "an acknowledgement of another's delivery is refused (404)" || bad "ack=999999 answered $code: $(cat "$WORK/curl.out")"
code=$(BCURL "/v1/inbox?wait=0&ack=12x")
[ "$code" = 400 ] && ok "an acknowledgement without a number is refused (400)" || bad "ack=12x answered $code: $(cat "$WORK/curl.out")"
# B's receive acknowledged its document on its next pull: the center holds it as delivered.
code=$(curl -s -o "$WORK/curl.out" -w '%{http_code}' --interface 127.0.0.11 --cacert ca/ca.pem \
  --cert certs/a.pem --key certs/a.key "https://127.0.0.1:$PA/v1/status/$ID1")
state=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['recipients'][0]['state'])" "$WORK/curl.out" 2>/dev/null)
[ "$code" = 200 ] && [ "$state" = delivered ] && ok "center-a holds B's copy as delivered (acknowledged)" || bad "center-a status: $code $(cat "$WORK/curl.out")"
expect_rc "B's inbox" 0 GB inbox --json
FILES=$(json_field '[0]["files"]')
check "the DI arrived byte-identical" cmp docs/letter.di "$FILES/letter.di"
check "the attachment arrived byte-identical" cmp docs/report.odt "$FILES/report.odt"
check "the Chinese-named attachment arrived" cmp docs/附件一.pdf "$FILES/附件一.pdf"
[ "$(json_field '[0]["number"]')" != "" ] && ok "the inbox shows the 發文字號" || bad "no 發文字號 in the inbox"
expect_rc "B's archive finds the received 函 by a word of its subject" 0 env TESSERA_HOME="$WORK/b" "$TESSERA" archive search 居家辦公
in_log "the archived copy is the document" "函轉有關啟動居家辦公期間"
expect_rc "A's archive finds the sent 函 by its 發文字號" 0 env TESSERA_HOME="$WORK/a" "$TESSERA" archive search 1150681935
in_log "the sent copy is archived" "函轉有關啟動居家辦公期間"
expect_rc "A collects receipts" 0 GA receive --wait 5 --json
expect_rc "A's status of the document" 0 GA status "$ID1" --json
[ "$(json_field '["recipients"][0]["state"]')" = received ] && ok "B's signed receipt says received" ||
  bad "B's state is $(json_field '["recipients"][0]["state"]')"

# --- 一文多發: one DI + SW to B (center-a) and C (center-b, forwarded)
cat > docs/roster.sw << XML
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE 交換表單 SYSTEM "104_roster_utf8.dtd">
<交換表單>
<全銜>臺南市政府教育局</全銜><機關代碼>$B</機關代碼>
<全銜>臺南市政府衛生局</全銜><機關代碼>$C</機關代碼>
</交換表單>
XML
sed -e 's|<!NOTATION _X SYSTEM "">|<!NOTATION _X SYSTEM "">\n<!ENTITY 表單 SYSTEM "roster.sw" NDATA DI>\n<!NOTATION DI SYSTEM "">|' \
  -e "s|<受文者>.*</受文者>|<受文者><交換表 交換表單=\"表單\">如正副本行文單位</交換表></受文者>|" docs/letter.di > docs/multi.di
expect_rc "A sends one DI + SW to B and C" 0 GA send docs/multi.di --sw docs/roster.sw --attach docs/附件一.pdf --attach docs/report.odt --json
ID2=$(json_field '["id"]')
expect_rc "B receives its copy" 0 GB receive --wait 5 --json
[ "$(json_field '["documents"]')" = 1 ] && ok "B got the 一文多發 copy" || bad "B got $(json_field '["documents"]')"
expect_rc "C receives its copy through center-b" 0 GC receive --wait 10 --json
[ "$(json_field '["documents"]')" = 1 ] && ok "C got the forwarded copy" || bad "C got $(json_field '["documents"]')"
expect_rc "A collects both receipts" 0 GA receive --wait 10 --max 2 --json
expect_rc "status of the 一文多發" 0 GA status "$ID2" --json
states=$(python3 -c "import json; print(' '.join(r['recipient']+'='+r['state'] for r in json.load(open('$WORK/last.log'))['recipients']))")
[ "$states" = "$B=received $C=received" ] && ok "both recipients received ($states)" || bad "states: $states"

# --- health: A's registry, certificate, clock and center, each checked against the policy
expect_rc "A's health" 0 GA health --json
python3 - "$WORK/last.log" << 'PY' && ok "A's registry, certificate, clock and center are ok" || bad "A's health"
import json, sys
r = json.load(open(sys.argv[1]))
c = {x["name"]: x for x in r["checks"]}
center = c["center"]
# A small disk under the scenario's spool is a genuine warning, not a failure of the test.
center_ok = center["state"] == "ok" or (center["state"] == "warning" and center["spool_free_bytes"] < 2**30)
good = (r["ok"] and list(c) == ["registry", "certificate", "clock", "center"] and center_ok
        and all(c[n]["state"] == "ok" for n in ("registry", "certificate", "clock"))
        and center["center"] == "center-a" and center["deliveries"].get("delivered", 0) >= 3)
if not good:
    print(json.dumps(r, indent=2))
sys.exit(0 if good else 1)
PY
expect_rc "A's health for people" 0 GA health
in_log "one line per check, naming the center" "center-a: registry serial"

# --- malware is stopped at the sending gateway
printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > docs/report.odt.eicar
mkdir -p bad && cp docs/letter.di bad/letter.di && cp docs/附件一.pdf bad/ && cp docs/report.odt.eicar bad/report.odt
expect_fail "a document with malware is refused" GA send bad/letter.di --attach bad/附件一.pdf --attach bad/report.odt
in_log "the sender is told it carries malware" "malware"

# --- suspension (中止服務): held, then restored by an authorised resume
check "center-a suspends B" env TESSERA_HOME="$WORK/center-a" "$TESSERA" exchange suspend "$B" --reason security-incident --note "level 3 incident"
expect_rc "A can still send to B (held)" 0 GA send docs/letter.di --attach docs/附件一.pdf --attach docs/report.odt --json
ID3=$(json_field '["id"]')
expect_fail "suspended B cannot receive" GB receive --wait 1
in_log "B is told it is suspended" "suspended"
check "center-a resumes B" env TESSERA_HOME="$WORK/center-a" "$TESSERA" exchange resume "$B" --note "incident closed"
expect_rc "B receives the held document after resume" 0 GB receive --wait 5 --json
[ "$(json_field '["documents"]')" = 1 ] && ok "the held document was delivered" || bad "B got $(json_field '["documents"]')"
expect_rc "inbox after the resume" 0 GB inbox --json
check "the delivered document is the one held" \
  python3 -c "import json,sys; sys.exit(0 if any(e['id'] == '$ID3' for e in json.load(open('$WORK/last.log'))) else 1)"
check "center-a suspends A" env TESSERA_HOME="$WORK/center-a" "$TESSERA" exchange suspend "$A" --reason malware
expect_fail "suspended A cannot send" GA send docs/letter.di --attach docs/附件一.pdf --attach docs/report.odt
in_log "A is told it is suspended" "suspended"
check "center-a resumes A" env TESSERA_HOME="$WORK/center-a" "$TESSERA" exchange resume "$A" --note "cleaned"

# --- the management center suspends an agency: every center enforces it from the registry
R() { TESSERA_HOME=$WORK/management "$TESSERA" exchange registry "$@"; }
reinstall() { TESSERA_HOME=$WORK/center-a "$TESSERA" exchange registry install "$REG" --key "$PUB" > /dev/null; }
check "the management center suspends B" R suspend "$B" --reason refused-audit --note "did not allow the audit"
check "and publishes" R publish
check "center-a installs the new registry" reinstall
sleep 6  # the center reloads its registry every 5 s
expect_fail "B, suspended by the management center, cannot receive" GB receive --wait 1
in_log "B is told it is suspended" "suspended"
check "the management center resumes B" R resume "$B" --note "audit done"
check "and publishes again" R publish
check "center-a installs it" reinstall
sleep 6
expect_rc "B can receive again" 0 GB receive --wait 1

# --- the recipient's own scan: a sender whose signatures miss it, a recipient whose do not
mkdir -p clamav-weak
echo "Tessera.Bench.Dummy:0:*:00112233445566778899aabbccddeeff" > clamav-weak/weak.ndb
GAW() { TESSERA_HOME=$WORK/a "$TESSERA" exchange "$@" --agency "$A" --cert certs/a.pem \
  --key certs/a.key --source-address 127.0.0.11 --malware-db "$WORK/clamav-weak"; }
expect_rc "a sender with stale signatures sends the infected document" 0 GAW send bad/letter.di --attach bad/附件一.pdf --attach bad/report.odt --json
ID4=$(json_field '["id"]')
expect_rc "B receives and rejects it" 0 GB receive --wait 5 --json
[ "$(json_field '["rejected"]')" = 1 ] && ok "B rejected one document" || bad "B rejected $(json_field '["rejected"]')"
expect_rc "A collects B's receipt" 0 GA receive --wait 5
expect_rc "the status of the infected document" 0 GA status "$ID4" --json
[ "$(json_field '["recipients"][0]["state"]')" = rejected ] && [ "$(json_field '["recipients"][0]["reason_code"]')" = malware ] &&
  ok "A holds B's signed receipt: rejected, malware" || bad "state $(json_field '["recipients"][0]["state"]') $(json_field '["recipients"][0]["reason_code"]')"
expect_rc "B's inbox" 0 GB inbox --json
python3 -c "import json,sys; e=[x for x in json.load(open('$WORK/last.log')) if x['id']=='$ID4']; sys.exit(0 if e and e[0]['state']=='rejected' and e[0]['files']=='' else 1)" &&
  ok "the infected document is recorded as rejected and kept from the clerk" || bad "the inbox shows the infected document"

# --- refused before any request: an expired certificate, a wrong source address
expect_fail "an expired certificate is refused" GW e "$E" 127.0.0.14 receive --wait 1
in_log "the refusal names the expiry" "expired"
expect_rc "E's health fails" 4 GW e "$E" 127.0.0.14 health
in_log "E's health names the certificate's expiry" "the certificate expired on 2025-01-01"
in_log "and the failed checks" "health check(s) failed: certificate"
# Each connection is a full handshake: the center check, on a second connection, hears the
# same refusal, not a failed session resumption.
check "the center check gives the center's refusal too" test "$(grep -c "expired" "$WORK/last.log")" -ge 3
check "no TLS alert from a resumed session" bash -c "! grep -q 'alert internal error' '$WORK/last.log'"
expect_fail "a gateway at an unregistered address is refused" GW a "$A" 127.0.0.99 receive --wait 1
in_log "the refusal names the address" "127.0.0.99"
check "the refusals are in center-a's audit log" grep -q "connection-refused" <(TESSERA_HOME=$WORK/center-a "$TESSERA" archive audit 2>&1)

# --- SIGKILL a center under load: nothing accepted is lost, nothing is duplicated
N=20
(
  for _ in $(seq $N); do GA send docs/letter.di --attach docs/附件一.pdf --attach docs/report.odt > /dev/null 2>&1 || true; done
) &
LOAD=$!
sleep 1.5
kill -9 "$CENTER_A_PID"
wait "$CENTER_A_PID" 2> /dev/null || true
check "center-a restarts under load" start_center center-a center-a "$PA"
# One center per spool: a second one on center-a's (another port) does not start.
expect_fail "a second center on center-a's spool is refused" timeout 20 env TESSERA_HOME="$WORK/center-a" \
  "$TESSERA" exchange center run --id center-a --listen "127.0.0.1:$((PA + 50))" \
  --cert certs/center-a.pem --key certs/center-a.key
in_log "the refusal says another center holds the spool" "another exchange center holds"
wait "$LOAD" || true
expect_rc "A resends what was not accepted" 0 GA flush
expect_rc "A's sent documents" 0 GA receipts --json
sent=$(python3 -c "import json; print(len(json.load(open('$WORK/last.log'))))")
expect_rc "B receives everything" 0 GB receive --wait 5 --json
expect_rc "B's inbox after the crash" 0 GB inbox --json
got=$(python3 -c "import json; e=json.load(open('$WORK/last.log')); print(len(e), len({(x['sender'],x['id']) for x in e}))")
# Every document A recorded as sent (the first three tests' and the load's) reached B once.
to_b=$(TESSERA_HOME=$WORK/a "$TESSERA" exchange receipts --json --agency "$A" --cert certs/a.pem --key certs/a.key --malware-db "$WORK/clamav" |
  python3 -c "import json,sys; print(sum(1 for d in json.load(sys.stdin) for r in d['recipients'] if r['recipient']=='$B'))")
[ "$got" = "$to_b $to_b" ] && ok "B holds each of the $to_b documents sent to it exactly once ($sent sent in all)" ||
  bad "B holds $got (entries, distinct); A sent $to_b to B"

stop_all
PIDS=()
finish
