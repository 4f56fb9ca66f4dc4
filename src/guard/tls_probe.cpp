#include "guard/tls_probe.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

namespace tessera::guard {
namespace {

using Clock = std::chrono::steady_clock;

template <auto Free>
struct Freer {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using SslCtx = std::unique_ptr<SSL_CTX, Freer<SSL_CTX_free>>;
using Ssl = std::unique_ptr<SSL, Freer<SSL_free>>;
using AddrInfo = std::unique_ptr<addrinfo, Freer<freeaddrinfo>>;

// A socket descriptor closed when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// strerror is not thread-safe; the generic category's message is.
std::string ErrnoText(int e) {
  return std::error_code(e, std::generic_category()).message();
}

// Rounded up: poll must not give up before the deadline.
int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(std::min<long long>(left, 1 << 30)) : 0;
}

// 1 when `fd` is ready for `events`, 0 at the deadline, -1 on a poll error.
int WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{};
    p.fd = fd;
    p.events = events;
    const int n = ::poll(&p, 1, RemainingMs(deadline));
    if (n > 0) return 1;
    if (n == 0) return 0;
    if (errno != EINTR) return -1;
  }
}

// A resolved address and how it is written in reports.
struct Target {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // "127.0.0.1:443", "[::1]:443"
};

std::string AddressText(const sockaddr* a, socklen_t len) {
  char host[NI_MAXHOST] = "";
  char serv[NI_MAXSERV] = "";
  if (::getnameinfo(a, len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "?";
  }
  if (a->sa_family == AF_INET6) return "[" + std::string(host) + "]:" + serv;
  return std::string(host) + ":" + serv;
}

// A non-blocking connect bounded by the deadline. Unavailable saying why when it fails.
Result<Fd> ConnectTcp(const Target& t, Clock::time_point deadline,
                      std::chrono::milliseconds timeout) {
  Fd fd(::socket(t.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::FromErrno("socket", errno);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&t.addr), t.len) == 0) return fd;
  if (errno != EINPROGRESS && errno != EINTR) {
    return Status::Unavailable("cannot connect to " + t.text + ": " + ErrnoText(errno));
  }
  const int ready = WaitFor(fd.get(), POLLOUT, deadline);
  if (ready == 0) {
    return Status::Unavailable("cannot connect to " + t.text + ": no answer within " +
                               std::to_string(timeout.count()) + " ms");
  }
  if (ready < 0) return Status::FromErrno("poll", errno);
  int err = 0;
  socklen_t err_len = sizeof err;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) {
    return Status::FromErrno("getsockopt", errno);
  }
  if (err != 0) return Status::Unavailable("cannot connect to " + t.text + ": " + ErrnoText(err));
  return fd;
}

// One attempt: a protocol version, and for the weak-suite categories a TLS 1.2 cipher list.
struct AttemptSpec {
  std::string_view name;
  int version;
  const char* ciphers;  // the TLS 1.2-and-below cipher list, with @SECLEVEL=0
};

// The version attempts offer every suite this OpenSSL has (anonymous ones last, so that a
// server which honours the client's order names a representative suite); the category
// attempts offer only their category, RSA- and ECDSA-keyed variants alike, so that a
// ServerHello proves the server accepts a suite of that category with its own key.
constexpr AttemptSpec kAttempts[] = {
    {kTls10, TLS1_VERSION, "ALL:+aNULL:@SECLEVEL=0"},
    {kTls11, TLS1_1_VERSION, "ALL:+aNULL:@SECLEVEL=0"},
    {kTls12, TLS1_2_VERSION, "ALL:+aNULL:@SECLEVEL=0"},
    {kTls13, TLS1_3_VERSION, "ALL:@SECLEVEL=0"},  // TLS 1.3 suites: OpenSSL's default set
    // Static RSA key exchange: a stolen server key decrypts every recorded session.
    {kTls12NoForwardSecrecy, TLS1_2_VERSION, "kRSA:!eNULL:!aNULL:!PSK:@SECLEVEL=0"},
    // CBC with HMAC (Lucky 13 and padding-oracle families), with forward secrecy; the
    // ones without it are already in the category above.
    {kTls12Cbc, TLS1_2_VERSION,
     "ECDHE+SHA1:ECDHE+SHA256:ECDHE+SHA384:DHE+SHA1:DHE+SHA256:!aNULL:!eNULL:!PSK:!SRP:"
     "@SECLEVEL=0"},
    // Broken ciphers (Sweet32, RC4 biases); compiled out of Debian's OpenSSL 3.
    {kTls123DesRc4, TLS1_2_VERSION, "3DES:RC4:!aNULL:!PSK:@SECLEVEL=0"},
    // No encryption at all.
    {kTls12Null, TLS1_2_VERSION, "eNULL:!aNULL:!PSK:@SECLEVEL=0"},
    // No server authentication: anyone in the path can stand in for the server.
    {kTls12Anonymous, TLS1_2_VERSION, "aNULL:!eNULL:!PSK:!SRP:@SECLEVEL=0"},
    // 40/56-bit export suites (FREAK, Logjam); gone from OpenSSL since 1.1.0.
    {kTls12Export, TLS1_2_VERSION, "EXP:@SECLEVEL=0"},
};

std::string VersionName(int v) {
  switch (v) {
    case SSL3_VERSION:
      return "SSL 3.0";
    case TLS1_VERSION:
      return std::string(kTls10);
    case TLS1_1_VERSION:
      return std::string(kTls11);
    case TLS1_2_VERSION:
      return std::string(kTls12);
    case TLS1_3_VERSION:
      return std::string(kTls13);
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%04X", static_cast<unsigned>(v));
  return buf;
}

// What the message callback saw arrive from the server. Only protocol metadata is kept
// (the ServerHello carries no secret: its random and key share are public).
struct Observed {
  std::string server_hello;  // the first ServerHello (or HelloRetryRequest), with its header
  int alert = -1;            // the first alert's description
};

void OnMessage(int write_p, int /*version*/, int content_type, const void* buf, size_t len,
               SSL* /*ssl*/, void* arg) {
  if (write_p != 0) return;
  auto* seen = static_cast<Observed*>(arg);
  const auto* p = static_cast<const unsigned char*>(buf);
  if (content_type == SSL3_RT_HANDSHAKE && len >= 4 && p[0] == SSL3_MT_SERVER_HELLO &&
      seen->server_hello.empty()) {
    seen->server_hello.assign(reinterpret_cast<const char*>(p), len);
  } else if (content_type == SSL3_RT_ALERT && len >= 2 && seen->alert < 0) {
    seen->alert = p[1];
  }
}

struct ServerHello {
  int version = 0;  // selected: supported_versions when present, else legacy_version
  bool retry_request = false;
  unsigned char suite[2] = {0, 0};
};

// RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello with this random.
constexpr unsigned char kHelloRetryRandom[32] = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

// Parsed from the bytes rather than asked of OpenSSL, because OpenSSL may refuse the
// ServerHello (a version we did not offer) before recording what it said.
std::optional<ServerHello> ParseServerHello(std::string_view m) {
  const auto* p = reinterpret_cast<const unsigned char*>(m.data());
  size_t n = m.size();
  if (n < 4) return std::nullopt;
  const size_t body = (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
  p += 4;
  n = std::min(n - 4, body);
  ServerHello sh;
  if (n < 2 + 32 + 1) return std::nullopt;
  sh.version = (p[0] << 8) | p[1];
  sh.retry_request = std::memcmp(p + 2, kHelloRetryRandom, 32) == 0;
  size_t pos = 2 + 32;
  pos += 1 + p[pos];  // legacy_session_id
  if (pos + 3 > n) return std::nullopt;
  sh.suite[0] = p[pos];
  sh.suite[1] = p[pos + 1];
  pos += 3;                    // cipher_suite, compression_method
  if (pos + 2 > n) return sh;  // no extensions (TLS 1.2 and below may omit them)
  const size_t ext_end = std::min(n, pos + 2 + ((size_t{p[pos]} << 8) | p[pos + 1]));
  pos += 2;
  while (pos + 4 <= ext_end) {
    const int type = (p[pos] << 8) | p[pos + 1];
    const size_t len = (size_t{p[pos + 2]} << 8) | p[pos + 3];
    pos += 4;
    if (pos + len > ext_end) break;
    if (type == 43 /* supported_versions */ && len == 2) sh.version = (p[pos] << 8) | p[pos + 1];
    pos += len;
  }
  return sh;
}

std::string SuiteName(SSL* ssl, const unsigned char suite[2]) {
  if (const SSL_CIPHER* c = SSL_CIPHER_find(ssl, suite)) return SSL_CIPHER_get_name(c);
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%02X%02X", suite[0], suite[1]);
  return buf;
}

// Sends what OpenSSL has written to the memory BIO. MSG_NOSIGNAL: a server that has
// closed the connection must not raise SIGPIPE in the probing process (which is why the
// socket is not handed to OpenSSL's socket BIO).
bool Flush(int fd, BIO* wbio, Clock::time_point deadline) {
  char buf[16384];
  while (BIO_ctrl_pending(wbio) > 0) {
    const int n = BIO_read(wbio, buf, sizeof buf);
    if (n <= 0) return true;
    for (int sent = 0; sent < n;) {
      const ssize_t w = ::send(fd, buf + sent, n - sent, MSG_NOSIGNAL);
      if (w > 0) {
        sent += static_cast<int>(w);
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (WaitFor(fd, POLLOUT, deadline) != 1) return false;
      } else {
        return false;
      }
    }
  }
  return true;
}

// The reason OpenSSL gives for the last failure, and an empty error queue afterwards.
std::string TakeSslError() {
  const unsigned long e = ERR_peek_last_error();
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  std::string text = reason != nullptr ? reason : "handshake failed";
  ERR_clear_error();
  return text;
}

// Runs the handshake over `fd` until it ends or the deadline passes; returns how it ended.
// It goes on after the ServerHello (rather than dropping the connection) so that the
// server sees an ordinary failed or completed handshake, and so that how it ended can be
// told (with mutual TLS it usually ends in an alert about the missing client certificate).
std::string Handshake(SSL* ssl, int fd, BIO* rbio, BIO* wbio, Clock::time_point deadline,
                      std::chrono::milliseconds timeout) {
  char buf[16384];
  for (;;) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl);
    const int err = SSL_get_error(ssl, r);
    // A failed send is not the end: what the server sent before closing (an alert) is
    // still read below and explains it.
    Flush(fd, wbio, deadline);
    if (r == 1) {
      SSL_shutdown(ssl);  // close_notify; the answer is not awaited
      Flush(fd, wbio, deadline);
      return "handshake completed";
    }
    if (err != SSL_ERROR_WANT_READ) return TakeSslError();
    const int ready = WaitFor(fd, POLLIN, deadline);
    if (ready == 0) {
      return "no answer within " + std::to_string(timeout.count()) + " ms";
    }
    if (ready < 0) return "poll: " + ErrnoText(errno);
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return "connection closed by the server";
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return "connection " + ErrnoText(errno);
    }
    BIO_write(rbio, buf, static_cast<int>(n));
  }
}

bool IsNumericHost(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// One attempt on a connection of its own: `first` when it holds the connection made while
// choosing the address, a new one otherwise (not made when the attempt cannot be offered).
TlsProbeAttempt RunAttempt(const AttemptSpec& spec, const std::string& host, const Target& target,
                           Fd& first, std::chrono::milliseconds timeout) {
  TlsProbeAttempt a;
  a.offered = std::string(spec.name);
  const std::string cannot_offer = std::string("this OpenSSL (") +
                                   OpenSSL_version(OPENSSL_VERSION) +
                                   ") cannot offer it, so the server's answer is unknown";
  // Each attempt its own context: nothing shared between threads or attempts.
  SslCtx ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    a.probed = false;
    a.detail = "SSL_CTX_new: " + TakeSslError();
    return a;
  }
  // Security level 0, or OpenSSL 3 will not offer TLS 1.0/1.1, SHA-1 or weak suites at all.
  SSL_CTX_set_security_level(ctx.get(), 0);
  // The server's certificate is not checked: the probe judges what is negotiated.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (SSL_CTX_set_min_proto_version(ctx.get(), spec.version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), spec.version) != 1 ||
      SSL_CTX_set_cipher_list(ctx.get(), spec.ciphers) != 1) {
    ERR_clear_error();
    a.probed = false;
    a.detail = cannot_offer;
    return a;
  }
  Ssl ssl(SSL_new(ctx.get()));
  if (!ssl) {
    a.probed = false;
    a.detail = "SSL_new: " + TakeSslError();
    return a;
  }
  // What this ClientHello will really carry (the list filtered by version and security
  // level): empty means the category or version cannot be offered here.
  std::set<uint16_t> offered_suites;
  if (STACK_OF(SSL_CIPHER)* list = SSL_get1_supported_ciphers(ssl.get())) {
    for (int i = 0; i < sk_SSL_CIPHER_num(list); ++i) {
      offered_suites.insert(SSL_CIPHER_get_protocol_id(sk_SSL_CIPHER_value(list, i)));
    }
    sk_SSL_CIPHER_free(list);
  }
  ERR_clear_error();
  if (offered_suites.empty()) {
    a.probed = false;
    a.detail = cannot_offer;
    return a;
  }
  const Clock::time_point deadline = Clock::now() + timeout;
  Fd fd;
  if (first.valid()) {
    fd = std::exchange(first, Fd());
  } else {
    Result<Fd> connected = ConnectTcp(target, deadline, timeout);
    if (!connected.ok()) {
      a.detail = connected.status().message();
      return a;
    }
    fd = std::move(connected).value();
  }
  if (!IsNumericHost(host)) SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  Observed seen;
  SSL_set_msg_callback(ssl.get(), OnMessage);
  SSL_set_msg_callback_arg(ssl.get(), &seen);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  if (rbio == nullptr || wbio == nullptr) {
    BIO_free(rbio);
    BIO_free(wbio);
    a.probed = false;
    a.detail = "BIO_new: " + TakeSslError();
    return a;
  }
  SSL_set_bio(ssl.get(), rbio, wbio);  // ssl owns both now
  SSL_set_connect_state(ssl.get());

  const std::string ended = Handshake(ssl.get(), fd.get(), rbio, wbio, deadline, timeout);
  ERR_clear_error();
  std::string alert;
  if (seen.alert >= 0) {
    alert = std::string("server sent alert: ") + SSL_alert_desc_string_long(seen.alert);
  }
  const std::optional<ServerHello> sh =
      seen.server_hello.empty() ? std::nullopt : ParseServerHello(seen.server_hello);
  if (!sh) {
    a.detail = !seen.server_hello.empty() ? "malformed ServerHello"
               : !alert.empty()           ? alert
                                          : ended + " before a ServerHello";
    return a;
  }
  const std::string suite = SuiteName(ssl.get(), sh->suite);
  const uint16_t suite_id = static_cast<uint16_t>((sh->suite[0] << 8) | sh->suite[1]);
  if (sh->version != spec.version) {
    a.detail = "server answered with " + VersionName(sh->version) + " instead";
    return a;
  }
  if (offered_suites.count(suite_id) == 0) {
    a.detail = "server chose " + suite + ", which was not offered";
    return a;
  }
  a.accepted = true;
  a.suite = suite;
  a.detail = suite;
  if (sh->retry_request) a.detail += " after HelloRetryRequest";
  a.detail += "; then " + (alert.empty() ? ended : alert);
  return a;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ", ";
    out += p;
  }
  return out;
}

}  // namespace

const TlsProbeAttempt* TlsProbeReport::Find(std::string_view offered) const {
  for (const auto& a : attempts) {
    if (a.offered == offered) return &a;
  }
  return nullptr;
}

bool TlsProbeReport::Accepts(std::string_view offered) const {
  const TlsProbeAttempt* a = Find(offered);
  return a != nullptr && a->accepted;
}

std::string TlsProbeReport::Summary() const {
  std::vector<std::string> accepted, refused, unprobed;
  for (const auto& a : attempts) {
    if (!a.probed) {
      unprobed.push_back(a.offered);
    } else if (a.accepted) {
      accepted.push_back(a.offered + " (" + a.suite + ")");
    } else {
      refused.push_back(a.offered);
    }
  }
  std::string s =
      address + (accepted.empty() ? " accepts none of the probes" : " accepts " + Join(accepted));
  if (!refused.empty()) s += "; refuses " + Join(refused);
  if (!unprobed.empty()) s += "; not probed (this OpenSSL cannot offer them): " + Join(unprobed);
  return s;
}

Result<TlsProbeReport> ProbeTls(const std::string& host_in, uint16_t port,
                                std::chrono::milliseconds timeout) {
  // "[::1]" as well as "::1".
  std::string host = host_in;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* raw = nullptr;
  const int gai = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &raw);
  if (gai != 0) {
    return Status::InvalidArgument("cannot resolve " + host + ": " + ::gai_strerror(gai));
  }
  AddrInfo addresses(raw);

  // The first address that takes a TCP connection is probed, on every attempt the same.
  std::optional<Target> target;
  Fd first;  // the connection made while choosing the address, for the first attempt
  Status last = Status::Unavailable("no address for " + host);
  for (const addrinfo* ai = addresses.get(); ai != nullptr && !target; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Target t;
    std::memcpy(&t.addr, ai->ai_addr, ai->ai_addrlen);
    t.len = static_cast<socklen_t>(ai->ai_addrlen);
    t.text = AddressText(ai->ai_addr, t.len);
    Result<Fd> fd = ConnectTcp(t, Clock::now() + timeout, timeout);
    if (!fd.ok()) {
      last = fd.status();
      continue;
    }
    first = std::move(fd).value();
    target = std::move(t);
  }
  if (!target) {
    return last.code() == StatusCode::kUnavailable ? last : Status::Unavailable(last.message());
  }

  TlsProbeReport report;
  report.address = target->text;
  for (const AttemptSpec& spec : kAttempts) {
    report.attempts.push_back(RunAttempt(spec, host, *target, first, timeout));
  }
  return report;
}

}  // namespace tessera::guard
