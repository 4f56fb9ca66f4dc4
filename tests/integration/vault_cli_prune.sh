#!/usr/bin/env bash
# `tessera vault forget` and `vault prune` from the command line, over a 3-of-5 vault of
# local directories: three backups of a changing tree, `forget --keep-last 1 --prune`,
# then one snapshot is left, it restores identical to the tree it was taken of, and the
# stores got smaller. Also: an empty policy is refused (exit 2), a dry run changes
# nothing, and a second prune has nothing to do. Usage: vault_cli_prune.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: vault_cli_prune.sh PATH/TO/tessera}")
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin cli-prune
# A field of a JSON document on stdin, as Python prints it: json_get 'len(d)'.
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
store_bytes() { find s1 s2 s3 s4 s5 -type f -printf '%s\n' | awk '{ n += $1 } END { print n }'; }

stores=()
for i in 1 2 3 4 5; do stores+=(--store "file://$WORK/s$i"); done
check "init a 3-of-5 vault" "$TESSERA" vault init "${stores[@]}" --threshold 3 --pack-size-mib 1

mkdir -p data/sub
for i in $(seq 1 24); do head -c $((20000 + i * 3000)) /dev/urandom > "data/f$i"; done
head -c 3000000 /dev/urandom > data/sub/big.bin
ln -s f1 data/link
check "backup 1" "$TESSERA" vault backup data
for i in $(seq 1 8); do head -c 40000 /dev/urandom > "data/f$i"; done
check "backup 2" "$TESSERA" vault backup data
head -c 2000000 /dev/urandom > data/sub/big.bin
rm data/f20
echo "new file" > data/sub/new.txt
check "backup 3" "$TESSERA" vault backup data
latest=$("$TESSERA" vault snapshots --json | json_get 'd[-1]["id"]')
check "three snapshots" test "$("$TESSERA" vault snapshots --json | json_get 'len(d)')" = 3

rc=0
"$TESSERA" vault forget > empty.log 2>&1 || rc=$?
check "forget without a policy is refused with exit 2 (got $rc)" test "$rc" -eq 2
check "and says why" grep -q "retention policy" empty.log

before=$(store_bytes)
"$TESSERA" vault forget --keep-last 1 --dry-run --prune > dry.log
check "a dry run names what it would forget" grep -q "would forget 2 of 3 snapshots" dry.log
check "a dry run forgets nothing" test "$("$TESSERA" vault snapshots --json | json_get 'len(d)')" = 3
check "a dry run deletes nothing" test "$(store_bytes)" = "$before"

"$TESSERA" vault forget --keep-last 1 --prune --json > forget.json
check "forget --keep-last 1 --prune removed 2" test "$(json_get 'd["removed"]' < forget.json)" = 2
check "and pruned" test "$(json_get 'd["prune"]["blobs"]["removed"] > 0' < forget.json)" = True
check "one snapshot left" test "$("$TESSERA" vault snapshots --json | json_get 'len(d)')" = 1
check "the newest one" test "$("$TESSERA" vault snapshots --json | json_get 'd[0]["id"]')" = "$latest"
after=$(store_bytes)
check "the stores shrank ($before -> $after bytes)" test "$after" -lt "$before"

check "restore the kept snapshot" "$TESSERA" vault restore latest --target r1
check "it is identical to the tree backed up" diff -r data "r1$WORK/data"

"$TESSERA" vault prune > prune2.log
check "a second prune has nothing to do" grep -q "nothing to do" prune2.log
check "prune --dry-run --json is valid JSON" \
  bash -c "'$TESSERA' vault prune --dry-run --json | python3 -c 'import json,sys; json.load(sys.stdin)'"

# Backups go on over the rewritten index and restore too.
echo "after prune" > data/after.txt
check "backup after prune" "$TESSERA" vault backup data
check "restore after prune" "$TESSERA" vault restore latest --target r2
check "identical" diff -r data "r2$WORK/data"

finish
