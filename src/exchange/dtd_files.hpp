// The DTD and entity files of data/di-dtd (the 公文 DTDs, version 104), compiled into the
// program: the only external entities the DI/SW parser ever loads. The table is generated
// from the files by src/exchange/CMakeLists.txt.
#pragma once

#include <span>
#include <string_view>

namespace tessera::exchange {

struct EmbeddedDtdFile {
  std::string_view system_id;  // the file's name, as a DOCTYPE or a DTD refers to it
  std::string_view text;       // its bytes, exactly as in data/di-dtd
};

// Every file of data/di-dtd but its README, in no particular order.
std::span<const EmbeddedDtdFile> EmbeddedDtdFiles();

}  // namespace tessera::exchange
