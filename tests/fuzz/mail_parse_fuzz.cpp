// libFuzzer target for the archive's mail parsing (GMime plus the charset guessing
// around it): mail comes from anyone. Besides not crashing (and no UB): non-empty input
// always parses, every string it yields is UTF-8, and the same input parses the same way
// twice.
//
//   tests/fuzz/run.sh builds and runs it (see there for the compiler line).
#include <cstddef>
#include <cstdint>
#include <string>

#include "archive/charset.hpp"
#include "archive/mime.hpp"
#include "base/utf8.hpp"

namespace {

using namespace tessera;
using namespace tessera::archive;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void CheckText(const ParsedMessage& m) {
  Check(IsValidUtf8(m.subject) && IsValidUtf8(m.text) && IsValidUtf8(m.html) &&
        IsValidUtf8(m.message_id));
  for (const auto* list : {&m.from, &m.sender, &m.to, &m.cc, &m.bcc, &m.reply_to})
    for (const MailAddress& a : *list) Check(IsValidUtf8(a.name) && IsValidUtf8(a.email));
  for (const MailAttachment& a : m.attachments)
    Check(IsValidUtf8(a.filename) && IsValidUtf8(a.content_type));
  for (const ParsedMessage& inner : m.attached_messages) CheckText(inner);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView raw(data, size);
  auto m = ParseMessage(raw);
  Check(m.ok() == (size > 0));
  if (!m.ok()) return 0;
  CheckText(*m);
  auto again = ParseMessage(raw);
  Check(again.ok() && again->subject == m->subject && again->text == m->text &&
        again->attachments.size() == m->attachments.size());
  // The charset decoder alone, with the first line as the label.
  const std::string text(reinterpret_cast<const char*>(data), size);
  const size_t eol = text.find('\n');
  const std::string label = eol == std::string::npos ? "" : text.substr(0, eol);
  Check(IsValidUtf8(DecodeText(text, label).utf8));
  return 0;
}
