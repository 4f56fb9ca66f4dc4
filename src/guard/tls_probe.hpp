// What a TLS server ACTUALLY accepts, found by asking it: the self-assessment's evidence
// about protocol versions and weak cipher suites of a listening TLS server of this host.
//
// Why a probe rather than reading the settings: what a server accepts is decided by the
// settings together with the OpenSSL build, its system-wide configuration
// (/etc/ssl/openssl.cnf, the security level), defaults that change between releases, and
// whatever sits in front of the port (a proxy, a terminator). Only a handshake shows the
// outcome. ProbeTls makes one TCP connection per attempt; each attempt offers exactly one
// protocol version, or TLS 1.2 with only one category of weak suites, and records whether
// the server answered with a ServerHello selecting what was offered.
//
// "Accepted" is decided by the ServerHello, not by the handshake's success: a server that
// requires a client certificate (mutual TLS) still shows what it accepts in its
// ServerHello, and the probe has no client certificate, so the handshake usually fails
// after it. A TLS 1.3 HelloRetryRequest also counts as accepting TLS 1.3.
//
// The probe offers what the local OpenSSL can offer at security level 0 (so that TLS
// 1.0/1.1, SHA-1 signatures and weak suites can be offered at all). A category this
// OpenSSL has no suites for (3DES and RC4 are compiled out of Debian's OpenSSL 3, export
// suites out of every OpenSSL since 1.1.0) is reported with probed = false and says so in
// `detail`: it is not evidence that the server refuses them.
//
// The server's certificate is not verified (the probe judges what is negotiated, not whom
// it talks to) and no key material is kept or logged. Thread-safe: each call has its own
// SSL_CTX and sockets, and there is no global state.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"

namespace tessera::guard {

// The names of the attempts, as TlsProbeAttempt::offered and TlsProbeReport::Accepts use them.
inline constexpr std::string_view kTls10 = "TLS 1.0";
inline constexpr std::string_view kTls11 = "TLS 1.1";
inline constexpr std::string_view kTls12 = "TLS 1.2";
inline constexpr std::string_view kTls13 = "TLS 1.3";
inline constexpr std::string_view kTls12NoForwardSecrecy =
    "TLS 1.2 without forward secrecy (RSA key exchange)";
inline constexpr std::string_view kTls12Cbc = "TLS 1.2 CBC suites";
inline constexpr std::string_view kTls123DesRc4 = "TLS 1.2 3DES/RC4";
inline constexpr std::string_view kTls12Null = "TLS 1.2 NULL encryption";
inline constexpr std::string_view kTls12Anonymous = "TLS 1.2 anonymous (no server certificate)";
inline constexpr std::string_view kTls12Export = "TLS 1.2 export suites";

struct TlsProbeAttempt {
  std::string offered;    // one of the names above
  bool probed = true;     // false: this OpenSSL cannot offer it (see detail); accepted is false
  bool accepted = false;  // the server answered with a ServerHello selecting what was offered
  std::string suite;      // accepted: the suite the server chose ("ECDHE-RSA-AES128-SHA")
  // Accepted: the suite, " after HelloRetryRequest" if so, and how the handshake then
  // ended ("; then server sent alert: handshake failure", "; then handshake completed").
  // Refused: why ("server sent alert: protocol version", "server answered with TLS 1.2
  // instead", "server chose X, which was not offered", "connection closed by the server
  // before a ServerHello", "no answer within 2000 ms before a ServerHello").
  // Not probed: "this OpenSSL (...) cannot offer it, so the server's answer is unknown".
  std::string detail;
};

struct TlsProbeReport {
  std::string address;  // the address probed, "127.0.0.1:8443" or "[::1]:8443"
  std::vector<TlsProbeAttempt> attempts;

  // Whether the attempt named `offered` was accepted (false when there is none).
  bool Accepts(std::string_view offered) const;
  // The attempt named `offered`, or null.
  const TlsProbeAttempt* Find(std::string_view offered) const;
  // One line for an operator: "127.0.0.1:8443 accepts TLS 1.2 (ECDHE-...), TLS 1.3 (...);
  // refuses TLS 1.0, TLS 1.1, ...; not probed (this OpenSSL cannot offer them): TLS 1.2
  // 3DES/RC4, TLS 1.2 export suites".
  std::string Summary() const;
};

// Probes the TLS server at host:port (an IPv4 or IPv6 literal, or a name getaddrinfo
// resolves; the first address that accepts a TCP connection is used for every attempt).
// `timeout` bounds each attempt: the TCP connect and the wait for the server's answers.
// Unavailable when nothing accepts a TCP connection at host:port; InvalidArgument when the
// host cannot be resolved. A later attempt whose connection fails is recorded as refused.
Result<TlsProbeReport> ProbeTls(const std::string& host, uint16_t port,
                                std::chrono::milliseconds timeout);

}  // namespace tessera::guard
