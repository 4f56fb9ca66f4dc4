// libFuzzer target for what the S3 store parses: ListObjectsV2 answers (written by a
// cloud, so untrusted), XML character references in them, and s3:// URLs (typed by
// people). Besides not crashing (and no UB): an error always says something, an accepted
// URL's canonical form parses again to the same canonical form, and unescaping never
// makes text longer.
//
//   tests/fuzz/run.sh builds and runs it (see there for the compiler line).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/s3_store.hpp"

namespace {

using namespace tessera;
using namespace tessera::store;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  auto page = ParseListObjectsV2(text);
  if (!page.ok()) Check(!page.status().message().empty());

  Check(XmlUnescape(text).size() <= text.size());

  auto url = ParseS3Url(text);
  if (url.ok()) {
    const std::string canonical = FormatS3Url(*url);
    auto again = ParseS3Url(canonical);
    Check(again.ok());
    Check(FormatS3Url(*again) == canonical);
  } else {
    Check(!url.status().message().empty());
  }
  return 0;
}
