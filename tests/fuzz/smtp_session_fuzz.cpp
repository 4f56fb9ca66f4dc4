// Fuzzes the SMTP/LMTP session (the listener's protocol parser) and the reading of the
// journal's recipient fields: any byte stream from a client gets well-formed replies, a
// stored message never exceeds the limit, and nothing crashes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "archive/journal.hpp"
#include "archive/smtp_session.hpp"

using namespace tessera;
using namespace tessera::archive;

namespace {

void CheckReplies(const std::string& replies) {
  // Every reply line is "DDD " or "DDD-" followed by text and CRLF.
  size_t start = 0;
  while (start < replies.size()) {
    size_t end = replies.find("\r\n", start);
    if (end == std::string::npos || end - start < 4) std::abort();
    for (size_t i = start; i < start + 3; ++i)
      if (replies[i] < '0' || replies[i] > '9') std::abort();
    if (replies[start + 3] != ' ' && replies[start + 3] != '-') std::abort();
    start = end + 2;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte chooses the protocol, where lines are cut short (as the listener does
  // with long lines), and whether stores fail.
  const uint8_t mode = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  SessionLimits limits;
  limits.max_message_bytes = 2048;
  limits.max_command_line = 200;
  limits.max_errors = 1000;
  const size_t piece = 16 + (mode >> 3) * 8;
  SmtpSession s(mode & 1 ? MailProtocol::kLmtp : MailProtocol::kSmtp, "fuzz.test", limits);
  CheckReplies(s.Greeting());
  size_t start = 0;
  while (start < input.size()) {
    size_t lf = input.find('\n', start);
    std::string_view line =
        input.substr(start, (lf == std::string_view::npos ? input.size() : lf) - start);
    start = lf == std::string_view::npos ? input.size() : lf + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    SmtpSession::Step step;
    while (true) {
      const bool partial = (mode & 2) && line.size() > piece;
      step = s.OnLine(line.substr(0, partial ? piece : line.size()), partial);
      CheckReplies(step.reply);
      if (!partial || step.close) break;
      line.remove_prefix(piece);
    }
    if (step.message_ready) {
      MailEnvelope envelope = s.envelope();
      if (envelope.recipients.empty()) std::abort();
      Bytes message = s.TakeMessage();
      if (message.size() > limits.max_message_bytes) std::abort();
      std::vector<std::string> recipients = JournalRecipients(message, envelope, {});
      if (recipients.empty()) std::abort();
      std::string replies = s.Finish((mode & 4) ? Status::IOError("x") : Status::Ok());
      CheckReplies(replies);
      if (replies.empty()) std::abort();
    }
    if (step.close) {
      if (!s.OnLine("NOOP").close) std::abort();
      break;
    }
  }
  return 0;
}
