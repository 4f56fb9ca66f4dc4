// Mail that an MTA journals to the archive over LMTP or SMTP, and what its envelope
// means. Postfix's always_bcc copy carries only the journal address as its envelope
// recipient; the true recipients (Bcc included) come in header fields the MTA prepends
// for the archive (X-Envelope-To unless configured otherwise; README "Journaling from
// Postfix"). Those fields count only at the very top of the header, where the MTA puts
// them: a sender cannot forge recipients by writing such a field into its message.
#pragma once

#include <string>
#include <vector>

#include "archive/message_store.hpp"
#include "archive/smtp_session.hpp"
#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::archive {

struct JournalOptions {
  std::string recipients_header = "X-Envelope-To";  // "" to use the envelope only
};

// The message's true recipients: the values of the `recipients_header` fields that open
// its header (in order, without duplicates), or else the envelope's recipients.
std::vector<std::string> JournalRecipients(ByteView raw, const MailEnvelope& envelope,
                                           const JournalOptions& options);

// Parses and archives one message received from `peer`. A message that cannot be parsed
// is archived as received all the same; only a storage failure is an error.
Status ArchiveJournaled(MessageStore& store, const MailEnvelope& envelope, MailProtocol protocol,
                        const std::string& peer, ByteView raw, const JournalOptions& options);
// The same for a message too large to hold in memory, given as MessageStore::AddStreamed
// takes it (its header is read from the first pieces it gives).
Status ArchiveJournaledStreamed(MessageStore& store, const MailEnvelope& envelope,
                                MailProtocol protocol, const std::string& peer,
                                const MessageStore::MessageWriter& write,
                                const JournalOptions& options);

}  // namespace tessera::archive
