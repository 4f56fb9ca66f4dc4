#include "archive/smtp_session.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace tessera::archive {
namespace {

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The ESMTP parameters after the path: "SIZE=123 BODY=8BITMIME".
std::string_view ParametersAfterPath(std::string_view argument) {
  size_t close = argument.find('>');
  if (close == std::string_view::npos) {
    argument = TrimSpaces(argument);
    size_t space = argument.find(' ');
    return space == std::string_view::npos ? std::string_view() : argument.substr(space + 1);
  }
  return argument.substr(close + 1);
}

// The value of SIZE= among the parameters, or 0.
uint64_t DeclaredSize(std::string_view parameters) {
  while (!parameters.empty()) {
    parameters = TrimSpaces(parameters);
    size_t end = parameters.find(' ');
    std::string_view p = parameters.substr(0, end);
    if (StartsWithNoCase(p, "SIZE=")) {
      uint64_t size = 0;
      std::from_chars(p.data() + 5, p.data() + p.size(), size);
      return size;
    }
    if (end == std::string_view::npos) break;
    parameters.remove_prefix(end);
  }
  return 0;
}

}  // namespace

Result<std::string> ParseMailPath(std::string_view argument) {
  argument = TrimSpaces(argument);
  std::string_view path;
  if (!argument.empty() && argument.front() == '<') {
    size_t close = argument.find('>');
    if (close == std::string_view::npos)
      return Status::InvalidArgument("5.5.4 Syntax error: the path has no closing '>'");
    path = argument.substr(1, close - 1);
  } else {
    path = argument.substr(0, argument.find(' '));
  }
  // A source route ("@a,@b:user@host") is obsolete; its last part is the mailbox.
  if (!path.empty() && path.front() == '@') {
    size_t colon = path.find(':');
    if (colon == std::string_view::npos)
      return Status::InvalidArgument("5.1.7 Syntax error in the source route");
    path.remove_prefix(colon + 1);
  }
  for (char c : path)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '<' || c == '>' || c == ' ')
      return Status::InvalidArgument("5.1.7 Syntax error: a character not allowed in a path");
  return std::string(path);
}

SmtpSession::SmtpSession(MailProtocol protocol, std::string hostname, SessionLimits limits)
    : protocol_(protocol), hostname_(std::move(hostname)), limits_(limits) {}

std::string SmtpSession::Greeting() const {
  return "220 " + hostname_ + (protocol_ == MailProtocol::kLmtp ? " LMTP" : " ESMTP") +
         " tessera archive ready\r\n";
}

void SmtpSession::ResetTransaction() {
  envelope_.from.clear();
  envelope_.recipients.clear();
  message_.clear();
  message_.shrink_to_fit();
  oversized_ = false;
  line_continues_ = false;
  if (state_ != State::kStart && state_ != State::kClosed) state_ = State::kGreeted;
}

SmtpSession::Step SmtpSession::Error(std::string reply) {
  if (++errors_ >= limits_.max_errors) {
    state_ = State::kClosed;
    return {"421 4.7.0 " + hostname_ + " Too many errors, closing the connection\r\n", false, true};
  }
  return {std::move(reply), false, false};
}

SmtpSession::Step SmtpSession::OnLine(std::string_view line, bool partial) {
  switch (state_) {
    case State::kData:
      return OnDataLine(line, partial);
    case State::kClosed:
      return {"", false, true};
    case State::kMessageReady:
      return Error("503 5.5.1 The previous message is still being stored\r\n");
    default:
      break;
  }
  // A command line that came in pieces is too long; it is answered once, at its end.
  if (partial || line_continues_) {
    line_continues_ = partial;
    if (partial) return {};
    return Error("500 5.5.2 Line too long\r\n");
  }
  if (line.size() > limits_.max_command_line) return Error("500 5.5.2 Line too long\r\n");
  return OnCommand(line);
}

SmtpSession::Step SmtpSession::OnCommand(std::string_view line) {
  const size_t space = line.find(' ');
  const std::string verb = Upper(line.substr(0, space));
  const std::string_view argument =
      space == std::string_view::npos ? std::string_view() : TrimSpaces(line.substr(space + 1));
  const bool lmtp = protocol_ == MailProtocol::kLmtp;

  if (verb == "QUIT") {
    state_ = State::kClosed;
    return {"221 2.0.0 " + hostname_ + " Bye\r\n", false, true};
  }
  if (verb == "NOOP") return {"250 2.0.0 Ok\r\n"};
  if (verb == "RSET") {
    ResetTransaction();
    return {"250 2.0.0 Ok\r\n"};
  }
  if (verb == "VRFY") return {"252 2.5.0 Cannot VRFY the user; the message will be archived\r\n"};
  if (verb == "HELP")
    return {"214 2.0.0 Commands: " + std::string(lmtp ? "LHLO" : "HELO EHLO") +
            " MAIL RCPT DATA RSET NOOP VRFY QUIT\r\n"};
  if (verb == "EHLO" || verb == "HELO" || verb == "LHLO") {
    if ((verb == "LHLO") != lmtp)
      return Error(lmtp ? "500 5.5.1 This is an LMTP server: use LHLO\r\n"
                        : "500 5.5.1 This is an SMTP server: use EHLO or HELO\r\n");
    if (argument.empty()) return Error("501 5.5.4 Syntax: " + verb + " hostname\r\n");
    state_ = State::kGreeted;
    ResetTransaction();
    envelope_.helo = std::string(argument);
    if (verb == "HELO") return {"250 " + hostname_ + "\r\n"};
    return {"250-" + hostname_ + "\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n" +
            "250-ENHANCEDSTATUSCODES\r\n250 SIZE " + std::to_string(limits_.max_message_bytes) +
            "\r\n"};
  }
  if (verb == "MAIL") {
    if (state_ == State::kStart)
      return Error("503 5.5.1 Say " + std::string(lmtp ? "LHLO" : "EHLO") + " first\r\n");
    if (state_ == State::kMail) return Error("503 5.5.1 Nested MAIL command\r\n");
    if (!StartsWithNoCase(argument, "FROM:"))
      return Error("501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
    Result<std::string> path = ParseMailPath(argument.substr(5));
    if (!path.ok()) return Error("501 " + path.status().message() + "\r\n");
    if (DeclaredSize(ParametersAfterPath(argument.substr(5))) > limits_.max_message_bytes)
      return Error("552 5.3.4 Message size exceeds the limit of " +
                   std::to_string(limits_.max_message_bytes) + " bytes\r\n");
    envelope_.from = std::move(*path);
    state_ = State::kMail;
    return {"250 2.1.0 Ok\r\n"};
  }
  if (verb == "RCPT") {
    if (state_ != State::kMail) return Error("503 5.5.1 Need MAIL before RCPT\r\n");
    if (!StartsWithNoCase(argument, "TO:")) return Error("501 5.5.4 Syntax: RCPT TO:<address>\r\n");
    Result<std::string> path = ParseMailPath(argument.substr(3));
    if (!path.ok()) return Error("501 " + path.status().message() + "\r\n");
    if (path->empty()) return Error("501 5.1.3 An empty recipient address\r\n");
    if (envelope_.recipients.size() >= limits_.max_recipients)
      return {"452 4.5.3 Too many recipients\r\n"};
    envelope_.recipients.push_back(std::move(*path));
    return {"250 2.1.5 Ok\r\n"};
  }
  if (verb == "DATA") {
    if (state_ != State::kMail || envelope_.recipients.empty())
      return Error("503 5.5.1 Need RCPT before DATA\r\n");
    state_ = State::kData;
    return {"354 End data with <CR><LF>.<CR><LF>\r\n"};
  }
  if (verb == "STARTTLS" || verb == "AUTH" || verb == "BDAT" || verb == "ETRN" || verb == "TURN")
    return Error("502 5.5.1 Not implemented\r\n");
  return Error("500 5.5.2 Unknown command\r\n");
}

SmtpSession::Step SmtpSession::OnDataLine(std::string_view line, bool partial) {
  const bool line_start = !line_continues_;
  line_continues_ = partial;
  if (line_start && !partial && line == ".") {
    if (oversized_) {
      const size_t replies = protocol_ == MailProtocol::kLmtp ? envelope_.recipients.size() : 1;
      std::string reply;
      for (size_t i = 0; i < replies; ++i)
        reply += "552 5.3.4 Message size exceeds the limit of " +
                 std::to_string(limits_.max_message_bytes) + " bytes\r\n";
      ResetTransaction();
      return {std::move(reply)};
    }
    state_ = State::kMessageReady;
    return {"", true, false};
  }
  if (line_start && !line.empty() && line.front() == '.') line.remove_prefix(1);
  if (oversized_) return {};
  const size_t adding = line.size() + (partial ? 0 : 2);
  if (message_.size() + adding > limits_.max_message_bytes) {
    // The rest is read and dropped: the reply comes after the final dot, as RFC 5321 wants.
    oversized_ = true;
    message_.clear();
    message_.shrink_to_fit();
    return {};
  }
  message_.insert(message_.end(), line.begin(), line.end());
  if (!partial) {
    message_.push_back('\r');
    message_.push_back('\n');
  }
  return {};
}

std::string SmtpSession::Finish(const Status& stored) {
  std::string reply;
  if (state_ != State::kMessageReady) return "503 5.5.1 No message to finish\r\n";
  const size_t replies = protocol_ == MailProtocol::kLmtp ? envelope_.recipients.size() : 1;
  for (size_t i = 0; i < replies; ++i) {
    if (stored.ok()) {
      reply += protocol_ == MailProtocol::kLmtp
                   ? "250 2.1.5 <" + envelope_.recipients[i] + "> archived\r\n"
                   : "250 2.0.0 Ok: archived\r\n";
    } else {
      // 4xx: the sender keeps the message queued and tries again.
      reply += "451 4.3.0 The archive could not store the message; try again later\r\n";
    }
  }
  state_ = State::kGreeted;
  ResetTransaction();
  return reply;
}

}  // namespace tessera::archive
