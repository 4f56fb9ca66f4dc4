#!/usr/bin/env bash
# Restore drills from the command line: a 3-of-5 vault over local directories, a backup,
# a drill that passes (exit 0, JSON result "pass"), a drill that loses three stores and
# fails (exit 4), and the yearly count of successful drills. Usage: vault_cli_drill.sh
# PATH/TO/tessera. Ends with "N passed, N failed"; exits non-zero if anything failed.
set -euo pipefail
TESSERA=$(realpath "${1:?usage: vault_cli_drill.sh PATH/TO/tessera}")
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin cli-drill
# Runs a command, keeping its exit code in $rc and its output in $out (set -e stays on).
run() {
  rc=0
  out=$("$@" 2> "$WORK/stderr.log") || rc=$?
}
json_get() {  # json_get EXPR: evaluates a Python expression over the JSON in $out as j
  python3 -c 'import json, sys; j = json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$1" <<< "$out"
}

mkdir -p data/docs/empty data/ro
for i in $(seq 1 20); do
  head -c $((i * 997)) /dev/urandom > "data/docs/file-$i.bin"
done
echo "公文 第1號" > "data/docs/公文.txt"
echo "in a read-only directory" > data/ro/inside.txt
chmod 555 data/ro
ln -s docs/公文.txt data/link

stores=()
for i in 1 2 3 4 5; do stores+=(--store "file://$WORK/cloud$i"); done
run "$TESSERA" vault init "${stores[@]}" --threshold 3
check "init 3-of-5 (exit $rc)" test "$rc" -eq 0
run "$TESSERA" vault backup data
check "backup (exit $rc)" test "$rc" -eq 0

run "$TESSERA" vault drill --json
check "drill passes (exit $rc)" test "$rc" -eq 0
check "drill JSON says pass" test "$(json_get 'j["result"]')" = pass
check "drill used stores 1,2,3" test "$(json_get '[s["store"] for s in j["stores_used"]]')" = "[1, 2, 3]"
check "drill reports RPO >= 0" test "$(json_get 'j["rpo_seconds"] >= 0')" = True
check "drill reports an RTO" test "$(json_get 'j["rto_seconds"] > 0')" = True
check "drill verified every file" test "$(json_get 'j["verified"]["files"] == j["restored"]["files"] > 0')" = True
check "drill was recorded in the vault" test "$(json_get 'j["record"]["in_vault"]')" = True
html=$(json_get 'j["record"]["html"]')
check "HTML report written" test -s "$html"
check "HTML report is in Traditional Chinese first" grep -q "還原演練報告 <span class=\"en\">/ Restore drill report" "$html"
check "scratch directory removed" test ! -e "$(json_get 'j["scratch"]["path"]')"

run "$TESSERA" vault drill --lose 1,2,3
check "drill losing 3 of 5 fails with exit 4 (exit $rc)" test "$rc" -eq 4
check "and says why" grep -q "needs 3 of its 5" <<< "$out"

year=$(date +%Y)
run "$TESSERA" vault drills --json
check "drills lists (exit $rc)" test "$rc" -eq 0
check "1 successful drill this year" test "$(json_get "[y['passed'] for y in j['per_year'] if y['year'] == $year]")" = "[1]"
check "1 failed drill this year" test "$(json_get "[y['failed'] for y in j['per_year'] if y['year'] == $year]")" = "[1]"

run "$TESSERA" vault drill --lose 1,2
check "drill losing stores 1,2 passes (exit $rc)" test "$rc" -eq 0
check "and says which stores it used" grep -q "used 3,4,5 of 5" <<< "$out"
check "and where the HTML report is" grep -q "report: .*\.html" <<< "$out"

run "$TESSERA" vault drill --lose 1,2,3 --json
check "failed drill in JSON (exit $rc)" test "$rc" -eq 4
check "failed drill JSON says fail" test "$(json_get 'j["result"]')" = fail

run "$TESSERA" vault drill --lose 1 --stores 1,2,3
check "lost and used at once is a usage error (exit $rc)" test "$rc" -eq 2

run "$TESSERA" vault drills --json
check "drills lists again (exit $rc)" test "$rc" -eq 0
check "4 drills recorded" test "$(json_get 'len(j["drills"])')" = 4
check "2 successful drills this year" test "$(json_get "[y['passed'] for y in j['per_year'] if y['year'] == $year]")" = "[2]"
check "2 failed drills this year" test "$(json_get "[y['failed'] for y in j['per_year'] if y['year'] == $year]")" = "[2]"
check "running KPI count" test "$(json_get '[d.get("success_number_in_year", 0) for d in j["drills"]]')" = "[1, 0, 2, 0]"

run "$TESSERA" vault drills --year "$year" --html "$WORK/drills.html"
check "drills text listing (exit $rc)" test "$rc" -eq 0
check "shows the yearly count" grep -q "$year: 2 passed, 2 failed" <<< "$out"
check "HTML summary written" grep -q "年度成功演練次數" "$WORK/drills.html"

run "$TESSERA" vault drills --year 1999 --json
check "another year has no drills" test "$(json_get 'len(j["drills"])')" = 0

finish
