#!/usr/bin/env bash
# `tessera archive backup` / `archive recover` through the real program: the archive goes
# into a 2-of-3 vault as one snapshot; a backup taken while an import is writing is
# consistent (recovered, it verifies with every message readable); and after the loss of
# the whole server, a new machine connects to two of the three stores and rebuilds the
# archive from the vault alone — Chinese search, byte-identical messages, retention rules
# and the audit log all come back. Recovering over an existing archive is refused.
# Usage: archive_backup.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: archive_backup.sh PATH/TO/tessera}")
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin archive-backup
A() { "$TESSERA" archive "$@"; }
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$1)" "$WORK/last.log"; }
count() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from messages').fetchone()[0])" "$1"; }

STORES=(--store "file://$WORK/cloud1" --store "file://$WORK/cloud2" --store "file://$WORK/cloud3")
expect_rc "a 2-of-3 vault" 0 "$TESSERA" vault init "${STORES[@]}" --threshold 2

mkdir -p mail
big5_mail mail/big5.eml
printf 'From: a@b\nSubject: plain\nMessage-ID: <plain@b>\n\nhello\n' > mail/plain.eml
expect_rc "import" 0 A import mail
expect_rc "a retention rule" 0 A retention rule add --sender '*@ntbt.gov.tw' --class 10
expect_rc "archive backup" 0 A backup --json
FIRST=$(json_field '["snapshot"]')
[ "$(json_field '["messages"]')" = 2 ] && ok "it holds the 2 messages" || bad "messages: $(cat "$WORK/last.log")"
[ ! -e "$WORK/home/archive-snapshot" ] && ok "the staging copy is gone afterwards" || bad "staging left behind"
expect_rc "the vault lists it, tagged archive" 0 "$TESSERA" vault snapshots --json
check "tagged" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert any("archive" in s.get("tags",[]) for s in d), d' "$WORK/last.log"

# --- a backup while an import is writing: what it holds is consistent.
python3 - <<'PY'
with open("bulk.mbox", "w") as f:
    for i in range(2000):
        f.write("From bulk@x Tue Jan  2 03:00:00 2024\n")
        f.write(f"From: bulk{i % 7}@x\nSubject: bulk {i} 公文\nMessage-ID: <bulk{i}@x>\n\n")
        f.write(("line %d\n" % i) * 30 + "\n")
PY
"$TESSERA" archive import bulk.mbox > "$WORK/import.log" 2>&1 &
IMPORT=$!
for _ in $(seq 200); do
  [ "$(count "$WORK/home/archive/archive.db" 2>/dev/null || echo 0)" -gt 200 ] && break
  sleep 0.05
done
expect_rc "archive backup during the import" 0 A backup --json
DURING=$(json_field '["snapshot"]')
IN_BACKUP=$(json_field '["messages"]')
wait "$IMPORT" || true
TOTAL=$(count "$WORK/home/archive/archive.db")
if [ "$IN_BACKUP" -gt 2 ] && [ "$IN_BACKUP" -le "$TOTAL" ]; then ok "it caught the import mid-way ($IN_BACKUP of $TOTAL)"; else bad "backup held $IN_BACKUP of $TOTAL"; fi
expect_rc "recover that backup into another home" 0 env TESSERA_HOME="$WORK/home-mid" "$TESSERA" vault connect "${STORES[@]}"
expect_rc "archive recover --snapshot (mid-import)" 0 env TESSERA_HOME="$WORK/home-mid" "$TESSERA" archive recover --snapshot "$DURING" --json
[ "$(json_field '["messages"]')" = "$IN_BACKUP" ] && ok "every message of the copy came back, each readable and chained" || bad "recovered: $(cat "$WORK/last.log")"
[ "$(json_field '["problems"].__len__()')" = 0 ] && ok "no problems" || bad "problems: $(json_field '["problems"]')"

# --- the server is lost; a new machine has two of the three clouds.
expect_rc "final backup" 0 A backup
expect_rc "the archive's own audit head" 0 A audit --json
AUDIT_RECORDS=$(json_field '["chain_records"]')
"$TESSERA" archive show "$(python3 -c "import sqlite3; print(sqlite3.connect('$WORK/home/archive/archive.db').execute(\"select id from messages where message_id='big5@ntbt.gov.tw'\").fetchone()[0])")" --raw > "$WORK/before.eml"
mv "$WORK/home" "$WORK/home-lost"
export TESSERA_HOME=$WORK/home-dr
expect_rc "connect to clouds 1 and 3 only" 0 "$TESSERA" vault connect --store "file://$WORK/cloud1" --store "file://$WORK/cloud3"
expect_rc "archive recover from the vault alone" 0 A recover --stores 1,3
in_log "it verified the chain and every message" "verified: the chain, every record and every message hold"
expect_rc "search 國稅局 on the recovered archive" 0 A search 國稅局 --json
[ "$(json_field '["matches"]')" = 1 ] && ok "the Big5 message is found" || bad "search: $(cat "$WORK/last.log")"
BIG5=$(json_field '["hits"][0]["id"]')
"$TESSERA" archive show "$BIG5" --raw > "$WORK/after.eml"
check "it is byte for byte the message archived" cmp "$WORK/before.eml" "$WORK/after.eml"
[ "$(count "$WORK/home-dr/archive/archive.db")" = "$TOTAL" ] && ok "all $TOTAL messages are back" || bad "$(count "$WORK/home-dr/archive/archive.db") of $TOTAL"
expect_rc "retention rules came back" 0 A retention rules
in_log "the rule" "sender *@ntbt.gov.tw → 10 years"
expect_rc "the audit log came back and verifies" 0 A audit --json
python3 - "$WORK/last.log" "$AUDIT_RECORDS" <<'PY' && ok "with the records from before the loss, and the recovery" || bad "audit: $(cat "$WORK/last.log")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"], d["problems"]
actions = [r["action"] for r in d["records"]]
assert d["chain_records"] > int(sys.argv[2]) - 3, (d["chain_records"], sys.argv[2])
assert "archive.import" in actions and "archive.retention.rule-add" in actions and "archive.recover" in actions, actions
PY
check "the archive key came back owner-only" test "$(stat -c %a "$WORK/home-dr/archive/key")" = 600
expect_rc "recovering over an existing archive is refused" 1 A recover
in_log "and says why" "recover into a home without an archive"

finish
