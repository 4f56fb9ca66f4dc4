#!/usr/bin/env bash
# Crash safety of `tessera vault backup` over five local directories (3-of-5): a backup of
# ~200 MB of new data is killed with SIGKILL at several points (10, 30, 55 and 80 % of the
# time an uninterrupted backup of such data took, and a random one), then a backup is run
# to completion. After every round each snapshot must restore and `diff -r` clean against
# its source, and when the killed run had committed packs (index objects appeared), the
# completed run must reuse them: it uploads less than the full data (`vault backup --json`
# new_bytes / stored_bytes). Finally two backups started at the same time must both
# succeed.
# Usage: vault_crash.sh PATH/TO/tessera      (last line: "N passed, N failed")
set -euo pipefail
TESSERA=$(realpath "${1:?usage: vault_crash.sh PATH/TO/tessera}")
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin vault-crash

PACK=$((8 * 1024 * 1024)) # the default pack size
STORES=()
for i in 1 2 3 4 5; do STORES+=(--store "file://$WORK/s$i"); done

# ~200 MB of new data in directory $1 (seeded by $2): two big files, 100 files of
# about 1 MB in ten directories, some compressible text, an empty file and a symlink.
make_data() {
  local dir=$1 seed=$2
  mkdir -p "$dir"
  python3 - "$dir" "$seed" <<'PY'
import os, random, sys
d, seed = sys.argv[1], int(sys.argv[2])
r = random.Random(seed)
def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
write(f"{d}/big/one.bin", r.randbytes(60 * 1024 * 1024))
write(f"{d}/big/two.bin", r.randbytes(40 * 1024 * 1024))
for i in range(10):
    for j in range(10):
        write(f"{d}/dir{i}/file{j}.bin", r.randbytes(r.randint(900_000, 1_100_000)))
for i in range(20):
    write(f"{d}/text/公文 {i}.txt", (f"第{i}號 round {seed} 備份 " * r.randint(100, 5000)).encode())
write(f"{d}/empty", b"")
os.makedirs(f"{d}/empty_dir", exist_ok=True)
os.symlink("big/one.bin", f"{d}/link")
PY
}

# Objects committed to store 1 below $1 (temporary files of interrupted writes excluded).
count_objects() {
  find "$WORK/s1/$1" -type f 2>/dev/null | grep -cv '\.tmp\.[0-9]*\.[0-9]*$' || true
}

json_field() { # json_field FILE python-expression-on-j
  python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"
}

# Restores every snapshot and compares it with the directory it was taken from.
verify_all() {
  local label=$1 ids id path n=0
  if ! "$TESSERA" vault snapshots --json > snaps.json 2> snaps.err; then
    bad "$label: vault snapshots fails: $(cat snaps.err)"
    return
  fi
  ids=$(python3 -c 'import json; [print(s["id"], s["paths"][0]) for s in json.load(open("snaps.json"))]')
  while read -r id path; do
    [ -n "$id" ] || continue
    n=$((n + 1))
    rm -rf restore
    if ! "$TESSERA" vault restore "$id" --target restore > restore.log 2>&1; then
      bad "$label: snapshot ${id:0:8} does not restore: $(tail -n 3 restore.log)"
      continue
    fi
    if diff -r "$path" "restore$path" > diff.log 2>&1; then
      ok "$label: snapshot ${id:0:8} of $(basename "$path") restores identical"
    else
      bad "$label: snapshot ${id:0:8} differs from $path: $(head -n 5 diff.log)"
    fi
  done <<< "$ids"
  rm -rf restore
  echo "  ($n snapshots checked)"
}

if ! "$TESSERA" vault init "${STORES[@]}" --threshold 3 > init.log 2>&1; then
  cat init.log
  bad "vault init"
  finish
fi
ok "vault init 3-of-5"

# A first, uninterrupted snapshot that every later round must leave intact.
make_data "$WORK/data0" 100
started=$(date +%s.%N)
if "$TESSERA" vault backup "$WORK/data0" > first.log 2>&1; then
  ok "first backup completes"
else
  bad "first backup: $(tail -n 3 first.log)"
fi
# The kills land at fixed fractions of how long that backup took (and one at random), so
# that they stay inside the run however fast the machine or tessera becomes.
took=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$started" "$(date +%s.%N)")
delays=$(python3 -c "
import random, sys
t = float(sys.argv[1])
print(' '.join('%.2f' % max(0.05, f * t) for f in (0.1, 0.3, 0.55, 0.8, random.uniform(0.05, 0.95))))" "$took")
echo "first backup took ${took}s; kills after: $delays s"

round=0
for delay in $delays; do
  round=$((round + 1))
  data="$WORK/data$round"
  make_data "$data" "$((100 + round))"
  full=$(du -sb --apparent-size "$data" | cut -f1)
  index_before=$(count_objects index)
  snaps_before=$(count_objects snapshots)

  "$TESSERA" vault backup --json "$data" > killed.json 2> killed.err &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2> /dev/null || true
  rc=0
  wait "$pid" 2> /dev/null || rc=$?
  if [ "$rc" -eq 137 ]; then killed=yes; else killed=no; fi
  committed=$(($(count_objects index) - index_before))
  echo "round $round: kill -9 after ${delay}s (killed: $killed), $committed index objects committed before the kill"
  if [ "$killed" = yes ]; then
    check "round $round: the killed run left no snapshot" test "$(count_objects snapshots)" -eq "$snaps_before"
  fi

  if "$TESSERA" vault backup --json "$data" > done.json 2> done.err; then
    ok "round $round: backup after the crash completes"
  else
    bad "round $round: backup after the crash fails (exit $?): $(tail -n 3 done.err)"
    verify_all "round $round"
    continue
  fi
  new_bytes=$(json_field done.json 'j["summary"]["new_bytes"]')
  stored=$(json_field done.json 'j["summary"]["stored_bytes"]')
  echo "  full data $full bytes; completed run: new_bytes $new_bytes, stored_bytes $stored"
  if [ "$killed" = no ]; then
    check "round $round: nothing new after a run that finished before the kill" test "$new_bytes" -eq 0
  elif [ "$committed" -ge 1 ]; then
    check "round $round: packs of the killed run are reused (new_bytes $new_bytes < $full)" \
      test "$new_bytes" -lt "$full"
    check "round $round: stored_bytes $stored < $full" test "$stored" -lt "$full"
    if [ "$committed" -ge 3 ]; then
      limit=$((full - (committed - 2) * PACK))
      check "round $round: new_bytes $new_bytes <= $limit (at least $((committed - 2)) full packs reused)" \
        test "$new_bytes" -le "$limit"
    fi
  else
    check "round $round: an early crash costs at most a full upload (new_bytes $new_bytes <= $full)" \
      test "$new_bytes" -le "$full"
  fi
  verify_all "round $round"
done

# The data of the last round once more from three stores only.
rm -rf restore
if "$TESSERA" vault restore latest --target restore --stores 2,4,5 > restore.log 2>&1 &&
  diff -r "$WORK/data$round" "restore$WORK/data$round" > /dev/null 2>&1; then
  ok "latest snapshot restores identical from stores 2,4,5"
else
  bad "latest snapshot from stores 2,4,5: $(tail -n 3 restore.log)"
fi
rm -rf restore

# Two backups started at the same time: one of new data, one of a copy of round 1's data
# (all of it already in the vault) plus a new file.
make_data "$WORK/dataA" 200
cp -al "$WORK/data1" "$WORK/dataB"
echo "more" > "$WORK/dataB/added after the crash rounds.txt"
"$TESSERA" vault backup --json "$WORK/dataA" > a.json 2> a.err &
pa=$!
"$TESSERA" vault backup --json "$WORK/dataB" > b.json 2> b.err &
pb=$!
rca=0
rcb=0
wait "$pa" || rca=$?
wait "$pb" || rcb=$?
check "concurrent backup A exits 0 (got $rca)" test "$rca" -eq 0
check "concurrent backup B exits 0 (got $rcb)" test "$rcb" -eq 0
[ "$rca" -eq 0 ] || cat a.err
[ "$rcb" -eq 0 ] || cat b.err
verify_all "after the concurrent backups"

finish
