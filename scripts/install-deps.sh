#!/usr/bin/env bash
# Installs the Debian 12 packages tessera needs to build, test and benchmark.
# Idempotent: installs only what is missing. Needs root (or sudo) when something is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config clang-format git lld
  # libraries (see DESIGN.md)
  libssl-dev libisal-dev libzstd-dev libcurl4-openssl-dev libsqlite3-dev
  libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libspdlog-dev libfmt-dev
  libgmime-3.0-dev libboost-dev libxapian-dev libarchive-dev
  # text of PDF attachments for search (poppler-data: Chinese CMaps)
  poppler-utils poppler-data libpoppler-cpp-dev
  # winmail.dat (TNEF) attachments, unpacked in a separate process
  tnef
  # 公文 exchange: DTD validation, malware scanning (ClamAV, test files for its tests)
  libxml2-dev libclamav-dev clamav clamav-testfiles
  # a real syslog collector (TLS) for the SOC shipping tests; network namespaces
  rsyslog rsyslog-gnutls iproute2
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev curl time bc python3
  # libFuzzer for tests/fuzz (clang's runtime)
  clang-14 libclang-rt-14-dev
  # the console's LDAP sign-in (OpenLDAP's client), and a real slapd for its tests
  libldap-dev slapd ldap-utils
  # a real MTA journaling into the archive (tests/integration/archive_journal.sh)
  postfix postfix-pcre swaks
  # a real S3 server for the integration tests (Ceph radosgw)
  ceph-mon ceph-osd radosgw ceph-common
  # peers measured side by side in bench/
  restic borgbackup notmuch aide
  # the web console's browser tests (tests/e2e): Chromium driven by playwright-core from npm;
  # CJK fonts so that the Chinese pages are laid out (and screenshotted) with real glyphs
  chromium fonts-noto-cjk nodejs npm
)
# tests/e2e's playwright-core from its committed lock (no browser is downloaded)
e2e_npm() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e"
  if [ ! -d "$dir/node_modules/playwright-core" ]; then (cd "$dir" && npm ci --no-audit --no-fund); fi
}

missing=()
for p in "${PACKAGES[@]}"; do
  # NodeSource's nodejs carries npm itself and conflicts with Debian's npm package
  if [ "$p" = npm ] && command -v npm > /dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "[install-deps] all ${#PACKAGES[@]} packages present"
  e2e_npm
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "[install-deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix is for the tests, which run private instances: leave the system's unconfigured.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
# slapd likewise: the tests start their own on 127.0.0.1 with a directory of their own.
echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
e2e_npm
