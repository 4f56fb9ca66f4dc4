#include "archive/search_terms.hpp"

#include "base/utf8.hpp"

namespace tessera::archive {
namespace {

uint32_t DecodeAt(std::string_view s, size_t i, size_t len) {
  const auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(s[i + k])); };
  switch (len) {
    case 1:
      return b(0);
    case 2:
      return ((b(0) & 0x1f) << 6) | (b(1) & 0x3f);
    case 3:
      return ((b(0) & 0x0f) << 12) | ((b(1) & 0x3f) << 6) | (b(2) & 0x3f);
    default:
      return ((b(0) & 0x07) << 18) | ((b(1) & 0x3f) << 12) | ((b(2) & 0x3f) << 6) | (b(3) & 0x3f);
  }
}

bool IsCjk(uint32_t c) {
  return (c >= 0x3040 && c <= 0x30ff) ||  // Hiragana, Katakana
         (c >= 0x3100 && c <= 0x312f) ||  // Bopomofo
         (c >= 0x3400 && c <= 0x4dbf) ||  // CJK extension A
         (c >= 0x4e00 && c <= 0x9fff) ||  // CJK unified ideographs
         (c >= 0xac00 && c <= 0xd7af) ||  // Hangul syllables
         (c >= 0xf900 && c <= 0xfaff) ||  // CJK compatibility ideographs
         (c >= 0x20000 && c <= 0x3134f);  // extensions B and later
}

// Letters and digits of any script that is not CJK; the rest (spaces, punctuation, symbols,
// CJK punctuation) separates runs.
bool IsWordChar(uint32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (c >= 0x2000 && c <= 0x2bff) return false;  // punctuation, symbols, arrows, boxes
  if (c >= 0x3000 && c <= 0x303f) return false;  // CJK symbols and punctuation
  if (c >= 0xfe30 && c <= 0xfe6f) return false;  // CJK compatibility and small forms
  if (c >= 0xff00 && c <= 0xffef) return false;  // full-width punctuation (letters mapped before)
  if (c == 0xfffd || c == 0xa0 || (c >= 0x80 && c <= 0xbf) || c == 0xd7 || c == 0xf7) return false;
  return true;
}

// Xapian refuses terms longer than 245 bytes; a "word" that long is not one anybody searches.
constexpr size_t kMaxTermBytes = 200;

}  // namespace

std::vector<TextRun> SplitText(std::string_view text) {
  std::vector<TextRun> runs;
  TextRun current;
  auto flush = [&] {
    if (!current.word.empty() || !current.chars.empty()) runs.push_back(std::move(current));
    current = TextRun();
  };
  for (size_t i = 0; i < text.size();) {
    size_t len = Utf8SequenceLength(text, i);
    if (len == 0) {  // not UTF-8: a separator
      flush();
      ++i;
      continue;
    }
    uint32_t c = DecodeAt(text, i, len);
    // Full-width ASCII letters and digits are the same words.
    if ((c >= 0xff10 && c <= 0xff19) || (c >= 0xff21 && c <= 0xff3a) ||
        (c >= 0xff41 && c <= 0xff5a))
      c -= 0xfee0;
    if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
    if (IsCjk(c)) {
      if (!current.cjk) flush();
      current.cjk = true;
      std::string ch;
      AppendUtf8(ch, c);
      current.chars.push_back(std::move(ch));
    } else if (IsWordChar(c)) {
      if (current.cjk) flush();
      AppendUtf8(current.word, c);
    } else {
      flush();
    }
    i += len;
  }
  flush();
  return runs;
}

void ForEachTerm(std::string_view text, uint32_t* position,
                 const std::function<void(const std::string& term, uint32_t position)>& emit) {
  for (const TextRun& run : SplitText(text)) {
    if (!run.cjk) {
      if (run.word.size() <= kMaxTermBytes) emit(run.word, *position);
      ++*position;
      continue;
    }
    for (size_t i = 0; i < run.chars.size(); ++i) {
      emit(run.chars[i], *position + static_cast<uint32_t>(i));
      if (i + 1 < run.chars.size())
        emit(run.chars[i] + run.chars[i + 1], *position + static_cast<uint32_t>(i));
    }
    *position += static_cast<uint32_t>(run.chars.size());
  }
}

std::vector<std::string> QueryTerms(const TextRun& run) {
  if (!run.cjk) return {run.word};
  if (run.chars.size() == 1) return {run.chars[0]};
  std::vector<std::string> terms;
  for (size_t i = 0; i + 1 < run.chars.size(); ++i)
    terms.push_back(run.chars[i] + run.chars[i + 1]);
  return terms;
}

}  // namespace tessera::archive
