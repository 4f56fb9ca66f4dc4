// A local key file: 32 random bytes in a small JSON file readable by its owner only
// ({"version":1,"key":"<hex>"}), created on first use. One that others can read is
// refused: the key must then be taken as exposed.
#pragma once

#include <filesystem>
#include <string>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::crypto {

// Loads the key at `path`, or creates it when there is none. `what` names the key in
// errors ("the archive key"). PermissionDenied when others can read the file, Corruption
// when it does not hold a key.
Result<SecretBytes> LoadOrCreateKeyFile(const std::filesystem::path& path, const std::string& what);

// The text of a private key file (PEM), which only its owner may read: NotFound when it
// is missing, PermissionDenied when others can read it (the key must then be taken as
// exposed). The caller wipes the text when done.
Result<std::string> ReadPrivateKeyText(const std::filesystem::path& path, const std::string& what);

}  // namespace tessera::crypto
