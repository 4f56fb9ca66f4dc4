// libxml2 set up safely for 公文 XML (the module's own machinery behind document.hpp).
// ParseValidated reads a DI or SW file without loading anything from outside: the only
// external entities it ever loads are the DTDs compiled into the program (dtd_files.hpp),
// served by their system ids; every other one is refused. The document's DOCTYPE may
// declare unparsed entities (attachments) and notations only; any other declaration there
// stops the parse at once, before anything could be expanded. The document is then
// validated against the compiled-in DTD its DOCTYPE (or its root element) names.
// Every call has its own parser and validation contexts and reports errors through them
// (no global error handler), so calls on different threads run at once.
#pragma once

#include <libxml/tree.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::exchange {

enum class DtdKind { kLetter /*函*/, kMemo /*簽*/, kRoster /*交換表單*/ };

struct XmlDocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using XmlDocument = std::unique_ptr<xmlDoc, XmlDocFree>;

struct ValidatedXml {
  XmlDocument doc;
  DtdKind kind = DtdKind::kLetter;
};

// Parses `data` and validates it against the DTD of its kind, which must be one of
// `accepted`. InvalidArgument "<file_name> line N: <what is wrong>" (several problems
// joined by "; ") when it is not well-formed, not valid, or declares what it may not;
// files larger than kMaxDocumentBytes (document.hpp) are refused unread.
Result<ValidatedXml> ParseValidated(ByteView data, std::string_view file_name,
                                    std::span<const DtdKind> accepted);

// "letter.di line 12" (or "letter.di" when the line is unknown, 0).
std::string Where(std::string_view file_name, long line);

}  // namespace tessera::exchange
