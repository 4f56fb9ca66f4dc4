// Text in the charsets mail really uses, to UTF-8. Mail from Taiwanese agencies labels
// Big5 in many ways (big5, x-big5, ms950, cp950, big5-hkscs) and often not at all; a
// decoder that gives up on a label loses the message for search.
#pragma once

#include <string>
#include <string_view>

namespace tessera::archive {

// The iconv name for a MIME charset label ("x-big5" and "ms950" → "CP950", "gb2312" →
// "GB18030", which is a superset), or the label upper-cased when it has no alias.
std::string IconvCharsetName(std::string_view label);

struct DecodedText {
  std::string utf8;
  // How it was read: the charset used, or a note such as "undeclared; read as CP950",
  // or "…; invalid bytes replaced". Empty when the declared charset decoded cleanly.
  std::string note;
};

// Decodes `bytes` labelled `charset` (empty when undeclared). When the label is unknown,
// missing or wrong for the bytes: UTF-8 if the bytes are UTF-8, else Big5 (CP950), else
// GB18030, else UTF-8 with each invalid byte replaced by U+FFFD. Never fails.
DecodedText DecodeText(std::string_view bytes, std::string_view charset);

}  // namespace tessera::archive
