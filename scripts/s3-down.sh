#!/bin/bash
# Stops the Ceph daemons that scripts/s3-up.sh started in DIR and removes DIR.
# Only processes named in DIR's pid files that run with DIR's ceph.conf are signalled.
# Usage: scripts/s3-down.sh DIR       (S3_DOWN_KEEP_DIR=1 keeps DIR, e.g. for its logs)
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
D=$1
[ -e "$D" ] || exit 0
if [ ! -f "$D/.tessera-s3" ]; then
  echo "[s3-down] $D was not made by s3-up.sh; not touching it" >&2
  exit 1
fi
D=$(cd "$D" && pwd)

# A pid file can outlive its process and the number be reused: check the command line.
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$D/ceph.conf"; }
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat")" != Z ]; }

pids=""
for f in "$D"/run/*.pid; do
  [ -f "$f" ] || continue
  p=$(cat "$f" 2>/dev/null)
  [[ $p =~ ^[0-9]+$ ]] && ours "$p" && pids="$pids $p"
done
for p in $pids; do kill "$p" 2>/dev/null; done
# The data is throwaway: allow a short clean exit, then SIGKILL.
left=""
for _ in $(seq 1 10); do
  left=""
  for p in $pids; do alive "$p" && left="$left $p"; done
  [ -z "$left" ] && break
  sleep 0.2
done
for p in $left; do kill -9 "$p" 2>/dev/null; done
[ -n "${S3_DOWN_KEEP_DIR:-}" ] || rm -rf "$D"
