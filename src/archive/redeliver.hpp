// Re-delivering archived mail to a mailbox (調閱後回復): the message as archived, with the
// fields only the archive should see taken off (the journal's recipient fields, which
// name Bcc recipients) and a Resent- block (RFC 5322 3.6.6) on top saying who re-sent it,
// when, and to whom, sent through an SMTP relay.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "archive/journal.hpp"
#include "archive/message_store.hpp"
#include "archive/smtp_client.hpp"
#include "base/status.hpp"

namespace tessera::archive {

struct RedeliverOptions {
  SmtpRelay relay;
  std::string from;             // envelope sender and Resent-From
  std::vector<std::string> to;  // empty: each message's original envelope recipients
  JournalOptions journal;       // which fields to take off
  int64_t now = 0;              // Unix seconds, for Resent-Date
};

struct RedeliverResult {
  int64_t message = 0;
  std::vector<std::string> recipients;
  Status status;  // OK when the relay accepted it
};

// The bytes to send, made a piece at a time (a message may be larger than memory):
// `header` (the Resent-Date/From/To/Message-ID block) and then the message without the
// `recipients_header` fields at its top, handed to `out` in order. Only the fields being
// taken off are held, until each is known to end (more than 16 MiB of them is
// FailedPrecondition); the output does not depend on where the message is cut.
class RedeliveryWriter {
 public:
  using Output = std::function<Status(ByteView)>;
  RedeliveryWriter(std::string header, std::string recipients_header, Output out)
      : header_(std::move(header)), name_(std::move(recipients_header)), out_(std::move(out)) {}
  Status Write(ByteView piece);
  Status Finish();

 private:
  // Takes the journal's fields off the top of what is held; once the first other byte is
  // known (or at the `end`), writes the header and what follows.
  Status Strip(bool end);

  std::string header_, name_;
  Output out_;
  std::string held_;       // the top of the message, while it may still be a field to take off
  bool stripping_ = true;  // the header has not been written yet
};

// Re-delivers each message, read from the store a piece at a time and sent as it is read;
// one result per message, in order. A message whose bytes fail their check (a damaged
// piece, or the SHA-256 after the last) is not delivered: its DATA is abandoned before
// the final dot. Fails as a whole only if a message cannot be read from the store
// (NotFound, Corruption).
Result<std::vector<RedeliverResult>> Redeliver(MessageStore& store, const std::vector<int64_t>& ids,
                                               const RedeliverOptions& options);

}  // namespace tessera::archive
