// UTF-8 checks. File names, link targets and user names on Linux are bytes, not text:
// an archive of a Taiwanese file share meets Big5 names, which are not UTF-8, and JSON
// (the vault's and the CLI's format) can only carry text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tessera {

// Length of the well-formed UTF-8 sequence starting at s[i] (i < s.size()), or 0 if there
// is none there: overlong forms, surrogates and code points above U+10FFFF are not.
size_t Utf8SequenceLength(std::string_view s, size_t i);

bool IsValidUtf8(std::string_view s);

// Appends `code_point` encoded as UTF-8; surrogates and values above U+10FFFF, which are
// not characters, append nothing.
void AppendUtf8(std::string& out, uint32_t code_point);

// `s` with A–Z made a–z and every other byte as it is (addresses, MIME types, file
// extensions: ASCII by definition, or compared as if they were).
std::string AsciiLower(std::string_view s);

// `s` with every byte that is not part of a well-formed sequence replaced by U+FFFD: a
// readable stand-in for showing a name, never a way to get the name back.
std::string ToValidUtf8(std::string_view s);

// Text escaped for HTML content and attribute values (& < > " ').
std::string HtmlEscape(std::string_view text);

}  // namespace tessera
