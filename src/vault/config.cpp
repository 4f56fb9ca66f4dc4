#include "vault/config.hpp"

#include <nlohmann/json.hpp>

#include "base/json_fields.hpp"
#include "erasure/reed_solomon.hpp"

namespace tessera::vault {

using nlohmann::json;

Status ValidateConfig(const VaultConfig& c) {
  if (c.n < 1 || c.n > erasure::kMaxShards)
    return Status::InvalidArgument("a vault has 1 to " + std::to_string(erasure::kMaxShards) +
                                   " stores, not " + std::to_string(c.n));
  if (c.k < 1 || c.k > c.n)
    return Status::InvalidArgument("the threshold must be between 1 and the number of stores (" +
                                   std::to_string(c.n) + "), not " + std::to_string(c.k));
  if (c.min_write < c.k || c.min_write > c.n)
    return Status::InvalidArgument("--min-stores must be between the threshold (" +
                                   std::to_string(c.k) + ") and the number of stores (" +
                                   std::to_string(c.n) + ")");
  if (static_cast<int>(c.stores.size()) != c.n)
    return Status::InvalidArgument("the configuration lists " + std::to_string(c.stores.size()) +
                                   " stores for n=" + std::to_string(c.n));
  if (c.vault_id.size() != 32) return Status::InvalidArgument("vault id must be 32 hex digits");
  if (c.custodians < 0 || c.custodians > 255 || c.quorum < 0 || c.quorum > c.custodians ||
      (c.custodians > 0 && c.quorum < 1))
    return Status::InvalidArgument("--quorum must be between 1 and --custodians");
  const ChunkerParams& p = c.chunker;
  if (p.min_size < 4096 || p.avg_size <= p.min_size || p.max_size <= p.avg_size ||
      (p.avg_size & (p.avg_size - 1)) != 0 || p.max_size > 64 * 1024 * 1024)
    return Status::InvalidArgument("invalid chunker parameters");
  // Index entries hold 32-bit offsets into a pack; tiny packs only make sense in tests.
  if (c.pack_size < 64 * 1024 || c.pack_size > 1024 * 1024 * 1024)
    return Status::InvalidArgument("the pack size must be between 64 KiB and 1 GiB");
  return Status::Ok();
}

Bytes SerializeConfig(const VaultConfig& c) {
  json j = {
      {"format", "tessera-vault-config"},
      {"version", 1},
      {"vault_id", c.vault_id},
      {"k", c.k},
      {"n", c.n},
      {"min_write", c.min_write},
      {"stores", c.stores},
      {"chunker",
       {{"min", c.chunker.min_size}, {"avg", c.chunker.avg_size}, {"max", c.chunker.max_size}}},
      {"pack_size", c.pack_size},
      {"custodians", c.custodians},
      {"quorum", c.quorum},
      {"created_ns", c.created_ns}};
  std::string s = j.dump(2);
  return Bytes(s.begin(), s.end());
}

Result<VaultConfig> ParseConfig(ByteView data) {
  try {
    json j = json::parse(AsString(data));
    if (j.value("format", "") != "tessera-vault-config")
      return Status::Corruption("not a tessera vault configuration");
    if (OptionalInt<int>(j, "version", 0) != 1)
      return Status::Corruption("vault configuration version " +
                                std::to_string(OptionalInt<int>(j, "version", 0)) +
                                " is not supported by this tessera");
    VaultConfig c;
    c.vault_id = j.at("vault_id").get<std::string>();
    c.k = RequiredInt<int>(j, "k");
    c.n = RequiredInt<int>(j, "n");
    c.min_write = RequiredInt<int>(j, "min_write");
    c.stores = j.at("stores").get<std::vector<std::string>>();
    c.chunker.min_size = RequiredInt<size_t>(j.at("chunker"), "min");
    c.chunker.avg_size = RequiredInt<size_t>(j.at("chunker"), "avg");
    c.chunker.max_size = RequiredInt<size_t>(j.at("chunker"), "max");
    c.pack_size = RequiredInt<size_t>(j, "pack_size");
    c.custodians = OptionalInt<int>(j, "custodians", 0);
    c.quorum = OptionalInt<int>(j, "quorum", 0);
    c.created_ns = OptionalInt<int64_t>(j, "created_ns", 0);
    Status st = ValidateConfig(c);
    if (!st.ok()) return Status::Corruption("vault configuration is invalid: " + st.message());
    return c;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("vault configuration is not valid JSON: ") + e.what());
  }
}

}  // namespace tessera::vault
