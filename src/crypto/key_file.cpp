#include "crypto/key_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "base/files.hpp"
#include "crypto/random.hpp"

namespace tessera::crypto {

Result<SecretBytes> LoadOrCreateKeyFile(const std::filesystem::path& path,
                                        const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::FromErrno("cannot read " + path.string(), errno);
    SecretBytes key{RandomBytes(32)};
    nlohmann::json j = {{"version", 1}, {"key", HexEncode(key.view())}};
    std::string text = j.dump() + "\n";
    Status written = WriteFileAtomic(path, std::string_view(text), 0600);
    SecureWipe(text.data(), text.size());
    TESSERA_RETURN_IF_ERROR(written);
    return key;
  }
  if ((st.st_mode & 077) != 0)
    return Status::PermissionDenied(path.string() +
                                    " can be read by others; tessera refuses to use " + what +
                                    " (chmod 600 it, and consider " + what + " exposed)");
  TESSERA_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  SecureWipe(text.data(), text.size());
  if (j.is_discarded() || !j.is_object() || !j.contains("key") || !j["key"].is_string() ||
      j.value("version", 0) != 1)
    return Status::Corruption(path.string() + " is not a key file (" + what + ")");
  auto key = HexDecode(j["key"].get<std::string>());
  if (!key.ok() || key->size() != 32)
    return Status::Corruption(path.string() + " does not hold a 32-byte key (" + what + ")");
  return SecretBytes{std::move(*key)};
}

Result<std::string> ReadPrivateKeyText(const std::filesystem::path& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound(what + " " + path.string() + " does not exist");
    return Status::FromErrno("cannot read " + path.string(), errno);
  }
  if ((st.st_mode & 077) != 0)
    return Status::PermissionDenied(path.string() +
                                    " can be read by others; tessera refuses to use " + what +
                                    " (chmod 600 it, and consider " + what + " exposed)");
  return ReadTextFile(path);
}

}  // namespace tessera::crypto
