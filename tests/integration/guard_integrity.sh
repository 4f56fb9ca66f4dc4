#!/usr/bin/env bash
# Host integrity (seed 002 §5), the way an operator runs it: `tessera guard baseline`
# records a signed baseline of a program and a configuration directory (data excluded);
# `tessera guard check` finds nothing on an untouched tree, then each kind of tampering
# (content, mode, owner, an added file, a removed link, a retargeted link), exits 4 and
# records the findings in the audit log; a data directory excluded changes freely; a
# baseline edited after signing, or checked with another key kept apart, is a finding.
set -euo pipefail
TESSERA=$(realpath "${1:?usage: guard_integrity.sh PATH/TO/tessera}")
. "$(dirname "$0")/scenario.sh"
scenario_begin guard-integrity
T() { "$TESSERA" "$@"; }
audited() { sqlite3 "$TESSERA_HOME/audit.db" "SELECT count(*) FROM audit WHERE action = '$1' AND outcome LIKE '$2%'"; }

mkdir -p opt/tessera/bin opt/tessera/share etc/tessera var/spool
printf 'program v1\n' > opt/tessera/bin/tessera
chmod 0755 opt/tessera/bin/tessera
printf '說明\n' > opt/tessera/share/README
ln -s tessera opt/tessera/bin/tessera-current
printf '[paths]\nhome = "/var/lib/tessera"\n' > etc/tessera/tessera.toml
printf 'queued\n' > var/spool/item

expect_rc "baseline of the program and configuration, data excluded" 0 \
  T guard baseline opt/tessera etc/tessera var --exclude var/spool --json
BASELINE=$TESSERA_HOME/guard/integrity-baseline.json
check "the baseline is written" test -s "$BASELINE"
check "the key is owner-only" test "$(stat -c %a "$TESSERA_HOME/guard/integrity.key")" = 600
check "the public key is beside it" test -s "$TESSERA_HOME/guard/integrity.pub.pem"
check "the baseline is in the audit log" test "$(audited guard.integrity-baseline "")" = 1
check "it holds the program's SHA-256" grep -q "$(sha256sum opt/tessera/bin/tessera | cut -d' ' -f1)" "$BASELINE"
check "and not the excluded data" bash -c "! grep -q 'var/spool/item' '$BASELINE'"
mkdir -p kept
cp "$BASELINE" kept/baseline.json
cp "$TESSERA_HOME/guard/integrity.pub.pem" kept/key.pub.pem

expect_rc "an untouched tree checks clean" 0 T guard check
in_log "saying so" "as recorded"
printf 'more\n' >> var/spool/item
printf 'another\n' > var/spool/new-item
expect_rc "excluded data changes freely" 0 T guard check

# --- tampering, each kind
printf 'program v1 with a backdoor\n' > opt/tessera/bin/tessera
chmod 0666 etc/tessera/tessera.toml
chown 1:1 opt/tessera/share/README # the suite runs as root (ip netns needs it too)
printf 'x' > opt/tessera/bin/dropper
ln -sfn /tmp/elsewhere opt/tessera/bin/tessera-current
expect_rc "the check finds the tampering" 4 T guard check
in_log "changed content" "changed $WORK/opt/tessera/bin/tessera: content (SHA-256"
in_log "changed mode" "changed $WORK/etc/tessera/tessera.toml: mode 0644 -> 0666"
in_log "changed owner" "changed $WORK/opt/tessera/share/README: owner 0:0 -> 1:1"
in_log "an added file" "added $WORK/opt/tessera/bin/dropper"
in_log "a retargeted link" "changed $WORK/opt/tessera/bin/tessera-current: link target"
check "the findings are in the audit log" test "$(audited guard.integrity-check "5 finding(s)")" = 1
rm opt/tessera/share/README
expect_rc "a removed file is found" 4 T guard check --json
in_log "as removed" '"kind": "removed"'

# --- a new baseline accepts the tree as it is; the baseline and key kept apart still see
# the changes, and an edited or re-signed baseline is a finding itself.
expect_rc "a new baseline" 0 T guard baseline opt/tessera etc/tessera var --exclude var/spool
expect_rc "which checks clean" 0 T guard check
expect_rc "the copy kept apart still finds them" 4 T guard check --baseline kept/baseline.json --key kept/key.pub.pem
in_log "the dropper among them" "added $WORK/opt/tessera/bin/dropper"
python3 - "$BASELINE" << 'PY'
import json, sys
p = sys.argv[1]
b = json.load(open(p))
b["baseline"]["entries"] = [e for e in b["baseline"]["entries"] if not e["path"].endswith("/dropper")]
json.dump(b, open(p, "w"))
PY
expect_rc "a baseline edited after signing is a finding" 4 T guard check
in_log "saying so" "the integrity baseline's signature does not verify"
rm -rf "$TESSERA_HOME/guard"
expect_rc "a baseline signed with another key" 0 T guard baseline opt/tessera --out other.json
expect_rc "is a finding with the key kept apart" 4 T guard check --baseline other.json --key kept/key.pub.pem
in_log "naming the keys" "not the trusted key"
expect_rc "no baseline: a clear error" 1 T --home "$WORK/empty" guard check
in_log "saying how to make one" "record one with \`tessera guard baseline PATH...\` first"
expect_rc "a path that does not exist" 1 T guard baseline "$WORK/nowhere"
in_log "named" "$WORK/nowhere does not exist"

# --- tessera serve: checked at start, then watched; a change is found within seconds,
# mailed to the SOC (here through serve's own SMTP listener, which archives it), and
# mailed again once cleared; the audit log gets signed checkpoints, copied apart.
expect_rc "a baseline for serve" 0 T guard baseline opt/tessera etc/tessera
LPORT=$(free_port)
SPORT=$(free_port)
cat > serve.toml << EOF
[archive]
lmtp = "127.0.0.1:$LPORT"
smtp = "127.0.0.1:$SPORT"
[guard.integrity]
period = 3600
[guard.alert]
smtp = "smtp://127.0.0.1:$SPORT"
to = ["soc@agency.test"]
from = "tessera@host.agency.test"
[guard.audit]
checkpoint_period = 1
checkpoint_copy = "$WORK/apart"
EOF
cp etc/tessera/tessera.toml tessera.toml.orig
"$TESSERA" serve --settings serve.toml > serve.log 2>&1 &
SERVE=$!
for _ in $(seq 100); do grep -q "Stop with Ctrl-C" serve.log && break; sleep 0.1; done
check "serve runs the integrity watch, with inotify" grep -q "integrity watch: .*(inotify on [0-9]* directories)" serve.log
check "clean at start" grep -q "at start: clean" serve.log
check "serve says where alerts go" grep -q "alerts by mail:  to soc@agency.test through 127.0.0.1:$SPORT" serve.log
wait_audited() {  # ACTION OUTCOME-PREFIX [COUNT]: waits up to 10 s for COUNT (1) such records
  for _ in $(seq 100); do
    [ "$(audited "$1" "$2")" -ge "${3:-1}" ] && return 0
    sleep 0.1
  done
  return 1
}
printf 'tampered\n' >> etc/tessera/tessera.toml
check "the change is found within seconds (not at the hourly check)" \
  wait_audited guard.integrity-check "1 finding(s): changed $WORK/etc/tessera/tessera.toml"
check "serve logs it" grep -q "integrity: 1 finding(s): changed $WORK/etc/tessera/tessera.toml" serve.log
check "the alert is mailed to the SOC" wait_audited guard.alert "mailed to soc@agency.test"
CLEAN=$(audited guard.integrity-check clean)
cp tessera.toml.orig etc/tessera/tessera.toml
check "restored: the integrity check is clean again" wait_audited guard.integrity-check clean $((CLEAN + 1))
cleared() { sqlite3 "$TESSERA_HOME/audit.db" "SELECT count(*) FROM audit WHERE action = 'guard.alert' AND target LIKE 'integrity: [tessera] 已恢復 cleared%'"; }
check "and the all-clear is mailed once" test "$(cleared)" = 1
check "two alerts in all (a finding that persists is not mailed again)" test "$(audited guard.alert "mailed")" = 2
check "signed audit checkpoints are copied apart" test "$(find "$WORK/apart" -name 'checkpoint-*.json' | wc -l)" -ge 2
kill -TERM "$SERVE"
rc=0
wait "$SERVE" || rc=$?
check "serve stops with exit 0" test "$rc" = 0
expect_rc "the alert reached the archive: searched in Chinese" 0 T archive search 警示 --json
hits() { python3 -c "import json; print(len(json.load(open('$WORK/last.log'))['hits']))"; }
check "the alert is found" test "$(hits)" = 1
expect_rc "and the all-clear" 0 T archive search 已恢復 --json
check "once" test "$(hits)" = 1
LAST_CHECKPOINT=$(find "$WORK/apart" -name 'checkpoint-*.json' | sort -t- -k2 -n | tail -n 1)
expect_rc "the audit log verifies against the newest checkpoint kept apart" 0 \
  T guard audit verify --checkpoint "$LAST_CHECKPOINT" --key "$TESSERA_HOME/audit-checkpoint.pub.pem"
printf '[archive]\nlmtp = "127.0.0.1:%s"\nsmtp = ""\n[guard.alert]\nsmtp = "smtp://127.0.0.1:%s"\nto = ["soc@agency.test"]\n[guard.integrity]\nperiod = 3600\n' "$LPORT" "$SPORT" > norelay.toml
printf 'tampered\n' >> etc/tessera/tessera.toml
"$TESSERA" serve --settings norelay.toml > serve2.log 2>&1 &
SERVE=$!
for _ in $(seq 100); do grep -q "Stop with Ctrl-C" serve2.log && break; sleep 0.1; done
kill -TERM "$SERVE"
wait "$SERVE" || true
check "a relay that is down: the alert is NOT mailed, and that is audited" \
  test "$(audited guard.alert "NOT mailed to soc@agency.test")" = 1
check "and logged as an error" grep -q "the integrity alert was not mailed" serve2.log
printf '[archive]\nlmtp = "127.0.0.1:%s"\nsmtp = ""\n[guard.integrity]\nrefuse_start = true\n' "$LPORT" > refuse.toml
expect_rc "with refuse_start, serve does not start while the files differ" 5 T serve --settings refuse.toml
in_log "saying why and what to do" "serve does not start (refuse_start = true) until they are restored"
printf '[guard.integrity]\ninotify = "yes"\n' > bad.toml
expect_rc "a bad setting is named" 2 T serve --settings bad.toml
in_log "the key" "[guard.integrity] inotify must be true or false"

# --- the self-assessment (自評表) sees the same state, with its evidence
state_of() { python3 -c "import json,sys; print({c['id']: c['state'] for c in json.load(open('$WORK/last.log'))['controls']}['$1'])"; }
expect_rc "guard report: a control fails, exit 4" 4 T guard report --settings serve.toml --json --html report.html
check "integrity fails while the file differs" test "$(state_of integrity)" = fails
check "syslog fails: no SOC is configured" test "$(state_of syslog)" = fails
check "the exchange controls do not apply on this host" test "$(state_of mutual-tls)" = not-applicable
check "the audit chain holds, with serve's checkpoints" test "$(state_of audit-chain)" = holds
check "six controls are left for a person" test "$(grep -c '"state": "manual"' last.log)" = 6
check "the HTML page is written, Chinese first" grep -q "公文電子交換系統資訊安全自評表" report.html
check "with the finding as evidence" grep -q "changed $WORK/etc/tessera/tessera.toml" report.html
expect_rc "accept the change: a new baseline" 0 T guard baseline opt/tessera etc/tessera
expect_rc "sign an audit checkpoint" 0 T guard audit checkpoint
expect_rc "guard report again" 4 T guard report --settings serve.toml --json
check "integrity holds now" test "$(state_of integrity)" = holds
check "the audit chain holds, with its checkpoint" test "$(state_of audit-chain)" = holds
check "each report is in the audit log" test "$(audited guard.report "")" = 2

# --- backups and drills (seed 004): the vaults of this home are read, not asked about
mkdir -p data
printf '公文 第1號\n' > data/a.txt
stores=()
for i in 1 2 3; do stores+=(--store "file://$WORK/cloud$i"); done
expect_rc "a 2-of-3 vault" 0 T vault init "${stores[@]}" --threshold 2
expect_rc "a backup" 0 T vault backup data
expect_rc "guard report with the vault" 4 T guard report --settings serve.toml --json
check "without a drill, backups and drills fail" test "$(state_of backup-drills)" = fails
check "saying so" grep -q "no successful restore drill recorded" last.log
check "five controls are left for a person now" test "$(grep -c '"state": "manual"' last.log)" = 5
expect_rc "a restore drill" 0 T vault drill
expect_rc "guard report after the drill" 4 T guard report --settings serve.toml --json
check "backups and drills hold" test "$(state_of backup-drills)" = holds
check "with the drill and this year's count as evidence" grep -q "the last successful drill .* ago (.*RTO .*drills in $(date +%Y): 1 passed, 0 failed" last.log
finish
