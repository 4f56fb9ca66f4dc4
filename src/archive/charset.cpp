#include "archive/charset.hpp"

#include <errno.h>
#include <iconv.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "base/utf8.hpp"

namespace tessera::archive {

namespace {

// Converts all of `in` or nothing.
std::optional<std::string> Convert(std::string_view in, const std::string& from) {
  iconv_t cd = ::iconv_open("UTF-8", from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out(in.size() * 3 + 16, '\0');
  char* src = const_cast<char*>(in.data());
  size_t src_left = in.size();
  char* dst = out.data();
  size_t dst_left = out.size();
  bool ok = true;
  while (src_left > 0) {
    if (::iconv(cd, &src, &src_left, &dst, &dst_left) != static_cast<size_t>(-1)) continue;
    if (errno == E2BIG) {
      const size_t used = out.size() - dst_left;
      out.resize(out.size() * 2);
      dst = out.data() + used;
      dst_left = out.size() - used;
      continue;
    }
    ok = false;  // EILSEQ or EINVAL: bytes the charset does not have, or cut short
    break;
  }
  // Flushes a stateful encoding's shift state (ISO-2022-JP).
  if (ok && ::iconv(cd, nullptr, nullptr, &dst, &dst_left) == static_cast<size_t>(-1)) ok = false;
  ::iconv_close(cd);
  if (!ok) return std::nullopt;
  out.resize(out.size() - dst_left);
  return out;
}

}  // namespace

std::string IconvCharsetName(std::string_view label) {
  std::string l(label);
  std::transform(l.begin(), l.end(), l.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  l.erase(0, l.find_first_not_of(" \t\"'"));
  l.erase(l.find_last_not_of(" \t\"'") + 1);
  struct Alias {
    const char* label;
    const char* iconv;
  };
  // Microsoft's Big5 (CP950) is what "Big5" means in practice: it has the characters
  // (like 碁 and 銹) and the euro sign that strict Big5 lacks.
  static constexpr Alias kAliases[] = {
      {"big5", "CP950"},        {"big-5", "CP950"},
      {"x-big5", "CP950"},      {"cn-big5", "CP950"},
      {"csbig5", "CP950"},      {"ms950", "CP950"},
      {"cp950", "CP950"},       {"x-x-big5", "CP950"},
      {"windows-950", "CP950"}, {"big5-hkscs", "BIG5-HKSCS"},
      {"gb2312", "GB18030"},    {"x-gbk", "GB18030"},
      {"gbk", "GB18030"},       {"cp936", "GB18030"},
      {"euc-cn", "GB18030"},    {"x-euc-cn", "GB18030"},
      {"csgb2312", "GB18030"},  {"gb18030", "GB18030"},
      {"utf8", "UTF-8"},        {"x-unknown", ""},
      {"unknown-8bit", ""},     {"us-ascii", "UTF-8"},
      {"ascii", "UTF-8"},       {"ks_c_5601-1987", "CP949"},
  };
  for (const Alias& a : kAliases)
    if (l == a.label) return a.iconv;
  std::transform(l.begin(), l.end(), l.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return l;
}

DecodedText DecodeText(std::string_view bytes, std::string_view charset) {
  const std::string declared = IconvCharsetName(charset);
  if (!declared.empty()) {
    if (declared == "UTF-8") {
      if (IsValidUtf8(bytes)) return {std::string(bytes), ""};
    } else if (auto text = Convert(bytes, declared)) {
      return {std::move(*text), ""};
    }
  }
  const std::string why = declared.empty()
                              ? std::string("undeclared")
                              : "declared " + std::string(charset) + " but not decodable as such";
  if (IsValidUtf8(bytes))
    return {std::string(bytes), declared.empty() ? "" : why + "; read as UTF-8"};
  for (const char* guess : {"CP950", "GB18030"})
    if (auto text = Convert(bytes, guess)) return {std::move(*text), why + "; read as " + guess};
  return {ToValidUtf8(bytes), why + "; invalid bytes replaced"};
}

}  // namespace tessera::archive
