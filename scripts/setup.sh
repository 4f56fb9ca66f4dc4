#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a working tessera:
# installs the packages, builds, shows the vault on its embedded default (a 3-of-5 vault
# over five local-directory stores under ./var, a backup, and a recorded restore drill
# that proves the backup restores from any three stores), and runs the main job,
# `tessera serve`, in the foreground: the mail archive's LMTP/SMTP listener on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

scripts/install-deps.sh
cmake --preset default
cmake --build --preset default

TESSERA="$ROOT/build/default/src/cli/tessera"
export TESSERA_HOME="${TESSERA_HOME:-$ROOT/var}"
DATA="${1:-$ROOT/docs}"   # what to back up: the first argument, else the documentation

if [ ! -f "$TESSERA_HOME/vaults/default/vault.json" ]; then
  stores=()
  for i in 1 2 3 4 5; do stores+=(--store "file://$TESSERA_HOME/stores/cloud$i"); done
  "$TESSERA" vault init "${stores[@]}" --threshold 3
fi
"$TESSERA" vault backup "$DATA" --tag setup
"$TESSERA" vault snapshots
"$TESSERA" vault drill --lose 1,2

cat <<MSG

tessera is built: $TESSERA
Local state (configuration, keys, five store directories, drill reports, the archive): $TESSERA_HOME
Try:  $TESSERA vault --help    $TESSERA archive --help
The web console: https://127.0.0.1:8443/ once serve runs; make its first administrator
in another terminal with
  TESSERA_HOME=$TESSERA_HOME $TESSERA console account add admin --role admin
Now the main job: tessera serve (Ctrl-C stops it).

MSG
exec "$TESSERA" serve
