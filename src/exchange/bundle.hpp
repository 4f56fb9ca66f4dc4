// The content a sending agency signs and encrypts (docs/exchange-protocol.md, "Bundle"):
//   "TSXB1\n", the manifest's length (8 decimal digits) and "\n", the manifest (JSON:
//   version, document, roster, and every file's name, size and SHA-256 in order), then
//   the files' bytes one after another.
// Plain names only; every size and hash is checked when the bundle is unpacked.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/status.hpp"

namespace tessera::exchange {

struct BundleManifest {
  int version = 1;
  std::string document;                  // the DI's file name
  std::string roster;                    // the SW's file name, "" for none
  std::vector<std::string> attachments;  // file names
};

struct BundleInput {
  std::filesystem::path document;
  std::filesystem::path roster;  // empty for none
  std::vector<std::filesystem::path> attachments;
};

// Writes the bundle of `input` (files named by their base names, which must be distinct)
// to `out` durably.
Status WriteBundle(const BundleInput& input, const std::filesystem::path& out);
// Unpacks `bundle` into the empty directory `dir`, refusing anything but plain names and
// regular files; Corruption when the manifest and the members disagree.
Result<BundleManifest> ExtractBundle(const std::filesystem::path& bundle,
                                     const std::filesystem::path& dir);

}  // namespace tessera::exchange
