// Sending a message over SMTP (RFC 5321), for re-delivering archived mail: plain TCP
// to a relay the agency runs (its own MTA, usually on the same network), EHLO, one
// transaction, every reply checked. No TLS or AUTH yet: point it at a relay that accepts
// the archive host.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::archive {

struct SmtpRelay {
  std::string host = "127.0.0.1";
  uint16_t port = 25;
  std::string helo = "localhost";
  std::chrono::seconds timeout{60};  // per reply
};

// "smtp://host:port" (port default 25) to a relay; InvalidArgument otherwise.
Result<SmtpRelay> ParseSmtpUrl(const std::string& url);

// Sends `message` (lines ending in LF or CRLF) from `from` to `recipients`. OK only when
// the relay accepted it (250 after the final dot); otherwise the error names the command
// and the relay's reply (Unavailable when it cannot be reached or answers 4xx,
// InvalidArgument for 5xx).
Status SendMail(const SmtpRelay& relay, const std::string& from,
                const std::vector<std::string>& recipients, ByteView message);

}  // namespace tessera::archive
