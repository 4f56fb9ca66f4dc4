#!/usr/bin/env bash
# Every role run by `tessera serve --settings FILE`, each host a process with its own home
# on 127.0.0.1: a management center publishing the registry, an exchange center shipping
# its audit log to a real rsyslogd over TLS ([guard.syslog]), and two agency gateways A and
# B (each with its archive listener). Checked through the `tessera` program:
#   - A sends a 函 with an attachment with `tessera exchange send` while A's daemon runs;
#     with no `receive` or `flush` by anyone, B's daemon receives it (B's inbox shows it,
#     byte-identical; B's archive search finds it) and A's status shows B's signed
#     "received" receipt;
#   - the gateway database is shared: `exchange send`/`inbox`/`status`/`receipts`, and a
#     hand-run `exchange receive`, work while the daemons poll;
#   - each daemon checks its health at start: A's certificate, 20 days from expiry, is
#     warned about in its log;
#   - the center's audit records (exchange.accept of the document) reach the collector;
#   - a gateway whose center is gone logs the error and backs off (no spinning);
#   - SIGTERM stops each serve within a few seconds (a gateway in a long poll too), exit 0;
#   - a bad certificate path, a bad listen address and a settings file that turns every
#     role off fail at start, naming the setting.
# Usage: serve_roles.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: serve_roles.sh PATH/TO/tessera}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin serve-roles
# shellcheck source=tests/integration/exchange_lib.sh
. "$ROOT/tests/integration/exchange_lib.sh"
# shellcheck source=tests/integration/soc_collector_lib.sh
. "$ROOT/tests/integration/soc_collector_lib.sh"
unset TESSERA_HOME  # every host's home is in its settings file ([paths] home)

A=A15060000H  # 臺南市政府
B=376570000A  # 臺南市政府教育局
PM=$(free_port)
PA=$(free_port)
PS=$(free_port)
LA=$(free_port)
LB=$(free_port)

# --- a test CA and every party's certificate; the registry, installed on every host
mkdir -p certs
"$TESSERA" pki init-ca --dir ca --name "Tessera Test GCA" > /dev/null
issue() { "$TESSERA" pki issue --ca ca "$@" > /dev/null; }
issue --name management --ip 127.0.0.1 --out certs/management
issue --name center-a --ip 127.0.0.1 --out certs/center-a
# A's certificate expires in 20 days: its daemon's health check must warn about it.
issue --name "$A 臺南市政府" --ip 127.0.0.11 --days 20 --out certs/a
issue --name "$B 臺南市政府教育局" --ip 127.0.0.12 --key-type rsa --out certs/b
R() { TESSERA_HOME=$WORK/management "$TESSERA" exchange registry "$@"; }
check "registry init" R init --network serve-test
check "trust anchor" R anchor add ca/ca.pem
check "management host" R center add management --url "https://127.0.0.1:$PM" --ip 127.0.0.1 --cert certs/management.pem
check "center-a" R center add center-a --url "https://127.0.0.1:$PA" --ip 127.0.0.1 --cert certs/center-a.pem
check "agency A" R agency add "$A" --name 臺南市政府 --center center-a --cert certs/a.pem --ip 127.0.0.11
check "agency B" R agency add "$B" --name 臺南市政府教育局 --center center-a --cert certs/b.pem --ip 127.0.0.12
check "publish" R publish
PUB=$(ls "$WORK"/management/exchange/management/management.pub.pem)
REG=$WORK/management/exchange/management/current.json
for host in management center-a a b; do
  TESSERA_HOME=$WORK/$host "$TESSERA" exchange registry install "$REG" --key "$PUB" > /dev/null
done
ok "registry installed on every host"
bash "$ROOT/scripts/make-clamav-test-db.sh" "$WORK/clamav" > /dev/null

# --- the SOC's collector: rsyslogd with TLS (gtls, mutual) on 127.0.0.1, its own PKI
soc_ca ca
soc_cert collector ca "IP:127.0.0.1"
soc_cert client ca "DNS:tessera.test"
soc_collector_configure "$PS"
if soc_collector_start; then
  PIDS+=("$SOC_PID")
  ok "rsyslogd listens with TLS on 127.0.0.1:$PS"
else
  bad "rsyslogd did not start"
fi

# --- the settings files, one per host
cat > management.toml << TOML
[paths]
home = "$WORK/management"
[archive]
lmtp = ""
smtp = ""
[exchange]
center_id = "management"
certificate = "$WORK/certs/management.pem"
key = "$WORK/certs/management.key"
listen = "127.0.0.1:$PM"
publish_registry = true
TOML
cat > center-a.toml << TOML
[paths]
home = "$WORK/center-a"
[archive]
lmtp = ""
smtp = ""
[exchange]
center_id = "center-a"
certificate = "$WORK/certs/center-a.pem"
key = "$WORK/certs/center-a.key"
listen = "127.0.0.1:$PA"
management_url = "https://127.0.0.1:$PM"
[guard.syslog]
collector = "127.0.0.1:$PS"
ca = "$WORK/pki/ca.pem"
cert = "$WORK/pki/client.pem"
key = "$WORK/pki/client.key"
facility = "local5"
period = 1
TOML
gateway_settings() { # gateway_settings HOST CODE IP LMTP-PORT
  cat << TOML
[paths]
home = "$WORK/$1"
[archive]
lmtp = "127.0.0.1:$4"
smtp = ""
[exchange]
agency = "$2"
certificate = "$WORK/certs/$1.pem"
key = "$WORK/certs/$1.key"
source_address = "$3"
management_url = "https://127.0.0.1:$PM"
malware_db = "$WORK/clamav"
receive_wait = 30
flush_period = 5
health_period = 60
TOML
}
gateway_settings a "$A" 127.0.0.11 "$LA" > a.toml
gateway_settings b "$B" 127.0.0.12 "$LB" > b.toml

# --- every host runs `tessera serve --settings FILE`
declare -A SERVE_PID
start_serve() { # start_serve HOST: waits for "tessera serve: running"
  "$TESSERA" serve --settings "$WORK/$1.toml" > "$WORK/$1.log" 2>&1 &
  SERVE_PID[$1]=$!
  PIDS+=($!)
  for _ in $(seq 150); do
    grep -q "tessera serve: running" "$WORK/$1.log" 2> /dev/null && return 0
    kill -0 "${SERVE_PID[$1]}" 2> /dev/null || break
    sleep 0.1
  done
  cat "$WORK/$1.log"
  return 1
}
check "the management center's serve starts" start_serve management
check "it runs the center and publishes the registry" grep -q "exchange center: management on 127.0.0.1:$PM (mutual TLS).*publishes the registry" management.log
check "it runs no archive listener (turned off)" bash -c "! grep -q 'listener:' '$WORK/management.log'"
check "center-a's serve starts" start_serve center-a
check "it runs the center" grep -q "exchange center: center-a on 127.0.0.1:$PA" center-a.log
check "and the syslog shipper" grep -q "syslog shipper:  the audit log of $WORK/center-a to 127.0.0.1:$PS" center-a.log
check "gateway A's serve starts" start_serve a
check "it runs the gateway daemon" grep -q "agency gateway:  $A" a.log
check "and the archive listener" grep -q "LMTP listener:   127.0.0.1:$LA" a.log
check "gateway B's serve starts" start_serve b

# --- A sends with the CLI while its daemon runs; nobody calls receive or flush
mkdir -p docs
printf '%%PDF-1.4 說明 (a stand-in for a PDF)\n' > docs/附件一.pdf
write_letter docs/letter.di 0681935 函轉有關啟動居家辦公期間進行公文電子交換作業相關事宜 附件一.pdf
GA() { "$TESSERA" --settings "$WORK/a.toml" "$@"; }
GB() { "$TESSERA" --settings "$WORK/b.toml" "$@"; }
expect_rc "A sends a 函 with an attachment (CLI, A's daemon running)" 0 GA exchange send docs/letter.di --attach docs/附件一.pdf --json
ID=$(json_field '["id"]')
check "the send gave an id" test -n "$ID"

# poll WHAT SECONDS COMMAND...: retries COMMAND every half second until it succeeds.
poll() {
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq $((seconds * 2))); do
    if "$@" > "$WORK/poll.log" 2>&1; then
      ok "$what"
      return 0
    fi
    sleep 0.5
  done
  bad "$what (not within $seconds s)"
  sed 's/^/    /' "$WORK/poll.log"
}
in_inbox() {
  GB exchange inbox --json > "$WORK/inbox.json" &&
    python3 -c "import json,sys; e=[x for x in json.load(open('$WORK/inbox.json')) if x['id']=='$ID' and x['state']=='received']; sys.exit(0 if e else 1)"
}
poll "B's daemon received the document; B's inbox shows it" 30 in_inbox
FILES=$(python3 -c "import json; print([x for x in json.load(open('$WORK/inbox.json')) if x['id']=='$ID'][0]['files'])" 2> /dev/null || echo "$WORK/none")
check "the DI arrived byte-identical" cmp docs/letter.di "$FILES/letter.di"
check "the attachment arrived byte-identical" cmp docs/附件一.pdf "$FILES/附件一.pdf"
found_in_b() { GB archive search 居家辦公 | grep -q 函轉有關啟動居家辦公期間; }
poll "B's archive search finds it (indexed by B's serve)" 20 found_in_b
found_in_a() { GA archive search 1150681935 | grep -q 函轉有關啟動居家辦公期間; }
poll "A's archive search finds the sent copy" 20 found_in_a
received() {
  GA exchange status "$ID" --json > "$WORK/status.json" &&
    python3 -c "import json,sys; r=json.load(open('$WORK/status.json'))['recipients']; sys.exit(0 if [(x['recipient'],x['state']) for x in r]==[('$B','received')] else 1)"
}
poll "A's status shows B's signed \"received\" receipt (A's daemon collected it)" 30 received
expect_rc "A's receipts while the daemon runs" 0 GA exchange receipts --json
check "A's receipts list the document" grep -q "$ID" last.log
expect_rc "a hand-run receive on B works beside B's daemon" 0 GB exchange receive --wait 1 --json
in_log "and reports in JSON" '"documents": 0'
check "B's daemon logged what it received" grep -q "exchange gateway $B: 1 document(s) received" b.log
check "A's daemon checked its health and warns of its certificate's expiry" grep -q "exchange gateway $A: health WARNING certificate" a.log
# (B's center may warn of a small disk under the scenario's spool: only the certificate counts.)
check "B's daemon checked its health too" grep -q "exchange gateway $B: health" b.log
check "and found nothing wrong with B's certificate (a year of validity)" \
  bash -c "! grep -Eq 'exchange gateway $B: health (WARNING|FAILED) certificate' '$WORK/b.log'"

# --- center-a's audit records at the collector
collected() { grep -q "exchange.accept .*document $ID from $A to $B" "$WORK/collected.log"; }
poll "center-a's audit record of the document reached the collector" 20 collected
check "with the facility from [guard.syslog] (local5)" grep -q "^local5\.[a-z]* tessera exchange.accept .*document $ID" collected.log
check "center-a's shipping cursor moved" bash -c "TESSERA_HOME='$WORK/center-a' '$TESSERA' guard syslog status | grep -q '127.0.0.1:$PS: shipped up to seq [1-9]'"

# --- center-a's self-assessment (guard report) observes its exchange controls and shipping
state_of() { python3 -c "import json,sys; print({c['id']: c['state'] for c in json.load(open('$WORK/last.log'))['controls']}['$1'])"; }
expect_rc "center-a's self-assessment: no integrity baseline yet, exit 4" 4 \
  "$TESSERA" --settings "$WORK/center-a.toml" guard report --json
for control in tls mutual-tls fixed-ip registry certificate syslog; do
  check "center-a: $control holds" test "$(state_of $control)" = holds
done
check "center-a: integrity fails without a baseline" test "$(state_of integrity)" = fails
in_log "saying how to record one" "record one with \`tessera guard baseline PATH...\` first"
evidence_of() { python3 -c "import json,sys; print({c['id']: c['evidence'] for c in json.load(open('$WORK/last.log'))['controls']}['$1'])"; }
check "center-a: TLS as probed on its port: 1.3 accepted" \
  bash -c "grep -qF 'probed: 127.0.0.1:$PA accepts TLS 1.3' <<< \"\$0\"" "$(evidence_of tls)"
check "and TLS 1.0, 1.1 and suites without forward secrecy refused" python3 -c "
import re, sys; e = sys.argv[1]; refused = e.split('refuses', 1)[1]
assert all(x in refused for x in ('TLS 1.0', 'TLS 1.1', 'without forward secrecy', 'CBC')), e" "$(evidence_of tls)"
expect_rc "gateway A's self-assessment" 4 "$TESSERA" --settings "$WORK/a.toml" guard report --json
check "A: the clock compared with its center by A's daemon, read without the network" \
  bash -c "grep -q 'against the exchange center [0-9]* min ago: .*skew' <<< \"\$0\"" "$(evidence_of clock)"

# --- settings that cannot start fail before serving, naming the setting
sed "s|certs/a.pem|certs/missing.pem|" a.toml > bad-cert.toml
sed -i "s|lmtp = \"127.0.0.1:$LA\"|lmtp = \"\"|" bad-cert.toml
expect_fail "a gateway with a bad certificate path does not start" "$TESSERA" serve --settings "$WORK/bad-cert.toml"
in_log "the error names the setting" "[exchange] certificate"
in_log "and the file" "$WORK/certs/missing.pem"
check "nothing was served" bash -c "! grep -q 'tessera serve: running' '$WORK/last.log'"
sed "s|certs/center-a.key|certs/nokey.key|; s|listen = \"127.0.0.1:$PA\"|listen = \"127.0.0.1:$(free_port)\"|; /guard.syslog/,\$d" center-a.toml > bad-key.toml
expect_fail "a center with an unreadable key does not start" "$TESSERA" serve --settings "$WORK/bad-key.toml"
in_log "the error names the key setting" "[exchange] key"
sed "s|listen = \"127.0.0.1:$PA\"|listen = \"127.0.0.1\"|; /guard.syslog/,\$d" center-a.toml > bad-listen.toml
expect_fail "a center with a bad listen address does not start" "$TESSERA" serve --settings "$WORK/bad-listen.toml"
in_log "the error names the listen setting" "[exchange] listen"
printf '[paths]\nhome = "%s/off"\n[archive]\nlmtp = ""\nsmtp = ""\n' "$WORK" > off.toml
expect_fail "a settings file that turns every role off is an error" "$TESSERA" serve --settings "$WORK/off.toml"
in_log "saying what to set" "no role has anything to serve"
sed "s|ca = \"$WORK/pki/ca.pem\"|ca = \"$WORK/pki/none.pem\"|; s|listen = \"127.0.0.1:$PA\"|listen = \"127.0.0.1:$(free_port)\"|" center-a.toml > bad-ca.toml
expect_fail "a syslog shipper with a missing CA does not start" "$TESSERA" serve --settings "$WORK/bad-ca.toml"
in_log "the error names [guard.syslog] ca" "[guard.syslog] ca"

# --- SIGTERM: each serve stops within a few seconds, exit 0
stop_serve() { # stop_serve HOST [SECONDS]: SIGTERM, then the exit code must be 0 within 8 s
  local pid=${SERVE_PID[$1]} rc=0 limit=${2:-8}
  kill -TERM "$pid"
  for _ in $(seq $((limit * 10))); do
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2> /dev/null; then
    echo "$1's serve still runs $limit s after SIGTERM"
    return 1
  fi
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || {
    echo "exit $rc"
    tail -5 "$WORK/$1.log"
  }
  [ "$rc" -eq 0 ]
}
# B's daemon is in a 30 s long poll of its center: stopping ends it.
check "B's serve stops on SIGTERM within 3 s, in a long poll, with exit 0" stop_serve b 3
# A program that differs from B's integrity baseline, with refuse_exchange: B's exchange
# roles stay off while its archive keeps journaling mail.
mkdir -p b-program
printf 'program v1\n' > b-program/tessera
expect_rc "a baseline of B's program" 0 GB guard baseline "$WORK/b-program"
printf 'program v2\n' > b-program/tessera
{ cat b.toml; printf '[guard.integrity]\nrefuse_exchange = true\n'; } > b-refuse.toml
check "B's serve starts with the program changed" start_serve b-refuse
check "without its exchange roles, saying why" grep -q "exchange roles:  NOT started: the files differ from the integrity baseline" b-refuse.log
check "no gateway runs" bash -c "! grep -q 'agency gateway:' '$WORK/b-refuse.log'"
check "the archive listener runs" grep -q "LMTP listener:   127.0.0.1:$LB" b-refuse.log
check "the refusal is in B's audit log" \
  test "$(sqlite3 "$WORK/b/audit.db" "SELECT count(*) FROM audit WHERE action = 'guard.exchange-refused'")" = 1
check "B's serve stops with exit 0" stop_serve b-refuse
check "center-a's serve stops on SIGTERM with exit 0" stop_serve center-a
check "center-a logged the signal and stopping every role" grep -q "stopping every role" center-a.log
# A's center is gone now: A's daemon says so and backs off (1, 2, 4 s ...), never spins.
sleep 5
fails=$(grep -c "exchange gateway $A: receive failed" a.log || true)
check "A's daemon logs the failed receive while its center is down" test "$fails" -ge 1
check "and backs off: at most 4 attempts in 5 s (got $fails)" test "$fails" -le 4
check "saying when it tries again" grep -q "tried again in 2 s" a.log
check "A's serve stops on SIGTERM with exit 0" stop_serve a
check "the management center's serve stops on SIGTERM with exit 0" stop_serve management
stop_all
PIDS=()
finish
