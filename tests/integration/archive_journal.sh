#!/usr/bin/env bash
# Journaling from a real Postfix into `tessera serve`, on 127.0.0.1 only.
#
# A Postfix instance of its own (own configuration, queue and ports; the system's Postfix
# is not touched) sends a copy of every message (always_bcc) over LMTP to the archive,
# with the true envelope recipients prepended as X-Envelope-To, and delivers the mail
# itself over SMTP to a mailbox server (a second `tessera serve`), stripping that field.
# Checked: the archive records every recipient, Bcc included; the mailbox copy does not
# reveal the Bcc; while the archive is down Postfix keeps the journal copy queued and
# delivers it once the archive is back; a burst during which the archive is killed with
# kill -9 ends with every message archived exactly once; `archive verify` passes; the
# running server indexes what it stores, so `archive search` finds it (Bcc included).
# Needs root (Postfix's master runs as root) and the postfix, postfix-pcre, swaks packages.
# Usage: archive_journal.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: archive_journal.sh PATH/TO/tessera}")
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin archive-journal
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$1)" "$WORK/last.log"; }

# Free ports for Postfix's smtpd, the archive's LMTP and the mailbox server's SMTP.
read -r P_MTA P_LMTP P_MAILBOX < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')

ARCHIVE_HOME=$WORK/archive-home
MAILBOX_HOME=$WORK/mailbox-home
PF=$WORK/postfix           # configuration
PFQ=$WORK/postfix-queue    # queue (owned by root, as Postfix wants)
PFD=$WORK/postfix-data
mkdir -p "$PF" "$PFQ" "$PFD"
chmod 755 "$WORK"  # Postfix's daemons, running as postfix, go through it
chown postfix "$PFD"

ARCHIVE_PID=
MAILBOX_PID=
cleanup() {
  postfix -c "$PF" stop > /dev/null 2>&1 || true
  [ -n "$ARCHIVE_PID" ] && kill "$ARCHIVE_PID" 2> /dev/null || true
  [ -n "$MAILBOX_PID" ] && kill "$MAILBOX_PID" 2> /dev/null || true
  wait 2> /dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start_archive() {
  "$TESSERA" --home "$ARCHIVE_HOME" serve --console off --lmtp "127.0.0.1:$P_LMTP" --smtp off \
    >> "$WORK/archive-serve.log" 2>&1 &
  ARCHIVE_PID=$!
  wait_for_port "$P_LMTP"
}
wait_for_port() {
  for _ in $(seq 100); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$1" 2> /dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1"
  return 1
}
# archived_count HOME: messages in the archive at HOME (read with the CLI, while serving).
archived_count() {
  "$TESSERA" --home "$1" archive verify --json 2> /dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"])'
}
# wait_for_count HOME N: waits (up to 60 s, flushing Postfix's queue) until HOME holds N.
wait_for_count() {
  for i in $(seq 300); do
    [ "$(archived_count "$1")" -ge "$2" ] && return 0
    if [ $((i % 25)) -eq 0 ]; then postqueue -c "$PF" -f 2> /dev/null || true; fi
    sleep 0.2
  done
  echo "$1 holds $(archived_count "$1") messages, expected $2"
  postqueue -c "$PF" -p || true
  tail -n 30 "$WORK/postfix.log" || true
  return 1
}
send() {  # send FROM TO-LIST SUBJECT-UTF8 [header To]
  swaks --server "127.0.0.1:$P_MTA" --from "$1" --to "$2" \
    --header "To: ${4:-$2}" \
    --header "Subject: =?UTF-8?B?$(printf '%s' "$3" | base64 -w0)?=" \
    --header "Content-Type: text/plain; charset=UTF-8" \
    --body "$3 — 內容" > "$WORK/swaks.log" 2>&1
}

# --- Postfix, a private instance (the recipe in ../shared/recipes, adapted)
# The package's own master.cf (the system's may be absent with "No configuration").
cp /usr/share/postfix/master.cf.dist "$PF/master.cf" 2> /dev/null || cp /etc/postfix/master.cf "$PF/master.cf"
touch "$PF/main.cf"
printf '/(.*)/ prepend X-Envelope-To: $1\n' > "$PF/x-add-envelope-to"
printf '/^X-Envelope-To:/ IGNORE\n' > "$PF/strip-envelope-to"
cat > "$PF/transport" << EOF
archive.invalid   lmtp:inet:127.0.0.1:$P_LMTP
gov.example       smtp:[127.0.0.1]:$P_MAILBOX
EOF
postconf -c "$PF" -e \
  "config_directory = $PF" "queue_directory = $PFQ" "data_directory = $PFD" \
  'compatibility_level = 3.6' 'syslog_name = postfix-tessera-test' \
  'myhostname = mta.archive-test.local' 'mydomain = archive-test.local' \
  'myorigin = $myhostname' 'mydestination =' \
  'inet_interfaces = 127.0.0.1' 'inet_protocols = ipv4' 'mynetworks = 127.0.0.0/8' \
  'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination' \
  "smtpd_recipient_restrictions = check_recipient_access pcre:$PF/x-add-envelope-to, permit_mynetworks, reject_unauth_destination" \
  "smtp_header_checks = regexp:$PF/strip-envelope-to" \
  'relay_domains = gov.example' "transport_maps = hash:$PF/transport" \
  'always_bcc = journal@archive.invalid' \
  "maillog_file = $WORK/postfix.log" "maillog_file_prefixes = $WORK" \
  'smtp_tls_security_level = none' 'smtpd_tls_security_level = none' \
  'lmtp_tls_security_level = none' 'smtputf8_enable = yes' \
  'queue_run_delay = 2s' 'minimal_backoff_time = 2s' 'maximal_backoff_time = 4s' \
  'alternate_config_directories =' 'shlib_directory = /usr/lib/postfix'
# No chroot (the queue is a scratch directory), and smtpd on our port instead of 25.
postconf -c "$PF" -F '*/*/chroot = n'
postconf -c "$PF" -MX smtp/inet
postconf -c "$PF" -M "127.0.0.1:$P_MTA/inet = 127.0.0.1:$P_MTA inet n - n - - smtpd"
postmap -c "$PF" "$PF/transport"
check "Postfix configuration is valid" postfix -c "$PF" check
check "Postfix starts" postfix -c "$PF" start

# --- the mailbox server and the archive
"$TESSERA" --home "$MAILBOX_HOME" serve --console off --smtp "127.0.0.1:$P_MAILBOX" --lmtp off \
  > "$WORK/mailbox-serve.log" 2>&1 &
MAILBOX_PID=$!
wait_for_port "$P_MAILBOX"
start_archive
check "tessera serve says where the archive listens" grep -q "LMTP listener:   127.0.0.1:$P_LMTP" "$WORK/archive-serve.log"
check "Postfix accepts on 127.0.0.1:$P_MTA" wait_for_port "$P_MTA"

# --- 1. a message to a visible recipient and a Bcc recipient
check "swaks sends a message with a Bcc" \
  send clerk@ntbt.gov.example "chief@gov.example,secret@gov.example" "國稅局郵件備份通知" chief@gov.example
check "the journal copy reaches the archive" wait_for_count "$ARCHIVE_HOME" 1
check "the mail reaches the mailbox server" wait_for_count "$MAILBOX_HOME" 1
expect_rc "archive show 1" 0 "$TESSERA" --home "$ARCHIVE_HOME" archive show 1 --json
recipients=$(json_field '["deliveries"][0]["recipients"]')
case "$recipients" in
  *chief@gov.example*secret@gov.example* | *secret@gov.example*chief@gov.example*)
    ok "the archive records both envelope recipients, Bcc included: $recipients" ;;
  *) bad "the archive's recipients are $recipients" ;;
esac
case "$recipients" in
  *journal@archive.invalid*) bad "the journal address is recorded as a recipient" ;;
  *) ok "the journal address itself is not taken for a recipient" ;;
esac
check "the archived subject is the Chinese one" test "$(json_field '["subject"]')" = "國稅局郵件備份通知"
check "the archived envelope sender" test "$(json_field '["deliveries"][0]["envelope_from"]')" = "clerk@ntbt.gov.example"
check "the delivery came over LMTP" test "$(json_field '["deliveries"][0]["source"]')" = lmtp
# The running server indexes what it stored (every 2 s); search reads that index meanwhile.
search_finds() {  # QUERY ID: waits up to 15 s for QUERY to find exactly message ID
  for _ in $(seq 75); do
    if [ "$("$TESSERA" --home "$ARCHIVE_HOME" archive search "$1" --json 2> /dev/null |
      python3 -c 'import json,sys; print([h["id"] for h in json.load(sys.stdin)["hits"]])')" = "[$2]" ]; then
      return 0
    fi
    sleep 0.2
  done
  "$TESSERA" --home "$ARCHIVE_HOME" archive search "$1"
  return 1
}
check "search 國稅局 finds the journaled message while serve runs" search_finds 國稅局 1
check "search to:secret@gov.example finds it by its Bcc recipient" search_finds to:secret@gov.example 1
"$TESSERA" --home "$MAILBOX_HOME" archive show 1 --raw > "$WORK/mailbox-copy.eml"
check "the mailbox copy is the message" grep -q "^Subject: =?UTF-8?B?" "$WORK/mailbox-copy.eml"
if grep -qi "secret@gov.example" "$WORK/mailbox-copy.eml" || grep -qi "^X-Envelope-To" "$WORK/mailbox-copy.eml"; then
  bad "the mailbox copy reveals the Bcc recipient"
  sed 's/^/    /' "$WORK/mailbox-copy.eml"
else
  ok "the mailbox copy does not reveal the Bcc recipient"
fi

# --- 2. the archive is down: Postfix keeps the journal copy and delivers it later
kill -TERM "$ARCHIVE_PID"
wait "$ARCHIVE_PID" || true
ARCHIVE_PID=
check "swaks sends while the archive is down" \
  send clerk@ntbt.gov.example officer@gov.example "archive down 停機中"
check "the mailbox still gets its copy" wait_for_count "$MAILBOX_HOME" 2
queued=0
for _ in $(seq 50); do
  if postqueue -c "$PF" -p | grep -q "journal@archive.invalid"; then queued=1; break; fi
  sleep 0.2
done
if [ "$queued" = 1 ]; then ok "Postfix keeps the journal copy queued"; else bad "no journal copy in Postfix's queue"; fi
check "the archive still holds 1 message" test "$(archived_count "$ARCHIVE_HOME")" = 1
start_archive
postqueue -c "$PF" -f || true
check "once the archive is back the queued copy arrives" wait_for_count "$ARCHIVE_HOME" 2
expect_rc "archive show 2" 0 "$TESSERA" --home "$ARCHIVE_HOME" archive show 2 --json
check "the queued copy keeps its recipient" test "$(json_field '["deliveries"][0]["recipients"]')" = "['officer@gov.example']"

# --- 3. a burst of 40 messages; the archive is killed (-9) in the middle of it
for i in $(seq 40); do
  swaks --server "127.0.0.1:$P_MTA" --from "sender$i@ntbt.gov.example" --to "r$i@gov.example" \
    --header "Subject: burst $i 批次" --body "message $i" > /dev/null 2>&1 &
  if [ "$i" = 15 ]; then
    sleep 0.3
    kill -9 "$ARCHIVE_PID"
    wait "$ARCHIVE_PID" 2> /dev/null || true
    ARCHIVE_PID=
  fi
done
wait_sends() { for job in $(jobs -p); do [ "$job" = "$MAILBOX_PID" ] || wait "$job" || true; done; }
wait_sends
start_archive
postqueue -c "$PF" -f || true
check "after kill -9 and a restart, all 42 messages are archived" wait_for_count "$ARCHIVE_HOME" 42
sleep 3  # let Postfix finish any redelivery, which must not add anything
postqueue -c "$PF" -f || true
sleep 2
check "nothing is archived twice" test "$(archived_count "$ARCHIVE_HOME")" = 42
expect_rc "archive verify --read-data" 0 "$TESSERA" --home "$ARCHIVE_HOME" archive verify --read-data --json
check "every delivery is recorded once" test "$(json_field '["deliveries"]')" = 42
if postqueue -c "$PF" -p | grep -q "journal@archive.invalid"; then
  bad "journal copies left in Postfix's queue"
  postqueue -c "$PF" -p | sed 's/^/    /'
else
  ok "Postfix's queue holds no journal copy"
fi

# --- 4. restore (調閱後回復): message 1 re-delivered to its original recipients
mailbox_before=$(archived_count "$MAILBOX_HOME")
expect_rc "archive restore 1 through the mailbox server's SMTP" 0 \
  "$TESSERA" --home "$ARCHIVE_HOME" archive restore 1 --via "smtp://127.0.0.1:$P_MAILBOX" --json
check "the mailbox server gets the restored copy" wait_for_count "$MAILBOX_HOME" $((mailbox_before + 1))
"$TESSERA" --home "$MAILBOX_HOME" archive show $((mailbox_before + 1)) --raw > "$WORK/restored.eml"
check "it says it was re-sent, to both original recipients" \
  grep -q "^Resent-To: chief@gov.example, secret@gov.example" "$WORK/restored.eml"
check "it is the archived message" grep -q "^Subject: =?UTF-8?B?" "$WORK/restored.eml"
if grep -qi "^X-Envelope-To" "$WORK/restored.eml"; then
  bad "the restored copy carries the journal's X-Envelope-To fields"
else
  ok "the journal's X-Envelope-To fields stay in the archive"
fi
expect_rc "archive audit lists the restore" 0 "$TESSERA" --home "$ARCHIVE_HOME" archive audit
in_log "as archive.restore of message 1" "archive.restore  1"
finish
