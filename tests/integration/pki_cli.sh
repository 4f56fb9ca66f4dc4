#!/usr/bin/env bash
# `tessera pki init-ca | issue | show` through the real program, checked with the openssl
# command: an RSA test CA (refusing to be made twice), EC and RSA certificates with the IP
# addresses, DNS names, organization (Chinese), key usages and validity asked for, that
# `openssl verify -CAfile` accepts and whose keys match; an expired certificate made on
# purpose that openssl refuses; `show` printing what openssl prints (fingerprint included);
# bad requests refused (exit 2), existing files never overwritten, a CA key others can
# read refused.
# Usage: pki_cli.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: pki_cli.sh PATH/TO/tessera}")
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin pki-cli
P() { "$TESSERA" pki "$@"; }
# json_field EXPR: EXPR (e.g. '["fingerprint"]') applied to the last command's JSON output.
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$1)" "$WORK/last.log"; }
text_of() { openssl x509 -in "$1" -noout -text; }
has_text() { text_of "$1" | grep -qF -- "$2"; }
mode_of() { stat -c %a "$1"; }
der_sha256() { openssl x509 -in "$1" -outform DER | sha256sum | cut -c1-64; }
# The key in FILE.key is the one certified in FILE.pem.
key_matches() {
  [ "$(openssl pkey -in "$1.key" -pubout)" = "$(openssl x509 -in "$1.pem" -noout -pubkey)" ]
}
epoch_of() { date -u -d "$(openssl x509 -in "$1" -noout "-$2" | cut -d= -f2)" +%s; }

# --- the CA
expect_rc "init-ca makes an RSA CA" 0 P init-ca --dir ca --name "Test CA" --key-type rsa --days 30
check "ca.pem and ca.key exist" test -s ca/ca.pem -a -s ca/ca.key
check "ca.key is mode 600" test "$(mode_of ca/ca.key)" = 600
check "the CA is self-signed and openssl verifies it" openssl verify -CAfile ca/ca.pem ca/ca.pem
check "the CA is CA:TRUE" has_text ca/ca.pem "CA:TRUE"
check "the CA signs certificates and CRLs" has_text ca/ca.pem "Certificate Sign, CRL Sign"
check "the CA key is RSA 3072" has_text ca/ca.pem "Public-Key: (3072 bit)"
check "the CA is CN=Test CA" has_text ca/ca.pem "Subject: CN = Test CA"
check "the CA is valid 30 days" \
  test $(($(epoch_of ca/ca.pem enddate) - $(epoch_of ca/ca.pem startdate))) -eq $((30 * 86400))
check "the CA key is its certificate's" key_matches ca/ca
CA_SHA=$(sha256sum ca/ca.pem ca/ca.key)
expect_rc "a second init-ca in the same place is refused" 1 P init-ca --dir ca --key-type ec
in_log "it says the CA exists" "exists already"
check "the CA was not touched" test "$(sha256sum ca/ca.pem ca/ca.key)" = "$CA_SHA"

# --- an EC certificate for a host, as --json reports it
expect_rc "issue an EC certificate" 0 P issue --ca ca --name "A01 center" --org "行政院" \
  --ip 192.0.2.10 --ip 2001:db8::1 --dns center.example.tw --dns www.example.tw \
  --key-type ec --days 10 --out host --json
FINGERPRINT=$(json_field '["fingerprint"]')
check "host.pem and host.key exist" test -s host.pem -a -s host.key
check "host.key is mode 600" test "$(mode_of host.key)" = 600
check "openssl verifies it against the CA" openssl verify -CAfile ca/ca.pem host.pem
check "the printed fingerprint is the SHA-256 of its DER" test "$FINGERPRINT" = "$(der_sha256 host.pem)"
check "the key is its certificate's" key_matches host
check "the subject holds the CN and the Chinese O" \
  sh -c "openssl x509 -in host.pem -noout -subject -nameopt utf8,sep_comma_plus | grep -qF 'O=行政院,CN=A01 center'"
check "issued by the CA" has_text host.pem "Issuer: CN = Test CA"
check "subjectAltName holds the IPv4 address" has_text host.pem "IP Address:192.0.2.10"
check "subjectAltName holds the IPv6 address" has_text host.pem "IP Address:2001:DB8:0:0:0:0:0:1"
check "subjectAltName holds both DNS names" has_text host.pem "DNS:center.example.tw, DNS:www.example.tw"
check "an EC P-256 key" has_text host.pem "NIST CURVE: P-256"
check "not a CA" has_text host.pem "CA:FALSE"
check "digital signature and key agreement" has_text host.pem "Digital Signature, Key Agreement"
check "TLS server, TLS client and e-mail protection" \
  has_text host.pem "TLS Web Server Authentication, TLS Web Client Authentication, E-mail Protection"
check "version 3" has_text host.pem "Version: 3 (0x2)"
check "valid 10 days" \
  test $(($(epoch_of host.pem enddate) - $(epoch_of host.pem startdate))) -eq $((10 * 86400))
check "the JSON names the files" test "$(json_field '["key_file"]')" = host.key

# --- an RSA certificate, default output name from --name
expect_rc "issue an RSA certificate" 0 P issue --ca ca --name agency-a02 --key-type rsa
in_log "the fingerprint is printed" "fingerprint: $(der_sha256 agency-a02.pem)"
in_log "the validity is printed" "valid:"
check "openssl verifies the RSA certificate" openssl verify -CAfile ca/ca.pem agency-a02.pem
check "an RSA 2048 key" has_text agency-a02.pem "Public-Key: (2048 bit)"
check "digital signature and key encipherment" has_text agency-a02.pem "Digital Signature, Key Encipherment"
check "the RSA key is its certificate's" key_matches agency-a02
check "valid 365 days by default" \
  test $(($(epoch_of agency-a02.pem enddate) - $(epoch_of agency-a02.pem startdate))) -eq $((365 * 86400))

# --- an expired certificate, made on purpose
expect_rc "issue an expired certificate" 0 P issue --ca ca --name old-host --days 0 \
  --not-before 2020-01-01 --not-after 2020-12-31 --out old
in_log "it says it has expired" "expired already"
check "it ends on 2020-12-31" \
  test "$(openssl x509 -in old.pem -noout -enddate)" = "notAfter=Dec 31 00:00:00 2020 GMT"
check "it begins on 2020-01-01" \
  test "$(openssl x509 -in old.pem -noout -startdate)" = "notBefore=Jan  1 00:00:00 2020 GMT"
expect_fail "openssl refuses it" openssl verify -CAfile ca/ca.pem old.pem
in_log "because it expired" "certificate has expired"

# --- show
expect_rc "show the EC certificate" 0 P show host.pem
in_log "show prints the subject" "subject:     CN=A01 center,O=行政院"
in_log "show prints the issuer" "issuer:      CN=Test CA"
in_log "show prints the key" "key:         ECDSA P-256"
in_log "show prints the IP addresses" "IP:          192.0.2.10, 2001:db8::1"
in_log "show prints the DNS names" "DNS:         center.example.tw, www.example.tw"
in_log "show prints the fingerprint" "fingerprint: $FINGERPRINT"
in_log "show prints the serial as openssl does" \
  "serial:      $(openssl x509 -in host.pem -noout -serial | cut -d= -f2 | tr A-F a-f)"
cat host.pem ca/ca.pem > chain.pem
expect_rc "show a chain as JSON" 0 P show chain.pem --json
check "two certificates" test "$(json_field '["certificates"].__len__()')" = 2
check "the second is the CA" test "$(json_field '["certificates"][1]["ca"]')" = True
check "the first's not_after is openssl's" test "$(date -u -d "$(json_field '["certificates"][0]["not_after"]')" +%s)" = "$(epoch_of host.pem enddate)"
expect_rc "show of a file without certificates fails" 2 P show ca/ca.key
in_log "it names the file" "ca/ca.key"

# --- refusals
expect_rc "a malformed IP address is refused" 2 P issue --ca ca --name x --ip 10.0.0.300 --out bad
check "nothing was written for it" test ! -e bad.pem -a ! -e bad.key
expect_rc "a DNS name with a comma is refused" 2 P issue --ca ca --name x --dns "a.tw,IP:1.2.3.4" --out bad
expect_rc "a validity that ends before it begins is refused" 2 P issue --ca ca --name x --days 0 --out bad
expect_fail "an unknown key type is refused" P issue --ca ca --name x --key-type dsa --out bad
expect_rc "issuing over existing files is refused" 1 P issue --ca ca --name again --out host
in_log "it says they exist" "exists already"
check "host.pem was not replaced" test "$(der_sha256 host.pem)" = "$FINGERPRINT"
chmod 644 ca/ca.key
expect_rc "a CA key others can read is refused" 1 P issue --ca ca --name x --out bad
in_log "it says why" "can be read by others"
chmod 600 ca/ca.key
expect_rc "a missing CA is reported" 1 P issue --ca nowhere --name x --out bad
in_log "it names the file" "nowhere/ca.pem"

finish
