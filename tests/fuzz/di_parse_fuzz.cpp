// libFuzzer target for 公文 DI/SW files (exchange/document, document_render): whatever the
// bytes, parsing gives a document or an error that names the file, never a crash, a leak or
// a load of anything outside; a document that parses renders, its HTML has no markup of its
// own making (everything is escaped), and its attachment and recipient checks answer.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "exchange/document.hpp"
#include "exchange/document_render.hpp"

namespace {

using namespace tessera;
using namespace tessera::exchange;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void FuzzDocument(ByteView data) {
  auto doc = ParseDocument(data, "fuzz.di");
  if (!doc.ok()) {
    Check(doc.status().code() == StatusCode::kInvalidArgument);
    Check(doc.status().message().rfind("fuzz.di", 0) == 0);
    return;
  }
  for (const DocumentAttachment& a : doc->attachments) Check(IsPlainFileName(a.file_name));
  if (!doc->roster_file.empty()) Check(IsPlainFileName(doc->roster_file));
  const std::string text = RenderText(*doc);
  Check(!text.empty());
  const std::string html = RenderHtml(*doc);
  // The page's own elements only: every text from the document is escaped.
  Check(html.find("<script") == std::string::npos);
  Check(html.find("<iframe") == std::string::npos);
  Check(html.find("<img") == std::string::npos);
  Check(ArchiveFields(*doc).size() == 5);
  (void)RecipientCodes(*doc, nullptr);
  // Each declared file given once (two entities may name one file) passes the check.
  std::set<std::string> files;
  for (const DocumentAttachment& a : doc->attachments) files.insert(a.file_name);
  if (!doc->roster_file.empty()) files.insert(doc->roster_file);
  const std::vector<std::string> names(files.begin(), files.end());
  Check(CheckAttachments(*doc, names).ok());
}

void FuzzRoster(ByteView data) {
  auto roster = ParseRoster(data, "fuzz.sw");
  if (!roster.ok()) {
    Check(roster.status().message().rfind("fuzz.sw", 0) == 0);
    return;
  }
  Check(!roster->entries.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);
  FuzzDocument(input);
  FuzzRoster(input);
  return 0;
}
