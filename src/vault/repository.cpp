#include "vault/repository.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <iterator>
#include <map>

#include <spdlog/spdlog.h>

#include "base/clock.hpp"
#include "crypto/random.hpp"
#include "vault/compression.hpp"

namespace tessera::vault {

namespace {
constexpr char kIndexMagic[4] = {'T', 'I', 'X', '1'};
constexpr char kPackMagic[4] = {'T', 'P', 'K', '1'};
constexpr size_t kIndexEntrySize = 32 + 32 + 1 + 1 + 4 + 4 + 4;
constexpr size_t kTrailerEntrySize = 1 + 1 + 32 + 4 + 4;
constexpr uint8_t kFlagCompressed = 1;
constexpr size_t kPackCacheSize = 4;
constexpr size_t kMaxBlobSize = 64 * 1024 * 1024;
// Two packs upload while the workers fill the next. Shards are written with direct I/O
// and fsynced, so an upload mostly waits for the device (~20 ms per pack of the bench's
// ~45 ms), and with one in flight the workers spent ~40 % of a backup blocked on it; a
// second costs ~30 MiB of resident memory.
constexpr int kMaxUploads = 2;

void PutRaw(Bytes& out, ByteView b) {
  out.insert(out.end(), b.begin(), b.end());
}
}  // namespace

Bytes SerializeIndex(const std::vector<IndexEntry>& entries,
                     const std::vector<std::string>& supersedes) {
  Bytes out(kIndexMagic, kIndexMagic + 4);
  PutU32(out, static_cast<uint32_t>(supersedes.size()));
  for (const std::string& s : supersedes) {
    Bytes raw = HexDecode(s).value();
    PutRaw(out, raw);
  }
  PutU32(out, static_cast<uint32_t>(entries.size()));
  out.reserve(out.size() + entries.size() * kIndexEntrySize);
  for (const IndexEntry& e : entries) {
    PutRaw(out, e.id);
    PutRaw(out, HexDecode(e.loc.pack_id).value());
    out.push_back(static_cast<uint8_t>(e.loc.type));
    out.push_back(e.loc.compressed ? kFlagCompressed : 0);
    PutU32(out, e.loc.offset);
    PutU32(out, e.loc.length);
    PutU32(out, e.loc.raw_length);
  }
  return out;
}

Result<std::vector<IndexEntry>> ParseIndex(ByteView data, std::vector<std::string>* supersedes) {
  auto bad = [] { return Status::Corruption("index object is malformed"); };
  if (data.size() < 12 || std::memcmp(data.data(), kIndexMagic, 4) != 0) return bad();
  size_t pos = 4;
  uint32_t ns = GetU32(data.data() + pos);
  pos += 4;
  if (ns > (data.size() - pos) / 32) return bad();
  for (uint32_t i = 0; i < ns; ++i, pos += 32)
    if (supersedes) supersedes->push_back(HexEncode(data.subspan(pos, 32)));
  if (data.size() - pos < 4) return bad();
  uint32_t count = GetU32(data.data() + pos);
  pos += 4;
  if (static_cast<uint64_t>(count) * kIndexEntrySize != data.size() - pos) return bad();
  std::vector<IndexEntry> out(count);
  for (IndexEntry& e : out) {
    const uint8_t* p = data.data() + pos;
    std::copy_n(p, 32, e.id.begin());
    e.loc.pack_id = HexEncode(ByteView(p + 32, 32));
    if (p[64] > 1) return bad();
    e.loc.type = static_cast<BlobType>(p[64]);
    e.loc.compressed = (p[65] & kFlagCompressed) != 0;
    e.loc.offset = GetU32(p + 66);
    e.loc.length = GetU32(p + 70);
    e.loc.raw_length = GetU32(p + 74);
    pos += kIndexEntrySize;
  }
  return out;
}

Result<std::vector<IndexEntry>> ParsePackTrailer(ByteView pack, const std::string& pack_id) {
  auto bad = [&] { return Status::Corruption("pack " + pack_id + " has a malformed trailer"); };
  if (pack.size() < 8 || std::memcmp(pack.data() + pack.size() - 4, kPackMagic, 4) != 0)
    return bad();
  uint32_t count = GetU32(pack.data() + pack.size() - 8);
  uint64_t trailer = static_cast<uint64_t>(count) * kTrailerEntrySize + 8;
  if (trailer > pack.size()) return bad();
  size_t pos = pack.size() - trailer;
  uint64_t offset = 0;
  std::vector<IndexEntry> out(count);
  for (IndexEntry& e : out) {
    const uint8_t* p = pack.data() + pos;
    if (p[0] > 1) return bad();
    e.loc.type = static_cast<BlobType>(p[0]);
    e.loc.compressed = (p[1] & kFlagCompressed) != 0;
    std::copy_n(p + 2, 32, e.id.begin());
    e.loc.length = GetU32(p + 34);
    e.loc.raw_length = GetU32(p + 38);
    e.loc.offset = static_cast<uint32_t>(offset);
    e.loc.pack_id = pack_id;
    offset += e.loc.length;
    pos += kTrailerEntrySize;
  }
  if (offset != pack.size() - trailer) return bad();
  return out;
}

bool IsTornObject(ShardedStore& objects, const std::string& name) {
  int absent = 0;
  for (int i = 0; i < objects.n(); ++i) {
    store::ObjectStore* s = objects.store(i);
    if (!s || objects.IsDown(i)) continue;
    auto size = s->Stat(name);
    if (!size.ok() && size.status().code() == StatusCode::kNotFound) ++absent;
  }
  return objects.n() - absent < objects.min_write();
}

struct Repository::OpenPack {
  BlobType type;
  Bytes data;
  std::vector<IndexEntry> entries;
};

Repository::Repository(VaultConfig config, const SecretBytes& master,
                       std::vector<std::shared_ptr<store::ObjectStore>> stores, size_t threads)
    : config_(std::move(config)),
      keys_(master),
      cpu_(threads),
      io_(std::max<size_t>(8, 2 * static_cast<size_t>(config_.n))),
      uploader_(kMaxUploads) {
  objects_ =
      std::make_unique<ShardedStore>(HexDecode(config_.vault_id).value(), config_.k, config_.n,
                                     config_.min_write, std::move(stores), keys_, io_);
}

Repository::~Repository() {
  WaitUploads();
}

Status Repository::StartUpload(std::unique_ptr<OpenPack> pack) {
  {
    std::unique_lock lock(upload_mu_);
    upload_cv_.wait(lock, [this] { return uploads_in_flight_ < kMaxUploads; });
    std::lock_guard errors(pack_mu_);
    if (!first_error_.ok()) return first_error_;
    ++uploads_in_flight_;
  }
  // std::function needs a copyable callable: hand the pack over through a shared_ptr.
  auto shared = std::make_shared<std::unique_ptr<OpenPack>>(std::move(pack));
  (void)uploader_.Submit([this, shared] {
    Status st = UploadPack(std::move(*shared));
    {
      std::lock_guard lock(pack_mu_);
      if (!st.ok() && first_error_.ok()) first_error_ = st;
    }
    {
      std::lock_guard lock(upload_mu_);
      --uploads_in_flight_;
    }
    upload_cv_.notify_all();
  });
  return Status::Ok();
}

void Repository::WaitUploads() {
  std::unique_lock lock(upload_mu_);
  upload_cv_.wait(lock, [this] { return uploads_in_flight_ == 0; });
}

BlobId Repository::ComputeId(ByteView plaintext) const {
  return BlobIdFromBytes(keys_.chunk_id().Mac(plaintext));
}

std::vector<BlobId> Repository::ComputeIds(std::span<const ByteView> plaintexts) const {
  std::vector<BlobId> ids;
  ids.reserve(plaintexts.size());
  for (const Bytes& mac : keys_.chunk_id().MacMany(plaintexts)) ids.push_back(BlobIdFromBytes(mac));
  return ids;
}

Status Repository::LoadIndex(IndexGaps gaps) {
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> names, objects_->List("index/"));
  std::vector<std::string> todo;
  {
    std::shared_lock lock(index_mu_);
    for (auto& n : names)
      if (!index_objects_.count(n) && !superseded_.count(n)) todo.push_back(n);
  }
  std::vector<std::future<Result<Bytes>>> reads;
  for (auto& n : todo) reads.push_back(cpu_.Submit([this, n] { return objects_->Get(n); }));
  struct Loaded {
    std::string name;
    std::vector<IndexEntry> entries;
  };
  std::vector<Loaded> loaded;
  std::vector<std::pair<std::string, Status>> failed;
  std::vector<std::string> supersedes;
  for (size_t i = 0; i < todo.size(); ++i) {
    Result<Bytes> data = reads[i].get();
    if (!data.ok()) {
      // A concurrent prune may have replaced this index object by a combined one.
      if (data.status().code() != StatusCode::kNotFound)
        failed.emplace_back(todo[i], data.status());
      continue;
    }
    std::vector<std::string> sup;
    auto entries = ParseIndex(*data, &sup);
    if (!entries.ok()) {
      failed.emplace_back(todo[i], entries.status().WithContext(todo[i]));
      continue;
    }
    for (const std::string& id : sup) supersedes.push_back("index/" + id);
    loaded.push_back({todo[i], std::move(*entries)});
  }
  std::unique_lock lock(index_mu_);
  superseded_.insert(supersedes.begin(), supersedes.end());
  for (auto& [name, st] : failed) {
    if (superseded_.count(name) ||
        (st.code() == StatusCode::kUnavailable && IsTornObject(*objects_, name)))
      continue;
    if (gaps == IndexGaps::kFail || st.code() != StatusCode::kUnavailable) return st;
    unreadable_indexes_.insert(name);
  }
  for (Loaded& l : loaded) {
    unreadable_indexes_.erase(l.name);
    if (superseded_.count(l.name)) continue;
    for (IndexEntry& e : l.entries) index_.emplace(e.id, Store(std::move(e.loc)));
    index_objects_.insert(l.name);
  }
  return Status::Ok();
}

void Repository::CompleteInterruptedObjects() {
  for (const char* prefix : {"index/", "snapshots/"}) {
    std::vector<int> listed;
    std::map<std::string, std::vector<int>> holders;  // object → stores that have it
    for (int i = 0; i < objects_->n(); ++i) {
      store::ObjectStore* s = objects_->store(i);
      if (!s || objects_->IsDown(i)) continue;
      auto names = s->List(prefix);
      if (!names.ok()) continue;
      listed.push_back(i);
      for (const store::ObjectInfo& o : *names) holders[o.name].push_back(i);
    }
    for (const auto& [name, have] : holders) {
      // Fewer than k: never committed (torn), repair removes it; all: nothing to do.
      if (static_cast<int>(have.size()) < objects_->k() || have.size() == listed.size()) continue;
      std::vector<int> missing;
      std::set_difference(listed.begin(), listed.end(), have.begin(), have.end(),
                          std::back_inserter(missing));
      auto files = objects_->RebuildShardFiles(name, missing);
      Status st = files.status();
      for (size_t j = 0; st.ok() && j < missing.size(); ++j)
        st = objects_->store(missing[j])->Put(name, (*files)[j]);
      if (!st.ok())
        spdlog::warn("{} is missing on some stores and could not be completed: {}", name,
                     st.message());
    }
  }
}

Repository::StoredLocation Repository::Store(BlobLocation loc) {
  auto [it, added] =
      pack_numbers_.try_emplace(loc.pack_id, static_cast<uint32_t>(pack_ids_.size()));
  if (added) pack_ids_.push_back(std::move(loc.pack_id));
  return {it->second, loc.offset, loc.length, loc.raw_length, loc.type, loc.compressed};
}

BlobLocation Repository::Load(const StoredLocation& loc) const {
  return {pack_ids_[loc.pack], loc.type, loc.compressed, loc.offset, loc.length, loc.raw_length};
}

void Repository::ResetIndex() {
  std::unique_lock lock(index_mu_);
  index_.clear();
  pack_ids_.clear();
  pack_numbers_.clear();
  index_objects_.clear();
  superseded_.clear();
  unreadable_indexes_.clear();
}

std::optional<BlobLocation> Repository::Find(const BlobId& id) const {
  std::shared_lock lock(index_mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  return Load(it->second);
}

size_t Repository::IndexSize() const {
  std::shared_lock lock(index_mu_);
  return index_.size();
}

std::vector<IndexEntry> Repository::IndexEntries() const {
  std::shared_lock lock(index_mu_);
  std::vector<IndexEntry> out;
  out.reserve(index_.size());
  for (auto& [id, loc] : index_) out.push_back({id, Load(loc)});
  return out;
}

std::vector<std::string> Repository::UnreadableIndexObjects() const {
  std::shared_lock lock(index_mu_);
  return {unreadable_indexes_.begin(), unreadable_indexes_.end()};
}

Status Repository::MissingBlob(const BlobId& id, Status otherwise) const {
  std::vector<std::string> unreadable = UnreadableIndexObjects();
  if (unreadable.empty()) return otherwise;
  std::string names;
  for (size_t i = 0; i < unreadable.size() && i < 3; ++i) names += (i ? ", " : "") + unreadable[i];
  if (unreadable.size() > 3) names += ", ...";
  return Status::Unavailable("blob " + ToHex(id).substr(0, 16) + " is not in the index objects " +
                             "the available stores hold; " + std::to_string(unreadable.size()) +
                             " index object(s) could not be read (" + names +
                             "): bring back the stores they were written to");
}

std::vector<std::string> Repository::IndexObjects() const {
  std::shared_lock lock(index_mu_);
  std::vector<std::string> out(index_objects_.begin(), index_objects_.end());
  std::sort(out.begin(), out.end());
  return out;
}

Result<bool> Repository::AddBlob(BlobType type, const BlobId& id, ByteView plaintext,
                                 uint64_t* stored_size) {
  return AddBlobImpl(type, id, plaintext, stored_size, false);
}

Result<bool> Repository::AddBlobAgain(BlobType type, const BlobId& id, ByteView plaintext) {
  return AddBlobImpl(type, id, plaintext, nullptr, true);
}

Result<bool> Repository::AddBlobImpl(BlobType type, const BlobId& id, ByteView plaintext,
                                     uint64_t* stored_size, bool even_if_indexed) {
  {
    std::unique_lock lock(index_mu_);
    if ((!even_if_indexed && index_.count(id)) || !reserved_.insert(id).second) return false;
  }
  if (plaintext.size() > kMaxBlobSize) return Status::InvalidArgument("blob too large");
  const std::optional<ByteView> compressed = CompressIfWorthwhile(plaintext);
  const bool is_compressed = compressed.has_value();
  const ByteView body = is_compressed ? *compressed : plaintext;
  if (stored_size) *stored_size = body.size();
  std::unique_ptr<OpenPack> full;
  {
    std::lock_guard lock(pack_mu_);
    auto& pack = open_packs_[static_cast<int>(type)];
    if (!pack) {
      pack = std::make_unique<OpenPack>();
      pack->type = type;
      if (type == BlobType::kData) pack->data.reserve(config_.pack_size + config_.chunker.max_size);
    }
    IndexEntry e;
    e.id = id;
    e.loc.type = type;
    e.loc.compressed = is_compressed;
    e.loc.offset = static_cast<uint32_t>(pack->data.size());
    e.loc.length = static_cast<uint32_t>(body.size());
    e.loc.raw_length = static_cast<uint32_t>(plaintext.size());
    pack->data.insert(pack->data.end(), body.begin(), body.end());
    pack->entries.push_back(std::move(e));
    if (pack->data.size() >= config_.pack_size) full = std::move(pack);
  }
  if (full) TESSERA_RETURN_IF_ERROR(StartUpload(std::move(full)));
  return true;
}

Status Repository::UploadPack(std::unique_ptr<OpenPack> pack) {
  Bytes& data = pack->data;
  for (const IndexEntry& e : pack->entries) {
    data.push_back(static_cast<uint8_t>(e.loc.type));
    data.push_back(e.loc.compressed ? kFlagCompressed : 0);
    PutRaw(data, e.id);
    PutU32(data, e.loc.length);
    PutU32(data, e.loc.raw_length);
  }
  PutU32(data, static_cast<uint32_t>(pack->entries.size()));
  data.insert(data.end(), kPackMagic, kPackMagic + 4);
  std::string pack_id = crypto::RandomId();
  for (IndexEntry& e : pack->entries) e.loc.pack_id = pack_id;

  const std::string name = PackObjectName(pack_id);
  PutOutcome out;
  {  // the shards' memory goes as soon as they are written
    TESSERA_ASSIGN_OR_RETURN(ShardFiles files,
                             objects_->EncodeShardFiles(name, data, /*compress=*/false));
    data = Bytes();  // only the shards are needed from here on
    TESSERA_ASSIGN_OR_RETURN(out, objects_->WriteShardFiles(name, files));
  }
  NoteFailedStores(out.failed_stores);
  std::string index_name = "index/" + crypto::RandomId();
  TESSERA_ASSIGN_OR_RETURN(PutOutcome idx,
                           objects_->Put(index_name, SerializeIndex(pack->entries, {}), true));
  NoteFailedStores(idx.failed_stores);
  std::unique_lock lock(index_mu_);
  for (IndexEntry& e : pack->entries) {
    reserved_.erase(e.id);
    index_.emplace(e.id, Store(std::move(e.loc)));
  }
  index_objects_.insert(index_name);
  return Status::Ok();
}

void Repository::NoteFailedStores(const std::vector<int>& failed) {
  if (failed.empty()) return;
  std::lock_guard lock(degraded_mu_);
  for (int i : failed)
    if (std::find(degraded_.begin(), degraded_.end(), i) == degraded_.end()) degraded_.push_back(i);
  std::sort(degraded_.begin(), degraded_.end());
}

std::vector<int> Repository::DegradedStores() const {
  std::lock_guard lock(const_cast<std::mutex&>(degraded_mu_));
  return degraded_;
}

Status Repository::Flush() {
  std::unique_ptr<OpenPack> packs[2];
  {
    std::lock_guard lock(pack_mu_);
    for (int t = 0; t < 2; ++t) packs[t] = std::move(open_packs_[t]);
  }
  Status started;
  for (auto& p : packs)
    if (p && !p->entries.empty() && started.ok()) started = StartUpload(std::move(p));
  WaitUploads();
  std::lock_guard lock(pack_mu_);
  return first_error_;
}

Result<std::shared_ptr<const Bytes>> Repository::ReadPack(const std::string& pack_id) {
  {
    std::lock_guard lock(cache_mu_);
    for (auto it = pack_cache_.begin(); it != pack_cache_.end(); ++it) {
      if (it->first == pack_id) {
        pack_cache_.splice(pack_cache_.begin(), pack_cache_, it);
        return it->second;
      }
    }
  }
  TESSERA_ASSIGN_OR_RETURN(Bytes data, objects_->Get(PackObjectName(pack_id)));
  auto shared = std::make_shared<const Bytes>(std::move(data));
  std::lock_guard lock(cache_mu_);
  pack_cache_.emplace_front(pack_id, shared);
  if (pack_cache_.size() > kPackCacheSize) pack_cache_.pop_back();
  return shared;
}

Result<Bytes> Repository::BlobFromPack(const Bytes& pack, const BlobId& id,
                                       const BlobLocation& loc) const {
  IndexEntry e;
  e.id = id;
  e.loc = loc;
  return std::move(BlobsFromPack(pack, std::span<const IndexEntry>(&e, 1)).front());
}

std::vector<Result<Bytes>> Repository::BlobsFromPack(const Bytes& pack,
                                                     std::span<const IndexEntry> entries) const {
  std::vector<Result<Bytes>> out;
  out.reserve(entries.size());
  std::vector<ByteView> decoded;  // of the entries that decoded, in order
  for (const IndexEntry& e : entries) {
    const BlobLocation& loc = e.loc;
    if (static_cast<uint64_t>(loc.offset) + loc.length > pack.size()) {
      out.push_back(Status::Corruption("pack " + loc.pack_id + " is shorter than its index says"));
      continue;
    }
    ByteView body(pack.data() + loc.offset, loc.length);
    Result<Bytes> plain = loc.compressed ? Decompress(body, kMaxBlobSize)
                                         : Result<Bytes>(Bytes(body.begin(), body.end()));
    if (plain.ok() && plain->size() != loc.raw_length)
      plain = Status::Corruption("blob " + ToHex(e.id) + " in pack " + loc.pack_id +
                                 " does not match its id");
    out.push_back(std::move(plain));
    if (out.back().ok()) decoded.push_back(*out.back());
  }
  const std::vector<BlobId> ids = ComputeIds(decoded);
  size_t next = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!out[i].ok()) continue;
    if (ids[next++] != entries[i].id)
      out[i] = Status::Corruption("blob " + ToHex(entries[i].id) + " in pack " +
                                  entries[i].loc.pack_id + " does not match its id");
  }
  return out;
}

Result<Bytes> Repository::ReadBlob(const BlobId& id) {
  auto loc = Find(id);
  if (!loc) return MissingBlob(id, Status::NotFound("blob " + ToHex(id) + " is not in the index"));
  TESSERA_ASSIGN_OR_RETURN(auto pack, ReadPack(loc->pack_id));
  return BlobFromPack(*pack, id, *loc);
}

Result<Tree> Repository::ReadTree(const BlobId& id) {
  TESSERA_ASSIGN_OR_RETURN(Bytes data, ReadBlob(id));
  return ParseTree(data);
}

Result<BlobId> Repository::SaveTree(const Tree& tree, uint64_t* stored_size) {
  Bytes data = SerializeTree(tree);
  BlobId id = ComputeId(data);
  TESSERA_ASSIGN_OR_RETURN(bool added, AddBlob(BlobType::kTree, id, data, stored_size));
  if (!added && stored_size) *stored_size = 0;
  return id;
}

Result<std::vector<Snapshot>> Repository::ListSnapshots() {
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> names, objects_->List("snapshots/"));
  std::vector<std::future<Result<Bytes>>> reads;
  for (auto& n : names) reads.push_back(cpu_.Submit([this, n] { return objects_->Get(n); }));
  // Every read is waited for, even after an error: the tasks use this repository.
  std::vector<Result<Bytes>> results;
  for (auto& r : reads) results.push_back(r.get());
  std::vector<Snapshot> out;
  for (size_t i = 0; i < names.size(); ++i) {
    Result<Bytes>& data = results[i];
    if (!data.ok()) {
      if (data.status().code() == StatusCode::kNotFound) continue;  // forgotten meanwhile
      // A snapshot write cut short (kill -9, stores failing) leaves shards on fewer than
      // k stores: that snapshot was never committed.
      if (IsTornObject(*objects_, names[i])) {
        spdlog::warn(
            "ignoring {}: written on fewer than k stores (an interrupted backup; "
            "`tessera vault repair` removes it)",
            names[i]);
        continue;
      }
      return data.status();
    }
    TESSERA_ASSIGN_OR_RETURN(Snapshot s, ParseSnapshot(*data, names[i].substr(10)));
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const Snapshot& a, const Snapshot& b) {
    return a.time_ns != b.time_ns ? a.time_ns < b.time_ns : a.id < b.id;
  });
  return out;
}

Result<Snapshot> Repository::FindSnapshot(const std::string& ref) {
  // A whole id is read directly: a restore from k stores must not depend on other
  // snapshots (one written degraded may be unreadable from these k).
  if (ref.size() == 64 && HexDecode(ref).ok()) {
    Result<Bytes> data = objects_->Get("snapshots/" + ref);
    if (data.ok()) return ParseSnapshot(*data, ref);
    if (data.status().code() != StatusCode::kNotFound) return data.status();
  }
  TESSERA_ASSIGN_OR_RETURN(std::vector<Snapshot> all, ListSnapshots());
  if (all.empty()) return Status::NotFound("the vault has no snapshots yet");
  if (ref == "latest") return all.back();
  if (ref.size() < 4) return Status::InvalidArgument("snapshot id '" + ref + "' is too short");
  const Snapshot* found = nullptr;
  for (const Snapshot& s : all) {
    if (s.id.compare(0, ref.size(), ref) == 0) {
      if (found) return Status::InvalidArgument("snapshot id '" + ref + "' is ambiguous");
      found = &s;
    }
  }
  if (!found) return Status::NotFound("no snapshot '" + ref + "' (see `tessera vault snapshots`)");
  return *found;
}

Status Repository::SaveSnapshot(Snapshot& s) {
  s.id = crypto::RandomId();
  TESSERA_ASSIGN_OR_RETURN(PutOutcome out,
                           objects_->Put("snapshots/" + s.id, SerializeSnapshot(s), true));
  NoteFailedStores(out.failed_stores);
  return Status::Ok();
}

}  // namespace tessera::vault
