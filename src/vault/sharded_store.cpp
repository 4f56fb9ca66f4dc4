#include "vault/sharded_store.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <future>
#include <set>

#include "base/files.hpp"
#include "crypto/aead.hpp"
#include "crypto/hash.hpp"
#include "crypto/poly1305.hpp"
#include "crypto/random.hpp"
#include "vault/compression.hpp"

namespace tessera::vault {

namespace {
constexpr char kShardMagic[4] = {'T', 'S', 'R', 'S'};
constexpr uint8_t kFlagRaw = 0, kFlagZstd = 1;
// A sealed object never exceeds this once opened (packs are far smaller); the bound
// keeps a corrupt length field from asking for absurd allocations.
constexpr size_t kMaxObjectSize = size_t{1} << 31;

Bytes NameHash(const std::string& name) {
  Bytes h = crypto::Sha256(AsBytes(name));
  h.resize(16);
  return h;
}

size_t HeaderSize(uint8_t version) {
  return version == 1 ? kShardHeaderSizeV1 : kShardHeaderSize;
}

// The payloads inside whole shard files (of either format) that CheckShard accepted.
erasure::ReedSolomon::ShardViews PayloadViews(const std::vector<std::optional<Bytes>>& files,
                                              size_t shard_size) {
  erasure::ReedSolomon::ShardViews views(files.size());
  for (size_t i = 0; i < files.size(); ++i)
    if (files[i]) views[i] = ByteView(*files[i]).subspan(HeaderSize((*files[i])[4]), shard_size);
  return views;
}

// Writes all kShardHeaderSize bytes of the header.
void EncodeHeader(const ShardHeader& h, uint8_t* out) {
  Bytes header;
  header.reserve(kShardHeaderSize);
  header.insert(header.end(), kShardMagic, kShardMagic + 4);
  header.push_back(h.version);
  header.push_back(h.k);
  header.push_back(h.n);
  header.push_back(h.index);
  header.insert(header.end(), h.vault_id.begin(), h.vault_id.end());
  header.insert(header.end(), h.name_hash.begin(), h.name_hash.end());
  PutU64(header, h.sealed_size);
  PutU32(header, h.shard_size);
  PutU32(header, 0);
  header.insert(header.end(), h.nonce.begin(), h.nonce.end());
  assert(header.size() == kShardHeaderSize);
  std::memcpy(out, header.data(), header.size());
}
}  // namespace

Bytes ShardedStore::ShardMac(const std::string& name, ByteView file, size_t shard_size) const {
  const uint8_t version = file[4];
  const size_t header_size = HeaderSize(version);
  ByteView header = file.subspan(0, header_size);
  ByteView payload = file.subspan(header_size, shard_size);
  if (version == 1) return keys_.shard_mac_v1().Mac({header, AsBytes(name), payload});
  // The one-time key binds header (with its random nonce) and object name; Poly1305 then
  // authenticates the payload at memory speed, where HMAC-SHA-256 over every shard byte
  // cost a fifth of a backup's CPU time.
  SecretBytes one_time{keys_.shard_key().Mac({AsBytes("tessera shard v2"), header, AsBytes(name)})};
  return crypto::Poly1305(one_time.view(), {payload});
}

void ShardedStore::FinishShardFile(const std::string& name, ShardHeader h,
                                   std::span<uint8_t> file) const {
  h.version = kShardVersion;
  h.nonce = crypto::RandomBytes(kShardNonceSize);
  EncodeHeader(h, file.data());
  Bytes mac = ShardMac(name, file, h.shard_size);
  std::memcpy(file.data() + kShardHeaderSize + h.shard_size, mac.data(), mac.size());
}

std::string PackObjectName(const std::string& pack_id) {
  return "data/" + pack_id.substr(0, 2) + "/" + pack_id;
}

ShardedStore::ShardedStore(Bytes vault_id, int k, int n, int min_write,
                           std::vector<std::shared_ptr<store::ObjectStore>> stores,
                           const VaultKeys& keys, ThreadPool& io)
    : vault_id_(std::move(vault_id)),
      k_(k),
      n_(n),
      min_write_(min_write),
      stores_(std::move(stores)),
      keys_(keys),
      io_(io),
      rs_(erasure::ReedSolomon::Create(k, n).value()),
      down_(static_cast<size_t>(n)) {}

Bytes ShardedStore::Aad(const std::string& name) const {
  Bytes aad = ToBytes("tessera object v1");
  aad.insert(aad.end(), vault_id_.begin(), vault_id_.end());
  aad.insert(aad.end(), name.begin(), name.end());
  return aad;
}

Result<Bytes> ShardedStore::Open(const std::string& name, std::span<const ByteView> sealed) const {
  uint8_t flag = 0;
  auto body = crypto::AeadOpenScattered(keys_.object_key().view(), sealed, Aad(name),
                                        std::span<uint8_t>(&flag, 1));
  if (!body.ok()) {
    size_t size = 0;
    for (ByteView part : sealed) size += part.size();
    if (size == crypto::kAeadOverhead) return Status::Corruption("object " + name + " is empty");
    return Status::Corruption("object " + name +
                              " does not decrypt with this vault's key (damaged, or written "
                              "by another vault)");
  }
  if (flag == kFlagRaw) return body;
  if (flag == kFlagZstd) {
    auto plain = Decompress(*body, kMaxObjectSize);
    if (!plain.ok()) return plain.status().WithContext("object " + name);
    return plain;
  }
  return Status::Corruption("object " + name + " has an unknown encoding flag");
}

ShardFiles::ShardFiles(int n, size_t file_size)
    : n_(static_cast<size_t>(n)),
      file_size_(file_size),
      stride_((file_size + kDirectAlign - 1) / kDirectAlign * kDirectAlign),
      buffer_(n_ * stride_, kDirectAlign) {}

Result<ShardFiles> ShardedStore::EncodeShardFiles(const std::string& name, ByteView plaintext,
                                                  bool compress) const {
  const std::optional<ByteView> compressed =
      compress ? CompressIfWorthwhile(plaintext) : std::nullopt;
  const uint8_t flag = compressed ? kFlagZstd : kFlagRaw;
  const ByteView body = compressed ? *compressed : plaintext;
  const size_t sealed_size = crypto::kAeadOverhead + 1 + body.size();
  const size_t shard_size = rs_.ShardSize(sealed_size);
  ShardHeader h;
  h.k = static_cast<uint8_t>(k_);
  h.n = static_cast<uint8_t>(n_);
  h.vault_id = vault_id_;
  h.name_hash = NameHash(name);
  h.sealed_size = sealed_size;
  h.shard_size = static_cast<uint32_t>(shard_size);
  // Each file is header | payload | MAC. The object is sealed straight into the data
  // shards' payloads, the parity coded from them, and the header and MAC written around
  // them: every byte of a file is written (the buffer is not zeroed first, and no heap
  // contents may reach a store), and the sealed object is never copied whole.
  ShardFiles files(n_, kShardOverhead + shard_size);
  std::vector<uint8_t*> payloads(files.size());
  std::vector<std::span<uint8_t>> sealed_parts;
  for (size_t i = 0; i < files.size(); ++i) {
    payloads[i] = files.data(i) + kShardHeaderSize;
    if (i >= static_cast<size_t>(k_)) continue;
    const size_t used = std::min(shard_size, sealed_size - std::min(sealed_size, i * shard_size));
    sealed_parts.emplace_back(payloads[i], used);
    std::memset(payloads[i] + used, 0, shard_size - used);  // padding of the last data shard
  }
  TESSERA_RETURN_IF_ERROR(crypto::AeadSealInto(keys_.object_key().view(), ByteView(&flag, 1), body,
                                               Aad(name), sealed_parts));
  rs_.EncodeParity(payloads, shard_size);
  for (size_t i = 0; i < files.size(); ++i) {
    h.index = static_cast<uint8_t>(i);
    FinishShardFile(name, h, {files.data(i), kShardOverhead + shard_size});
  }
  return files;
}

Result<ShardHeader> ShardedStore::CheckShard(const std::string& name, ByteView file,
                                             int index) const {
  if (file.size() < kShardOverhead)
    return Status::Corruption("shard is truncated (" + std::to_string(file.size()) + " bytes)");
  if (std::memcmp(file.data(), kShardMagic, 4) != 0)
    return Status::Corruption("not a tessera shard (bad magic)");
  ShardHeader h;
  h.version = file[4];
  h.k = file[5];
  h.n = file[6];
  h.index = file[7];
  h.vault_id.assign(file.begin() + 8, file.begin() + 24);
  h.name_hash.assign(file.begin() + 24, file.begin() + 40);
  h.sealed_size = GetU64(file.data() + 40);
  h.shard_size = GetU32(file.data() + 48);
  if (h.version != 1 && h.version != 2)
    return Status::Corruption("shard format version " + std::to_string(h.version) +
                              " is not supported by this tessera");
  if (h.version == 2)
    h.nonce.assign(file.begin() + kShardHeaderSizeV1, file.begin() + kShardHeaderSize);
  if (h.vault_id != vault_id_)
    return Status::Corruption("shard belongs to another vault (vault id " + HexEncode(h.vault_id) +
                              ")");
  if (h.name_hash != NameHash(name))
    return Status::Corruption("shard belongs to a different object");
  if (h.k != k_ || h.n != n_ || h.index != index)
    return Status::Corruption("shard is for slot " + std::to_string(h.index) + " of " +
                              std::to_string(h.k) + "-of-" + std::to_string(h.n) +
                              ", expected slot " + std::to_string(index));
  if (file.size() != kShardOverhead + h.shard_size || h.shard_size != rs_.ShardSize(h.sealed_size))
    return Status::Corruption("shard is truncated or has the wrong length");
  Bytes mac = ShardMac(name, file, h.shard_size);
  if (!crypto::ConstantTimeEqual(mac, file.subspan(file.size() - mac.size())))
    return Status::Corruption("shard fails authentication (bytes changed)");
  return h;
}

Result<PutOutcome> ShardedStore::Put(const std::string& name, ByteView plaintext, bool compress,
                                     int min_stores) {
  TESSERA_ASSIGN_OR_RETURN(ShardFiles files, EncodeShardFiles(name, plaintext, compress));
  return WriteShardFiles(name, files, min_stores);
}

Result<PutOutcome> ShardedStore::WriteShardFiles(const std::string& name, const ShardFiles& files,
                                                 int min_stores) {
  const int required = min_stores > 0 ? std::max(min_stores, k_) : min_write_;
  std::vector<std::future<Status>> writes(static_cast<size_t>(n_));
  for (int i = 0; i < n_; ++i) {
    if (!stores_[i] || IsDown(i)) continue;
    writes[i] = io_.Submit(
        [this, i, &name, &files] { return stores_[i]->Put(name, files[static_cast<size_t>(i)]); });
  }
  PutOutcome outcome;
  int written = 0;
  Status last_error;
  for (int i = 0; i < n_; ++i) {
    if (!writes[i].valid()) {
      outcome.failed_stores.push_back(i);
      continue;
    }
    Status st = writes[i].get();
    if (st.ok()) {
      ++written;
    } else {
      outcome.failed_stores.push_back(i);
      last_error = st;
      if (st.code() == StatusCode::kUnavailable) MarkDown(i, st);
    }
  }
  if (written < required) {
    // Not committed: take back what was written, so that no object is left that some
    // choices of k stores could read and others could not.
    for (int i = 0; i < n_; ++i) {
      bool failed = std::find(outcome.failed_stores.begin(), outcome.failed_stores.end(), i) !=
                    outcome.failed_stores.end();
      if (!failed) (void)stores_[i]->Delete(name);
    }
    return Status::Unavailable("only " + std::to_string(written) + " of " + std::to_string(n_) +
                               " stores accepted object " + name + " (at least " +
                               std::to_string(required) + " required)" +
                               (last_error.ok() ? "" : "; last error: " + last_error.message()));
  }
  return outcome;
}

Result<std::pair<std::vector<std::optional<Bytes>>, ShardHeader>> ShardedStore::FetchShards(
    const std::string& name, const std::vector<int>& exclude) {
  std::vector<std::optional<Bytes>> shards(static_cast<size_t>(n_));
  std::optional<ShardHeader> header;
  std::vector<int> order;
  for (int i = 0; i < n_; ++i) {
    if (!stores_[i] || IsDown(i)) continue;
    if (std::find(exclude.begin(), exclude.end(), i) != exclude.end()) continue;
    order.push_back(i);
  }
  // Data shards first: with all of them present, decoding is a plain concatenation.
  size_t next = 0;
  int good = 0;
  std::vector<std::string> problems;
  size_t not_found = 0;
  while (good < k_ && next < order.size()) {
    size_t want = static_cast<size_t>(k_ - good);
    std::vector<std::pair<int, std::future<Result<Bytes>>>> reads;
    while (reads.size() < want && next < order.size()) {
      int i = order[next++];
      reads.emplace_back(i, io_.Submit([this, i, &name] { return stores_[i]->Get(name); }));
    }
    for (auto& [i, fut] : reads) {
      Result<Bytes> file = fut.get();
      if (!file.ok()) {
        if (file.status().code() == StatusCode::kUnavailable) MarkDown(i, file.status());
        if (file.status().code() == StatusCode::kNotFound) ++not_found;
        problems.push_back("store " + std::to_string(i + 1) + ": " + file.status().message());
        continue;
      }
      auto h = CheckShard(name, *file, i);
      if (!h.ok()) {
        problems.push_back("store " + std::to_string(i + 1) + ": " + h.status().message());
        continue;
      }
      if (header && (header->sealed_size != h->sealed_size)) {
        problems.push_back("store " + std::to_string(i + 1) + ": shard disagrees in size");
        continue;
      }
      if (!header) header = *h;
      shards[static_cast<size_t>(i)] = std::move(*file);
      ++good;
    }
  }
  if (good < k_) {
    std::string why;
    for (auto& p : problems) why += "; " + p;
    bool all_missing = !problems.empty() && not_found == problems.size();
    std::string msg = "object " + name + ": only " + std::to_string(good) + " of the " +
                      std::to_string(k_) + " shards needed could be read" + why;
    if (all_missing && good == 0) return Status::NotFound(msg);
    return Status::Unavailable(msg);
  }
  return std::make_pair(std::move(shards), *header);
}

Result<Bytes> ShardedStore::DecodeAndOpen(const std::string& name,
                                          const erasure::ReedSolomon::ShardViews& payloads,
                                          uint64_t sealed_size) const {
  // With every data shard at hand the sealed object is their concatenation: it is opened
  // from them where they lie, without assembling it.
  std::vector<ByteView> parts;
  uint64_t left = sealed_size;
  for (int i = 0; i < k_ && left > 0; ++i) {
    if (!payloads[static_cast<size_t>(i)]) break;
    ByteView p = *payloads[static_cast<size_t>(i)];
    parts.push_back(p.subspan(0, static_cast<size_t>(std::min<uint64_t>(p.size(), left))));
    left -= parts.back().size();
  }
  if (left == 0) return Open(name, parts);
  auto sealed = rs_.Decode(payloads, sealed_size);
  if (!sealed.ok()) return Status::Corruption("object " + name + ": " + sealed.status().message());
  const ByteView whole(*sealed);
  return Open(name, {&whole, 1});
}

Result<Bytes> ShardedStore::Get(const std::string& name) {
  TESSERA_ASSIGN_OR_RETURN(auto fetched, FetchShards(name, {}));
  return DecodeAndOpen(name, PayloadViews(fetched.first, fetched.second.shard_size),
                       fetched.second.sealed_size);
}

Result<Bytes> ShardedStore::OpenCheckedShards(const std::string& name,
                                              std::vector<std::optional<Bytes>> files,
                                              uint64_t sealed_size) const {
  if (files.size() != static_cast<size_t>(n_))
    return Status::Corruption("object " + name + ": expected " + std::to_string(n_) + " shards");
  const size_t payload_size = rs_.ShardSize(sealed_size);
  for (const std::optional<Bytes>& f : files)
    if (f && f->size() != kShardOverhead + payload_size)
      return Status::Corruption("object " + name + ": a shard has the wrong length");
  return DecodeAndOpen(name, PayloadViews(files, payload_size), sealed_size);
}

Result<std::vector<Bytes>> ShardedStore::RebuildShardFiles(const std::string& name,
                                                           const std::vector<int>& wanted) {
  TESSERA_ASSIGN_OR_RETURN(auto fetched, FetchShards(name, wanted));
  TESSERA_ASSIGN_OR_RETURN(
      std::vector<Bytes> payloads,
      rs_.Reconstruct(PayloadViews(fetched.first, fetched.second.shard_size), wanted));
  ShardHeader h = fetched.second;
  std::vector<Bytes> files;
  for (size_t w = 0; w < wanted.size(); ++w) {
    h.index = static_cast<uint8_t>(wanted[w]);
    Bytes file(kShardOverhead + h.shard_size);
    std::memcpy(file.data() + kShardHeaderSize, payloads[w].data(), h.shard_size);
    FinishShardFile(name, h, file);
    files.push_back(std::move(file));
  }
  return files;
}

Result<std::vector<std::string>> ShardedStore::List(const std::string& prefix) {
  std::set<std::string> names;
  int listed = 0;
  Status last;
  for (int i = 0; i < n_; ++i) {
    if (!stores_[i] || IsDown(i)) continue;
    auto objs = stores_[i]->List(prefix);
    if (!objs.ok()) {
      if (objs.status().code() == StatusCode::kUnavailable) MarkDown(i, objs.status());
      last = objs.status();
      continue;
    }
    ++listed;
    for (auto& o : *objs) names.insert(o.name);
  }
  if (listed == 0)
    return Status::Unavailable("no store could be listed" +
                               (last.ok() ? std::string() : ": " + last.message()));
  return std::vector<std::string>(names.begin(), names.end());
}

Status ShardedStore::Delete(const std::string& name) {
  Status result;
  for (int i = 0; i < n_; ++i) {
    if (!stores_[i] || IsDown(i)) continue;
    Status st = stores_[i]->Delete(name);
    if (!st.ok()) result = st;
  }
  return result;
}

std::vector<std::pair<int, Status>> ShardedStore::DownStores() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<int, Status>> out;
  for (int i = 0; i < n_; ++i)
    if (down_[i]) out.emplace_back(i, *down_[i]);
  return out;
}

bool ShardedStore::IsDown(int i) const {
  std::lock_guard lock(mu_);
  return down_[i].has_value();
}

void ShardedStore::MarkDown(int i, const Status& why) {
  std::lock_guard lock(mu_);
  if (!down_[i]) down_[i] = why;
}

}  // namespace tessera::vault
