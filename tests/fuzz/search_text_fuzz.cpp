// Fuzzes what turns user input and documents into search terms: the query language, the
// splitting of text into words and CJK runs, and the reading of XML/HTML markup from
// attachments. Any input gets a result or a clear error; terms are valid UTF-8 and short
// enough for the index; nothing crashes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "archive/attachment_text.hpp"
#include "archive/search_index.hpp"
#include "archive/search_terms.hpp"
#include "base/utf8.hpp"

using namespace tessera;
using namespace tessera::archive;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Result<SearchQuery> q = ParseSearchQuery(input);
  if (!q.ok() && q.status().message().empty()) std::abort();
  uint32_t position = 0;
  uint32_t last = 0;
  ForEachTerm(input, &position, [&](const std::string& term, uint32_t at) {
    if (term.empty() || term.size() > 245 || !IsValidUtf8(term) || at < last) std::abort();
    last = at;
  });
  for (const TextRun& run : SplitText(input))
    for (const std::string& t : QueryTerms(run))
      if (t.empty() || !IsValidUtf8(t)) std::abort();
  const std::string text = MarkupText(input);
  if (text.size() > input.size() * 4 + 4) std::abort();
  return 0;
}
