// The text of a PDF attachment, read by tessera-pdf-text (pdf_worker/main.cpp): a helper
// process started on first use and kept for the next PDFs, so that a PDF crafted to crash
// or hang the reader (poppler) cannot take the archive down, and starting poppler — most
// of the cost of a small PDF — is paid once. A helper that crashes or takes longer than
// the deadline is killed and started afresh for the next PDF. Traditional Chinese PDFs
// read through poppler-data's CMaps. Safe to call from several threads (one PDF at a time).
#pragma once

#include <chrono>
#include <string>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::archive {

// UTF-8 text, one line break after each page. InvalidArgument when the PDF cannot be read
// (damaged, encrypted, or it stopped the reader); Unavailable when the helper is missing.
Result<std::string> PdfText(ByteView pdf, std::chrono::seconds deadline = std::chrono::seconds(60));

// Where the helper is looked for: $TESSERA_PDF_TEXT, else next to this executable, else
// where the build put it. "" when none exists.
std::string PdfTextHelperPath();

}  // namespace tessera::archive
