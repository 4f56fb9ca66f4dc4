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

// Whether `text` is the start of `name` (or all of it), ignoring case.
bool HasPrefix(const std::string& name, std::string_view text) {
  return text.size() <= name.size() &&
         std::equal(text.begin(), text.end(), name.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

bool HasName(std::string_view field, const std::string& name) {
  return !name.empty() && field.size() > name.size() && field[name.size()] == ':' &&
         HasPrefix(name, field.substr(0, name.size()));
}

// More than the journal's fields could reasonably be: a message that opens with more is
// refused rather than held.
constexpr size_t kMaxJournalFields = 16u << 20;

std::string ResentHeader(const std::string& resent_from, const std::vector<std::string>& resent_to,
                         int64_t now) {
  std::string to;
  for (const std::string& r : resent_to) to += (to.empty() ? "" : ", ") + r;
  const std::string domain = resent_from.substr(resent_from.find('@') + 1);
  return "Resent-Date: " + Rfc5322Date(now) + "\r\nResent-From: <" + resent_from +
         ">\r\nResent-To: " + to + "\r\nResent-Message-ID: <" + HexEncode(crypto::RandomBytes(12)) +
         ".restored@" + domain + ">\r\n";
}

}  // namespace

Status RedeliveryWriter::Write(ByteView piece) {
  if (!stripping_) return out_(piece);
  held_.append(AsString(piece));
  TESSERA_RETURN_IF_ERROR(Strip(false));
  if (stripping_ && held_.size() > kMaxJournalFields)
    return Status::FailedPrecondition("the journal's " + name_ +
                                      " fields at the top of the message are larger than " +
                                      std::to_string(kMaxJournalFields >> 20) + " MiB");
  return Status::Ok();
}

Status RedeliveryWriter::Finish() {
  return stripping_ ? Strip(true) : Status::Ok();
}

Status RedeliveryWriter::Strip(bool end) {
  const std::string_view text = held_;
  size_t pos = 0;
  while (pos < text.size()) {
    const std::string_view rest = text.substr(pos);
    // Too short yet to tell whether it is one of the fields (the name and its colon).
    if (!end && rest.size() <= name_.size() && HasPrefix(name_, rest)) break;
    if (!HasName(rest, name_)) {
      stripping_ = false;
      break;
    }
    const size_t length = FieldLength(rest, 0);
    // The field ends at a line break followed by something other than a fold.
    if (!end && length == rest.size()) break;
    pos += length;
  }
  if (end) stripping_ = false;
  if (stripping_) {
    held_.erase(0, pos);
    return Status::Ok();
  }
  TESSERA_RETURN_IF_ERROR(out_(AsBytes(header_)));
  Status st = out_(AsBytes(text.substr(pos)));
  held_.clear();
  held_.shrink_to_fit();
  return st;
}

Result<std::vector<RedeliverResult>> Redeliver(MessageStore& store, const std::vector<int64_t>& ids,
                                               const RedeliverOptions& options) {
  std::vector<RedeliverResult> results;
  for (int64_t id : ids) {
    TESSERA_RETURN_IF_ERROR(store.Find(id).status());
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
      results.push_back(std::move(r));
      continue;
    }
    // The journal's recipient fields open the header (see journal.hpp): they go, so that
    // no recipient of the restored copy learns who else (Bcc) received it.
    const std::string header = ResentHeader(options.from, r.recipients, options.now);
    Status read;  // the store's failure, told apart from the relay's
    r.status = SendMail(
        options.relay, options.from, r.recipients,
        [&](const std::function<Status(ByteView)>& send) -> Status {
          Status sent;
          RedeliveryWriter writer(header, options.journal.recipients_header, [&](ByteView b) {
            sent = send(b);
            return sent;
          });
          Status st = store.ReadRaw(id, [&](ByteView piece) { return writer.Write(piece); });
          if (st.ok()) st = writer.Finish();
          if (!st.ok() && sent.ok()) read = st;
          return st;
        });
    // The relay got no final dot, so it delivers nothing of this message.
    if (!read.ok()) return read;
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace tessera::archive
