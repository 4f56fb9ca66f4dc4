#!/usr/bin/env bash
# `tessera vault verify | repair | replace-store` through the real program, over a 3-of-5
# vault of five local directories: damage of each kind is found (exit 4), repaired (exit
# 0), restores stay identical, a store is replaced and its old key share voided, a repair
# killed with kill -9 is simply run again, and damage beyond k shards stays exit 4.
# Usage: vault_cli_check.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: vault_cli_check.sh PATH/TO/tessera}")
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin vault-check
T() { "$TESSERA" vault "$@"; }
# The first data pack whose shard is present in store directory $1.
a_pack() { find "$WORK/$1/data" -type f | sort | head -n "${2:-1}" | tail -n 1 | sed "s|^$WORK/$1/||"; }
flip_byte() { # file offset
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $(((b + 1) % 256)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
restore_same() { # what, restore arguments...
  local what=$1 target=$WORK/restore.$RANDOM
  shift
  if T restore latest --target "$target" "$@" > "$WORK/last.log" 2>&1 &&
    diff -r "$WORK/data" "$target$WORK/data" >> "$WORK/last.log" 2>&1; then
    ok "$what"
  else
    bad "$what"
    sed 's/^/    /' "$WORK/last.log"
  fi
  rm -rf "$target"
}

mkdir -p data/docs/deep data/empty
head -c 3000000 /dev/urandom > data/big1.bin
head -c 1500000 /dev/urandom > data/big2.bin
for i in $(seq 1 40); do seq 1 $((i * 200)) | sed "s/^/公文 $i /" > "data/docs/note-$i.txt"; done
head -c 5000 /dev/urandom > data/docs/deep/small.bin
ln -s big1.bin data/link
# A folder and a file named in Big5 (公文/函.txt), as on an old Windows share: not UTF-8.
BIG5_DIR=$(printf '\xa4\xbd\xa4\xe5') BIG5_FILE=$(printf '\xa8\xe7').txt
mkdir "data/$BIG5_DIR" && echo "Big5 name" > "data/$BIG5_DIR/$BIG5_FILE"
stores=()
for i in 1 2 3 4 5; do stores+=(--store "file://$WORK/s$i"); done

check "init 3-of-5 over five directories" T init "${stores[@]}" --threshold 3 --pack-size-mib 1
check "backup" T backup data
expect_rc "ls --json of Big5 names" 0 T ls latest --json
in_log "shows them with U+FFFD" "$(printf '\xef\xbf\xbd\xef\xbf\xbd.txt')"
expect_rc "dump of a file with a Big5 name" 0 T dump latest "$WORK/data/$BIG5_DIR/$BIG5_FILE"
in_log "gives its content" "Big5 name"
expect_rc "verify of a new vault is clean" 0 T verify
expect_rc "verify --read-data of a new vault is clean" 0 T verify --read-data

# Three kinds of damage on three stores.
P=$(a_pack s2 1)
Q=$(a_pack s3 2)
I=$(cd s4 && ls index/* | head -n 1)
flip_byte "s2/$P" 700
truncate -s 100 "s3/$Q"
rm "s4/$I"
expect_rc "verify finds the truncated and the missing shard" 4 T verify
in_log "it names the truncated shard" "store 3: $Q: shard is"
in_log "it names the missing shard" "store 4: $I: missing"
expect_rc "verify --read-data finds the flipped byte too" 4 T verify --read-data
in_log "names store 2 and the object" "store 2: $P: shard fails authentication"
in_log "and suggests repair" "tessera vault repair"
expect_rc "verify --json says not ok" 4 T verify --read-data --json
in_log "the JSON lists the damaged shard" '"reason": "shard fails authentication (bytes changed)"'
expect_rc "repair" 0 T repair
in_log "repair rebuilt three shards" "rebuilt 3 shards of 3 objects"
expect_rc "verify --read-data is clean after repair" 0 T verify --read-data
restore_same "restore after repair is identical"

# A shard of another object in its place.
P1=$(a_pack s1 1)
P2=$(a_pack s1 2)
cp "s1/$P1" "s1/$P2"
expect_rc "a shard of another object is found" 4 T verify --read-data
in_log "and named" "store 1: $P2: shard belongs to a different object"
expect_rc "repair puts it right" 0 T repair

# A whole store lost.
rm -rf s5/*
expect_rc "an emptied store is found" 4 T verify
in_log "and reported EMPTY" "EMPTY"
expect_rc "repair rebuilds the whole store and re-issues key shares" 0 T repair
in_log "with a new epoch" "re-issued the key shares (epoch 2)"
expect_rc "verify --read-data is clean" 0 T verify --read-data
restore_same "restore from stores 3,4,5 (the rebuilt one among them)" --stores 3,4,5
check "connect from stores 3,4,5 on a new machine" env TESSERA_HOME="$WORK/home-dr" "$TESSERA" vault connect --store "file://$WORK/s3" --store "file://$WORK/s4" --store "file://$WORK/s5"

# A store pointed at another vault.
check "init another vault" env TESSERA_HOME="$WORK/home-other" "$TESSERA" vault init --store "file://$WORK/o1" --store "file://$WORK/o2" --store "file://$WORK/o3" --threshold 2
mv s4 s4.mine
cp -r o2 s4
expect_rc "a store of another vault is found" 4 T verify
in_log "and named" "holds another vault"
expect_rc "repair leaves it alone" 4 T repair
check "its descriptor is untouched" cmp o2/tessera-vault.json s4/tessera-vault.json
rm -rf s4
mv s4.mine s4
expect_rc "verify is clean with the right store back" 0 T verify --read-data

# An unreachable store: repair does the rest and exits 3.
rm "s3/$I"
mv s1 s1.away
expect_rc "repair with store 1 unreachable" 3 T repair
in_log "and says to re-run" "again when stores 1 are back"
mv s1.away s1
expect_rc "verify is clean once it is back" 0 T verify --read-data

# kill -9 during a repair: running it again just continues.
head -c 20000000 /dev/urandom > data/big3.bin
check "second backup" T backup data
rm -rf s2/*
"$TESSERA" vault repair > repair-killed.log 2>&1 &
pid=$!
# Killed as soon as it has begun writing store 2's data shards (a fixed delay outlasted
# the whole repair once shards were written with direct I/O).
for _ in $(seq 1000); do
  [ -n "$(find s2 -path '*/data/*' -type f 2> /dev/null | head -n 1)" ] && break
  sleep 0.01
done
kill -9 "$pid" 2> /dev/null || true
rc=0
wait "$pid" 2> /dev/null || rc=$?
check "the repair was killed while it ran (exit $rc)" test "$rc" -eq 137
expect_rc "repair after kill -9 continues at once" 0 T repair
expect_rc "verify --read-data is clean" 0 T verify --read-data
restore_same "restore is identical"

# Replacing store 2.
cp s2/tessera-vault.json old2.json
expect_rc "replace-store 2 with a new directory" 0 T replace-store 2 --with "file://$WORK/new2"
check "the configuration names the new store" grep -q "file://$WORK/new2" "$TESSERA_HOME/vaults/default/vault.json"
expect_rc "verify --read-data is clean after replace-store" 0 T verify --read-data
restore_same "restore from stores 1,2,3 (the new store among them)" --stores 1,2,3
mkdir -p oldshare
cp old2.json oldshare/tessera-vault.json
expect_fail "the old store's share no longer combines with the new ones" env TESSERA_HOME="$WORK/home-old" "$TESSERA" vault connect --store "file://$WORK/s1" --store "file://$WORK/oldshare" --store "file://$WORK/s3"
check "connect from stores 1, new 2, 3 works" env TESSERA_HOME="$WORK/home-new" "$TESSERA" vault connect --store "file://$WORK/s1" --store "file://$WORK/new2" --store "file://$WORK/s3"
mkdir -p occupied && echo hello > occupied/notes.txt
expect_rc "replace-store refuses a location that is not empty" 1 T replace-store 3 --with "file://$WORK/occupied"
expect_rc "replace-store refuses a store number out of range" 2 T replace-store 9 --with "file://$WORK/new9"

# Damage beyond k shards: reported unrecoverable, and repair cannot help.
U=$(a_pack s1 1)
rm "s1/$U"
truncate -s 10 "new2/$U"
flip_byte "s3/$U" $(($(stat -c %s "s3/$U") / 2))
expect_rc "three damaged shards of one pack: verify" 4 T verify --read-data
in_log "and says UNRECOVERABLE" "UNRECOVERABLE $U"
expect_rc "repair cannot fix it" 4 T repair
in_log "and says so" "UNRECOVERABLE"

finish
