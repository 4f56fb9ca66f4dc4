#!/usr/bin/env bash
# A vault over real S3 (radosgw started by scripts/s3-up.sh; S3_ENDPOINT, S3_ACCESS_KEY,
# S3_SECRET_KEY, S3_REGION in the environment): three buckets plus two local directories,
# 3-of-5. Backs up, restores from S3-only and mixed subsets, survives a bucket going
# away, verifies, repairs and drills. Usage: vault_s3.sh PATH/TO/tessera
set -uo pipefail
TESSERA=$(realpath "${1:?usage: vault_s3.sh PATH/TO/tessera}")
: "${S3_ENDPOINT:?S3_ENDPOINT must be set (start radosgw with scripts/s3-up.sh)}"
: "${S3_ACCESS_KEY:?}" "${S3_SECRET_KEY:?}"
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin vault-s3

# Credentials through a settings file profile, endpoint in the URL query.
cat > tessera.toml <<TOML
[s3.profiles.lab]
access_key = "$S3_ACCESS_KEY"
secret_key = "$S3_SECRET_KEY"
region = "${S3_REGION:-us-east-1}"
TOML
run=$RANDOM
S() { echo "s3://tessera-$run-$1/vault?endpoint=$S3_ENDPOINT&profile=lab"; }
stores=(--store "$(S a)" --store "$(S b)" --store "$(S c)" --store "file://$WORK/local1" --store "file://$WORK/local2")

mkdir -p data/docs/empty data/logs
python3 - <<'PY'
import os, random
r = random.Random(7)
for i in range(40):
    with open(f"data/docs/公文-{i}.txt", "w") as f:
        f.write(("第%d號 函 國稅局 郵件備份 " % i) * r.randint(10, 2000))
with open("data/logs/big.bin", "wb") as f:
    f.write(r.randbytes(12 * 1024 * 1024))
PY
ln -s docs/公文-1.txt data/link
chmod 600 data/docs/公文-2.txt

check "init over 3 buckets + 2 directories" "$TESSERA" vault init "${stores[@]}" --threshold 3
check "backup" "$TESSERA" vault backup data
check "restore from the three S3 buckets only" "$TESSERA" vault restore latest --target r1 --stores 1,2,3
check "restored tree is identical" diff -r data "r1$WORK/data"
check "modes survive" test "$(stat -c %a "r1$WORK/data/docs/公文-2.txt")" = 600
check "symlink survives" test "$(readlink "r1$WORK/data/link")" = "docs/公文-1.txt"
check "restore from a mix (2 buckets + 1 dir)" "$TESSERA" vault restore latest --target r2 --stores 2,3,5
check "mixed restore is identical" diff -r data "r2$WORK/data"
check "verify --read-data is clean" "$TESSERA" vault verify --read-data

# With every bucket unreachable only the 2 directories are left, fewer than the 4
# (k+1) stores a write needs: the backup must fail and commit nothing.
echo "changed" >> data/docs/公文-3.txt
"$TESSERA" vault backup data --s3-endpoint http://127.0.0.1:1 > s3down.log 2>&1
rc=$?
check "backup with every bucket unreachable fails (exit $rc)" test "$rc" -eq 1
check "and says why" grep -q "stores accepted" s3down.log
check "no snapshot was added" test "$("$TESSERA" vault snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1

# One directory store broken: 4 of 5 still take writes, the backup is degraded (exit 3),
# verify reports the missing shards (exit 4) and repair fills them in.
mv local2 local2.away && touch local2
"$TESSERA" vault backup data > degraded.log 2>&1
rc=$?
check "backup with one store broken is degraded (exit $rc)" test "$rc" -eq 3
rm local2 && mv local2.away local2
"$TESSERA" vault verify > verify1.log 2>&1
rc=$?
check "verify reports the missing shards (exit $rc)" test "$rc" -eq 4
check "repair fills them in" "$TESSERA" vault repair
check "verify --read-data is clean again" "$TESSERA" vault verify --read-data

check "drill from S3 after losing both local directories" "$TESSERA" vault drill --lose 4,5
check "connect on a new machine from the three buckets" env TESSERA_HOME="$WORK/home2" "$TESSERA" vault connect --store "$(S a)" --store "$(S b)" --store "$(S c)"
check "the new machine restores" env TESSERA_HOME="$WORK/home2" "$TESSERA" vault restore latest --target r3
check "and the restore is identical" diff -r data "r3$WORK/data"

finish
