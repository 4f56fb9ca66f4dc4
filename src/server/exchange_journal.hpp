// Every document an agency gateway sends or receives goes into the archive as one mail
// message (DESIGN.md: the exchange reaches the archive only through the gateway's
// DocumentEvent, wired here): the rendered 函 as the text, the DI fields in headers, and
// the DI, SW and attachments as attachments, so that archive search finds a document by
// 發文字號, 主旨, 發文機關, 速別 or 密等, and by its attachments' text.
#pragma once

#include <filesystem>

#include "base/status.hpp"
#include "exchange/gateway.hpp"

namespace tessera::server {

// Stores the document of `event` in the archive under `home` (<home>/archive), streaming
// the files, and then brings the search index up to date when no one else holds it (a
// running `tessera serve` indexes it within seconds otherwise). An error when the
// document could not be stored; an index that cannot be updated now is only logged.
Status JournalExchangeDocument(const std::filesystem::path& home,
                               const exchange::DocumentEvent& event);

}  // namespace tessera::server
