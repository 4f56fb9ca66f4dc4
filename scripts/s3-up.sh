#!/bin/bash
# Starts a throwaway S3 service on 127.0.0.1 for integration tests: a one-node Ceph cluster
# (1 mon, 1 memstore OSD, no mgr) with radosgw on PORT. Data lives in memory and in DIR;
# stop it with scripts/s3-down.sh DIR.
#
# Usage: scripts/s3-up.sh DIR [PORT]      (PORT defaults to 7480)
# Env:   MON_PORT (default: a free port), S3_START_TIMEOUT seconds (default 120)
#
# On success prints S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION lines (throwaway
# credentials of this test cluster) and writes them to DIR/env. On failure exits non-zero
# and shows the daemons' logs. Needs the packages ceph-mon ceph-osd radosgw ceph-common; it
# does not install anything.
set -euo pipefail

usage() { echo "usage: $0 DIR [PORT]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
D=$1
PORT=${2:-7480}
TIMEOUT=${S3_START_TIMEOUT:-120}
log() { echo "[s3-up] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl; do
  command -v "$tool" >/dev/null ||
    die "$tool not found: install ceph-mon ceph-osd radosgw ceph-common curl (apt-get install ...)"
done
[[ $PORT =~ ^[0-9]+$ ]] || usage

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# DIR must be ours: empty, absent, or left over from an earlier s3-up.sh run.
if [ -e "$D" ]; then
  if [ -f "$D/.tessera-s3" ]; then
    log "stopping the cluster left in $D"
    "$(dirname "$0")/s3-down.sh" "$D" || true
  elif [ -n "$(ls -A "$D")" ]; then
    die "$D exists and is not empty; give an empty or new directory"
  fi
fi
# Another server on PORT would answer our requests and make every test meaningless.
port_busy "$PORT" && die "port $PORT on 127.0.0.1 is already in use"

mkdir -p "$D"
D=$(cd "$D" && pwd)
mkdir -p "$D"/{mon/a,osd/0,rgw,run,log}
touch "$D/.tessera-s3"

if [ -z "${MON_PORT:-}" ]; then
  MON_PORT=$((20000 + RANDOM % 20000))
  while port_busy "$MON_PORT"; do MON_PORT=$((MON_PORT + 1)); done
fi

# Shows what the daemons said, then fails.
fail() {
  log "ERROR: $*"
  # The radosgw log last: it is the one most likely to say what went wrong.
  for f in "$D"/log/mon*.log "$D"/log/osd*.log "$D"/log/client.rgw*.log; do
    [ -s "$f" ] || continue
    echo "----- $f (last 40 lines) -----" >&2
    tail -n 40 "$f" >&2
  done
  # Stop what did start; DIR stays for a closer look.
  S3_DOWN_KEEP_DIR=1 "$(dirname "$0")/s3-down.sh" "$D" || true
  exit 1
}
trap 'fail "\"$BASH_COMMAND\" failed (line $LINENO)"' ERR

t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }

FSID=$(cat /proc/sys/kernel/random/uuid)
rand_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
AK=TESSERA$(rand_hex 7 | tr a-f A-F)
SK=$(rand_hex 20)
C="$D/ceph.conf"
cat >"$C" <<EOF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms bind ipv6 = false
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
keyring = $D/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
osd max object name len = 460
osd max object namespace len = 64
mon data = $D/mon/\$id
osd data = $D/osd/\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd memory target = 939524096
debug ms = 0
# The default paxos timing makes every map change take 1-2 s; startup drops from ~13 s to ~2 s.
paxos propose interval = 0.05
paxos min wait = 0.01
mon lease = 1
osd heartbeat grace = 5
[client.rgw.tessera]
# radosgw defaults to ms_mon_client_mode=secure, which cannot work with auth=none.
ms mon client mode = crc
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $D/rgw
rgw enable usage log = false
rgw dns name = localhost
EOF

# A mon. key is needed for mkfs even with auth=none.
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
  --cap mgr 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$D/monmap" >/dev/null
ceph-mon -c "$C" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring" >"$D/log/mon-mkfs.log" 2>&1
ceph-mon -c "$C" -i a
CEPH=(ceph -c "$C" --connect-timeout 30)
"${CEPH[@]}" mon stat >/dev/null || fail "the monitor did not come up"
log "mon up on port $MON_PORT ($(elapsed) s)"

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
ID=$("${CEPH[@]}" osd new "$OSD_UUID")
ceph-osd -c "$C" -i "$ID" --mkfs --osd-uuid "$OSD_UUID" >"$D/log/osd-mkfs.log" 2>&1
ceph-osd -c "$C" -i "$ID" 2>>"$D/log/osd-start.log"
up=0
for _ in $(seq 1 $((TIMEOUT * 2))); do
  if "${CEPH[@]}" osd stat 2>/dev/null | grep -q '1 up'; then up=1; break; fi
  sleep 0.5
done
[ $up = 1 ] || fail "the OSD did not come up within $TIMEOUT s"
log "osd up ($(elapsed) s)"

radosgw -c "$C" -n client.rgw.tessera
radosgw-admin -c "$C" user create --uid=tessera --display-name=tessera \
  --access-key="$AK" --secret-key="$SK" >/dev/null
ready=0
for _ in $(seq 1 $((TIMEOUT * 2))); do
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then ready=1; break; fi
  pid=$(cat "$D/run/client.rgw.tessera.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then fail "radosgw exited during startup"; fi
  sleep 0.5
done
[ $ready = 1 ] || fail "radosgw did not answer on 127.0.0.1:$PORT within $TIMEOUT s"
log "radosgw answering on 127.0.0.1:$PORT ($(elapsed) s)"

ENDPOINT="http://127.0.0.1:$PORT"
# Warm-up: the first bucket and object create radosgw's data and index pools (3-5 s), and
# the first multipart upload the non-ec pool; pay that here rather than in the first test.
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
A=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -sS -f --max-time 60)
S=("${A[@]}" -o /dev/null)
curl "${S[@]}" -H "x-amz-content-sha256: $EMPTY" -X PUT "$ENDPOINT/warmup" ||
  fail "radosgw refused to create a bucket"
echo x >"$D/warmup.txt"
curl "${S[@]}" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$D/warmup.txt" "$ENDPOINT/warmup/x"
UP=$(curl "${A[@]}" -H "x-amz-content-sha256: $EMPTY" -X POST "$ENDPOINT/warmup/m?uploads=" |
  sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p')
[ -n "$UP" ] && curl "${S[@]}" -H "x-amz-content-sha256: $EMPTY" -X DELETE "$ENDPOINT/warmup/m?uploadId=$UP"
curl "${S[@]}" -H "x-amz-content-sha256: $EMPTY" -X DELETE "$ENDPOINT/warmup/x"
curl "${S[@]}" -H "x-amz-content-sha256: $EMPTY" -X DELETE "$ENDPOINT/warmup"
rm -f "$D/warmup.txt"
trap - ERR

umask 077
cat >"$D/env" <<EOF
S3_ENDPOINT=$ENDPOINT
S3_ACCESS_KEY=$AK
S3_SECRET_KEY=$SK
S3_REGION=us-east-1
EOF
log "ready in $(elapsed) s; settings in $D/env"
cat "$D/env"
