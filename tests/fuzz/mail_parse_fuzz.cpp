// libFuzzer target for the archive's mail parsing (GMime plus the charset guessing
// around it) and mbox reading: mail comes from anyone. Besides not crashing (and no UB):
// non-empty input always parses, every string it yields is UTF-8, the same input parses
// the same way twice, and every message read from the input as an mbox comes back
// exactly when written as an mbox and read again.
//
//   tests/fuzz/run.sh builds and runs it (see there for the compiler line).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "archive/charset.hpp"
#include "archive/mbox.hpp"
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

std::string ScratchFile(int which) {
  return "/tmp/tessera-mbox-fuzz-" + std::to_string(::getpid()) + "-" + std::to_string(which);
}

void WriteScratch(const std::string& path, const void* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  Check(f != nullptr);
  Check(size == 0 || std::fwrite(data, 1, size, f) == size);
  std::fclose(f);
}

// The input read as an mbox; each message written as an mbox entry and read back.
void CheckMboxRoundTrip(const uint8_t* data, size_t size) {
  const std::string input = ScratchFile(0), output = ScratchFile(1);
  WriteScratch(input, data, size);
  std::vector<Bytes> messages;
  Status read = ReadMbox(input, [&](MboxMessage& m) {
    messages.push_back(m.raw);
    return Status::Ok();
  });
  if (!read.ok()) {
    Check(size == 0 ||
          std::string(reinterpret_cast<const char*>(data), std::min<size_t>(size, 5)) != "From ");
    return;
  }
  std::string mbox;
  for (const Bytes& m : messages) mbox += MboxEntry(m, "fuzz@x", 0);
  WriteScratch(output, mbox.data(), mbox.size());
  size_t i = 0;
  Check(ReadMbox(output,
                 [&](MboxMessage& m) {
                   Check(i < messages.size());
                   Bytes expected = messages[i++];
                   if (expected.empty() || expected.back() != '\n') expected.push_back('\n');
                   Check(m.raw == expected);
                   return Status::Ok();
                 })
            .ok() ||
        messages.empty());
  Check(i == messages.size());
  ::unlink(input.c_str());
  ::unlink(output.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CheckMboxRoundTrip(data, size);
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
