#!/usr/bin/env bash
# The web console over HTTPS, with curl and openssl as an agency's own program would use it
# (docs/api.md): serve makes a self-signed certificate on first start (for 127.0.0.1, kept
# and reused), answers only over TLS 1.2+, with security headers; the pages are served and
# nothing outside web/ is; sign-in sets a strict cookie, the session answers, CSRF guards a
# change, sign-out ends it; Chinese search as an auditor, a clerk kept to their own mail;
# sign-in attempts are limited per address; bad settings and a port in use are named.
set -euo pipefail
TESSERA=$(realpath "${1:?usage: console_https.sh PATH/TO/tessera}")
. "$(dirname "$0")/scenario.sh"
scenario_begin console-https
T() { "$TESSERA" "$@"; }
PASSWORD='correct horse battery staple 馬'
export TESSERA_PASSWORD=$PASSWORD
PORT=$(free_port)
BASE=https://127.0.0.1:$PORT
CERT=$TESSERA_HOME/console/tls/console.crt
SERVE_PID=

start_serve() { # start_serve EXTRA-ARGS...: waits for "tessera serve: running"
  "$TESSERA" serve --lmtp off --smtp off --console "127.0.0.1:$PORT" "$@" > serve.log 2>&1 &
  SERVE_PID=$!
  for _ in $(seq 100); do
    grep -q "tessera serve: running" serve.log 2> /dev/null && return 0
    kill -0 "$SERVE_PID" 2> /dev/null || { cat serve.log; return 1; }
    sleep 0.1
  done
  cat serve.log
  return 1
}
stop_serve() {
  [ -n "$SERVE_PID" ] || return 0
  kill -TERM "$SERVE_PID" 2> /dev/null || true
  local rc=0
  wait "$SERVE_PID" || rc=$?
  SERVE_PID=
  return $rc
}
trap 'stop_serve || true; chmod -R u+rwx "$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# curl that trusts only the console's own certificate (no -k: the name must match too).
C() { curl -sS --cacert "$CERT" "$@"; }
status_of() { C -o /dev/null -w '%{http_code}' "$@"; }
json_of() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# --- mail and accounts, as an agency would have them
mkdir mail
printf 'From: 鄭 <cheng@ntbt.gov.tw>\nTo: wang@ntbt.gov.tw\nSubject: 國稅局 公文 一\nDate: Tue, 1 Dec 2026 10:00:00 +0800\nMessage-ID: <one@ntbt.gov.tw>\n\n國稅局 郵件 給王\n' > mail/1.eml
printf 'From: 鄭 <cheng@ntbt.gov.tw>\nTo: chief@ntbt.gov.tw\nSubject: 國稅局 機密 二\nDate: Wed, 2 Dec 2026 10:00:00 +0800\nMessage-ID: <two@ntbt.gov.tw>\n\n國稅局 郵件 給局長\n' > mail/2.eml
expect_rc "import two Chinese mails" 0 T archive import mail
expect_rc "an auditor account" 0 T console account add li --role auditor --display-name 李稽核
expect_rc "a clerk account" 0 T console account add wang --role clerk --agency A15060000H
expect_rc "the archive grants the clerk an address" 0 T archive users grant wang --role clerk --address wang@ntbt.gov.tw
expect_rc "and the auditor a role" 0 T archive users grant li --role auditor

# --- first start: a self-signed certificate
check "serve starts with the console" start_serve
check "says where the console is" grep -q "web console:     https://127.0.0.1:$PORT/" serve.log
check "a certificate was made" test -s "$CERT"
check "its key is the owner's only" test "$(stat -c %a "$TESSERA_HOME/console/tls/console.key")" = 600
check "for 127.0.0.1" sh -c "openssl x509 -in '$CERT' -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1'"
FINGERPRINT=$(openssl x509 -in "$CERT" -noout -fingerprint -sha256)

# --- the pages, and nothing else
check "the console's page" sh -c "curl -sS --cacert '$CERT' $BASE/ | grep -q '<html'"
C -D headers.txt -o /dev/null "$BASE/"
for h in "content-security-policy: default-src 'self'" "strict-transport-security: max-age=" \
  "x-content-type-options: nosniff" "x-frame-options: DENY" "referrer-policy: no-referrer"; do
  check "header $h" grep -qi "^$h" headers.txt
done
check "scripts are served as JavaScript" sh -c "curl -sS --cacert '$CERT' -D - -o /dev/null $BASE/app.js | grep -qi '^content-type: text/javascript'"
check "a path out of web/ is refused" test "$(status_of --path-as-is "$BASE/../../../etc/passwd")" = 404
check "an encoded one too" test "$(status_of --path-as-is "$BASE/%2e%2e/%2e%2e/etc/passwd")" = 404
check "hidden files are not served" test "$(status_of "$BASE/.htaccess")" = 404
tls() { openssl s_client -connect "127.0.0.1:$PORT" "$@" < /dev/null > /dev/null 2>&1; }
check "TLS 1.2 with an AEAD suite is accepted" tls -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
check "TLS 1.2 with CBC is refused" sh -c "! openssl s_client -connect 127.0.0.1:$PORT -tls1_2 -cipher 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384@SECLEVEL=0' < /dev/null > /dev/null 2>&1"
check "TLS 1.1 is refused" sh -c "! openssl s_client -connect 127.0.0.1:$PORT -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' < /dev/null > /dev/null 2>&1"
check "TLS 1.3 is accepted" test "$(status_of --tlsv1.3 "$BASE/")" = 200
check "plain HTTP gets no answer" sh -c "! curl -sS -m 5 -o /dev/null http://127.0.0.1:$PORT/ 2> /dev/null"

# --- the API
check "no session: 401" test "$(status_of "$BASE/api/v1/session")" = 401
check "with a JSON error" sh -c "curl -sS --cacert '$CERT' $BASE/api/v1/session | grep -q '\"unauthenticated\"'"
sign_in() { # sign_in NAME PASSWORD JAR: prints the HTTP status
  C -c "$3" -o answer.json -w '%{http_code}' -H 'Content-Type: application/json' \
    --data "{\"name\":\"$1\",\"password\":\"$2\"}" "$BASE/api/v1/session"
}
check "a wrong password: 401" test "$(sign_in li 'wrong wrong wrong' bad.jar)" = 401
check "the auditor signs in" test "$(sign_in li "$PASSWORD" li.jar)" = 200
check "the cookie is Secure and HttpOnly" grep -qP '^#HttpOnly_127\.0\.0\.1	FALSE	/	TRUE	0	tessera_session	[0-9a-f]{64}$' li.jar
CSRF=$(json_of '["csrf"]' < answer.json)
check "the answer names the role" test "$(json_of '["role"]' < answer.json)" = auditor
check "the session answers" test "$(status_of -b li.jar "$BASE/api/v1/session")" = 200
Q=$(python3 -c 'import urllib.parse; print(urllib.parse.quote("國稅局"))')
C -b li.jar -o search.json "$BASE/api/v1/archive/search?q=$Q"
check "the auditor finds both mails" test "$(json_of '["matches"]' < search.json)" = 2
ID=$(json_of '["hits"][0]["id"]' < search.json)
check "and opens one" sh -c "curl -sS --cacert '$CERT' -b li.jar $BASE/api/v1/archive/messages/$ID | grep -q '國稅局'"
C -b li.jar -o one.eml "$BASE/api/v1/archive/messages/$ID/eml"
check "the EML is the message as received" sh -c "cmp -s one.eml mail/1.eml || cmp -s one.eml mail/2.eml"
C -b li.jar -o audit.json "$BASE/api/v1/audit?limit=20"
check "the audit log shows the search by console:li" python3 -c "import json; r = json.load(open('audit.json'))['records']; assert any(x['actor'] == 'console:li' and x['action'] == 'archive.search' and x['target'] == '國稅局' for x in r), r"
check "sign-out without the CSRF token: 403" test "$(status_of -b li.jar -X DELETE "$BASE/api/v1/session")" = 403
check "with it: 204" test "$(status_of -b li.jar -X DELETE -H "X-CSRF-Token: $CSRF" "$BASE/api/v1/session")" = 204
check "the session has ended" test "$(status_of -b li.jar "$BASE/api/v1/session")" = 401

check "the clerk signs in" test "$(sign_in wang "$PASSWORD" wang.jar)" = 200
C -b wang.jar -o search.json "$BASE/api/v1/archive/search?q=$Q"
check "the clerk finds only their own mail" test "$(json_of '["matches"]' < search.json)" = 1
check "the clerk may not read the audit log" test "$(status_of -b wang.jar "$BASE/api/v1/audit")" = 403

# --- the sign-in limit (10 per 5 minutes per address by default): three attempts so far
for _ in $(seq 6); do sign_in nobody 'guess guess guess' nobody.jar > /dev/null; done
check "the tenth attempt from one address is still answered" test "$(sign_in nobody 'guess guess guess' nobody.jar)" = 401
check "the eleventh gets 429, right password or not" test "$(sign_in wang "$PASSWORD" w2.jar)" = 429
check "with Retry-After" sh -c "curl -sS --cacert '$CERT' -D - -o /dev/null -H 'Content-Type: application/json' --data '{\"name\":\"x\",\"password\":\"y\"}' $BASE/api/v1/session | grep -qi '^retry-after: [0-9]'"

check "serve stops on SIGTERM with exit 0" stop_serve

# --- the certificate is kept
check "serve starts again" start_serve
check "with the same certificate" test "$(openssl x509 -in "$CERT" -noout -fingerprint -sha256)" = "$FINGERPRINT"
expect_fail "a second serve on the same port fails" "$TESSERA" --home "$WORK/other" serve --lmtp off --smtp off --console "127.0.0.1:$PORT"
in_log "naming the console and the address" "[console] cannot listen on 127.0.0.1:$PORT"
check "the first serve stops with exit 0" stop_serve

# --- settings
printf '[archive]\nlmtp = ""\nsmtp = ""\n[console]\nlisten = "127.0.0.1:%s"\ncertificate = "%s/missing.crt"\nkey = "%s/missing.key"\n' "$PORT" "$WORK" "$WORK" > missing.toml
expect_fail "a configured certificate that is missing stops serve" T serve --settings missing.toml
in_log "naming it" "missing.crt"
printf '[archive]\nlmtp = ""\nsmtp = ""\n[console]\nlisten = "127.0.0.1:%s"\nweb_root = "%s/nothing"\n' "$PORT" "$WORK" > noweb.toml
expect_fail "pages that are not there stop serve" T serve --settings noweb.toml
in_log "saying what is missing" "has no index.html"
finish
