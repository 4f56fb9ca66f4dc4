#include "archive/journal.hpp"

#include <algorithm>
#include <cctype>

#include "base/clock.hpp"
#include "base/log.hpp"

namespace tessera::archive {
namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The next header field of `header` from `pos` (unfolded lines joined), or false at the
// end of the header.
bool NextField(std::string_view text, size_t& pos, std::string_view& name, std::string& value) {
  if (pos >= text.size()) return false;
  size_t end = pos;
  // A field runs to the first line break not followed by white space (folding).
  while (true) {
    size_t lf = text.find('\n', end);
    if (lf == std::string_view::npos) {
      end = text.size();
      break;
    }
    end = lf + 1;
    if (end >= text.size() || (text[end] != ' ' && text[end] != '\t')) break;
  }
  std::string_view field = text.substr(pos, end - pos);
  if (Trim(field).empty()) return false;  // the blank line that ends the header
  size_t colon = field.find(':');
  if (colon == std::string_view::npos) return false;
  name = Trim(field.substr(0, colon));
  value.clear();
  for (char c : field.substr(colon + 1))
    if (c != '\r' && c != '\n') value += c;
  pos = end;
  return true;
}

// "Name <a@b>" or "<a@b>" or "a@b" to "a@b".
std::string AddressOf(std::string_view value) {
  value = Trim(value);
  size_t open = value.rfind('<');
  if (open != std::string_view::npos) {
    size_t close = value.find('>', open);
    if (close != std::string_view::npos)
      return std::string(value.substr(open + 1, close - open - 1));
  }
  return std::string(value);
}

}  // namespace

std::vector<std::string> JournalRecipients(ByteView raw, const MailEnvelope& envelope,
                                           const JournalOptions& options) {
  std::vector<std::string> found;
  if (!options.recipients_header.empty()) {
    const std::string_view text = AsString(raw);
    size_t pos = 0;
    std::string_view name;
    std::string value;
    while (NextField(text, pos, name, value) && EqualsNoCase(name, options.recipients_header)) {
      std::string address = AddressOf(value);
      if (!address.empty() && std::find(found.begin(), found.end(), address) == found.end())
        found.push_back(std::move(address));
    }
  }
  if (found.empty()) return envelope.recipients;
  return found;
}

namespace {

Delivery JournalDelivery(const MailEnvelope& envelope, MailProtocol protocol,
                         const std::string& peer, std::vector<std::string> recipients) {
  Delivery d;
  d.source = protocol == MailProtocol::kLmtp ? "lmtp" : "smtp";
  // The peer's address without its port: a redelivery of the same message over another
  // connection is the same delivery.
  d.origin = peer.substr(0, peer.rfind(':'));
  d.envelope_from = envelope.from;
  d.recipients = std::move(recipients);
  d.received_at = NowUnixSeconds();
  return d;
}

void Logged(const AddOutcome& added, const std::string& peer, const Delivery& d) {
  spdlog::info("journal: message {} from {} {} ({} recipient(s))", added.message, peer,
               added.new_delivery ? "archived" : "was archived before", d.recipients.size());
}

}  // namespace

Status ArchiveJournaled(MessageStore& store, const MailEnvelope& envelope, MailProtocol protocol,
                        const std::string& peer, ByteView raw, const JournalOptions& options) {
  ParsedMessage parsed;
  if (auto p = ParseMessage(raw); p.ok()) {
    parsed = std::move(*p);
  } else {
    spdlog::warn("journal: a message from {} cannot be parsed ({}); archived as received", peer,
                 p.status().message());
  }
  const Delivery d =
      JournalDelivery(envelope, protocol, peer, JournalRecipients(raw, envelope, options));
  TESSERA_ASSIGN_OR_RETURN(AddOutcome added, store.Add(raw, parsed, d));
  Logged(added, peer, d);
  return Status::Ok();
}

Status ArchiveJournaledStreamed(MessageStore& store, const MailEnvelope& envelope,
                                MailProtocol protocol, const std::string& peer,
                                const MessageStore::MessageWriter& write,
                                const JournalOptions& options) {
  std::vector<std::string> recipients = envelope.recipients;
  if (!options.recipients_header.empty()) {
    // The fields that open the header are in the first bytes; the rest is not needed.
    constexpr size_t kHead = 256 * 1024;
    Bytes head;
    Status read = write([&](ByteView piece) -> Status {
      const size_t take = std::min(piece.size(), kHead - head.size());
      head.insert(head.end(), piece.begin(), piece.begin() + static_cast<std::ptrdiff_t>(take));
      return head.size() < kHead ? Status::Ok() : Status::Unavailable("enough");
    });
    if (!read.ok() && head.size() < kHead) return read;
    recipients = JournalRecipients(head, envelope, options);
  }
  const Delivery d = JournalDelivery(envelope, protocol, peer, std::move(recipients));
  TESSERA_ASSIGN_OR_RETURN(AddOutcome added, store.AddStreamed(write, d));
  Logged(added, peer, d);
  return Status::Ok();
}

}  // namespace tessera::archive
