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

# --- tessera serve: checked at start, then watched; a change is found within seconds
expect_rc "a baseline for serve" 0 T guard baseline opt/tessera etc/tessera
LPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '[archive]\nlmtp = "127.0.0.1:%s"\nsmtp = ""\n[guard.integrity]\nperiod = 3600\n' "$LPORT" > serve.toml
"$TESSERA" serve --settings serve.toml > serve.log 2>&1 &
SERVE=$!
for _ in $(seq 100); do grep -q "Stop with Ctrl-C" serve.log && break; sleep 0.1; done
check "serve runs the integrity watch, with inotify" grep -q "integrity watch: .*(inotify on [0-9]* directories)" serve.log
check "clean at start" grep -q "at start: clean" serve.log
printf 'tampered\n' >> etc/tessera/tessera.toml
found=0
for _ in $(seq 100); do
  [ "$(audited guard.integrity-check "1 finding(s): changed $WORK/etc/tessera/tessera.toml")" -ge 1 ] && found=1 && break
  sleep 0.1
done
check "the change is found within seconds (not at the hourly check)" test "$found" = 1
check "serve logs it" grep -q "integrity: 1 finding(s): changed $WORK/etc/tessera/tessera.toml" serve.log
kill -TERM "$SERVE"
rc=0
wait "$SERVE" || rc=$?
check "serve stops with exit 0" test "$rc" = 0
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
check "the audit chain holds, but without a checkpoint it warns" test "$(state_of audit-chain)" = warning
check "six controls are left for a person" test "$(grep -c '"state": "manual"' last.log)" = 6
check "the HTML page is written, Chinese first" grep -q "公文電子交換系統資訊安全自評表" report.html
check "with the finding as evidence" grep -q "changed $WORK/etc/tessera/tessera.toml" report.html
expect_rc "accept the change: a new baseline" 0 T guard baseline opt/tessera etc/tessera
expect_rc "sign an audit checkpoint" 0 T guard audit checkpoint
expect_rc "guard report again" 4 T guard report --settings serve.toml --json
check "integrity holds now" test "$(state_of integrity)" = holds
check "the audit chain holds, with its checkpoint" test "$(state_of audit-chain)" = holds
check "each report is in the audit log" test "$(audited guard.report "")" = 2
finish
