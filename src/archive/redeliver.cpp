#include "archive/redeliver.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "crypto/random.hpp"

namespace tessera::archive {
namespace {

// The length of the field that starts at `pos` (folded lines included).
size_t FieldLength(std::string_view text, size_t pos) {
  size_t end = pos;
  while (true) {
    size_t lf = text.find('\n', end);
    if (lf == std::string_view::npos) return text.size() - pos;
    end = lf + 1;
    if (end >= text.size() || (text[end] != ' ' && text[end] != '\t')) return end - pos;
  }
}

bool HasName(std::string_view field, const std::string& name) {
  if (name.empty() || field.size() <= name.size() || field[name.size()] != ':') return false;
  return std::equal(name.begin(), name.end(), field.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

std::string Rfc5322Date(int64_t now) {
  std::time_t t = static_cast<std::time_t>(now);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S %z", &tm);
  return buf;
}

}  // namespace

Bytes RedeliveryMessage(ByteView raw, const std::string& resent_from,
                        const std::vector<std::string>& resent_to, int64_t now,
                        const JournalOptions& journal) {
  std::string_view text = AsString(raw);
  // The journal's recipient fields open the header (see journal.hpp): they go, so that no
  // recipient of the restored copy learns who else (Bcc) received it.
  while (!text.empty() && HasName(text, journal.recipients_header))
    text.remove_prefix(FieldLength(text, 0));
  std::string to;
  for (const std::string& r : resent_to) to += (to.empty() ? "" : ", ") + r;
  const std::string domain = resent_from.substr(resent_from.find('@') + 1);
  const std::string header = "Resent-Date: " + Rfc5322Date(now) + "\r\nResent-From: <" +
                             resent_from + ">\r\nResent-To: " + to + "\r\nResent-Message-ID: <" +
                             HexEncode(crypto::RandomBytes(12)) + ".restored@" + domain + ">\r\n";
  Bytes out(header.begin(), header.end());
  out.insert(out.end(), text.begin(), text.end());
  return out;
}

Result<std::vector<RedeliverResult>> Redeliver(MessageStore& store, const std::vector<int64_t>& ids,
                                               const RedeliverOptions& options) {
  std::vector<RedeliverResult> results;
  for (int64_t id : ids) {
    TESSERA_ASSIGN_OR_RETURN(Bytes raw, store.Raw(id));
    RedeliverResult r;
    r.message = id;
    r.recipients = options.to;
    if (r.recipients.empty()) {
      TESSERA_ASSIGN_OR_RETURN(std::vector<StoredDelivery> deliveries, store.Deliveries(id));
      for (const StoredDelivery& d : deliveries)
        for (const std::string& x : d.delivery.recipients)
          if (std::find(r.recipients.begin(), r.recipients.end(), x) == r.recipients.end())
            r.recipients.push_back(x);
    }
    if (r.recipients.empty()) {
      r.status = Status::FailedPrecondition("the archive knows no recipient of message " +
                                            std::to_string(id) + ": give --to");
    } else {
      Bytes message =
          RedeliveryMessage(raw, options.from, r.recipients, options.now, options.journal);
      r.status = SendMail(options.relay, options.from, r.recipients, message);
    }
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace tessera::archive
