// Sending a message over SMTP (RFC 5321), for re-delivering archived mail: plain TCP
// to a relay the agency runs (its own MTA, usually on the same network), EHLO, one
// transaction, every reply checked. No TLS or AUTH yet: point it at a relay that accepts
// the archive host.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
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

// Header values for the messages tessera writes itself: `text` (UTF-8) as one RFC 2047
// encoded-word, and a Unix time as an RFC 5322 date in local time with its offset.
std::string EncodedWord(const std::string& text);
std::string Rfc5322Date(int64_t unix_seconds);

// "smtp://host:port" (port default 25) to a relay; InvalidArgument otherwise.
Result<SmtpRelay> ParseSmtpUrl(const std::string& url);

// Hands a message's bytes (lines ending in LF or CRLF), in order and a piece at a time, to
// the function it is given.
using MailWriter = std::function<Status(const std::function<Status(ByteView)>&)>;
// Sends the message that `write` hands over from `from` to `recipients`, as it is handed
// over (memory stays bounded whatever its size). OK only when the relay accepted it (250
// after the final dot); otherwise the error names the command and the relay's reply
// (Unavailable when it cannot be reached or answers 4xx, InvalidArgument for 5xx). When
// `write` fails, the transaction is abandoned before the final dot (the connection is
// dropped, so the relay discards what it received: no partial message is delivered) and
// its error is returned.
Status SendMail(const SmtpRelay& relay, const std::string& from,
                const std::vector<std::string>& recipients, const MailWriter& write);

// A message turned into the text of SMTP DATA (RFC 5321 4.5.2) a piece at a time: every
// line ends in CRLF (whether it ended in LF or CRLF), a line that starts with '.' gets
// one more, and Finish() ends a last line that lacks a line break and adds the final
// ".". The output does not depend on where the message is cut into pieces; `out`
// receives it in pieces of at most about 256 KiB.
class SmtpDataEncoder {
 public:
  using Output = std::function<Status(std::string_view)>;
  explicit SmtpDataEncoder(Output out) : out_(std::move(out)) {}
  Status Write(ByteView piece);
  Status Finish();

 private:
  Status Flush();

  Output out_;
  std::string buffer_;
  bool line_start_ = true;  // the next byte starts a line
  bool held_cr_ = false;    // a CR was read and not written: it may end the line
};

}  // namespace tessera::archive
