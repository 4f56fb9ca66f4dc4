#include "store/names.hpp"

#include "base/utf8.hpp"

namespace tessera::store {

namespace {

std::string Quote(std::string_view name) {
  // Names in messages are shown without their control characters.
  std::string out = "\"";
  for (char c : name.substr(0, 200)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7F) ? '?' : c;
  }
  if (name.size() > 200) out += "...";
  return out + "\"";
}

// `allow_partial_end`: the text may end with '/' (an empty last component), and its last
// component is compared as a prefix, so "." or ".." there are still rejected.
Status Validate(std::string_view s, bool allow_partial_end, const char* what) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(std::string("invalid ") + what + " " + Quote(s) + ": " + why);
  };
  if (s.size() > kMaxObjectNameSize)
    return bad("longer than " + std::to_string(kMaxObjectNameSize) + " bytes");
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return bad("contains a control character");
    size_t len = Utf8SequenceLength(s, i);
    if (len == 0) return bad("not valid UTF-8");
    i += len;
  }
  if (!s.empty() && s.front() == '/') return bad("must not start with '/'");
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('/', start);
    bool last = end == std::string_view::npos;
    std::string_view comp = s.substr(start, last ? std::string_view::npos : end - start);
    if (comp == "." || comp == "..") return bad("contains a '.' or '..' component");
    if (comp.empty() && !(last && allow_partial_end)) {
      if (last) return bad(s.empty() ? "is empty" : "must not end with '/'");
      return bad("contains an empty component ('//')");
    }
    if (last) break;
    start = end + 1;
  }
  return Status::Ok();
}

}  // namespace

Status ValidateObjectName(std::string_view name) {
  return Validate(name, false, "object name");
}

Status ValidateListPrefix(std::string_view prefix) {
  if (prefix.empty()) return Status::Ok();
  return Validate(prefix, true, "list prefix");
}

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    // The text may be part of a URL: it is not repeated in the message.
    int hi = i + 2 < s.size() ? hex(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? hex(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) return Status::InvalidArgument("malformed %-escape (expected %XX)");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace tessera::store
