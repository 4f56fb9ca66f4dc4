#!/usr/bin/env bash
# `tessera archive volume export | verify | import` through the real program: mail imported
# from files (Big5 included) and journaled over LMTP with a Bcc recipient is exported by
# date into signed volumes split by size; `verify` passes (exit 0), and so do the checks
# README.txt describes with openssl and sha256sum alone; the volumes are imported into a
# fresh home, where `search` finds the Chinese message, `show --raw` gives it back byte for
# byte and the Bcc recipient is still recorded; a copy with a changed byte, a cut-short
# copy and a wrong --key fail verification (exit 4) and the damaged volume is refused by
# import. Every export, verify and import is in the audit log.
# Usage: archive_volume.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: archive_volume.sh PATH/TO/tessera}")
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin archive-volume
export TZ=UTC  # dates on the command line and in volume names are local
A() { "$TESSERA" archive "$@"; }
# json_field EXPR: EXPR (e.g. '["imported"]') applied to the last command's JSON output.
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$1)" "$WORK/last.log"; }
SERVE_PID=
stop_serve() {
  if [ -n "$SERVE_PID" ]; then
    kill "$SERVE_PID" 2> /dev/null || true
    wait "$SERVE_PID" 2> /dev/null || true
    SERVE_PID=
  fi
}
trap 'stop_serve; chmod -R u+rwx "$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# --- mail: a Big5 message (raw 8-bit), messages in and out of 2024, three large ones
mkdir -p mail
big5_mail mail/big5.eml
printf 'From: a@b\nSubject: old\nDate: Fri, 15 Dec 2023 10:00:00 +0000\n\nlast year\n' > mail/old.eml
printf 'From: a@b\nSubject: next\nDate: Thu, 02 Jan 2025 10:00:00 +0000\n\nnext year\n' > mail/next.eml
for i in 1 2 3; do
  {
    printf 'From: a@b\nSubject: large %d\nDate: Mon, 0%d Jul 2024 10:00:00 +0000\n\n' "$i" "$i"
    python3 -c "print(('line $i ' * 10 + '\n') * 500)"
  } > "mail/large$i.eml"
done
expect_rc "import of the mail files" 0 A import mail

# --- a message journaled over LMTP with a Bcc recipient (known only from the envelope)
P_LMTP=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TESSERA" serve --console off --lmtp "127.0.0.1:$P_LMTP" --smtp off > "$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do
  python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$P_LMTP" 2> /dev/null && break
  sleep 0.1
done
check "the journaled message is accepted over LMTP" python3 - "$P_LMTP" << 'PY'
import smtplib, sys
msg = ("From: clerk@ntbt.gov.tw\r\nTo: chief@ntbt.gov.tw\r\nSubject: =?UTF-8?B?"
       + __import__("base64").b64encode("機密公文".encode()).decode()
       + "?=\r\nDate: Sat, 10 Feb 2024 08:00:00 +0800\r\nMessage-ID: <bcc@ntbt.gov.tw>\r\n"
       "Content-Type: text/plain; charset=utf-8\r\n\r\n" + "請查收。\r\n").encode()
lmtp = smtplib.LMTP("127.0.0.1", int(sys.argv[1]))
refused = lmtp.sendmail("clerk@ntbt.gov.tw", ["chief@ntbt.gov.tw", "secret@ntbt.gov.tw"], msg)
lmtp.quit()
assert not refused, refused
PY
stop_serve

# --- export 2024 in volumes of at most 64 KiB
expect_rc "export of 2024" 0 A volume export --after 2024-01-01 --before 2025-01-01 --out vols \
  --volume-size 64K --json
check "five messages exported (2023 and 2025 left out)" test "$(json_field '["messages"]')" = 5
VOLUMES=$(json_field '["volumes"].__len__()')
[ "$VOLUMES" -ge 2 ] && ok "split into $VOLUMES volumes" || bad "only $VOLUMES volume(s)"
FINGERPRINT=$(json_field '["fingerprint"]')
check "the volumes are named by date and number" test -f "$(ls vols/tessera-volume-20240102-*-001.tar)"
check "no volume is larger than 64 KiB" python3 -c '
import glob, os
assert all(os.path.getsize(f) <= 65536 for f in glob.glob("vols/*.tar"))'
check "the signing key is kept in the archive, owner only" test "$(stat -c %a "$TESSERA_HOME/archive/volume-signing.pem")" = 600
check "the public key next to the volumes has the fingerprint the export printed" \
  test "$(openssl pkey -pubin -in vols/volume-signing.pub.pem -outform DER | sha256sum | cut -d' ' -f1)" = "$FINGERPRINT"
expect_rc "export into a directory that holds volumes" 1 A volume export --before 2025-01-01 --out vols
in_log "is refused" "already holds volumes"
expect_rc "a bad date is a usage error" 2 A volume export --before 2025-1-1 --out other
in_log "says how to write it" "YYYY-MM-DD"
expect_rc "a bad volume size is a usage error" 2 A volume export --before 2025-01-01 --out other --volume-size 4X
expect_rc "an empty range writes nothing" 0 A volume export --before 2000-01-01 --out empty
in_log "says so" "nothing written"
# An export reveals mail: with an audit log that cannot record it, nothing is written.
cp -r "$TESSERA_HOME" home-noaudit && rm -f home-noaudit/audit.db* && mkdir home-noaudit/audit.db
expect_rc "an export the audit log cannot record" 1 "$TESSERA" --home home-noaudit archive volume export --before 2025-01-01 --out unaudited
check "is refused before anything is written" test ! -e unaudited

# --- verify, by tessera and by hand
expect_rc "verify the volumes" 0 A volume verify vols
in_log "says OK" "volumes OK: $VOLUMES volume(s), 5 messages"
in_log "says the embedded key proves integrity only, with its fingerprint" "$FINGERPRINT"
expect_rc "verify with the public key kept apart" 0 A volume verify vols --key vols/volume-signing.pub.pem --json
check "the key counts as trusted" test "$(json_field '["key_trusted"]')" = True
for tar in vols/*.tar; do
  rm -rf x && mkdir x && tar -xf "$tar" -C x
  name=$(basename "$tar")
  check "$name: README.txt tells how to check it" grep -q "sha256sum -c SHA256SUMS" x/README.txt
  check "$name: openssl verifies the signature of VOLUME.json" sh -c \
    'cd x && openssl pkeyutl -verify -pubin -inkey ../vols/volume-signing.pub.pem -rawin -in VOLUME.json -sigfile VOLUME.sig | grep -q "Signature Verified Successfully"'
  check "$name: SHA256SUMS is the one the manifest names" sh -c \
    'cd x && test "\"SHA256SUMS\":\"$(sha256sum SHA256SUMS | cut -d" " -f1)\"" = "$(grep -o "\"SHA256SUMS\":\"[0-9a-f]*\"" VOLUME.json)"'
  check "$name: sha256sum -c SHA256SUMS" sh -c 'cd x && sha256sum --quiet -c SHA256SUMS'
done
BIG5_TAR=$(grep -l "big5@ntbt.gov.tw" vols/*.tar)
check "the Big5 message is in a volume as received, openable as .eml" sh -c \
  "tar -xOf '$BIG5_TAR' messages/$(sha256sum mail/big5.eml | cut -d' ' -f1).eml | cmp - mail/big5.eml"

# --- import into a fresh archive (another home), with no access to the first one
H2=$WORK/home2
expect_rc "import into a fresh archive" 0 "$TESSERA" --home "$H2" archive volume import vols --json
check "five messages imported" test "$(json_field '["imported"]'),$(json_field '["duplicates"]')" = 5,0
expect_rc "search 國稅局 in the new archive" 0 "$TESSERA" --home "$H2" archive search 國稅局 --json
check "finds the Big5 message" test "$(json_field '["matches"]')" = 1
BIG5_ID=$(json_field '["hits"][0]["id"]')
"$TESSERA" --home "$H2" archive show "$BIG5_ID" --raw > "$WORK/raw.eml"
check "show --raw gives the bytes as first received" cmp "$WORK/raw.eml" mail/big5.eml
expect_rc "search to:secret@ntbt.gov.tw in the new archive" 0 "$TESSERA" --home "$H2" archive search to:secret@ntbt.gov.tw --json
check "finds the journaled message by its Bcc recipient" test "$(json_field '["matches"]')" = 1
expect_rc "show it" 0 "$TESSERA" --home "$H2" archive show "$(json_field '["hits"][0]["id"]')" --json
check "its delivery keeps both envelope recipients and its source" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["deliveries"]
assert len(d) == 1 and set(d[0]["recipients"]) == {"chief@ntbt.gov.tw", "secret@ntbt.gov.tw"}, d
assert d[0]["source"] == "lmtp" and d[0]["envelope_from"] == "clerk@ntbt.gov.tw", d' "$WORK/last.log"
expect_rc "the new archive verifies" 0 "$TESSERA" --home "$H2" archive verify --read-data
expect_rc "import again" 0 "$TESSERA" --home "$H2" archive volume import vols --json
check "every message is a duplicate, no delivery recorded twice" \
  test "$(json_field '["imported"]'),$(json_field '["duplicates"]'),$(json_field '["deliveries"]')" = 0,5,0

# --- damage
cp -r vols bad
python3 - "bad/$(basename "$BIG5_TAR")" << 'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
body = "請於本週".encode("big5")
at = data.find(body)
assert at > 0 and data.find(body, at + 1) < 0
data[at] ^= 1
open(path, "wb").write(data)
PY
expect_rc "verify finds the changed byte" 4 A volume verify bad
in_log "names the volume and the message" "PROBLEM: $(basename "$BIG5_TAR"): message messages/$(sha256sum mail/big5.eml | cut -d' ' -f1).eml does not match its SHA-256"
in_log "says the set is damaged" "volumes DAMAGED"
expect_rc "import refuses the damaged volume" 4 "$TESSERA" --home "$WORK/home3" archive volume import bad
in_log "naming it and why" "REFUSED: $(basename "$BIG5_TAR"): message"
expect_rc "search 國稅局 in that archive" 0 "$TESSERA" --home "$WORK/home3" archive search 國稅局 --json
check "the damaged volume's messages were not imported" test "$(json_field '["matches"]')" = 0

rm -rf cut && cp -r vols cut
LAST=$(ls cut/*.tar | tail -1)
truncate -s $(($(stat -c %s "$LAST") / 2)) "$LAST"
expect_rc "verify finds a volume cut short" 4 A volume verify cut
in_log "says so" "cut short"

openssl genpkey -algorithm ed25519 -out other.pem 2> /dev/null
openssl pkey -in other.pem -pubout -out other.pub.pem
expect_rc "verify with another key" 4 A volume verify vols --key other.pub.pem
in_log "says the signature is not by that key" "is not a signature by the key given"

rm -rf partial && cp -r vols partial && rm "$(ls partial/*-002.tar)"
expect_rc "verify finds a volume missing" 4 A volume verify partial
in_log "says which" "volume 2 of $VOLUMES"

# --- the audit log
expect_rc "archive audit" 0 A audit --json
check "every export, verify and import is recorded, the export with its key" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
actions = [r["action"] for r in d["records"]]
# Three exports: the one refused (into a directory with volumes) was recorded before it was.
assert actions.count("archive.volume-export") == 3, actions
assert actions.count("archive.volume-verify") == 6, actions
assert any(r["action"] == "archive.volume-export" and sys.argv[2] in r["outcome"] for r in d["records"])
assert d["ok"], d' "$WORK/last.log" "$FINGERPRINT"
expect_rc "the new archive's audit log" 0 "$TESSERA" --home "$H2" archive audit --json
check "records both imports" test "$(python3 -c 'import json,sys; print([r["action"] for r in json.load(open(sys.argv[1]))["records"]].count("archive.volume-import"))' "$WORK/last.log")" = 2

finish
