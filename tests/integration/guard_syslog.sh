#!/usr/bin/env bash
# The audit log shipped to a real syslog collector: Debian's rsyslogd receiving RFC 5425
# (syslog over TLS, gtls driver, mutual TLS) on 127.0.0.1. Every record arrives once with
# consecutive seq; records written while the collector is down wait in the audit log and
# arrive, in order and none twice, when it is back; a collector whose certificate does not
# chain to --ca or does not carry its name is refused, and so is a client without a
# certificate; the background loop (`ship` without --once) ships as records come; `rewind`
# sends records again.
# Usage: guard_syslog.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: guard_syslog.sh PATH/TO/tessera}")
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/scenario.sh
. "$HERE/scenario.sh"
scenario_begin guard-syslog
# shellcheck source=tests/integration/soc_collector_lib.sh
. "$HERE/soc_collector_lib.sh"

SHIPPER_PID=
cleanup() {
  if [ -n "$SHIPPER_PID" ]; then kill "$SHIPPER_PID" 2>/dev/null || true; fi
  soc_collector_stop
  chmod -R u+rwx "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- a test PKI: one CA, the collector's certificate for 127.0.0.1, a client certificate;
# and a second CA that signed nothing of this collector's.
soc_ca ca
soc_ca other-ca
soc_cert collector ca "IP:127.0.0.1,DNS:collector.test"
soc_cert client ca "DNS:tessera.test"
check "the test PKI verifies" openssl verify -CAfile pki/ca.pem pki/collector.pem pki/client.pem

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
soc_collector_configure "$PORT"

T() { "$TESSERA" "$@"; }
SHIP=(guard syslog ship --collector "127.0.0.1:$PORT" --ca pki/ca.pem --cert pki/client.pem
      --key pki/client.key --timeout 5)
search() { for q in "$@"; do T archive search "$q" > /dev/null 2>&1; done; }
head_seq() { T guard syslog status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["head"])'; }
# collected_ok N: the collector holds seq 1..N, each once and in order (waits for rsyslogd
# to write its file).
collected_ok() {
  for _ in $(seq 50); do
    [ "$(grep -c 'seq="' collected.log 2>/dev/null || true)" -ge "$1" ] && break
    sleep 0.1
  done
  python3 - "$1" collected.log <<'PY'
import re, sys
want = int(sys.argv[1])
seqs, ids = [], []
for line in open(sys.argv[2], encoding="utf-8"):
    m = re.search(r'\[tessera@32473 seq="(\d+)" link="([0-9a-f]{64})" actor="[^"]*"\]\[meta sequenceId="(\d+)"\]', line)
    assert m, "no structured data in: " + line
    seqs.append(int(m.group(1))); ids.append(int(m.group(3)))
assert seqs == list(range(1, want + 1)), "seq: %s" % seqs
assert ids == seqs, "sequenceId: %s" % ids
PY
}

check "rsyslogd starts with TLS on 127.0.0.1:$PORT" soc_collector_start
search 公文 國稅局 '"會議紀錄"'
N=$(head_seq)
check "three searches wrote audit records" test "$N" -ge 3
expect_rc "ship --once" 0 T "${SHIP[@]}" --once
in_log "says how many" "$N record(s) shipped to 127.0.0.1:$PORT"
check "the collector has seq 1..$N, each once, with link and sequenceId" collected_ok "$N"
check "facility local4, APP-NAME tessera, MSGID the action" grep -q '^local4.info tessera archive.search ' collected.log
check "Chinese text arrives as UTF-8" grep -q '公文' collected.log
expect_rc "status" 0 T guard syslog status
in_log "backlog 0" "127.0.0.1:$PORT: shipped up to seq $N, backlog 0 record(s)"
expect_rc "nothing pending: ship sends nothing" 0 T "${SHIP[@]}" --once
in_log "zero" "0 record(s) shipped"

# --- the collector goes down: records wait in the audit log
soc_collector_stop
search 檔案 郵件 備份
M=$(head_seq)
expect_rc "ship while the collector is down fails" 1 T "${SHIP[@]}" --once
in_log "and says the records wait" "wait in the audit log"
expect_rc "status" 0 T guard syslog status --json
check "the backlog is the three new records" python3 -c "import json; d=json.load(open('$WORK/last.log')); c=d['destinations'][0]; assert d['head']==$M and c['cursor']==$N and c['backlog']==$M-$N, d"
check "rsyslogd restarts" soc_collector_start
expect_rc "ship again" 0 T "${SHIP[@]}" --once
in_log "sends the backlog" "$((M - N)) record(s) shipped"
check "the collector has seq 1..$M: nothing lost, nothing twice" collected_ok "$M"

# --- refusals: nothing is sent, nothing is lost
search 密件
expect_rc "a collector whose certificate another CA signed is refused" 1 \
  T guard syslog ship --collector "127.0.0.1:$PORT" --ca pki/other-ca.pem --cert pki/client.pem --key pki/client.key --once
in_log "told why" "certificate is refused"
expect_rc "a certificate without the name asked for is refused" 1 \
  T "${SHIP[@]}" --server-name soc.example.gov.tw --once
in_log "told why" "certificate is refused"
expect_rc "without a client certificate the collector refuses us (mutual TLS)" 1 \
  T guard syslog ship --collector "127.0.0.1:$PORT" --ca pki/ca.pem --once
check "nothing was sent meanwhile" collected_ok "$M"
expect_rc "by its DNS name (--server-name collector.test) it ships" 0 \
  T "${SHIP[@]}" --server-name collector.test --once
check "the collector has seq 1..$((M + 1))" collected_ok "$((M + 1))"

# --- the background loop ships as records come (a batch, and a connection, per record
# here), and stops on SIGTERM
"$TESSERA" "${SHIP[@]}" --period 0.3 --batch 1 > shipper.out 2>&1 &
SHIPPER_PID=$!
search 一 二
L=$(head_seq)
check "the loop ships what is written while it runs" collected_ok "$L"
kill -TERM "$SHIPPER_PID"
rc=0; wait "$SHIPPER_PID" || rc=$?
SHIPPER_PID=
check "it stops on SIGTERM with exit 0" test "$rc" -eq 0
check "the audit chain still verifies" T archive audit

# --- a SOC that lost messages: rewind sends them again from the audit log
expect_rc "rewind to seq $((L - 2))" 0 T guard syslog rewind --collector "127.0.0.1:$PORT" --ca pki/ca.pem --to $((L - 2))
expect_rc "ship after the rewind" 0 T "${SHIP[@]}" --once --json
check "it sends the last two again" python3 -c "import json; d=json.load(open('$WORK/last.log')); assert d['sent']==2 and d['cursor']==$L and d['backlog']==0, d"
check "the collector got seq $((L - 1)) and $L once more" python3 - <<PY
import re
seqs = [int(m.group(1)) for m in re.finditer(r'seq="(\d+)"', open("$WORK/collected.log").read())]
assert seqs == list(range(1, $L + 1)) + [$L - 1, $L], seqs
PY

# --- signed checkpoints: one kept apart (and shipped to the SOC) shows the log cut back
mkdir -p "$WORK/kept"
expect_rc "a signed checkpoint of the audit log, a copy kept apart" 0 \
  T guard audit checkpoint --out "$WORK/kept/checkpoint.json"
check "its public key is beside the log" test -s "$TESSERA_HOME/audit-checkpoint.pub.pem"
cp "$TESSERA_HOME/audit-checkpoint.pub.pem" "$WORK/kept/key.pub.pem"
expect_rc "ship the checkpoint's record" 0 T "${SHIP[@]}" --once
check "the SOC holds the checkpoint, signature and all" \
  grep -q "guard.audit-checkpoint .*signed by key [0-9a-f]\{64\}: [0-9a-f]\{128\}" collected.log
expect_rc "the log verifies against the checkpoint and key kept apart" 0 \
  T guard audit verify --checkpoint "$WORK/kept/checkpoint.json" --key "$WORK/kept/key.pub.pem"
in_log "every checkpoint checked" "2 checkpoint(s) checked; audit log OK"
# Someone with the files removes the newest records, checkpoints included, triggers and all.
python3 - "$TESSERA_HOME/audit.db" << 'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("""DROP TRIGGER audit_no_delete; DROP TRIGGER audit_checkpoints_no_delete;
DELETE FROM audit_checkpoints; DELETE FROM audit WHERE seq >= 3;""")
db.commit()
PY
expect_rc "the chain alone still verifies" 0 T guard audit verify
expect_rc "the checkpoint kept apart shows the cut" 4 \
  T guard audit verify --checkpoint "$WORK/kept/checkpoint.json" --key "$WORK/kept/key.pub.pem"
in_log "it says records were removed from the end" "records were removed from the end"

soc_collector_stop
finish
