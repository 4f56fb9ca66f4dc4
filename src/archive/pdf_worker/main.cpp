// tessera-pdf-text: reads PDFs and answers with their text, one after another, for as long
// as its caller keeps it (archive/pdf_text.hpp). Kept out of tessera's own process so that
// a PDF crafted to crash or exhaust the reader takes only this process down; kept running
// so that starting poppler costs once, not once per PDF.
//
// Protocol on standard input and output, little-endian:
//   request   u32 length, then that many bytes of PDF
//   response  u8 status (0: text follows, 1: an explanation follows), u32 length, bytes
// It ends on end of input.
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr uint32_t kMaxPdf = uint32_t{512} << 20;
constexpr size_t kMaxText = size_t{8} << 20;  // = kMaxAttachmentText

bool ReadExactly(void* out, size_t n) {
  auto* p = static_cast<char*>(out);
  while (n > 0) {
    const ssize_t got = ::read(0, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

bool WriteExactly(const void* data, size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t put = ::write(1, p, n);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    p += put;
    n -= static_cast<size_t>(put);
  }
  return true;
}

bool Answer(uint8_t status, const std::string& body) {
  const uint32_t n = static_cast<uint32_t>(body.size());
  const uint8_t header[5] = {status, static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8),
                             static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 24)};
  return WriteExactly(header, sizeof header) && WriteExactly(body.data(), body.size());
}

void Silent(const std::string&, void*) {}

}  // namespace

int main() {
#ifndef __SANITIZE_ADDRESS__  // (AddressSanitizer reserves terabytes of address space)
  // A hostile PDF may try to exhaust memory: this process, not the archive, runs out.
  const rlimit memory{rlim_t{2} << 30, rlim_t{2} << 30};
  ::setrlimit(RLIMIT_AS, &memory);
#endif
  poppler::set_debug_error_function(Silent, nullptr);
  while (true) {
    uint8_t length[4];
    if (!ReadExactly(length, sizeof length)) return 0;
    const uint32_t n = length[0] | (uint32_t{length[1]} << 8) | (uint32_t{length[2]} << 16) |
                       (uint32_t{length[3]} << 24);
    if (n > kMaxPdf) return 2;  // the caller never sends one so large: not our caller
    std::vector<char> pdf(n);
    if (!ReadExactly(pdf.data(), n)) return 0;
    std::unique_ptr<poppler::document> doc(poppler::document::load_from_raw_data(pdf.data(), n));
    bool sent;
    if (!doc) {
      sent = Answer(1, "not a PDF poppler can read");
    } else if (doc->is_locked()) {
      sent = Answer(1, "the PDF is encrypted");
    } else {
      std::string text;
      for (int i = 0; i < doc->pages() && text.size() < kMaxText; ++i) {
        std::unique_ptr<poppler::page> page(doc->create_page(i));
        if (!page) continue;
        const poppler::byte_array utf8 = page->text().to_utf8();
        text.append(utf8.begin(), utf8.end());
        text += '\n';
      }
      if (text.size() > kMaxText) text.resize(kMaxText);
      sent = Answer(0, text);
    }
    if (!sent) return 0;
  }
}
