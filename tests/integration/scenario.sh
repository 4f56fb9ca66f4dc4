# Shared by the command-line scenario scripts (source it): a scratch directory, the pass
# and fail counters, and the checks. Each script ends with `finish`, whose line
# "N passed, N failed" scripts/test.sh reads.

# scenario_begin NAME: makes $WORK (removed on exit), points TESSERA_HOME into it, clears
# the settings a caller's environment could leak in, and changes into it.
scenario_begin() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessera-$1.XXXXXX")
  # Some scenarios take permissions away; give them back so that the directory goes.
  trap 'chmod -R u+rwx "$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
  export TESSERA_HOME=$WORK/home
  # SUDO_USER names the person acting (archive roles); scenarios set it where they mean to.
  unset TESSERA_CONFIG TESSERA_PASSPHRASE SUDO_USER
  cd "$WORK"
  passed=0
  failed=0
}

ok() {
  echo "ok: $*"
  passed=$((passed + 1))
}
bad() {
  echo "FAILED: $*"
  failed=$((failed + 1))
}

# check WHAT COMMAND...: passes when the command succeeds; its output is shown only when
# it fails.
check() {
  local what=$1
  shift
  if "$@" > "$WORK/check.log" 2>&1; then
    ok "$what"
  else
    bad "$what"
    sed 's/^/    /' "$WORK/check.log"
  fi
}

# expect_rc WHAT RC COMMAND...: the command exits with RC; its output is kept in last.log
# for the checks that follow (`check` keeps its own output apart).
expect_rc() {
  local what=$1 want=$2 rc=0
  shift 2
  "$@" > "$WORK/last.log" 2>&1 || rc=$?
  if [ "$rc" -eq "$want" ]; then
    ok "$what (exit $rc)"
  else
    bad "$what: exit $rc, expected $want"
    sed 's/^/    /' "$WORK/last.log"
  fi
}
expect_fail() {
  local what=$1 rc=0
  shift
  "$@" > "$WORK/last.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then ok "$what (exit $rc)"; else bad "$what: it succeeded"; fi
}
# in_log WHAT PATTERN: the last expect_rc's output contains PATTERN (a fixed string).
in_log() {
  if grep -qF -- "$2" "$WORK/last.log"; then
    ok "$1"
  else
    bad "$1: no \"$2\" in the output"
    sed 's/^/    /' "$WORK/last.log"
  fi
}

# free_port: a TCP port on 127.0.0.1 nobody listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# big5_mail FILE: the Big5 message the archive scenarios share — a raw 8-bit Big5 subject
# and body, as old Outlook sent them, from 鄭 (an encoded-word name), dated 2024-01-02,
# Message-ID <big5@ntbt.gov.tw>.
big5_mail() {
  {
    printf 'From: =?big5?B?vkc=?= <cheng@ntbt.gov.tw>\nTo: staff@ntbt.gov.tw\n'
    printf 'Subject: '
    printf '國稅局郵件備份通知' | iconv -f UTF-8 -t BIG5
    printf '\nDate: Tue, 02 Jan 2024 09:00:00 +0800\nMessage-ID: <big5@ntbt.gov.tw>\n'
    printf 'Content-Type: text/plain; charset=x-big5\n\n'
    printf '請於本週完成郵件備份。\n' | iconv -f UTF-8 -t BIG5
  } > "$1"
}
