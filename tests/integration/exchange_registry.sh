#!/usr/bin/env bash
# `tessera exchange registry ...` through the real program. On a management center: init
# makes an owner-only Ed25519 key whose fingerprint openssl confirms; centers, groups and
# agencies (certificates made with plain openssl, a Chinese name, an IPv6 address) are
# registered, and edits that would make the registry invalid (an unknown home center or
# group, a bad address, a range not granted, a policy out of bounds, a center still in
# use) are refused with exit 2; certificates are rolled over and revoked by fingerprint;
# an agency is suspended and resumed; publish signs serial 1, 2, ... and refuses a draft
# edited into an invalid state, listing every problem. On a host: install verifies with
# the management key (its wire form checked with openssl alone), status reports it,
# and rollback, a changed byte, another management key and an expired registry are
# refused; status of an expired copy exits 5. Suspensions, resumes and publications are in
# the audit log.
# Usage: exchange_registry.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: exchange_registry.sh PATH/TO/tessera}")
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin exchange-registry
HOST=$WORK/host
R() { "$TESSERA" exchange registry "$@"; }
H() { "$TESSERA" --home "$HOST" exchange registry "$@"; }
# json_field EXPR: EXPR (e.g. '["serial"]') applied to the last command's JSON output.
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$1)" "$WORK/last.log"; }
fingerprint() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
audited() { sqlite3 "$TESSERA_HOME/audit.db" "SELECT count(*) FROM audit WHERE action = '$1' AND target LIKE '$2%'"; }
MGMT=$TESSERA_HOME/exchange/management

# --- test certificates with plain openssl: a CA, two agency certificates, a center's, a
# weak RSA 1024 one
mkdir -p pki
openssl req -x509 -newkey rsa:2048 -nodes -keyout pki/ca.key -out pki/ca.pem -days 30 \
  -subj "/CN=Test GCA" 2> /dev/null
issue() { # NAME CN [rsa:BITS]; ECDSA P-256 by default
  local key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
  if [ -n "${3:-}" ]; then key=(-newkey "$3"); fi
  openssl req "${key[@]}" -nodes -keyout "pki/$1.key" -out "pki/$1.csr" -subj "/CN=$2" 2> /dev/null
  openssl x509 -req -in "pki/$1.csr" -CA pki/ca.pem -CAkey pki/ca.key -CAcreateserial \
    -days 30 -out "pki/$1.pem" 2> /dev/null
}
issue tax "A15060000H 財政部北區國稅局"
issue tax2 "A15060000H rollover"
issue labor "A17000000J"
issue center "center-north"
issue weak "weak" rsa:1024
cat pki/tax.pem pki/ca.pem > pki/tax-chain.pem
FP_TAX=$(fingerprint pki/tax.pem)
FP_TAX2=$(fingerprint pki/tax2.pem)

# --- init
expect_rc "init" 0 R init --network gov-test --json
check "the public key's fingerprint is openssl's" \
  test "$(json_field '["fingerprint"]')" = "$(openssl pkey -pubin -in "$MGMT/management.pub.pem" -outform DER | sha256sum | cut -d' ' -f1)"
check "the management key is owner-only" test "$(stat -c %a "$MGMT/management.key")" = 600
expect_rc "a second init is refused" 1 R init --network other
in_log "saying why" "already holds a registry draft"

# --- the draft: edits that would make it invalid are refused
expect_rc "an agency before its center is refused" 2 \
  R agency add A15060000H --name 財政部北區國稅局 --center center-north --ip 203.0.113.7
in_log "naming the missing center" "home center 'center-north' is not registered"
expect_rc "a center with a host name for an address is refused" 2 \
  R center add center-north --url https://203.0.113.1:7443 --ip center.example
expect_rc "center add" 0 R center add center-north --url https://203.0.113.1:7443 \
  --ip 203.0.113.1 --cert pki/center.pem
expect_rc "center add (IPv6)" 0 R center add center-south --url "https://[2001:db8::1]:7443" \
  --ip 2001:db8::1
expect_rc "group add" 0 R group add remote --vpn-range 10.8.0.0/24 --vpn-range 2001:db8:100::/48
expect_rc "a group VPN range with host bits is refused" 2 R group add bad --vpn-range 10.9.0.1/24
in_log "saying what to write" "write 10.9.0.0/24"
expect_rc "agency add (a chain file registers its leaf)" 0 \
  R agency add A15060000H --name 財政部北區國稅局 --center center-north --cert pki/tax-chain.pem \
  --ip 203.0.113.7
expect_rc "the same code again is refused" 1 R agency add A15060000H --name x --center center-north
expect_rc "an unknown group is refused" 2 \
  R agency add A17000000J --name 勞動部 --center center-north --group nobody --ip 203.0.113.8
expect_rc "a range without --allow-ranges is refused" 2 \
  R agency add A17000000J --name 勞動部 --center center-north --ip 198.51.100.0/28
in_log "saying so" "not granted ranges"
expect_rc "a bad address is refused" 2 \
  R agency add A17000000J --name 勞動部 --center center-north --ip 203.0.113.300
expect_rc "the same certificate for a second agency is refused" 2 \
  R agency add A17000000J --name 勞動部 --center center-north --cert pki/tax.pem
in_log "naming its holder" "also registered to agency A15060000H"
expect_rc "agency add with a range granted, in a group" 0 \
  R agency add A17000000J --name 勞動部 --center center-north --group remote \
  --ip 198.51.100.0/28 --allow-ranges --cert pki/labor.pem
expect_rc "agency add (IPv6)" 0 R agency add A20000000I --name 數位發展部 --center center-south \
  --ip 2001:db8:5::7
expect_rc "a certificate with a weak key is refused" 2 \
  R agency set A20000000I --add-cert pki/weak.pem
in_log "naming the key" "RSA 1024"
expect_rc "a file without a certificate is refused" 2 R agency set A20000000I --add-cert pki/tax.key
expect_rc "agency list" 0 R agency list --json
check "three agencies listed" test "$(json_field '["agencies"].__len__()')" = 3
check "the certificate listed by openssl's fingerprint" \
  test "$(json_field '["agencies"][0]["certificates"][0]["fingerprint"]')" = "$FP_TAX"
check "the name kept in Chinese" test "$(json_field '["agencies"][0]["name"]')" = 財政部北區國稅局

# --- a key rollover, addresses changed, a certificate revoked by openssl's fingerprint
expect_rc "agency set: a second certificate, another address" 0 \
  R agency set A15060000H --add-cert pki/tax2.pem --add-ip 203.0.113.9 --remove-ip 203.0.113.7
COLONS=$(openssl x509 -in pki/tax.pem -noout -fingerprint -sha256 | cut -d= -f2)
expect_rc "agency set: the old certificate removed (openssl's colon form)" 0 \
  R agency set A15060000H --remove-cert "$COLONS" --json
check "one certificate left, the new one" \
  test "$(json_field '["agency"]["certificates"][0]["fingerprint"]')" = "$FP_TAX2"
check "the addresses changed" test "$(json_field '["agency"]["addresses"]')" = "['203.0.113.9']"
expect_rc "removing an address it does not have" 1 R agency set A15060000H --remove-ip 192.0.2.1
expect_rc "withdrawing the range grant while it holds a range is refused" 2 \
  R agency set A17000000J --no-allow-ranges
expect_rc "revoke" 0 R revoke "$FP_TAX" --json
check "the revoked certificate is no party's any more" test "$(json_field '["holder"]')" = "no registered party"
expect_rc "revoking a malformed fingerprint is a usage error" 2 R revoke abc
expect_rc "a leaf certificate as trust anchor is refused" 2 R anchor add pki/labor.pem
in_log "saying it is no CA" "is not a CA certificate"
expect_rc "anchor add" 0 R anchor add pki/ca.pem
expect_rc "the same anchor again" 1 R anchor add pki/ca.pem
expect_rc "a center still in use cannot be removed" 2 R center remove center-south
expect_rc "policy set" 0 R policy set --validity-hours 2 --poll-seconds 120 --max-message-mb 64 \
  --delivery-expiry-days 3 --max-clock-skew 20 --json
check "the policy changed" test "$(json_field '["policy"]["max_message_bytes"]')" = $((64 << 20))
expect_rc "polling slower than half the validity is refused" 2 R policy set --poll-seconds 7200
expect_rc "documents larger than a malware scan covers are refused" 2 \
  R policy set --max-message-mb 2049
in_log "saying why" "cannot be scanned for malware whole"

# --- software releases hosts may run: the hash of a manifest signed by the publisher
mkdir -p rel/bin && cp "$TESSERA" rel/bin/tessera
expect_rc "a publisher's key" 0 "$TESSERA" release key --out publisher
expect_rc "another key" 0 "$TESSERA" release key --out stranger
expect_rc "sign release 0.1.0" 0 "$TESSERA" release sign rel --version 0.1.0 --key publisher.key \
  --out rel-0.1.0.json --json
RELEASE_HASH=$(json_field '["manifest_sha256"]')
expect_rc "a release signed by another key is refused" 1 \
  R release add --release rel-0.1.0.json --key stranger.pub.pem
in_log "saying whose key signed it" "not the trusted key"
expect_rc "release add" 0 R release add --release rel-0.1.0.json --key publisher.pub.pem --json
check "listed with its manifest's hash" test "$(json_field '["release"]["sha256"]')" = "$RELEASE_HASH"
expect_rc "the same version again" 1 R release add --release rel-0.1.0.json --key publisher.pub.pem
check "the release listing is in the audit log" test "$(audited exchange.registry.release 0.1.0)" = 1

# --- suspension
expect_rc "an unknown reason is refused" 2 R suspend A17000000J --reason bored
in_log "listing the codes" "certificate-lost"
expect_rc "suspend" 0 R suspend A17000000J --reason security-incident --note "phishing 2026-12-03"
expect_rc "suspending twice is refused" 5 R suspend A17000000J --reason other
expect_rc "show --draft" 0 R show --draft --json
check "the suspension is in the draft" \
  test "$(json_field '["agencies"][1]["suspension"]["reason"]')" = security-incident
check "the draft has no problem" test "$(json_field '["problems"]')" = "[]"
check "the suspension is in the audit log" test "$(audited exchange.registry.suspend A17000000J)" = 1

# --- publish
expect_rc "publish" 0 R publish --json
check "serial 1" test "$(json_field '["serial"]')" = 1
check "it warns of a certificate expiring within 60 days (the policy)" \
  python3 -c "import json,sys; w = json.load(open(sys.argv[1]))['warnings']; assert any(sys.argv[2] in x and 'renewal' in x for x in w), w" \
  "$WORK/last.log" "$FP_TAX2"
check "published/registry-1.json and current.json are the same" \
  cmp "$MGMT/published/registry-1.json" "$MGMT/current.json"
expect_rc "show (the publication)" 0 R show
in_log "shows the network and serial" "network gov-test, serial 1"
in_log "shows the suspension" "SUSPENDED (security-incident)"
expect_rc "resume" 0 R resume A17000000J --note "passwords changed"
check "the resume is in the audit log" test "$(audited exchange.registry.resume A17000000J)" = 1
expect_rc "publish again" 0 R publish --valid-hours 1 --json
check "serial 2" test "$(json_field '["serial"]')" = 2
check "serial 1 is kept" test -f "$MGMT/published/registry-1.json"
check "both publications are in the audit log" test "$(audited exchange.registry.publish serial)" = 2

# --- the wire form, checked with openssl alone
check "the signature verifies with openssl and the management public key" python3 - "$MGMT" << 'PY'
import json, subprocess, sys, tempfile
d = sys.argv[1]
w = json.load(open(d + "/current.json"))
assert w["format"] == "tessera-registry-signed" and w["version"] == 1
with tempfile.NamedTemporaryFile() as text, tempfile.NamedTemporaryFile() as sig:
    text.write(w["registry"].encode()); text.flush()
    sig.write(bytes.fromhex(w["signature"])); sig.flush()
    subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", d + "/management.pub.pem",
                    "-rawin", "-in", text.name, "-sigfile", sig.name], check=True)
assert json.loads(w["registry"])["serial"] == 2
PY

# --- a host
expect_rc "install without a management key is refused" 1 H install "$MGMT/published/registry-1.json"
in_log "saying what to give" "--key MANAGEMENT.pub.pem"
expect_rc "install serial 1" 0 H install "$MGMT/published/registry-1.json" --key "$MGMT/management.pub.pem"
expect_rc "install serial 2 (the key recorded)" 0 H install "$MGMT/current.json" --json
check "serial 2 replaced serial 1" test "$(json_field '["previous_serial"]')" = 1
expect_rc "rollback to serial 1 is refused" 5 H install "$MGMT/published/registry-1.json"
in_log "saying why" "older than serial 2"
expect_rc "the same again changes nothing" 0 H install "$MGMT/current.json"
in_log "saying so" "installed already"

# --- the host runs only the release it was installed from, signed and listed: serve checks
# it before any role starts ([guard.release]); policy refuse stops serve, warn logs.
LPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
release_settings() { # release_settings FILE RELEASE-FILE POLICY
  cat > "$1" << TOML
[paths]
home = "$HOST"
[archive]
lmtp = "127.0.0.1:$LPORT"
smtp = ""
[guard.release]
release = "$WORK/$2"
directory = "$WORK/rel"
key = "$WORK/publisher.pub.pem"
policy = "$3"
TOML
}
serve_once() { # serve_once PROGRAM SETTINGS: serve until it runs, then SIGTERM; its exit code
  "$1" --home "$HOST" serve --settings "$2" > "$WORK/serve.log" 2>&1 &
  local pid=$! rc=0
  for _ in $(seq 300); do
    grep -q "tessera serve: running" "$WORK/serve.log" && break
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  kill -TERM "$pid" 2> /dev/null || true
  wait "$pid" || rc=$?
  cat "$WORK/serve.log"
  return "$rc"
}
release_checks() { sqlite3 "$HOST/audit.db" "SELECT outcome FROM audit WHERE action = 'guard.release-check' ORDER BY seq"; }
release_settings refuse.toml rel-0.1.0.json refuse
release_settings warn.toml rel-0.1.0.json warn
expect_rc "serve runs the installed release" 0 serve_once rel/bin/tessera refuse.toml
in_log "saying it is verified and listed" "listed in exchange registry serial 2"
check "the check is in the audit log" grep -q "^verified: 1 files as signed" <(release_checks)
expect_rc "a program from outside the release directory is refused" 5 serve_once "$TESSERA" refuse.toml
in_log "naming the program" "is not in the release directory"
check "nothing was served" bash -c "! grep -q 'tessera serve: running' '$WORK/serve.log'"
printf '#!/bin/sh\n' > rel/bin/added
expect_rc "a file added to the release is refused" 5 serve_once rel/bin/tessera refuse.toml
in_log "naming the file" "bin/added is not part of the release (added)"
expect_rc "with policy warn serve runs" 0 serve_once rel/bin/tessera warn.toml
in_log "and warns about the file" "bin/added is not part of the release"
check "both problems are in the audit log" test "$(release_checks | grep -c 'bin/added')" = 2
rm rel/bin/added
expect_rc "sign release 0.2.0 (not in the registry)" 0 "$TESSERA" release sign rel --version 0.2.0 \
  --key publisher.key --out rel-0.2.0.json
release_settings unlisted.toml rel-0.2.0.json refuse
expect_rc "a release the registry does not list is refused" 5 serve_once rel/bin/tessera unlisted.toml
in_log "saying so" "release 0.2.0 (manifest SHA-256"
in_log "not listed" "is not listed in the exchange registry"
release_settings stranger.toml rel-0.1.0.json refuse
sed -i "s|publisher.pub.pem|stranger.pub.pem|" stranger.toml
expect_rc "a release checked with another key is refused" 5 serve_once rel/bin/tessera stranger.toml
in_log "naming the key" "not the trusted key"
sed 's/policy = "refuse"/policy = "maybe"/' refuse.toml > maybe.toml
expect_rc "an unknown policy is a settings error" 2 "$TESSERA" serve --settings maybe.toml
in_log "naming the setting" "[guard.release] policy must be"
expect_rc "status" 0 H status --json
check "status: serial 2" test "$(json_field '["serial"]')" = 2
check "status: not expired, about an hour left" python3 -c "
import json; s = json.load(open('$WORK/last.log'))
assert not s['expired'] and 3000 < s['expires_in_seconds'] <= 3600 and s['age_seconds'] < 600, s
assert s['counts'] == {'centers': 2, 'agencies': 3, 'suspended': 0, 'groups': 1, 'trust_anchors': 1, 'revoked': 1}, s"
expect_rc "status (text)" 0 H status
in_log "says when it expires" "expires "

# A release the management center withdraws while serve runs: the host's next check (every
# recheck_period) finds it no longer listed, and with policy refuse serve stops.
sed 's/^policy = "refuse"/policy = "refuse"\nrecheck_period = 10/' refuse.toml > recheck.toml
rel/bin/tessera --home "$HOST" serve --settings recheck.toml > "$WORK/serve.log" 2>&1 &
SERVE=$!
for _ in $(seq 300); do grep -q "tessera serve: running" "$WORK/serve.log" && break; sleep 0.1; done
check "serve runs release 0.1.0, to be checked again every 10 s" grep -q "checked again every 10 s" serve.log
expect_rc "release withdraw of a release not listed" 1 R release withdraw 9.9.9
expect_rc "the management center withdraws release 0.1.0" 0 R release withdraw 0.1.0
check "the withdrawal is in the audit log" test "$(audited exchange.registry.release-withdraw 0.1.0)" = 1
expect_rc "and publishes serial 3" 0 R publish
expect_rc "the host installs it" 0 H install "$MGMT/current.json"
for _ in $(seq 250); do kill -0 "$SERVE" 2> /dev/null || break; sleep 0.1; done
rc=0
wait "$SERVE" || rc=$?
check "serve stopped by itself, exit 5" test "$rc" = 5
check "saying the release is no longer listed" grep -q "is not listed in the exchange registry" serve.log
check "the check that found it is in the audit log" grep -q "is not listed in the exchange registry" <(release_checks)

# A changed byte inside the signed text.
sed 's/203.0.113.9/203.0.113.8/' "$MGMT/current.json" > tampered.json
# shellcheck disable=SC2016  # $0 is expanded by the inner shell, on purpose
check "the tampered copy differs" bash -c '! cmp -s tampered.json "$0"' "$MGMT/current.json"
expect_rc "a changed byte is refused" 1 H install tampered.json
in_log "as not verifying" "does not verify"

# Another management center's registry, however well signed.
OTHER=$WORK/other
expect_rc "another management center" 0 "$TESSERA" --home "$OTHER" exchange registry init --network gov-test
"$TESSERA" --home "$OTHER" exchange registry center add c1 --url https://192.0.2.1 --ip 192.0.2.1 > /dev/null
for _ in 1 2 3; do "$TESSERA" --home "$OTHER" exchange registry publish > /dev/null; done
expect_rc "its registry is refused" 1 H install "$OTHER/exchange/management/current.json"
expect_rc "and so is its key" 5 H install "$OTHER/exchange/management/current.json" \
  --key "$OTHER/exchange/management/management.pub.pem"
in_log "naming the key the host trusts" "set up with management center key"

# An expired registry (serial 4, signed with the management key by openssl, not tessera).
python3 - "$MGMT" expired.json << 'PY'
import json, subprocess, sys, tempfile, time
d, out = sys.argv[1], sys.argv[2]
w = json.load(open(d + "/current.json"))
r = json.loads(w["registry"])
r["serial"] = 4
r["issued_at"] = int(time.time()) - 7200
r["expires_at"] = int(time.time()) - 3600
w["registry"] = json.dumps(r, ensure_ascii=False, separators=(",", ":"))
with tempfile.NamedTemporaryFile() as text:
    text.write(w["registry"].encode()); text.flush()
    sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", d + "/management.key", "-rawin",
                          "-in", text.name], check=True, capture_output=True).stdout
w["signature"] = sig.hex()
json.dump(w, open(out, "w"))
PY
expect_rc "an expired registry is refused" 5 H install expired.json
in_log "saying when it expired" "expired at"
in_log "and what to do" "fetch a new one"
cp expired.json "$HOST/exchange/registry.json"
expect_rc "status of an expired copy exits 5" 5 H status
in_log "saying exchange is refused" "EXPIRED"

# --- publishing refuses an invalid draft
python3 - "$MGMT/draft.json" << 'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["agencies"][0]["home_center"] = "center-east"
d["agencies"][2]["addresses"] = ["not-an-address"]
json.dump(d, open(sys.argv[1], "w"), ensure_ascii=False)
PY
expect_rc "publishing a draft edited into an invalid state is refused" 5 R publish
in_log "listing the first problem" "center-east"
in_log "and the second" "not-an-address"
check "nothing was published" test ! -f "$MGMT/published/registry-4.json"
expect_rc "show --draft lists the problems" 0 R show --draft
in_log "as problems" "PROBLEM: agency A15060000H"
check "the refusal is in the audit log" test "$(audited exchange.registry.publish draft)" = 1

finish
