// The server side of one SMTP (RFC 5321) or LMTP (RFC 2033) conversation, as a state
// machine over lines: it owns no socket, so every path through the protocol is testable
// and fuzzable, and the network code only moves lines in and replies out.
//
// The archive accepts mail for any recipient (it is a journal, not a mailbox): a message
// is acknowledged only after the caller has stored it and says so with Finish(). The
// session advertises PIPELINING, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES and SIZE; it
// never offers STARTTLS or AUTH (the listener is meant for loopback or an allow-listed MTA).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::archive {

enum class MailProtocol { kSmtp, kLmtp };

struct SessionLimits {
  uint64_t max_message_bytes = uint64_t{64} << 20;
  size_t max_recipients = 1000;
  size_t max_command_line = 4096;  // bytes of a command line, CRLF excluded
  int max_errors = 20;             // unknown or misplaced commands before the session is closed
};

struct MailEnvelope {
  std::string helo;                     // what the client said in HELO/EHLO/LHLO
  std::string from;                     // reverse-path without brackets; "" for <>
  std::vector<std::string> recipients;  // forward-paths without brackets, in order
};

class SmtpSession {
 public:
  SmtpSession(MailProtocol protocol, std::string hostname, SessionLimits limits = {});

  // The 220 banner to send when the connection opens.
  std::string Greeting() const;

  struct Step {
    std::string reply;           // to send now (CRLF-terminated lines); may be empty
    bool message_ready = false;  // a message is complete: store it, then call Finish()
    bool close = false;          // send the reply, then close the connection
  };
  // One line as received, without its CRLF (a bare LF also ends a line). Lines longer than
  // the reader's buffer may arrive in pieces with `partial` set on all but the last.
  Step OnLine(std::string_view line, bool partial = false);

  // Valid while a message is ready, until Finish().
  const MailEnvelope& envelope() const { return envelope_; }
  // The message as received, dot-stuffing undone, lines ending in CRLF.
  Bytes TakeMessage() { return std::move(message_); }

  // The replies to the ready message after the caller tried to store it: for LMTP one per
  // recipient, for SMTP one. A failed store answers 451 (try again later), never 5xx, so
  // the sending MTA keeps the message queued.
  std::string Finish(const Status& stored);

  // Whether the session is inside DATA (the network code may then read bigger blocks).
  bool in_data() const { return state_ == State::kData; }

 private:
  enum class State { kStart, kGreeted, kMail, kData, kMessageReady, kClosed };
  Step OnCommand(std::string_view line);
  Step OnDataLine(std::string_view line, bool partial);
  Step Error(std::string reply);
  void ResetTransaction();

  MailProtocol protocol_;
  std::string hostname_;
  SessionLimits limits_;
  State state_ = State::kStart;
  MailEnvelope envelope_;
  Bytes message_;
  bool oversized_ = false;
  bool line_continues_ = false;  // the previous data piece was partial
  int errors_ = 0;
};

// The path inside "<...>" of a MAIL FROM:/RCPT TO: argument ("FROM:<a@b> SIZE=10" gives
// "a@b"), tolerating a space after the colon and a missing pair of brackets; InvalidArgument
// when there is no path or it is malformed.
Result<std::string> ParseMailPath(std::string_view argument);

}  // namespace tessera::archive
