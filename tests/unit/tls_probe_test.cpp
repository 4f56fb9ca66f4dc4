// The TLS probe against real OpenSSL servers started in the test (127.0.0.1, port 0, a
// self-signed ECDSA P-256 or RSA 2048 certificate made here): what each server is
// configured to accept is what the probe must find, including behind mutual TLS.
#include "guard/tls_probe.hpp"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>

#include "crypto/x509.hpp"
#include "status_matchers.hpp"

namespace tessera::guard {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::chrono::milliseconds kTimeout{3000};

const std::string_view kWeakCategories[] = {
    kTls12NoForwardSecrecy, kTls12Cbc, kTls123DesRc4, kTls12Null, kTls12Anonymous, kTls12Export};

struct ServerConfig {
  crypto::KeyKind key = crypto::KeyKind::kEcP256;
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  std::string ciphers;      // TLS 1.2 and below; empty: OpenSSL's default
  std::string groups;       // empty: OpenSSL's default
  int security_level = -1;  // -1: OpenSSL's (the system's) default
  bool require_client_certificate = false;
  const char* bind_address = "127.0.0.1";
};

// An OpenSSL TLS server on a thread: accepts connections one at a time, runs SSL_accept,
// and on success reads until the client closes. Stopped and joined by the destructor.
class TestTlsServer {
 public:
  ~TestTlsServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  int handshakes_started() const { return started_; }

  // Empty string on success, else what failed (the test then fails with it).
  std::string Start(const ServerConfig& c) {
    auto key = crypto::PrivateKey::Generate(c.key);
    if (!key.ok()) return key.status().ToString();
    crypto::CertificateRequest request;
    request.common_name = "tls-probe-test";
    request.ip_addresses = {c.bind_address};
    auto cert = crypto::IssueCertificate(request, *key, nullptr, *key);
    if (!cert.ok()) return cert.status().ToString();
    ctx_.reset(SSL_CTX_new(TLS_server_method()));
    SSL_CTX* ctx = ctx_.get();
    if (c.security_level >= 0) SSL_CTX_set_security_level(ctx, c.security_level);
    if (SSL_CTX_use_certificate(ctx, cert->native()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, key->native()) != 1 ||
        SSL_CTX_set_min_proto_version(ctx, c.min_version) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, c.max_version) != 1 ||
        (!c.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, c.ciphers.c_str()) != 1) ||
        (!c.groups.empty() && SSL_CTX_set1_groups_list(ctx, c.groups.c_str()) != 1)) {
      return "server SSL_CTX setup failed";
    }
    if (c.require_client_certificate) {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    const bool v6 = std::string_view(c.bind_address).find(':') != std::string_view::npos;
    listen_fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return "socket failed";
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      if (::inet_pton(AF_INET6, c.bind_address, &a->sin6_addr) != 1) return "bad address";
      len = sizeof(sockaddr_in6);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      if (::inet_pton(AF_INET, c.bind_address, &a->sin_addr) != 1) return "bad address";
      len = sizeof(sockaddr_in);
    }
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
      return std::string("cannot listen on ") + c.bind_address;
    }
    port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                     : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    thread_ = std::thread([this] { Serve(); });
    return "";
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      timeval tv{2, 0};  // a stuck client cannot hold the server past the test
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      SSL* ssl = SSL_new(ctx_.get());
      SSL_set_fd(ssl, fd);
      ++started_;
      if (SSL_accept(ssl) == 1) {
        char buf[256];
        while (SSL_read(ssl, buf, sizeof buf) > 0) {
        }
        SSL_shutdown(ssl);
      }
      SSL_free(ssl);
      ::close(fd);
    }
  }

  struct CtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  };
  std::unique_ptr<SSL_CTX, CtxFree> ctx_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> started_{0};
  std::thread thread_;
};

// A TCP socket listening on 127.0.0.1 at a port the kernel chose, closed when it goes.
struct LoopbackListener {
  explicit LoopbackListener(int backlog) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(fd, backlog) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    port = ntohs(a.sin_port);
  }
  ~LoopbackListener() {
    if (fd >= 0) ::close(fd);
  }
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;
  int fd = -1;
  uint16_t port = 0;  // 0: it could not listen
};

class TlsProbeTest : public ::testing::TestWithParam<crypto::KeyKind> {
 protected:
  // The test server writes with write(2): a probe that has already closed its end must not
  // kill the test process with SIGPIPE (the probe itself sends with MSG_NOSIGNAL).
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
};

std::string Describe(const TlsProbeReport& r) {
  std::string s = r.Summary() + "\n";
  for (const auto& a : r.attempts) {
    s += "  " + a.offered + ": " +
         (a.probed ? (a.accepted ? "accepted" : "refused") : "not probed") + " — " + a.detail +
         "\n";
  }
  return s;
}

// Weak categories are never accepted; the ones this OpenSSL cannot offer say so. The
// no-forward-secrecy and CBC categories exist in every OpenSSL 3, so they are probed.
void ExpectNoWeakCategory(const TlsProbeReport& r) {
  for (std::string_view name : kWeakCategories) {
    const TlsProbeAttempt* a = r.Find(name);
    ASSERT_NE(a, nullptr) << name;
    EXPECT_FALSE(a->accepted) << name << ": " << a->detail;
    if (!a->probed) {
      EXPECT_THAT(a->detail, HasSubstr("cannot offer")) << name;
    }
  }
  EXPECT_TRUE(r.Find(kTls12NoForwardSecrecy)->probed);
  EXPECT_TRUE(r.Find(kTls12Cbc)->probed);
}

// 1. TLS 1.3 only, mutual TLS, and only P-256 for key exchange: the probe's first
// ClientHello carries an X25519 key share, so the server answers with a
// HelloRetryRequest, which still means TLS 1.3 is accepted. The handshake cannot
// complete (no client certificate); the ServerHello decides.
TEST_P(TlsProbeTest, Tls13OnlyWithMutualTls) {
  TestTlsServer server;
  ServerConfig c;
  c.key = GetParam();
  c.min_version = c.max_version = TLS1_3_VERSION;
  c.groups = "P-256";
  c.require_client_certificate = true;
  ASSERT_EQ(server.Start(c), "");

  auto report = ProbeTls("127.0.0.1", server.port(), kTimeout);
  ASSERT_OK(report);
  SCOPED_TRACE(Describe(*report));
  EXPECT_EQ(report->address, "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_TRUE(report->Accepts(kTls13));
  EXPECT_THAT(report->Find(kTls13)->suite, StartsWith("TLS_"));
  EXPECT_THAT(report->Find(kTls13)->detail, HasSubstr("after HelloRetryRequest"));
  for (std::string_view v : {kTls10, kTls11, kTls12}) {
    const TlsProbeAttempt* a = report->Find(v);
    ASSERT_NE(a, nullptr);
    EXPECT_TRUE(a->probed) << v << ": " << a->detail;
    EXPECT_FALSE(a->accepted) << v;
    EXPECT_THAT(a->detail, HasSubstr("protocol version")) << v;
  }
  ExpectNoWeakCategory(*report);
  EXPECT_THAT(report->Summary(), HasSubstr(" accepts TLS 1.3 (TLS_"));
  EXPECT_THAT(report->Summary(), HasSubstr("refuses TLS 1.0, TLS 1.1, TLS 1.2"));
  // One connection per attempt that could be offered.
  int probed = 0;
  for (const auto& a : report->attempts) probed += a.probed ? 1 : 0;
  EXPECT_EQ(server.handshakes_started(), probed);
}

// 2. TLS 1.2 and 1.3 with only ECDHE AEAD suites, and mutual TLS as the real server has
// it: 1.2 is accepted with one of them although the handshake then fails (the probe has no
// client certificate), and no weak category is accepted.
TEST_P(TlsProbeTest, Tls12WithEcdheAeadOnly) {
  TestTlsServer server;
  ServerConfig c;
  c.key = GetParam();
  c.ciphers =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
      "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";
  c.require_client_certificate = true;
  ASSERT_EQ(server.Start(c), "");

  auto report = ProbeTls("127.0.0.1", server.port(), kTimeout);
  ASSERT_OK(report);
  SCOPED_TRACE(Describe(*report));
  EXPECT_TRUE(report->Accepts(kTls12));
  EXPECT_TRUE(report->Accepts(kTls13));
  EXPECT_FALSE(report->Accepts(kTls10));
  EXPECT_FALSE(report->Accepts(kTls11));
  const std::string prefix = GetParam() == crypto::KeyKind::kEcP256 ? "ECDHE-ECDSA-" : "ECDHE-RSA-";
  EXPECT_THAT(report->Find(kTls12)->suite, StartsWith(prefix));
  EXPECT_THAT(report->Find(kTls12)->suite, AnyOf(HasSubstr("GCM"), HasSubstr("CHACHA20")));
  // With TLS 1.2 the server refuses the empty client certificate before the handshake ends.
  EXPECT_THAT(report->Find(kTls12)->detail, HasSubstr("then server sent alert"));
  ExpectNoWeakCategory(*report);
  EXPECT_THAT(report->Find(kTls12NoForwardSecrecy)->detail, HasSubstr("handshake failure"));
}

INSTANTIATE_TEST_SUITE_P(Keys, TlsProbeTest,
                         ::testing::Values(crypto::KeyKind::kEcP256, crypto::KeyKind::kRsa2048),
                         [](const auto& info) {
                           return info.param == crypto::KeyKind::kEcP256 ? std::string("EcP256")
                                                                         : std::string("Rsa2048");
                         });

// 3. Everything this OpenSSL has, at security level 0, with an RSA key: old versions and
// the weak categories the server's "ALL" list holds are accepted, each with the suite named.
TEST_F(TlsProbeTest, EverythingAtSecurityLevelZero) {
  TestTlsServer server;
  ServerConfig c;
  c.key = crypto::KeyKind::kRsa2048;
  c.min_version = TLS1_VERSION;
  c.max_version = TLS1_3_VERSION;
  c.ciphers = "ALL:@SECLEVEL=0";
  c.security_level = 0;
  ASSERT_EQ(server.Start(c), "");

  auto report = ProbeTls("127.0.0.1", server.port(), kTimeout);
  ASSERT_OK(report);
  SCOPED_TRACE(Describe(*report));
  for (std::string_view v : {kTls10, kTls11, kTls12, kTls13}) {
    EXPECT_TRUE(report->Accepts(v)) << v;
    EXPECT_FALSE(report->Find(v)->suite.empty()) << v;
  }
  const TlsProbeAttempt* no_fs = report->Find(kTls12NoForwardSecrecy);
  EXPECT_TRUE(no_fs->accepted) << no_fs->detail;
  // RSA key exchange: the OpenSSL name has no ECDHE/DHE prefix ("AES256-GCM-SHA384").
  EXPECT_THAT(no_fs->suite, AnyOf(StartsWith("AES"), StartsWith("CAMELLIA"), StartsWith("ARIA")));
  const TlsProbeAttempt* cbc = report->Find(kTls12Cbc);
  EXPECT_TRUE(cbc->accepted) << cbc->detail;
  EXPECT_THAT(cbc->suite, StartsWith("ECDHE-RSA-"));
  EXPECT_THAT(cbc->suite, ::testing::Not(AnyOf(HasSubstr("GCM"), HasSubstr("CHACHA"))));
  // "ALL" leaves out NULL encryption but holds the anonymous suites.
  EXPECT_FALSE(report->Accepts(kTls12Null));
  EXPECT_TRUE(report->Find(kTls12Null)->probed);
  EXPECT_TRUE(report->Accepts(kTls12Anonymous));
  EXPECT_THAT(report->Find(kTls12Anonymous)->suite, StartsWith("A"));  // ADH-/AECDH-
  EXPECT_THAT(report->Summary(), HasSubstr(" accepts TLS 1.0 ("));
  EXPECT_THAT(report->Summary(), HasSubstr(no_fs->offered + " (" + no_fs->suite + ")"));
}

// A hand-written server that answers every ClientHello with the same canned TLS 1.2
// ServerHello (ECDHE-RSA-AES128-GCM-SHA256, renegotiation_info only) and then closes: what a
// non-compliant server or middlebox might do. Only an answer selecting what was offered
// counts, and the suite is read from the ServerHello's bytes.
TEST_F(TlsProbeTest, AServerHelloSelectingWhatWasNotOfferedIsNoAcceptance) {
  LoopbackListener listener(16);
  ASSERT_NE(listener.port, 0);
  const int listen_fd = listener.fd;
  std::atomic<bool> stop{false};
  std::thread server([&] {
    std::string hello = {0x16, 0x03, 0x03, 0x00, 0x31,  // handshake record, 49 bytes
                         0x02, 0x00, 0x00, 0x2D,        // ServerHello, 45 bytes
                         0x03, 0x03};                   // TLS 1.2
    hello += std::string(32, '\x11');                   // random (not a HelloRetryRequest)
    hello += {0x00, '\xC0', 0x2F, 0x00};  // no session id, ECDHE-RSA-AES128-GCM-SHA256, null
    // Extensions: renegotiation_info (empty), which OpenSSL insists on.
    hello += {0x00, 0x05, '\xFF', 0x01, 0x00, 0x01, 0x00};
    while (!stop) {
      pollfd p{listen_fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      timeval tv{2, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      // Read the whole ClientHello record, so that closing does not reset the connection.
      std::string in;
      char buf[4096];
      while (in.size() < 5 || in.size() < 5 + ((size_t{uint8_t(in[3])} << 8) | uint8_t(in[4]))) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, n);
      }
      ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
      ::shutdown(fd, SHUT_WR);
      while (::recv(fd, buf, sizeof buf, 0) > 0) {
      }
      ::close(fd);
    }
  });
  auto report = ProbeTls("127.0.0.1", listener.port, kTimeout);
  stop = true;
  server.join();
  ASSERT_OK(report);
  SCOPED_TRACE(Describe(*report));
  EXPECT_TRUE(report->Accepts(kTls12));
  EXPECT_EQ(report->Find(kTls12)->suite, "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_THAT(report->Find(kTls12)->detail, HasSubstr("then connection closed"));
  for (std::string_view v : {kTls10, kTls11, kTls13}) {
    EXPECT_FALSE(report->Accepts(v)) << v;
    EXPECT_THAT(report->Find(v)->detail, HasSubstr("answered with TLS 1.2 instead")) << v;
  }
  for (std::string_view name : {kTls12NoForwardSecrecy, kTls12Cbc, kTls12Null}) {
    EXPECT_FALSE(report->Accepts(name)) << name;
    EXPECT_THAT(report->Find(name)->detail,
                HasSubstr("chose ECDHE-RSA-AES128-GCM-SHA256, which was not offered"))
        << name;
  }
}

// A port that takes TCP connections (the kernel completes them into the backlog) but never
// answers: each attempt ends at the timeout and is no acceptance.
TEST_F(TlsProbeTest, SilentServerTimesOut) {
  LoopbackListener listener(32);
  ASSERT_NE(listener.port, 0);
  const auto start = std::chrono::steady_clock::now();
  auto report = ProbeTls("127.0.0.1", listener.port, std::chrono::milliseconds(150));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_OK(report);
  SCOPED_TRACE(Describe(*report));
  int probed = 0;
  for (const auto& attempt : report->attempts) {
    EXPECT_FALSE(attempt.accepted) << attempt.offered;
    if (attempt.probed) {
      ++probed;
      EXPECT_THAT(attempt.detail, HasSubstr("no answer within 150 ms")) << attempt.offered;
    }
  }
  EXPECT_GE(took, probed * std::chrono::milliseconds(150));
  EXPECT_LT(took, probed * std::chrono::milliseconds(150) + std::chrono::seconds(2));
}

// 4. Nothing listens: Unavailable, not a report of refusals.
TEST_F(TlsProbeTest, NothingListening) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ::close(fd);  // the port was free a moment ago and nothing listens on it now
  auto report = ProbeTls("127.0.0.1", ntohs(a.sin_port), kTimeout);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(report.status().message(), HasSubstr("refused"));
}

// An IPv6 literal, with or without brackets (a host without an IPv6 loopback fails here).
TEST_F(TlsProbeTest, Ipv6Literal) {
  TestTlsServer server;
  ServerConfig c;
  c.bind_address = "::1";
  const std::string started = server.Start(c);
  ASSERT_TRUE(started.empty()) << "cannot listen on [::1] (is IPv6 loopback off?): " << started;
  for (const std::string host : {"::1", "[::1]"}) {
    auto report = ProbeTls(host, server.port(), kTimeout);
    ASSERT_OK(report);
    SCOPED_TRACE(Describe(*report));
    EXPECT_EQ(report->address, "[::1]:" + std::to_string(server.port()));
    EXPECT_TRUE(report->Accepts(kTls12));
    EXPECT_TRUE(report->Accepts(kTls13));
    EXPECT_FALSE(report->Accepts(kTls11));
  }
}

}  // namespace
}  // namespace tessera::guard
