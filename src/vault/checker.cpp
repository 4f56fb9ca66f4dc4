#include "vault/checker.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "base/json_fields.hpp"
#include "vault/keyring.hpp"
#include "vault/vault.hpp"

namespace tessera::vault {

namespace {

// Enough to show what is wrong without drowning the report when a whole pack of trees
// is lost.
constexpr size_t kMaxStructural = 1000;

std::shared_ptr<store::ObjectStore> Borrow(store::ObjectStore* s) {
  return std::shared_ptr<store::ObjectStore>(s, [](store::ObjectStore*) {});
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

// The size most stores agree on; a tie goes to the larger (truncation is the likelier
// damage).
uint64_t MajoritySize(const std::vector<uint64_t>& sizes) {
  std::map<uint64_t, int> count;
  for (uint64_t s : sizes) count[s]++;
  uint64_t best = 0;
  int best_count = 0;
  for (auto& [size, c] : count)
    if (c >= best_count) best = size, best_count = c;
  return best;
}

enum class Seen { kOk, kMissing, kDamaged, kUnknown };
struct ShardSeen {
  Seen state = Seen::kUnknown;
  std::string reason;
  uint64_t sealed_size = 0;   // from the header, with kOk and read_data
  uint64_t bytes = 0;         // downloaded
  std::optional<Bytes> file;  // a referenced pack's accepted shard, kept to check its blobs
};

struct Listing {
  std::map<std::string, uint64_t> sizes;  // checked objects only
};

class Checker {
 public:
  Checker(Repository& repo, bool read_data, Progress* progress)
      : repo_(repo), read_data_(read_data), progress_(progress) {}

  Result<CheckReport> Run();

 private:
  void ProbeStores();
  void LoadIndex();
  void CheckShards();
  ObjectHealth CheckObject(const std::string& name);
  void CheckConfig();
  void CheckSnapshots();
  // Checks a referenced pack's trailer and that every blob decodes to its id.
  void CheckPackContents(const std::string& pack_id, const Result<Bytes>& data);
  void Structural(std::string what);

  Repository& repo_;
  const bool read_data_;
  Progress* progress_;
  CheckReport report_;
  std::vector<std::optional<Listing>> listings_;  // empty where unreachable
  std::set<std::string> expected_;
  std::unordered_map<BlobId, BlobLocation, BlobIdHash> index_;
  std::map<std::string, std::vector<IndexEntry>> packs_;  // referenced, by pack id
  bool index_complete_ = true;
  std::set<std::string> unreadable_packs_;  // pack ids with fewer than k healthy shards
  std::mutex mu_;  // guards report_.structural, report_.structural_more, went_down_
  std::atomic<uint64_t> blobs_checked_{0};
  std::vector<std::optional<std::string>> went_down_;  // stores lost during the check
};

void Checker::Structural(std::string what) {
  std::lock_guard lock(mu_);
  if (report_.structural.size() < kMaxStructural)
    report_.structural.push_back(std::move(what));
  else
    report_.structural_more++;
}

void Checker::ProbeStores() {
  const VaultConfig& c = repo_.config();
  const int n = c.n;
  struct Probe {
    Result<std::vector<store::ObjectInfo>> list = Status::Internal("not run");
    Result<Bytes> descriptor = Status::Internal("not run");
  };
  std::vector<std::future<Probe>> probes(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    store::ObjectStore* s = repo_.objects().store(i);
    if (!s) continue;
    probes[i] = repo_.io().Submit([s] {
      Probe p;
      p.list = s->List("");
      if (p.list.ok()) p.descriptor = s->Get(kDescriptorName);
      return p;
    });
  }
  listings_.resize(static_cast<size_t>(n));
  const Bytes key_check = repo_.keys().KeyCheck();
  for (int i = 0; i < n; ++i) {
    StoreHealth& h = report_.stores[i];
    if (!probes[i].valid()) {
      h.error = "not opened in this run";
      continue;
    }
    Probe p = probes[i].get();
    if (!p.list.ok()) {
      h.error = p.list.status().message();
      continue;
    }
    if (p.descriptor.status().code() == StatusCode::kUnavailable) {
      h.error = p.descriptor.status().message();
      continue;
    }
    h.reachable = true;
    Listing l;
    for (const store::ObjectInfo& o : *p.list)
      if (IsCheckedObject(o.name)) l.sizes.emplace(o.name, o.size);
    if (!p.descriptor.ok()) {
      if (p.descriptor.status().code() == StatusCode::kNotFound) {
        h.descriptor = DescriptorState::kMissing;
        h.descriptor_problem = "no key share: " + std::string(kDescriptorName) + " is missing";
      } else {
        h.descriptor = DescriptorState::kDamaged;
        h.descriptor_problem =
            "cannot read " + std::string(kDescriptorName) + ": " + p.descriptor.status().message();
      }
    } else if (auto d = ParseDescriptor(*p.descriptor); !d.ok()) {
      h.descriptor = DescriptorState::kDamaged;
      h.descriptor_problem = std::string(kDescriptorName) + " is damaged: " + d.status().message();
    } else if (d->vault_id != c.vault_id) {
      h.descriptor = DescriptorState::kForeign;
      h.foreign_vault_id = d->vault_id;
      h.descriptor_problem = "holds another vault (id " + d->vault_id +
                             "): check this store's URL, or replace it with `tessera vault "
                             "replace-store " +
                             std::to_string(i + 1) + " --with URL`";
    } else if (d->index != i) {
      h.descriptor = DescriptorState::kWrongSlot;
      h.epoch = d->epoch;
      h.descriptor_problem = "holds store " + std::to_string(d->index + 1) +
                             " of this vault, not store " + std::to_string(i + 1) +
                             ": are the store URLs in the configuration in the wrong order?";
    } else if (d->k != c.k || d->n != c.n || d->key_check != key_check) {
      h.descriptor = DescriptorState::kDamaged;
      h.epoch = d->epoch;
      h.descriptor_problem =
          std::string(kDescriptorName) + " does not match this vault's key or geometry (altered?)";
    } else {
      h.descriptor = DescriptorState::kOk;
      h.epoch = d->epoch;
    }
    h.empty = l.sizes.empty() && h.descriptor == DescriptorState::kMissing;
    listings_[i] = std::move(l);
  }
  // Shares of an older epoch no longer combine with the current ones.
  for (const StoreHealth& h : report_.stores)
    if (h.descriptor == DescriptorState::kOk || h.descriptor == DescriptorState::kDamaged ||
        h.descriptor == DescriptorState::kWrongSlot)
      report_.epoch = std::max(report_.epoch, h.epoch);
  for (StoreHealth& h : report_.stores) {
    if (h.descriptor == DescriptorState::kOk && h.epoch < report_.epoch) {
      h.descriptor = DescriptorState::kStale;
      h.descriptor_problem = "key share of epoch " + std::to_string(h.epoch) +
                             " is stale (the others are of epoch " + std::to_string(report_.epoch) +
                             ")";
    }
  }
}

void Checker::LoadIndex() {
  std::vector<std::string> names;
  for (const std::string& n : expected_)
    if (n.starts_with("index/")) names.push_back(n);
  std::vector<std::future<Result<Bytes>>> reads;
  for (const std::string& n : names)
    reads.push_back(repo_.cpu().Submit([this, n] { return repo_.objects().Get(n); }));
  for (size_t i = 0; i < names.size(); ++i) {
    Result<Bytes> data = reads[i].get();
    if (!data.ok()) {
      index_complete_ = false;
      Structural("index object " + names[i] +
                 " cannot be read, so the packs it lists are unknown to this check: " +
                 data.status().message());
      continue;
    }
    auto entries = ParseIndex(*data, nullptr);
    if (!entries.ok()) {
      index_complete_ = false;
      Structural("index object " + names[i] + ": " + entries.status().message());
      continue;
    }
    report_.index_objects++;
    // A blob stored twice (two backups racing) keeps both packs referenced.
    for (IndexEntry& e : *entries) {
      index_.emplace(e.id, e.loc);
      packs_[e.loc.pack_id].push_back(e);
    }
  }
  report_.packs = packs_.size();
  for (auto& [pack_id, entries] : packs_) expected_.insert(PackObjectName(pack_id));
}

ObjectHealth Checker::CheckObject(const std::string& name) {
  const int n = repo_.config().n;
  std::vector<ShardSeen> seen(static_cast<size_t>(n));
  // The shards of a referenced pack are all read here anyway: its blobs are checked from
  // them, instead of reading k of them again.
  const std::string pack_id = name.starts_with("data/") ? name.substr(name.rfind('/') + 1) : "";
  const bool keep_files = read_data_ && !pack_id.empty() && packs_.count(pack_id);
  if (read_data_) {
    std::vector<std::future<ShardSeen>> reads(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      if (!listings_[i]) continue;
      if (!listings_[i]->sizes.count(name)) {
        seen[i].state = Seen::kMissing;
        continue;
      }
      {
        std::lock_guard lock(mu_);
        if (went_down_[i]) continue;
      }
      store::ObjectStore* s = repo_.objects().store(i);
      reads[i] = repo_.io().Submit([this, s, i, &name, keep_files] {
        ShardSeen r;
        Result<Bytes> file = s->Get(name);
        if (!file.ok()) {
          if (file.status().code() == StatusCode::kNotFound) {
            r.state = Seen::kMissing;
          } else if (file.status().code() == StatusCode::kUnavailable) {
            r.state = Seen::kUnknown;
            std::lock_guard lock(mu_);
            if (!went_down_[i]) went_down_[i] = file.status().message();
          } else {
            r.state = Seen::kDamaged;
            r.reason = "cannot be read: " + file.status().message();
          }
          return r;
        }
        r.bytes = file->size();
        auto h = repo_.objects().CheckShard(name, *file, i);
        if (h.ok()) {
          r.state = Seen::kOk;
          r.sealed_size = h->sealed_size;
          if (keep_files) r.file = std::move(*file);
        } else {
          r.state = Seen::kDamaged;
          r.reason = h.status().message();
        }
        return r;
      });
    }
    for (int i = 0; i < n; ++i)
      if (reads[i].valid()) seen[i] = reads[i].get();
    // Authentic shards of two versions of one object do not decode together.
    std::vector<uint64_t> sealed;
    for (const ShardSeen& s : seen)
      if (s.state == Seen::kOk) sealed.push_back(s.sealed_size);
    uint64_t agreed = MajoritySize(sealed);
    for (ShardSeen& s : seen) {
      if (s.state == Seen::kOk && s.sealed_size != agreed) {
        s.state = Seen::kDamaged;
        s.reason =
            "shard is of another version of the object (it disagrees in size with "
            "the other shards)";
      }
    }
    if (keep_files) {
      std::vector<std::optional<Bytes>> files(static_cast<size_t>(n));
      int usable = 0;
      for (int i = 0; i < n; ++i) {
        if (seen[i].state != Seen::kOk || !seen[i].file) continue;
        files[i] = std::move(seen[i].file);
        ++usable;
      }
      // With fewer, the pack is unreadable and reported as such.
      if (usable >= repo_.config().k)
        CheckPackContents(pack_id,
                          repo_.objects().OpenCheckedShards(name, std::move(files), agreed));
    }
  } else {
    std::vector<uint64_t> sizes;
    for (int i = 0; i < n; ++i) {
      if (!listings_[i]) continue;
      auto it = listings_[i]->sizes.find(name);
      if (it != listings_[i]->sizes.end()) sizes.push_back(it->second);
    }
    uint64_t agreed = MajoritySize(sizes);
    for (int i = 0; i < n; ++i) {
      if (!listings_[i]) continue;
      auto it = listings_[i]->sizes.find(name);
      if (it == listings_[i]->sizes.end()) {
        seen[i].state = Seen::kMissing;
      } else if (it->second != agreed) {
        seen[i].state = Seen::kDamaged;
        seen[i].reason = "shard is " + std::to_string(it->second) + " bytes where the other " +
                         "stores hold " + std::to_string(agreed) + " (truncated or replaced?)";
      } else {
        seen[i].state = Seen::kOk;
      }
    }
  }
  ObjectHealth o;
  o.name = name;
  uint64_t bytes = 0;
  for (int i = 0; i < n; ++i) {
    const ShardSeen& s = seen[i];
    bytes += s.bytes;
    switch (s.state) {
      case Seen::kOk:
        o.healthy++;
        break;
      case Seen::kUnknown:
        o.unreachable++;
        break;
      case Seen::kMissing:
        o.problems.push_back({i, ShardState::kMissing, "missing"});
        break;
      case Seen::kDamaged:
        o.problems.push_back({i, ShardState::kDamaged, s.reason});
        break;
    }
  }
  const int k = repo_.config().k;
  if (o.healthy >= k) {
    o.verdict = ObjectVerdict::kRepairable;
  } else if (o.healthy + o.unreachable >= k) {
    o.verdict = ObjectVerdict::kNeedsStores;
  } else if (name.starts_with("data/") && index_complete_ &&
             !packs_.count(name.substr(name.rfind('/') + 1))) {
    o.verdict = ObjectVerdict::kLeftover;
  } else {
    o.verdict = ObjectVerdict::kUnrecoverable;
  }
  if (progress_) {
    progress_->Add(1, bytes);
    progress_->Tick(name);
  }
  return o;
}

void Checker::CheckShards() {
  std::vector<std::string> names(expected_.begin(), expected_.end());
  report_.objects = names.size();
  went_down_.assign(static_cast<size_t>(repo_.config().n), std::nullopt);
  if (progress_) {
    uint64_t bytes = 0;
    if (read_data_)
      for (auto& l : listings_)
        if (l)
          for (auto& [name, size] : l->sizes) bytes += size;
    progress_->SetTotal(names.size() + (read_data_ ? packs_.size() : 0), bytes);
  }
  std::vector<ObjectHealth> results(names.size());
  if (read_data_) {
    // A few objects in flight keep every store busy without holding many shards.
    const size_t window = std::max<size_t>(4, repo_.cpu().size());
    std::deque<std::future<void>> pending;
    for (size_t j = 0; j < names.size(); ++j) {
      if (pending.size() >= window) {
        pending.front().get();
        pending.pop_front();
      }
      pending.push_back(
          repo_.cpu().Submit([this, j, &names, &results] { results[j] = CheckObject(names[j]); }));
    }
    for (auto& f : pending) f.get();
  } else {
    for (size_t j = 0; j < names.size(); ++j) results[j] = CheckObject(names[j]);
  }
  for (int i = 0; i < repo_.config().n; ++i) {
    if (went_down_[i]) {
      report_.stores[i].reachable = false;
      report_.stores[i].error = "stopped answering during the check: " + *went_down_[i];
    }
  }
  for (ObjectHealth& o : results) {
    std::vector<bool> counted(static_cast<size_t>(repo_.config().n), false);
    for (const ShardProblem& p : o.problems) {
      counted[p.store] = true;
      (p.state == ShardState::kMissing ? report_.stores[p.store].missing
                                       : report_.stores[p.store].damaged)++;
    }
    for (int i = 0; i < repo_.config().n; ++i)
      if (listings_[i] && !counted[i] && !went_down_[i]) report_.stores[i].ok++;
    if (o.healthy < repo_.config().k && o.name.starts_with("data/"))
      unreadable_packs_.insert(o.name.substr(o.name.rfind('/') + 1));
    if (!o.problems.empty() || o.healthy < repo_.config().k)
      report_.damaged_objects.push_back(std::move(o));
  }
}

void Checker::CheckConfig() {
  const VaultConfig& c = repo_.config();
  auto data = repo_.objects().Get(kConfigObject);
  if (!data.ok()) {
    report_.config_problem =
        "the vault's sealed configuration cannot be read: " + data.status().message();
  } else if (auto sealed = ParseConfig(*data); !sealed.ok()) {
    report_.config_problem =
        "the vault's sealed configuration is damaged: " + sealed.status().message();
  } else if (sealed->vault_id != c.vault_id || sealed->k != c.k || sealed->n != c.n) {
    report_.config_problem =
        "the vault's sealed configuration does not match the local one (vault " + sealed->vault_id +
        ", " + std::to_string(sealed->k) + "-of-" + std::to_string(sealed->n) + ")";
  }
  if (c.custodians > 0) {
    auto key = repo_.objects().Get(kCustodianObject);
    if (!key.ok())
      Structural("the custodian key object (" + std::string(kCustodianObject) +
                 ") cannot be read, so key shares cannot be re-issued; recovery codes still "
                 "unlock the vault: " +
                 key.status().message());
  }
}

void Checker::CheckSnapshots() {
  std::vector<std::string> names;
  for (const std::string& n : expected_)
    if (n.starts_with("snapshots/")) names.push_back(n);
  std::vector<std::future<Result<Bytes>>> reads;
  for (const std::string& n : names)
    reads.push_back(repo_.cpu().Submit([this, n] { return repo_.objects().Get(n); }));
  std::vector<Snapshot> snaps;
  for (size_t i = 0; i < names.size(); ++i) {
    Result<Bytes> data = reads[i].get();
    if (!data.ok()) {
      Structural("snapshot " + names[i].substr(10, 8) +
                 " cannot be read: " + data.status().message());
      continue;
    }
    auto s = ParseSnapshot(*data, names[i].substr(10));
    if (!s.ok()) {
      Structural("snapshot " + names[i].substr(10, 8) + ": " + s.status().message());
      continue;
    }
    snaps.push_back(std::move(*s));
  }
  report_.snapshots = snaps.size();
  std::sort(snaps.begin(), snaps.end(),
            [](const Snapshot& a, const Snapshot& b) { return a.time_ns < b.time_ns; });
  // Trees shared between snapshots are read once; what is wrong in them is named under
  // the first snapshot that has them.
  std::unordered_set<BlobId, BlobIdHash> visited;
  for (const Snapshot& s : snaps) {
    const std::string sid = "snapshot " + s.id.substr(0, 8);
    std::vector<std::pair<BlobId, std::string>> stack{{s.tree, "/"}};
    while (!stack.empty()) {
      auto [id, dir] = std::move(stack.back());
      stack.pop_back();
      if (!visited.insert(id).second) continue;
      auto loc = index_.find(id);
      if (loc == index_.end()) {
        Structural(sid + ": directory " + dir + ": its tree " + ToHex(id).substr(0, 16) +
                   " is not in the index");
        continue;
      }
      if (unreadable_packs_.count(loc->second.pack_id)) {
        Structural(sid + ": directory " + dir + " cannot be read: its tree is in pack " +
                   loc->second.pack_id.substr(0, 16) + ", which has fewer than k healthy shards");
        continue;
      }
      auto pack = repo_.ReadPack(loc->second.pack_id);
      if (!pack.ok()) {
        Structural(sid + ": directory " + dir + " cannot be read: " + pack.status().message());
        continue;
      }
      auto blob = repo_.BlobFromPack(**pack, id, loc->second);
      auto tree = blob.ok() ? ParseTree(*blob) : Result<Tree>(blob.status());
      if (!tree.ok()) {
        Structural(sid + ": directory " + dir + ": " + tree.status().message());
        continue;
      }
      report_.trees++;
      for (const Node& node : tree->nodes) {
        std::string path = Join(dir, node.name);
        if (node.type == NodeType::kDir && node.subtree) {
          stack.emplace_back(*node.subtree, path);
        } else if (node.type == NodeType::kFile) {
          size_t not_indexed = 0, unreadable = 0;
          std::string lost_pack;
          for (const BlobId& chunk : node.content) {
            auto c = index_.find(chunk);
            if (c == index_.end()) {
              not_indexed++;
            } else if (unreadable_packs_.count(c->second.pack_id)) {
              unreadable++;
              lost_pack = c->second.pack_id;
            }
          }
          const std::string of = " of its " + std::to_string(node.content.size()) + " chunks";
          if (not_indexed)
            Structural(sid + ": file " + path + ": " + std::to_string(not_indexed) + of +
                       " are not in the index");
          if (unreadable)
            Structural(sid + ": file " + path + ": " + std::to_string(unreadable) + of +
                       " are in packs with fewer than k healthy shards (e.g. " +
                       lost_pack.substr(0, 16) + ")");
        }
      }
    }
  }
}

void Checker::CheckPackContents(const std::string& pack_id, const Result<Bytes>& data) {
  if (progress_) progress_->Add(1, 0);
  if (!data.ok()) {
    Structural("pack " + pack_id.substr(0, 16) + " cannot be read: " + data.status().message());
    return;
  }
  if (auto trailer = ParsePackTrailer(*data, pack_id); !trailer.ok())
    Structural(trailer.status().message());
  const std::vector<IndexEntry>& entries = packs_.at(pack_id);
  int bad = 0;
  std::string first;
  // Two at a time: their ids are hashed together, and at most two decoded blobs are held.
  for (size_t i = 0; i < entries.size(); i += 2) {
    const size_t n = std::min<size_t>(2, entries.size() - i);
    for (const Result<Bytes>& blob : repo_.BlobsFromPack(*data, {entries.data() + i, n})) {
      if (blob.ok()) {
        blobs_checked_++;
      } else if (bad++ == 0) {
        first = blob.status().message();
      }
    }
  }
  if (bad)
    Structural("pack " + pack_id.substr(0, 16) + ": " + std::to_string(bad) + " of its " +
               std::to_string(entries.size()) + " blobs do not decode to their ids (" + first +
               ")");
}

Result<CheckReport> Checker::Run() {
  const VaultConfig& c = repo_.config();
  report_.vault_id = c.vault_id;
  report_.k = c.k;
  report_.n = c.n;
  report_.read_data = read_data_;
  report_.stores.resize(static_cast<size_t>(c.n));
  for (int i = 0; i < c.n; ++i) {
    report_.stores[i].index = i;
    report_.stores[i].url = c.stores[i];
  }
  ProbeStores();
  int reachable = 0;
  for (int i = 0; i < c.n; ++i) {
    if (!listings_[i]) continue;
    reachable++;
    // What another vault's store holds says nothing about what this vault should have.
    if (report_.stores[i].descriptor == DescriptorState::kForeign) continue;
    for (auto& [name, size] : listings_[i]->sizes) expected_.insert(name);
  }
  if (reachable == 0) return report_;  // nothing more can be learnt; the table says why
  expected_.insert(kConfigObject);
  if (c.custodians > 0) expected_.insert(kCustodianObject);
  LoadIndex();
  CheckShards();
  CheckConfig();
  CheckSnapshots();
  report_.blobs_checked = blobs_checked_;
  if (progress_) progress_->Finish();
  return std::move(report_);
}

}  // namespace

bool IsCheckedObject(const std::string& name) {
  return name == kConfigObject || name.starts_with("keys/") || name.starts_with("index/") ||
         name.starts_with("data/") || name.starts_with("snapshots/") || name.starts_with("drills/");
}

std::string DescriptorStateName(DescriptorState s) {
  switch (s) {
    case DescriptorState::kOk:
      return "ok";
    case DescriptorState::kMissing:
      return "missing";
    case DescriptorState::kDamaged:
      return "damaged";
    case DescriptorState::kStale:
      return "stale";
    case DescriptorState::kForeign:
      return "another_vault";
    case DescriptorState::kWrongSlot:
      return "wrong_slot";
    case DescriptorState::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::string ObjectVerdictName(ObjectVerdict v) {
  switch (v) {
    case ObjectVerdict::kRepairable:
      return "repairable";
    case ObjectVerdict::kUnrecoverable:
      return "unrecoverable";
    case ObjectVerdict::kNeedsStores:
      return "needs_unreachable_stores";
    case ObjectVerdict::kLeftover:
      return "leftover";
  }
  return "unknown";
}

bool CheckReport::Healthy() const {
  for (const StoreHealth& s : stores)
    if (!s.reachable || s.empty || s.descriptor != DescriptorState::kOk) return false;
  for (const ObjectHealth& o : damaged_objects)
    if (o.verdict != ObjectVerdict::kLeftover) return false;
  return structural.empty() && config_problem.empty();
}

bool CheckReport::Repairable() const {
  for (const StoreHealth& s : stores) {
    if (!s.Writable()) continue;
    if (s.descriptor == DescriptorState::kMissing || s.descriptor == DescriptorState::kDamaged ||
        s.descriptor == DescriptorState::kStale)
      return true;
  }
  for (const ObjectHealth& o : damaged_objects) {
    if (o.verdict == ObjectVerdict::kLeftover) return true;
    if (o.verdict != ObjectVerdict::kRepairable) continue;
    for (const ShardProblem& p : o.problems)
      if (stores[p.store].Writable()) return true;
  }
  return !config_problem.empty();
}

size_t CheckReport::Count(ObjectVerdict v) const {
  return static_cast<size_t>(std::count_if(damaged_objects.begin(), damaged_objects.end(),
                                           [v](const ObjectHealth& o) { return o.verdict == v; }));
}

bool CheckReport::AnyUnreachable() const {
  return std::any_of(stores.begin(), stores.end(),
                     [](const StoreHealth& s) { return !s.reachable; });
}

Result<CheckReport> CheckVault(Repository& repo, bool read_data, Progress* progress) {
  Checker checker(repo, read_data, progress);
  return checker.Run();
}

namespace {

// Removes locks whose holder ran on this host and is gone (the process id no longer
// exists). A lock of another host is left to expire: its process cannot be asked.
void RemoveDeadLocalLocks(Repository& repo, std::vector<std::string>* removed) {
  auto names = repo.objects().List("locks/");
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    auto data = repo.objects().Get(name);
    if (!data.ok()) continue;
    try {
      auto j = nlohmann::json::parse(AsString(*data));
      int64_t pid = OptionalInt<int64_t>(j, "pid", 0);
      if (!LockHolderIsGone(j.value("host", ""), pid)) continue;
      if (repo.objects().Delete(name).ok() && removed)
        removed->push_back(name + " (" + j.value("purpose", "run") + ", pid " +
                           std::to_string(pid) + ")");
    } catch (const std::exception&) {
      // Not ours to judge: VaultLock treats an unreadable lock as stale anyway.
    }
  }
}

}  // namespace

Result<std::unique_ptr<CheckLock>> LockForCheck(Repository& repo, bool exclusive,
                                                const std::string& purpose,
                                                std::vector<std::string>* removed) {
  const VaultConfig& c = repo.config();
  std::vector<std::shared_ptr<store::ObjectStore>> stores(static_cast<size_t>(c.n));
  bool excluded = false;
  for (int i = 0; i < c.n; ++i) {
    store::ObjectStore* s = repo.objects().store(i);
    if (!s) continue;
    auto data = s->Get(kDescriptorName);
    if (data.ok()) {
      auto d = ParseDescriptor(*data);
      if (d.ok() && (d->vault_id != c.vault_id || d->index != i)) {
        excluded = true;
        continue;
      }
    }
    stores[i] = Borrow(s);
  }
  std::unique_ptr<Repository> view;
  if (excluded) view = std::make_unique<Repository>(c, repo.keys().master(), stores, 1);
  Repository& target = view ? *view : repo;
  RemoveDeadLocalLocks(target, removed);
  TESSERA_ASSIGN_OR_RETURN(auto lock, VaultLock::Acquire(target, exclusive, purpose));
  return std::make_unique<CheckLock>(std::move(view), std::move(lock));
}

}  // namespace tessera::vault
