#!/usr/bin/env bash
# Archive roles through the real program: until a role is granted everyone who can run it
# is its administrator; then a clerk searches, views, exports and restores only their own
# mail (sent, or received as To, Cc or Bcc) and to themselves only, an auditor reads all
# mail and the audit log but changes nothing, a records officer keeps retention, someone
# without a role is refused — and every refusal is in the audit log. People are told
# apart by the sudo user behind root (`sudo tessera ...`).
# Usage: archive_access.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: archive_access.sh PATH/TO/tessera}")
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin archive-access
if [ "$(id -u)" != 0 ]; then
  echo "FAILED: this scenario tells people apart by SUDO_USER, which counts only for root"
  echo "0 passed, 1 failed"
  exit 1
fi
A() { "$TESSERA" archive "$@"; }
as() { local who=$1; shift; SUDO_USER=$who "$TESSERA" archive "$@"; }
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$1)" "$WORK/last.log"; }
id_of() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select id from messages where message_id=?', (sys.argv[2],)).fetchone()[0])" "$WORK/home/archive/archive.db" "$1"; }

mkdir -p mail
mail() { # mail FILE HEADERS SUBJECT ID
  printf '%b\nSubject: %s\nMessage-ID: <%s>\nDate: Tue, 02 Jan 2024 09:00:00 +0800\nContent-Type: text/plain; charset=utf-8\n\n%s 內文\n' "$2" "$3" "$4" "$3" > "mail/$1"
}
mail to-alice.eml 'From: chief@ntbt.gov.tw\nTo: Alice <Alice@ntbt.gov.tw>' "給愛麗絲的公文" to-alice
mail from-alice.eml 'From: alice@ntbt.gov.tw\nTo: chief@ntbt.gov.tw' "愛麗絲的回覆" from-alice
mail bcc-alice.eml 'From: chief@ntbt.gov.tw\nTo: staff@ntbt.gov.tw\nBcc: alice@ntbt.gov.tw' "密件副本 公文" bcc-alice
mail other.eml 'From: chief@ntbt.gov.tw\nTo: bob@ntbt.gov.tw' "人事 公文" other
mail lookalike.eml 'From: chief@ntbt.gov.tw\nTo: alice@ntbt.gov.tw.example.com' "相似地址 公文" lookalike
expect_rc "import" 0 A import mail
OTHER=$(id_of other)
TO_ALICE=$(id_of to-alice)

expect_rc "with no roles granted, anyone running it may search all" 0 as alice search 公文 --json
check "all four 公文 messages" test "$(json_field '["matches"]')" = 4
expect_rc "users list says access control is off" 0 A users list
in_log "says so" "access control is off"

expect_rc "grant alice: clerk" 0 A users grant alice --role clerk --address alice@ntbt.gov.tw
expect_rc "grant bob: auditor" 0 A users grant bob --role auditor
expect_rc "grant carol: records" 0 A users grant carol --role records
expect_rc "a clerk without an address is refused" 2 A users grant eve --role clerk
expect_rc "an unknown role is refused" 2 A users grant eve --role boss

expect_rc "alice searches 公文" 0 as alice search 公文 --json
python3 - "$WORK/last.log" <<'PY' && ok "she finds her mail (To, Bcc) and not others' or a look-alike address's" || bad "alice's search: $(cat "$WORK/last.log")"
import json, sys
d = json.load(open(sys.argv[1]))
subjects = sorted(h["subject"] for h in d["hits"])
assert d["matches"] == 2 and subjects == sorted(["給愛麗絲的公文", "密件副本 公文"]), d
PY
expect_rc "alice's search for everything" 0 as alice search '' --json
check "three messages are hers (sent, To, Bcc)" test "$(json_field '["matches"]')" = 3
expect_rc "alice shows her message" 0 as alice show "$TO_ALICE"
expect_rc "alice cannot show another's" 1 as alice show "$OTHER"
in_log "told why" "is not alice's mail"
expect_rc "nor export it" 1 as alice export "$OTHER" --out "$WORK/out"
expect_rc "she exports her own" 0 as alice export "$TO_ALICE" --out "$WORK/out-alice"
expect_rc "she may not restore to someone else" 1 as alice restore "$TO_ALICE" --to mallory@example.com --via smtp://127.0.0.1:9
in_log "told why" "only to their own address"
expect_rc "nor read the audit log" 1 as alice audit
expect_rc "nor import" 1 as alice import mail
expect_rc "nor see retention" 1 as alice retention rules

expect_rc "bob (auditor) searches all" 0 as bob search 公文 --json
check "all four" test "$(json_field '["matches"]')" = 4
expect_rc "bob shows any message" 0 as bob show "$OTHER"
expect_rc "bob may not re-send mail" 1 as bob restore "$OTHER" --via smtp://127.0.0.1:9
expect_rc "nor change retention" 1 as bob retention rule add --sender '*@x' --class 5
expect_rc "bob reads retention" 0 as bob retention rules
expect_rc "carol (records) adds a rule" 0 as carol retention rule add --sender '*@ntbt.gov.tw' --class 10
expect_rc "carol may not read the audit log" 1 as carol audit
expect_rc "dave holds no role" 1 as dave search 公文
in_log "and is told how to get one" "archive users grant dave"
expect_rc "alice may not grant roles" 1 as alice users grant alice --role admin

expect_rc "bob reads the audit log" 0 as bob audit --json
python3 - "$WORK/last.log" <<'PY' && ok "every refusal is recorded, with who was refused" || bad "audit: $(cat "$WORK/last.log")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"], d["problems"]
denied = [(r["actor"], r["action"]) for r in d["records"] if r["outcome"].startswith("denied")]
who = lambda name: [a for actor, a in denied if actor.endswith("via sudo from " + name)]
assert set(who("alice")) >= {"archive.show", "archive.export", "archive.restore", "archive.audit",
                             "archive.import", "archive.retention.rules", "archive.users.grant"}, denied
assert "archive.restore" in who("bob") and "archive.retention.rule-add" in who("bob"), denied
assert who("carol") == ["archive.audit"] and who("dave") == ["archive.search"], denied
PY
expect_rc "the owner, running it directly, is still its administrator" 0 A users list
in_log "listing the roles" "alice"

finish
