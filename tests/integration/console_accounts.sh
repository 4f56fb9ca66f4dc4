#!/usr/bin/env bash
# The web console's local accounts, kept from the command line (how the first administrator
# is made): add with a password from $TESSERA_PASSWORD, list, change a role, require a TOTP
# code, unlock, set a new password, remove; bad names, short passwords and clerks without
# an agency are refused; every change is in the audit log, and no password or secret is
# in the audit log or the accounts database in the clear.
set -euo pipefail
TESSERA=$(realpath "${1:?usage: console_accounts.sh PATH/TO/tessera}")
. "$(dirname "$0")/scenario.sh"
scenario_begin console-accounts
T() { "$TESSERA" "$@"; }
json_field() { python3 -c "import json,sys; print(json.load(open('$WORK/last.log'))$1)"; }
audited() { sqlite3 "$TESSERA_HOME/audit.db" "SELECT count(*) FROM audit WHERE action = '$1' AND target = '$2'"; }
PASSWORD='correct horse battery staple 馬'
export TESSERA_PASSWORD=$PASSWORD

expect_rc "the first administrator" 0 T console account add admin --role admin --display-name 系統管理者 --json
check "listed as admin" test "$(json_field '["account"]["role"]')" = admin
check "the accounts database is the owner's only" test "$(stat -c %a "$TESSERA_HOME/console/accounts.db")" = 600
expect_rc "a clerk of an agency" 0 T console account add wang --role clerk --agency A15060000H --display-name 王小明
expect_rc "an auditor" 0 T console account add audit.li --role auditor
expect_rc "the same name again" 1 T console account add wang --role clerk --agency A15060000H
in_log "is refused, saying so" "wang"
expect_rc "a clerk without an agency" 2 T console account add chen --role clerk
in_log "is refused, saying what is missing" "agency"
expect_rc "a name with capitals and spaces" 2 T console account add "Bad Name" --role auditor
expect_rc "an unknown role" 2 T console account add lin --role king
in_log "lists the roles" "operator"
TESSERA_PASSWORD=short expect_rc "a short password" 2 T console account add lin --role operator
in_log "saying how long it must be" "12"
expect_rc "an account whose password is the directory's" 0 T console account add dir.chen --role records --directory --json
check "no password asked, marked as the directory's" test "$(json_field '["account"]["directory"]')" = True
expect_rc "list" 0 T console account list --json
check "four accounts" test "$(json_field '["accounts"].__len__()')" = 4
check "the clerk's agency" python3 -c "import json; a = {x['name']: x for x in json.load(open('$WORK/last.log'))['accounts']}; assert a['wang']['agency'] == 'A15060000H' and a['wang']['display_name'] == '王小明', a"
expect_rc "list as text" 0 T console account list
in_log "shows the Chinese name" "王小明"
expect_rc "make the auditor an operator" 0 T console account role audit.li --role operator
expect_rc "list again" 0 T console account list --json
check "audit.li is an operator now" python3 -c "import json; a = {x['name']: x for x in json.load(open('$WORK/last.log'))['accounts']}; assert a['audit.li']['role'] == 'operator', a"
expect_rc "require a TOTP code of the admin" 0 T console account totp-enable admin --json
SECRET=$(json_field '["secret"]')
check "a base32 secret of 20 bytes" python3 -c "import base64,sys; assert len(base64.b32decode(sys.argv[1] + '=' * (-len(sys.argv[1]) % 8))) == 20" "$SECRET"
check "and an otpauth address for the app" test "$(json_field '["uri"]' | cut -c1-15)" = "otpauth://totp/"
expect_rc "unlock (nothing locked)" 0 T console account unlock wang
TESSERA_PASSWORD='another long password 2026' expect_rc "a new password for wang" 0 T console account passwd wang
expect_rc "an unknown account" 1 T console account passwd nobody
expect_rc "remove the operator" 0 T console account remove audit.li
expect_rc "list after the removal" 0 T console account list --json
check "three accounts left" test "$(json_field '["accounts"].__len__()')" = 3
check "every change is in the audit log" test "$(audited console.account.add admin)$(audited console.account.role audit.li)$(audited console.account.totp-enable admin)$(audited console.account.password wang)$(audited console.account.remove audit.li)" = 11111
check "no password in the audit log" bash -c "! grep -qF 'horse battery' '$TESSERA_HOME/audit.db'"
check "no password in the accounts database" bash -c "! grep -qF 'horse battery' '$TESSERA_HOME/console/accounts.db'"
check "no TOTP secret in the audit log" bash -c "! grep -qF '$SECRET' '$TESSERA_HOME/audit.db'"
unset TESSERA_PASSWORD
expect_rc "no password and no terminal" 2 T console account add lin --role operator < /dev/null
in_log "says how to give one" "TESSERA_PASSWORD"
finish
