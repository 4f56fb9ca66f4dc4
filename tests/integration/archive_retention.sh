#!/usr/bin/env bash
# `tessera archive retention ...` through the real program: with no rules nothing is ever
# due; rules by sender, folder and query assign classes (the longest wins); a legal hold
# keeps mail out of the destruction list; the proposer cannot approve their own batch (the
# refusal is audited); an approved batch is purged — the message is gone from `show`,
# `search` and the store's files, the list (銷毀目錄) stays, `archive verify --read-data`
# still passes, neither an import of an old copy nor an old offline volume brings it back,
# and the audit log holds every step.
# Usage: archive_retention.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: archive_retention.sh PATH/TO/tessera}")
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin archive-retention
A() { "$TESSERA" archive "$@"; }
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$1)" "$WORK/last.log"; }
# as PERSON COMMAND...: runs a command as PERSON would through sudo (the audit log and the
# second-person rule tell people apart by the sudo user behind root).
as() {
  local who=$1
  shift
  if [ "$(id -u)" = 0 ]; then SUDO_USER=$who "$@"; else "$@"; fi
}
id_of() { # id_of MESSAGE-ID
  python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select id from messages where message_id=?', (sys.argv[2],)).fetchone()[0])" "$WORK/home/archive/archive.db" "$1"
}

# --- mail from 2015 (long expired under a 5-year class) and from last month.
mkdir -p mail/公文 mail/inbox
message() { # message FILE FROM SUBJECT DATE ID
  printf 'From: %s\nTo: office@ntbt.gov.tw\nSubject: %s\nDate: %s\nMessage-ID: <%s>\n' "$2" "$3" "$4" "$5" > "$1"
  printf 'Content-Type: text/plain; charset=utf-8\n\n%s\n' "$3" >> "$1"
}
message mail/inbox/memo.eml clerk@ntbt.gov.tw "午餐通知" "Mon, 5 Jan 2015 09:00:00 +0800" memo@x
message mail/inbox/budget.eml clerk@ntbt.gov.tw "年度預算" "Mon, 5 Jan 2015 09:00:00 +0800" budget@x
message mail/inbox/case.eml wang@ntbt.gov.tw "稅務案件" "Mon, 5 Jan 2015 09:00:00 +0800" case@x
message mail/公文/order.eml chief@ntbt.gov.tw "公文 函" "Mon, 5 Jan 2015 09:00:00 +0800" order@x
message mail/inbox/new.eml clerk@ntbt.gov.tw "新的午餐通知" "$(date -R -d '-30 days')" new@x
expect_rc "import" 0 A import mail
MEMO=$(id_of memo@x)
BUDGET=$(id_of budget@x)
CASE=$(id_of case@x)
NEW=$(id_of new@x)

expect_rc "with no rules nothing is due: propose finds nothing" 5 as alice "$TESSERA" archive retention propose
in_log "and says so" "no message is due for destruction"
expect_rc "rules show the default" 0 A retention rules
in_log "permanent" "mail no rule matches: permanent"

expect_rc "rule: mail from the bureau, 5 years" 0 as alice "$TESSERA" archive retention rule add --sender '*@ntbt.gov.tw' --class 5
expect_rc "rule: budgets (預算), 永久" 0 as alice "$TESSERA" archive retention rule add --query 預算 --class 永久
expect_rc "rule: official documents' folder, 30 years" 0 as alice "$TESSERA" archive retention rule add --folder '*/公文' --class 30
expect_rc "a class the rules do not have is refused" 2 A retention rule add --sender x@y --class 7
in_log "naming the classes" "30, 25, 20, 15, 10, 5, 3 or 1"
expect_rc "two criteria at once are refused" 2 A retention rule add --sender x@y --folder f --class 5
expect_rc "status of the budget" 0 A retention status "$BUDGET" --json
check "the budget is permanent: the longest rule wins" test "$(json_field '["messages"][0]["class"]')" = permanent
expect_rc "hold: the tax case" 0 as carol "$TESSERA" archive retention hold add "114-訴-1" --reason "訴願案" --query 稅務案件
in_log "it holds one message" "holds 1 message(s)"

expect_rc "an offline volume of everything, before any destruction" 0 A volume export --before 2030-01-01 --out "$WORK/volumes"
expect_rc "alice proposes a destruction batch" 0 as alice "$TESSERA" archive retention propose --note "年度清理" --json
BATCH=$(json_field '["id"]')
python3 - "$WORK/last.log" "$MEMO" <<'PY' && ok "it lists the expired memo only (budget permanent, order 30 y, case held, new not expired)" || bad "the list: $(cat "$WORK/last.log")"
import json, sys
d = json.load(open(sys.argv[1]))
assert [i["message"] for i in d["items"]] == [int(sys.argv[2])], d
assert d["items"][0]["subject"] == "午餐通知" and d["items"][0]["class"] == "5 years", d
PY
expect_rc "alice cannot approve her own batch" 1 as alice "$TESSERA" archive retention approve "$BATCH"
in_log "a second person must" "a second person must approve it"
expect_rc "nor purge it unapproved" 5 as alice "$TESSERA" archive retention purge "$BATCH"
check "the memo is still there" "$TESSERA" archive show "$MEMO"
expect_rc "bob approves" 0 as bob "$TESSERA" archive retention approve "$BATCH"
OBJECT=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select hex(sha256) from messages where id=?', (int(sys.argv[2]),)).fetchone()[0].lower())" "$WORK/home/archive/archive.db" "$MEMO")
[ -f "$WORK/home/archive/messages/${OBJECT:0:2}/$OBJECT" ] && ok "the memo's object is on disk" || bad "no object $OBJECT"
expect_rc "bob purges" 0 as bob "$TESSERA" archive retention purge "$BATCH"
in_log "one destroyed" "1 destroyed, 0 kept"
[ ! -e "$WORK/home/archive/messages/${OBJECT:0:2}/$OBJECT" ] && ok "the object is gone" || bad "the object is still there"
expect_rc "show of the destroyed memo" 1 A show "$MEMO"
in_log "says it is not there" "no archived message has id $MEMO"
expect_rc "search for 午餐 finds only the new memo" 0 A search 午餐 --json
check "the destroyed one is not found" test "$(json_field '["hits"][0]["id"]'),$(json_field '["matches"]')" = "$NEW,1"
expect_rc "the batch keeps the destruction list" 0 A retention batch "$BATCH"
in_log "purged, with what was destroyed" "午餐通知"
in_log "and who approved" "approved by"
expect_rc "verify --read-data accounts for the destruction" 0 A verify --read-data
expect_rc "the held case, the budget and the order are all there" 0 A show "$CASE"

# --- destroyed mail does not come back through an import of an old copy.
mkdir -p again && cp mail/inbox/memo.eml again/
expect_rc "importing the memo again from an old copy" 4 A import again
in_log "is refused, saying why" "destroyed by destruction batch $BATCH"
expect_rc "importing the old offline volume" 0 A volume import "$WORK/volumes" --json
[ "$(json_field '["destroyed_not_restored"]')" = 1 ] && ok "brings everything back but the destroyed memo" || bad "volume import: $(cat "$WORK/last.log")"
expect_rc "show of the memo" 1 A show "$MEMO"
expect_rc "search 午餐 still finds only the new memo" 0 A search 午餐 --json
check "one match" test "$(json_field '["matches"]')" = 1

expect_rc "the audit log" 0 A audit --json
python3 - "$WORK/last.log" <<'PY' && ok "it holds rules, hold, proposal, the denied and the granted approval, and the purge" || bad "audit: $(cat "$WORK/last.log")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"], d["problems"]
acts = [(r["action"], r["actor"], r["outcome"]) for r in d["records"]]
names = [a for a, _, _ in acts]
for want in ["archive.retention.rule-add", "archive.retention.hold-add", "archive.retention.propose",
             "archive.retention.approve", "archive.retention.purge", "archive.retention.purged"]:
    assert want in names, (want, names)
approvals = [(who, out) for a, who, out in acts if a == "archive.retention.approve"]
assert approvals[0][1].startswith("denied") and approvals[1][1] == "approved", approvals
assert names.index("archive.retention.purge") < names.index("archive.retention.purged")
PY

finish
