// How text becomes search terms, so that Chinese (and Japanese, Korean) text, which has no
// spaces between words, is found exactly. Latin-script words become lower-case terms;
// a run of CJK characters becomes each character and each pair of neighbouring characters
// (bigrams), all with positions. A query of n CJK characters then matches as the phrase of
// its n-1 bigrams at consecutive positions: exactly where those n characters stand
// together, never where they are merely all present (what plain n-gram search does).
// Full-width Latin letters and digits count as their ASCII forms.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::archive {

// One piece of text as the index sees it: a word, or a run of CJK characters (each
// character a separate UTF-8 string).
struct TextRun {
  bool cjk = false;
  std::string word;                // lower-cased; when !cjk
  std::vector<std::string> chars;  // when cjk
};

// The runs of `text` in order; punctuation, spaces and symbols separate runs.
std::vector<TextRun> SplitText(std::string_view text);

// Calls `emit(term, position)` for every term of `text`, positions counting from `*position`,
// which is advanced past the text.
void ForEachTerm(std::string_view text, uint32_t* position,
                 const std::function<void(const std::string& term, uint32_t position)>& emit);

// The bigram (or, for one character, the character) terms a query run is matched by, in order.
std::vector<std::string> QueryTerms(const TextRun& run);

}  // namespace tessera::archive
