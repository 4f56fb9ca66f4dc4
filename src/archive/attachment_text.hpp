// The text of an attachment, for search: PDF (with poppler in a helper process,
// pdf_text.hpp; poppler-data maps Traditional Chinese fonts), Office Open XML (docx, xlsx,
// pptx), OpenDocument (odt, ods, odp), HTML and plain text in whatever charset (UTF-8,
// else Big5, else GB18030, as mail really comes). Other types have no text.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "archive/mime.hpp"
#include "base/status.hpp"

namespace tessera::archive {

// The longest text kept of one attachment.
constexpr size_t kMaxAttachmentText = size_t{8} << 20;

// The attachment's text as UTF-8 ("" when its type has none). An attachment whose type
// promises text but cannot be read (a damaged PDF, a zip that is not one) is an error,
// which the caller reports and indexes the message without that text.
Result<std::string> AttachmentText(const MailAttachment& attachment);

// Runs a text filter (`argv`, e.g. pdftotext) and returns what it printed, up to
// kMaxAttachmentText; an error when it cannot run, fails, or runs longer than `limit`
// (then it is killed).
Result<std::string> RunTextFilter(std::vector<std::string> argv, std::chrono::seconds limit);

// The text of XML or HTML markup: tags dropped (ends of paragraphs, cells and lines become
// line breaks), entities decoded. Exposed for tests and fuzzing.
std::string MarkupText(std::string_view markup);

}  // namespace tessera::archive
