#!/usr/bin/env bash
# Makes a private ClamAV signature database for tests, with no download (freshclam cannot
# reach the internet here): the EICAR test string (MD5, SHA-256 and a body signature) and
# the MD5 and SHA-256 of /usr/share/clamav-testfiles/clam.exe, so that the test files built
# around it there (clam.zip, clam.7z, clam.pdf, clam.tar.gz, ...) are detected once
# libclamav unpacks them. Adapted from the shared recipe clamav_make_db.sh.
# Usage: make-clamav-test-db.sh OUTDIR
set -euo pipefail
OUT=${1:?usage: make-clamav-test-db.sh OUTDIR}
CLAM_EXE=${CLAMAV_TESTFILES:-/usr/share/clamav-testfiles}/clam.exe
command -v sigtool >/dev/null || { echo "sigtool is missing: apt-get install clamav" >&2; exit 1; }
[ -r "$CLAM_EXE" ] || { echo "$CLAM_EXE is missing: apt-get install clamav-testfiles" >&2; exit 1; }
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# sigtool prints HASH:SIZE:FILENAME; the file name becomes the signature's name.
printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > "$TMP/eicar.com"
cp "$CLAM_EXE" "$TMP/clam.exe"
{
  (cd "$TMP" && sigtool --md5 eicar.com) | sed 's/:eicar\.com$/:Test.EICAR.MD5/'
  (cd "$TMP" && sigtool --md5 clam.exe) | sed 's/:clam\.exe$/:Test.ClamAV-Test-File.MD5/'
} > "$OUT/test.hdb"
{
  (cd "$TMP" && sigtool --sha256 eicar.com) | sed 's/:eicar\.com$/:Test.EICAR.SHA256/'
  (cd "$TMP" && sigtool --sha256 clam.exe) | sed 's/:clam\.exe$/:Test.ClamAV-Test-File.SHA256/'
} > "$OUT/test.hsb"
# NAME:TARGET(0 = any file):OFFSET(* = anywhere):HEX — catches EICAR inside other bytes too.
echo "Test.EICAR.Body:0:*:$(printf '%s' 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE' | xxd -p | tr -d '\n')" > "$OUT/test.ndb"
echo "$OUT: $(cat "$OUT"/test.hdb "$OUT"/test.hsb "$OUT"/test.ndb | wc -l) signatures"
