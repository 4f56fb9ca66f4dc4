// Re-delivering archived mail to a mailbox (調閱後回復): the message as archived, with the
// fields only the archive should see taken off (the journal's recipient fields, which
// name Bcc recipients) and a Resent- block (RFC 5322 3.6.6) on top saying who re-sent it,
// when, and to whom, sent through an SMTP relay.
#pragma once

#include <cstdint>
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

// The bytes to send: `raw` without the journal's recipient fields at its top, under a
// Resent-Date/From/To/Message-ID block.
Bytes RedeliveryMessage(ByteView raw, const std::string& resent_from,
                        const std::vector<std::string>& resent_to, int64_t now,
                        const JournalOptions& journal);

// Re-delivers each message; one result per message, in order. Fails as a whole only if a
// message cannot be read from the store (NotFound, Corruption).
Result<std::vector<RedeliverResult>> Redeliver(MessageStore& store, const std::vector<int64_t>& ids,
                                               const RedeliverOptions& options);

}  // namespace tessera::archive
