#include "archive/mbox.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string_view>

namespace tessera::archive {

namespace {

struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};

// "From sender@example.org Thu Dec  3 06:00:00 2026": the sender, and the time (as UTC,
// which is what mbox writers mostly use; the line has no zone).
void ParseFromLine(std::string_view line, MboxMessage& m) {
  line.remove_prefix(5);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  const size_t space = line.find(' ');
  m.envelope_from = std::string(line.substr(0, space));
  if (m.envelope_from == "MAILER-DAEMON") m.envelope_from.clear();
  if (space == std::string_view::npos) return;
  std::string rest(line.substr(space + 1));
  struct tm tm {};
  const char* end = ::strptime(rest.c_str(), "%a %b %d %H:%M:%S %Y", &tm);
  if (end != nullptr) m.envelope_time = static_cast<int64_t>(::timegm(&tm));
}

// "From sender Tue Jan  2 01:00:00 2024\n", in UTC.
std::string FromLine(const std::string& sender, int64_t when) {
  char date[64] = "Thu Jan  1 00:00:00 1970";
  const time_t t = static_cast<time_t>(when);
  struct tm tm {};
  if (::gmtime_r(&t, &tm) != nullptr)
    std::strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
  return "From " + (sender.empty() ? std::string("MAILER-DAEMON") : sender) + " " + date + "\n";
}

}  // namespace

std::string MboxEntry(ByteView raw, const std::string& sender, int64_t when) {
  std::string entry;
  entry.reserve(raw.size() + raw.size() / 64 + 128);
  MboxEntryWriter writer(sender, when, [&](std::string_view bytes) {
    entry.append(bytes);
    return Status::Ok();
  });
  (void)writer.Write(raw);  // appending to a string does not fail
  (void)writer.Finish();
  return entry;
}

namespace {
constexpr size_t kEntryFlushBytes = 1 << 20;
constexpr std::string_view kFrom = "From ";
}  // namespace

MboxEntryWriter::MboxEntryWriter(const std::string& sender, int64_t when, Output out)
    : out_(std::move(out)), buffer_(FromLine(sender, when)) {}

Status MboxEntryWriter::Flush() {
  if (buffer_.empty()) return Status::Ok();
  Status st = out_(buffer_);
  buffer_.clear();
  return st;
}

Status MboxEntryWriter::Put(std::string_view bytes) {
  if (bytes.empty()) return Status::Ok();
  buffer_.append(bytes);
  last_ = bytes.back();
  empty_ = false;
  return buffer_.size() >= kEntryFlushBytes ? Flush() : Status::Ok();
}

Status MboxEntryWriter::PutQuotes(uint64_t n) {
  static const std::string kQuotes(4096, '>');
  while (n > 0) {
    const size_t take = static_cast<size_t>(std::min<uint64_t>(n, kQuotes.size()));
    TESSERA_RETURN_IF_ERROR(Put(std::string_view(kQuotes).substr(0, take)));
    n -= take;
  }
  return Status::Ok();
}

// The held-back start of a line, now that it is known whether it is ">*From ".
Status MboxEntryWriter::ResolveLineStart(bool is_from) {
  line_start_ = false;
  TESSERA_RETURN_IF_ERROR(PutQuotes(quotes_ + (is_from ? 1 : 0)));
  TESSERA_RETURN_IF_ERROR(Put(kFrom.substr(0, matched_)));
  quotes_ = 0;
  matched_ = 0;
  return Status::Ok();
}

Status MboxEntryWriter::Write(ByteView piece) {
  std::string_view text = AsString(piece);
  while (!text.empty()) {
    if (line_start_) {
      const char c = text.front();
      if (matched_ == 0 && c == '>') {
        ++quotes_;
      } else if (c == kFrom[matched_]) {
        if (++matched_ == kFrom.size()) TESSERA_RETURN_IF_ERROR(ResolveLineStart(true));
      } else {
        TESSERA_RETURN_IF_ERROR(ResolveLineStart(false));
        continue;  // `c` is an ordinary byte of the line
      }
      text.remove_prefix(1);
      continue;
    }
    const size_t lf = text.find('\n');
    const size_t take = lf == std::string_view::npos ? text.size() : lf + 1;
    TESSERA_RETURN_IF_ERROR(Put(text.substr(0, take)));
    text.remove_prefix(take);
    if (lf != std::string_view::npos) line_start_ = true;
  }
  return Status::Ok();
}

Status MboxEntryWriter::Finish() {
  if (line_start_) TESSERA_RETURN_IF_ERROR(ResolveLineStart(false));
  if (empty_ || last_ != '\n') TESSERA_RETURN_IF_ERROR(Put("\n"));
  TESSERA_RETURN_IF_ERROR(Put("\n"));
  return Flush();
}

Status ReadMbox(const std::string& path, const std::function<Status(MboxMessage&)>& message) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) return Status::FromErrno("cannot open " + path, errno);
  struct LineBuffer {
    char* data = nullptr;  // getline's, grown by it as needed
    size_t capacity = 0;
    ~LineBuffer() { std::free(data); }
  } line;
  MboxMessage current;
  bool in_message = false, previous_blank = true;
  uint64_t offset = 0, number = 0;
  auto finish = [&]() -> Status {
    if (!in_message) return Status::Ok();
    // The blank line before the next "From " line belongs to the mbox, not the message.
    Bytes& raw = current.raw;
    if (raw.size() >= 2 && raw[raw.size() - 1] == '\n' && raw[raw.size() - 2] == '\n')
      raw.pop_back();
    else if (raw.size() >= 4 && std::memcmp(raw.data() + raw.size() - 4, "\r\n\r\n", 4) == 0)
      raw.resize(raw.size() - 2);
    Status st = message(current);
    current = MboxMessage{};
    return st;
  };
  while (true) {
    errno = 0;
    const ssize_t got = ::getline(&line.data, &line.capacity, f.get());
    if (got < 0) {
      if (errno != 0 && !std::feof(f.get())) return Status::FromErrno("cannot read " + path, errno);
      break;
    }
    const std::string_view text(line.data, static_cast<size_t>(got));
    const bool from_line = text.starts_with("From ") && previous_blank;
    if (!in_message && !from_line)
      return Status::InvalidArgument(path +
                                     " is not an mbox: it does not start with a \"From \" line");
    if (from_line) {
      TESSERA_RETURN_IF_ERROR(finish());
      in_message = true;
      current.offset = offset;
      current.number = ++number;
      ParseFromLine(text, current);
    } else {
      // mboxrd: ">From ", ">>From " ... lose one '>'.
      size_t quotes = 0;
      while (quotes < text.size() && text[quotes] == '>') ++quotes;
      const bool escaped = quotes > 0 && text.substr(quotes).starts_with("From ");
      const std::string_view kept = escaped ? text.substr(1) : text;
      current.raw.insert(current.raw.end(), kept.begin(), kept.end());
    }
    previous_blank = text == "\n" || text == "\r\n";
    offset += static_cast<uint64_t>(got);
  }
  return finish();
}

}  // namespace tessera::archive
