# shellcheck shell=bash
# The SOC's collector for the scenarios that ship the audit log (source it after
# scenario_begin, in $WORK): Debian's rsyslogd receiving syslog over TLS (RFC 5425, gtls
# driver, mutual TLS) on 127.0.0.1, with a test PKI of its own. What arrives from APP-NAME
# tessera is written to $WORK/collected.log, one line per record:
#   FACILITY.SEVERITY APP-NAME MSGID STRUCTURED-DATA MSG

command -v rsyslogd > /dev/null || {
  echo "FAILED: rsyslogd is missing (apt-get install rsyslog rsyslog-gnutls)"
  echo "0 passed, 1 failed"
  exit 1
}

# soc_ca NAME: a self-signed test CA, pki/NAME.pem and pki/NAME.key.
soc_ca() {
  mkdir -p "$WORK/pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$WORK/pki/$1.key" -subj "/CN=tessera test $1" -out "$WORK/pki/$1.pem" 2> /dev/null
}

# soc_cert NAME CA SUBJECT-ALT-NAME: pki/NAME.pem and pki/NAME.key, issued by pki/CA.
soc_cert() {
  local p=$WORK/pki/$1
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$p.key" -subj "/CN=$1" -out "$p.csr" 2> /dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" > "$p.ext"
  openssl x509 -req -in "$p.csr" -CA "$WORK/pki/$2.pem" -CAkey "$WORK/pki/$2.key" \
    -CAcreateserial -days 2 -extfile "$p.ext" -out "$p.pem" 2> /dev/null
}

# soc_collector_configure PORT: the collector's rsyslog.conf, listening on 127.0.0.1:PORT
# with pki/collector.pem, accepting clients whose certificates pki/ca.pem signed.
soc_collector_configure() {
  mkdir -p "$WORK/rsyslog"
  cat > "$WORK/rsyslog.conf" << CONF
global(workDirectory="$WORK/rsyslog" maxMessageSize="64k"
       DefaultNetstreamDriverCAFile="$WORK/pki/ca.pem"
       DefaultNetstreamDriverCertFile="$WORK/pki/collector.pem"
       DefaultNetstreamDriverKeyFile="$WORK/pki/collector.key")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1"
       StreamDriver.AuthMode="x509/certvalid")
input(type="imtcp" address="127.0.0.1" port="$1")
template(name="soc" type="string"
         string="%syslogfacility-text%.%syslogseverity-text% %app-name% %msgid% %structured-data% %msg%\n")
if \$app-name == "tessera" then {
  action(type="omfile" file="$WORK/collected.log" template="soc")
  stop
}
CONF
  SOC_PORT=$1
}

# soc_collector_start: starts rsyslogd (its pid in SOC_PID) and waits until it listens;
# fails, showing its output, when it does not within 10 s.
SOC_PID=
soc_collector_start() {
  rsyslogd -n -f "$WORK/rsyslog.conf" -i "$WORK/rsyslog/rsyslogd.pid" > "$WORK/rsyslog.out" 2>&1 &
  SOC_PID=$!
  for _ in $(seq 100); do
    (echo > "/dev/tcp/127.0.0.1/$SOC_PORT") 2> /dev/null && return 0
    sleep 0.1
  done
  echo "rsyslogd did not listen on $SOC_PORT:"
  cat "$WORK/rsyslog.out"
  return 1
}

# soc_collector_stop: stops rsyslogd and waits for it to exit.
soc_collector_stop() {
  if [ -n "$SOC_PID" ] && kill -0 "$SOC_PID" 2> /dev/null; then
    kill "$SOC_PID" 2> /dev/null || true
    for _ in $(seq 100); do
      kill -0 "$SOC_PID" 2> /dev/null || break
      sleep 0.1
    done
  fi
  SOC_PID=
}
