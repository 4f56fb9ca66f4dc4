#!/usr/bin/env bash
# `tessera archive import | show | verify` through the real program: an import of mbox,
# Maildir and .eml with Big5 mail reports what it archived and rejected (exit 4 when it
# rejected something) and indexes it for `search` (Chinese queries), which `audit` lists
# with the views and finds edited; `show` decodes a
# Big5 message and `--raw` gives the bytes back exactly; an import killed with kill -9 mid-way is run again and ends with every message
# archived once; `verify --read-data` passes, then finds a changed message and an edited
# record (exit 4).
# Usage: archive_cli.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: archive_cli.sh PATH/TO/tessera}")
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin archive-cli
A() { "$TESSERA" archive "$@"; }
# json_field EXPR: EXPR (e.g. '["imported"]') applied to the last command's JSON output.
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$1)" "$WORK/last.log"; }

# --- mail to import: a Big5 message (raw 8-bit, as old Outlook sent it), an mbox, a
# Maildir, an .eml, an empty .eml and a file that is not mail.
mkdir -p mail/Maildir/cur mail/Maildir/new mail/Maildir/tmp mail/eml
big5_mail mail/eml/big5.eml
printf 'From: a@b\nSubject: plain\n\nhello\n' > mail/Maildir/new/1.host
printf 'From: a@b\nSubject: seen\n\nhello again\n' > mail/Maildir/cur/2.host:2,S
: > mail/eml/empty.eml
echo "not mail" > mail/eml/notes.txt
for i in 1 2 3; do
  printf 'From sender@x Tue Jan  2 0%d:00:00 2024\nFrom: s@x\nSubject: mbox %d\n\nbody %d\n>From here\n\n' "$i" "$i" "$i"
done > mail/archive.mbox

expect_rc "import of mbox, Maildir and .eml: one empty and one non-mail file rejected" 4 \
  "$TESSERA" archive import mail --json
[ "$(json_field '["imported"]')" = 6 ] && ok "6 messages imported" || bad "imported: $(json_field '["imported"]')"
[ "$(json_field '["rejected"].__len__()')" = 2 ] && ok "2 files rejected" || bad "rejected: $(json_field '["rejected"]')"
in_log "the empty file is named with its reason" "empty.eml"
in_log "the non-mail file is named with its reason" "not a mail message"

expect_rc "a second import archives nothing twice" 4 "$TESSERA" archive import mail
in_log "its report says so" "imported 0 messages"
in_log "finished files are skipped" "files skipped"

BIG5_ID=$(python3 - "$WORK/home/archive/archive.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("select id from messages where message_id='big5@ntbt.gov.tw'").fetchone()[0])
PY
)
expect_rc "show a Big5 message" 0 A show "$BIG5_ID"
in_log "its subject decoded" "國稅局郵件備份通知"
in_log "its body decoded" "請於本週完成郵件備份"
"$TESSERA" archive show "$BIG5_ID" --raw > "$WORK/raw.eml"
check "show --raw gives the bytes as received" cmp "$WORK/raw.eml" mail/eml/big5.eml
expect_rc "show of an id that does not exist" 1 A show 99999
in_log "says so" "no archived message has id 99999"

# --- search: the import indexed what it archived
expect_rc "search 國稅局" 0 A search 國稅局 --json
check "finds the Big5 message, and only it" test "$(json_field '["hits"][0]["id"]'),$(json_field '["matches"]')" = "$BIG5_ID,1"
expect_rc "search from:鄭 after:2024-01-01" 0 A search 'from:鄭 after:2024-01-01' --json
check "finds the message from 鄭 (a Big5 encoded-word name)" test "$(json_field '["hits"][0]["id"]')" = "$BIG5_ID"
expect_rc "search with --before excludes it" 0 A search 國稅局 --before 2024-01-01 --json
check "nothing before 2024" test "$(json_field '["matches"]')" = 0
expect_rc "search '\"mbox 2\"' in text form" 0 A search '"mbox 2"'
in_log "shows the subject" "mbox 2"
expect_rc "a bad date is a usage error" 2 A search 'after:2024-1-1'
in_log "says how to write it" "YYYY-MM-DD"

# --- the audit log: every import, search and view so far, chained
expect_rc "archive audit" 0 A audit --json
check "it holds the import, the searches and the views" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
actions = [r["action"] for r in d["records"]]
assert d["ok"] and d["chain_records"] == len(actions), d
assert actions.count("archive.import") == 2 and actions.count("archive.search") == 4, actions
assert "archive.show" in actions and "archive.show-raw" in actions, actions
assert any(r["action"] == "archive.search" and r["target"] == "國稅局" for r in d["records"])
assert all("(uid " in r["actor"] for r in d["records"])' "$WORK/last.log"
python3 - "$WORK/home/audit.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("DROP TRIGGER audit_no_update; UPDATE audit SET target='something else' WHERE action='archive.search' AND target='國稅局';")
PY
expect_rc "archive audit finds an edited record" 4 A audit
in_log "and says which" "does not match its link"

# --- kill -9 in the middle of a large import, then run it again.
python3 - <<'PY'
import random
random.seed(7)
with open("big.mbox", "w") as f:
    for i in range(3000):
        f.write("From bulk@x Tue Jan  2 03:00:00 2024\n")
        f.write(f"From: bulk{i % 17}@x\nTo: r@x\nSubject: bulk {i} 郵件\nMessage-ID: <bulk{i}@x>\n")
        f.write("Content-Type: text/plain; charset=utf-8\n\n")
        f.write(("line %d %d\n" % (i, random.randrange(10**9))) * 20 + "\n")
PY
"$TESSERA" archive import big.mbox > "$WORK/killed.log" 2>&1 &
PID=$!
# Wait until some, not all, of the messages are in, then kill it.
for _ in $(seq 200); do
  n=$(python3 -c "import sqlite3; print(sqlite3.connect('$WORK/home/archive/archive.db', timeout=30).execute('select count(*) from messages').fetchone()[0])" 2>/dev/null || echo 0)
  [ "$n" -gt 100 ] && break
  sleep 0.05
done
kill -9 "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true
before=$(python3 -c "import sqlite3; print(sqlite3.connect('$WORK/home/archive/archive.db').execute('select count(*) from messages').fetchone()[0])")
if [ "$before" -gt 6 ] && [ "$before" -lt 3006 ]; then ok "killed mid-import with $((before - 6)) of 3000 in"; else bad "kill came at the wrong time: $before messages"; fi
expect_rc "the import run again" 0 A import big.mbox --json
total=$(python3 -c "import sqlite3; print(sqlite3.connect('$WORK/home/archive/archive.db').execute('select count(*) from messages').fetchone()[0])")
[ "$total" = 3006 ] && ok "every message archived once (3006)" || bad "$total messages, expected 3006"
[ "$(json_field '["duplicates"]')" -ge $((before - 6 - 1)) ] && ok "the messages in before the kill count as duplicates" || bad "duplicates: $(json_field '["duplicates"]')"

expect_rc "verify --read-data of an intact archive" 0 A verify --read-data
in_log "says OK" "archive OK"

# --- tampering: a message object changed, then a record edited.
OBJ=$(find "$WORK/home/archive/messages" -type f | sort | sed -n 1p)
printf 'X' | dd of="$OBJ" bs=1 seek=40 conv=notrunc status=none
expect_rc "verify --read-data finds the changed message" 4 A verify --read-data
in_log "names it" "altered"
# Reading it back fails, and gives out nothing that could pass for the message.
BAD_ID=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select id from messages where lower(hex(sha256))=?', (sys.argv[2],)).fetchone()[0])" "$WORK/home/archive/archive.db" "$(basename "$OBJ")")
rc=0
"$TESSERA" archive show "$BAD_ID" --raw > "$WORK/bad.eml" 2> "$WORK/bad.err" || rc=$?
if [ "$rc" -ne 0 ] && [ ! -s "$WORK/bad.eml" ] && grep -qF altered "$WORK/bad.err"; then
  ok "show --raw of the changed message fails, saying why, and writes nothing"
else
  bad "show --raw of the changed message: exit $rc, $(stat -c %s "$WORK/bad.eml") bytes out"
fi
mkdir -p "$WORK/bad"
expect_fail "export of the changed message fails" A export "$BAD_ID" --format mbox --out "$WORK/bad/out.mbox"
in_log "saying why" "altered"
expect_fail "so does its export as .eml" A export "$BAD_ID" --out "$WORK/bad/eml"
if [ -z "$(find "$WORK/bad" -type f 2> /dev/null)" ]; then ok "the exports leave no file behind"; else bad "left behind: $(find "$WORK/bad" -type f)"; fi
python3 -c "import sqlite3; c=sqlite3.connect('$WORK/home/archive/archive.db'); c.execute(\"update deliveries set folder='elsewhere' where id=2\"); c.commit()"
expect_rc "verify finds the edited record" 4 A verify --json
in_log "names it" "delivery 2 was changed"

finish
