#include "vault/prune.hpp"

#include <algorithm>
#include <future>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "crypto/random.hpp"
#include "vault/lock.hpp"

namespace tessera::vault {

namespace {

// Small enough that a reader never holds a huge object in memory, large enough that a
// vault of a few million blobs has a few dozen index objects.
constexpr size_t kMaxEntriesPerIndexObject = 50000;
// Packs repacked at once: each holds a whole pack in memory while its blobs are copied.
constexpr size_t kRepackParallel = 4;
constexpr char kIndexPrefix[] = "index/";
constexpr size_t kIdHexSize = 64;

bool IsHexId(std::string_view s) {
  return s.size() == kIdHexSize && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Index object "index/<id>" -> "<id>", or "" if the name is not of that form.
std::string IndexId(const std::string& name) {
  if (name.compare(0, sizeof kIndexPrefix - 1, kIndexPrefix) != 0) return "";
  std::string id = name.substr(sizeof kIndexPrefix - 1);
  return IsHexId(id) ? id : "";
}

// "data/xx/<id>" -> "<id>", or "" if the name is not of that form.
std::string PackIdOf(const std::string& name) {
  if (name.size() != 8 + kIdHexSize || name.compare(0, 5, "data/") != 0 || name[7] != '/')
    return "";
  std::string id = name.substr(8);
  return IsHexId(id) && id.compare(0, 2, name, 5, 2) == 0 ? id : "";
}

struct ParsedIndex {
  std::string name;
  Result<std::vector<IndexEntry>> entries = Status::NotFound("not read");
  std::vector<std::string> supersedes;  // object names
};

// Reads and parses the named index objects in parallel.
std::vector<ParsedIndex> ReadIndexObjects(Repository& repo, const std::vector<std::string>& names) {
  std::vector<std::future<ParsedIndex>> reads;
  for (const std::string& n : names)
    reads.push_back(repo.cpu().Submit([&repo, n] {
      ParsedIndex p;
      p.name = n;
      auto data = repo.objects().Get(n);
      if (!data.ok()) {
        p.entries = data.status();
        return p;
      }
      std::vector<std::string> ids;
      p.entries = ParseIndex(*data, &ids);
      for (const std::string& id : ids) p.supersedes.push_back(kIndexPrefix + id);
      return p;
    }));
  std::vector<ParsedIndex> out;
  for (auto& r : reads) out.push_back(r.get());
  return out;
}

// Shard files of packs and index objects, summed over the stores that can be listed.
struct Usage {
  std::map<std::string, uint64_t> packs;  // object name -> bytes on all stores
  uint64_t total = 0;
};

Usage ListUsage(Repository& repo, std::vector<std::string>* warnings) {
  Usage u;
  for (int i = 0; i < repo.objects().n(); ++i) {
    store::ObjectStore* s = repo.objects().store(i);
    if (!s || repo.objects().IsDown(i)) continue;
    for (const char* prefix : {"data/", kIndexPrefix}) {
      auto objs = s->List(prefix);
      if (!objs.ok()) {
        if (warnings)
          warnings->push_back("store " + std::to_string(i + 1) +
                              " could not be listed: " + objs.status().message());
        continue;
      }
      for (const store::ObjectInfo& o : *objs) {
        u.total += o.size;
        if (prefix[0] == 'd') u.packs[o.name] += o.size;
      }
    }
  }
  return u;
}

enum class Action { kKeep, kDelete, kRepack };

struct Pack {
  std::string id;
  std::vector<IndexEntry> entries;  // one per blob copy in the pack
  bool on_store = false;
  uint64_t shard_bytes = 0;  // on all stores
  uint64_t total = 0, used = 0;
  std::vector<size_t> assigned;  // entries whose blob is used and kept from this pack
  Action action = Action::kKeep;
};

using Where = std::unordered_map<BlobId, std::vector<std::pair<Pack*, size_t>>, BlobIdHash>;

// Reads blob `id` from `first` if it is there, else from any other copy.
Result<Bytes> ReadBlobCopy(Repository& repo, const Where& where, const BlobId& id,
                           const Bytes* first, const std::string& first_pack) {
  Status last = Status::NotFound("blob " + ToHex(id) + " is in no pack of the index");
  auto it = where.find(id);
  if (it == where.end()) return last;
  if (first) {
    for (auto& [pack, i] : it->second) {
      if (pack->id != first_pack) continue;
      auto b = repo.BlobFromPack(*first, id, pack->entries[i].loc);
      if (b.ok()) return b;
      last = b.status();
    }
  }
  for (auto& [pack, i] : it->second) {
    if (first && pack->id == first_pack) continue;
    auto data = repo.ReadPack(pack->id);
    if (!data.ok()) {
      last = data.status();
      continue;
    }
    auto b = repo.BlobFromPack(**data, id, pack->entries[i].loc);
    if (b.ok()) return b;
    last = b.status();
  }
  return last;
}

Status MissingBlobs(const std::vector<std::string>& what) {
  std::string msg = std::to_string(what.size()) +
                    " blobs that snapshots use cannot be found or read (" + what.front() +
                    (what.size() > 1 ? ", ..." : "") +
                    "); prune stopped before changing anything. Run `tessera vault verify`";
  return Status::Corruption(msg);
}

class Pruner {
 public:
  Pruner(Repository& repo, const PruneOptions& options, Progress* progress)
      : repo_(repo), options_(options), progress_(progress) {}

  Result<PruneReport> Run();

 private:
  Status CheckStores();
  Status LoadIndex();
  Status FindUsedBlobs();
  void Plan();
  Status Repack();
  Status WriteIndex();
  Status DeleteAll(const std::vector<std::string>& names, const std::string& what);
  Status Step(PruneStep step) { return options_.after_step ? options_.after_step(step) : Status(); }
  void Tick(const std::string& detail) {
    if (progress_) progress_->Tick(detail);
  }

  Repository& repo_;
  const PruneOptions& options_;
  Progress* progress_;
  PruneReport report_;

  std::vector<std::string> old_index_;  // every index object listed at the start
  size_t live_index_objects_ = 0;       // of those, the ones not superseded
  std::map<std::string, Pack> packs_;   // by id, from the live index objects
  std::vector<std::string> unindexed_;  // pack objects no live index lists
  Where where_;                         // blob -> its copies in packs on the stores
  std::unordered_set<BlobId, BlobIdHash> used_;
  Usage before_;
};

Status Pruner::CheckStores() {
  for (int i = 0; i < repo_.objects().n(); ++i) {
    store::ObjectStore* s = repo_.objects().store(i);
    Status st = !s                          ? Status::Unavailable("not opened in this run")
                : repo_.objects().IsDown(i) ? Status::Unavailable("marked down in this run")
                                            : s->Ping();
    if (st.ok()) continue;
    std::string msg = "store " + std::to_string(i + 1) + " (" + repo_.config().stores[i] +
                      ") cannot be reached: " + st.message();
    if (options_.dry_run) {
      report_.warnings.push_back(msg);
      continue;
    }
    return Status::FailedPrecondition(
        msg +
        "; prune deletes objects on every store and would leave this one's shards "
        "behind, so it runs only when all stores are reachable");
  }
  return Status::Ok();
}

Status Pruner::LoadIndex() {
  Tick("reading the index");
  TESSERA_ASSIGN_OR_RETURN(old_index_, repo_.objects().List(kIndexPrefix));
  std::vector<ParsedIndex> parsed = ReadIndexObjects(repo_, old_index_);
  std::set<std::string> superseded;
  for (const ParsedIndex& p : parsed)
    if (p.entries.ok()) superseded.insert(p.supersedes.begin(), p.supersedes.end());
  report_.index_objects_before = old_index_.size();
  for (ParsedIndex& p : parsed) {
    if (superseded.count(p.name)) {
      ++report_.index_leftovers;
      continue;
    }
    if (!p.entries.ok()) {
      // Listed on some store but gone from all by now: nothing to read or to keep.
      if (p.entries.status().code() == StatusCode::kNotFound) continue;
      // Cut short by a crash, so never readable: no reader relies on it, and the packs it
      // would list are unindexed (their used blobs, if any, are found missing below).
      if (p.entries.status().code() == StatusCode::kUnavailable &&
          IsTornObject(repo_.objects(), p.name)) {
        ++report_.index_leftovers;
        continue;
      }
      return p.entries.status().WithContext(
          "prune needs the whole index, and index object " + p.name +
          " cannot be read (run `tessera vault verify`, and `repair` if stores are missing "
          "shards)");
    }
    ++live_index_objects_;
    for (IndexEntry& e : *p.entries) {
      Pack& pack = packs_[e.loc.pack_id];
      pack.id = e.loc.pack_id;
      pack.entries.push_back(std::move(e));
    }
  }
  before_ = ListUsage(repo_, &report_.warnings);
  report_.store_bytes_before = before_.total;
  for (auto& [name, bytes] : before_.packs) {
    std::string id = PackIdOf(name);
    if (id.empty()) continue;
    auto it = packs_.find(id);
    if (it == packs_.end()) {
      unindexed_.push_back(name);
      continue;
    }
    it->second.on_store = true;
    it->second.shard_bytes = bytes;
  }
  for (auto& [id, pack] : packs_) {
    // The same pack may be listed by two index objects (a per-pack one and a combined one
    // a crashed prune left): one entry per blob copy.
    std::sort(pack.entries.begin(), pack.entries.end(), [](const auto& a, const auto& b) {
      return a.loc.offset != b.loc.offset ? a.loc.offset < b.loc.offset : a.id < b.id;
    });
    pack.entries.erase(std::unique(pack.entries.begin(), pack.entries.end(),
                                   [](const auto& a, const auto& b) {
                                     return a.loc.offset == b.loc.offset && a.id == b.id;
                                   }),
                       pack.entries.end());
    for (const IndexEntry& e : pack.entries) pack.total += e.loc.length;
    if (!pack.on_store) {
      ++report_.packs_missing;
      report_.warnings.push_back("pack " + id + " is in the index but on no store; its " +
                                 std::to_string(pack.entries.size()) +
                                 " index entries are dropped");
      continue;
    }
    for (size_t i = 0; i < pack.entries.size(); ++i)
      where_[pack.entries[i].id].emplace_back(&pack, i);
  }
  report_.packs_before = packs_.size();
  report_.packs_unindexed = unindexed_.size();
  return Status::Ok();
}

Status Pruner::FindUsedBlobs() {
  Tick("reading snapshots");
  TESSERA_ASSIGN_OR_RETURN(std::vector<Snapshot> snaps, repo_.ListSnapshots());
  std::set<std::string> forgotten(options_.assume_forgotten.begin(),
                                  options_.assume_forgotten.end());
  std::vector<BlobId> frontier;
  for (const Snapshot& s : snaps) {
    if (forgotten.count(s.id)) continue;
    ++report_.snapshots;
    if (used_.insert(s.tree).second) frontier.push_back(s.tree);
  }
  std::vector<std::string> missing;
  size_t trees = 0;
  // Level by level, the trees of a level grouped by pack: each pack is read once, and
  // the packs of a level are read in parallel.
  while (!frontier.empty()) {
    std::map<std::string, std::vector<BlobId>> by_pack;
    for (const BlobId& id : frontier) {
      auto it = where_.find(id);
      if (it == where_.end()) {
        missing.push_back("tree " + ToHex(id));
        continue;
      }
      by_pack[it->second.front().first->id].push_back(id);
    }
    frontier.clear();
    std::vector<std::future<std::vector<Result<Tree>>>> reads;
    for (auto& [pack_id, ids] : by_pack)
      reads.push_back(repo_.cpu().Submit([this, pack_id = pack_id, ids = ids] {
        std::vector<Result<Tree>> out;
        auto pack = repo_.ReadPack(pack_id);
        for (const BlobId& id : ids) {
          auto data = ReadBlobCopy(repo_, where_, id, pack.ok() ? pack->get() : nullptr, pack_id);
          if (!data.ok())
            out.push_back(data.status());
          else
            out.push_back(ParseTree(*data));
        }
        return out;
      }));
    size_t r = 0;
    for (auto& [pack_id, ids] : by_pack) {
      std::vector<Result<Tree>> trees_read = reads[r++].get();
      for (size_t i = 0; i < ids.size(); ++i) {
        if (!trees_read[i].ok()) {
          missing.push_back("tree " + ToHex(ids[i]) + ": " + trees_read[i].status().message());
          continue;
        }
        ++trees;
        for (const Node& n : trees_read[i]->nodes) {
          if (n.type == NodeType::kDir && n.subtree && used_.insert(*n.subtree).second)
            frontier.push_back(*n.subtree);
          for (const BlobId& c : n.content) used_.insert(c);
        }
      }
    }
    Tick("read " + std::to_string(trees) + " trees");
  }
  for (const BlobId& id : used_)
    if (!where_.count(id)) missing.push_back("blob " + ToHex(id));
  if (!missing.empty()) return MissingBlobs(missing);
  report_.blobs_used = used_.size();
  return Status::Ok();
}

void Pruner::Plan() {
  // Each used blob is kept from one pack: first from the packs most of whose bytes are
  // used, so that duplicates left by crashed runs are dropped from the emptier packs.
  std::vector<Pack*> order;
  for (auto& [id, pack] : packs_) {
    if (!pack.on_store) continue;
    for (const IndexEntry& e : pack.entries)
      if (used_.count(e.id)) pack.used += e.loc.length;
    order.push_back(&pack);
  }
  auto share = [](const Pack* p) {
    return p->total ? static_cast<double>(p->used) / static_cast<double>(p->total) : 0.0;
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](const Pack* a, const Pack* b) { return share(a) > share(b); });
  std::unordered_set<BlobId, BlobIdHash> placed;
  for (Pack* p : order) {
    p->used = 0;
    for (size_t i = 0; i < p->entries.size(); ++i) {
      const IndexEntry& e = p->entries[i];
      if (!used_.count(e.id) || !placed.insert(e.id).second) continue;
      p->assigned.push_back(i);
      p->used += e.loc.length;
    }
  }
  const double max_unused = std::clamp(options_.max_unused_percent, 0.0, 100.0);
  for (Pack* p : order) {
    double unused =
        p->total ? 100.0 * static_cast<double>(p->total - p->used) / static_cast<double>(p->total)
                 : 100.0;
    p->action = p->used == 0          ? Action::kDelete
                : unused > max_unused ? Action::kRepack
                                      : Action::kKeep;
  }
  // A blob kept from a pack about to be repacked needs no copy if a kept pack has it too.
  for (Pack* p : order) {
    if (p->action != Action::kRepack) continue;
    std::vector<size_t> still;
    for (size_t i : p->assigned) {
      const IndexEntry& e = p->entries[i];
      bool elsewhere = false;
      for (auto& [other, j] : where_.at(e.id))
        if (other->action == Action::kKeep) {
          other->assigned.push_back(j);
          other->used += other->entries[j].loc.length;
          elsewhere = true;
          break;
        }
      if (elsewhere)
        p->used -= e.loc.length;
      else
        still.push_back(i);
    }
    p->assigned = std::move(still);
    if (p->assigned.empty()) p->action = Action::kDelete;
  }
  for (auto& [id, p] : packs_) {
    report_.bytes_used += p.used;
    bool goes = !p.on_store || p.action != Action::kKeep;
    if (!p.on_store) {
      // Counted in packs_missing.
    } else if (p.action == Action::kDelete) {
      ++report_.packs_deleted;
    } else if (p.action == Action::kRepack) {
      ++report_.packs_repacked;
      report_.blobs_repacked += p.assigned.size();
      report_.bytes_repacked += p.used;
    } else {
      ++report_.packs_kept;
    }
    if (goes) {
      report_.blobs_removed += p.entries.size();
      report_.bytes_removed += p.total;
    }
  }
  report_.blobs_removed -= report_.blobs_repacked;
  report_.bytes_removed -= report_.bytes_repacked;
}

Status Pruner::Repack() {
  std::vector<Pack*> todo;
  for (auto& [id, p] : packs_)
    if (p.on_store && p.action == Action::kRepack) todo.push_back(&p);
  if (todo.empty()) return Status::Ok();
  if (progress_) progress_->SetTotal(report_.blobs_repacked, report_.bytes_repacked);
  for (size_t start = 0; start < todo.size(); start += kRepackParallel) {
    Tick("repacking pack " + std::to_string(start + 1) + " of " + std::to_string(todo.size()));
    std::vector<std::future<Status>> work;
    for (size_t k = start; k < std::min(todo.size(), start + kRepackParallel); ++k)
      work.push_back(repo_.cpu().Submit([this, p = todo[k]]() -> Status {
        auto pack = repo_.ReadPack(p->id);
        for (size_t i : p->assigned) {
          const IndexEntry& e = p->entries[i];
          TESSERA_ASSIGN_OR_RETURN(
              Bytes plain,
              ReadBlobCopy(repo_, where_, e.id, pack.ok() ? pack->get() : nullptr, p->id));
          TESSERA_RETURN_IF_ERROR(repo_.AddBlobAgain(e.loc.type, e.id, plain).status());
          if (progress_) progress_->Add(1, e.loc.length);
        }
        return Status::Ok();
      }));
    Status first;
    for (auto& w : work) {
      Status st = w.get();
      if (!st.ok() && first.ok()) first = st;
    }
    if (!first.ok()) {
      (void)repo_.Flush();  // let the uploads in flight end before failing
      return first.WithContext("repacking (nothing was deleted)");
    }
  }
  TESSERA_RETURN_IF_ERROR(repo_.Flush().WithContext("repacking (nothing was deleted)"));
  return Status::Ok();
}

Status Pruner::WriteIndex() {
  Tick("writing the index");
  // The index objects the repacking wrote, one per new pack: folded into the combined
  // index and replaced by it like the old ones.
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> now, repo_.objects().List(kIndexPrefix));
  std::set<std::string> old(old_index_.begin(), old_index_.end());
  std::vector<std::string> fresh;
  for (const std::string& n : now)
    if (!old.count(n)) fresh.push_back(n);
  std::vector<IndexEntry> entries;
  std::set<std::string> new_packs;
  for (ParsedIndex& p : ReadIndexObjects(repo_, fresh)) {
    if (!p.entries.ok())
      return p.entries.status().WithContext("reading the index of the repacked blobs");
    for (IndexEntry& e : *p.entries) {
      new_packs.insert(e.loc.pack_id);
      entries.push_back(std::move(e));
    }
  }
  report_.packs_written = new_packs.size();
  for (auto& [id, p] : packs_)
    if (p.on_store && p.action == Action::kKeep)
      entries.insert(entries.end(), p.entries.begin(), p.entries.end());
  std::sort(entries.begin(), entries.end(), [](const IndexEntry& a, const IndexEntry& b) {
    return a.loc.pack_id != b.loc.pack_id ? a.loc.pack_id < b.loc.pack_id
                                          : a.loc.offset < b.loc.offset;
  });
  // Only the last object names those it supersedes: a reader that honours `supersedes`
  // must never see it before every part of the combined index is there.
  std::vector<std::string> supersedes;
  for (const std::vector<std::string>* names : {&old_index_, &fresh})
    for (const std::string& n : *names)
      if (std::string id = IndexId(n); !id.empty()) supersedes.push_back(id);
  size_t parts = std::max<size_t>(
      1, (entries.size() + kMaxEntriesPerIndexObject - 1) / kMaxEntriesPerIndexObject);
  std::set<int> degraded(report_.degraded_stores.begin(), report_.degraded_stores.end());
  for (size_t part = 0; part < parts; ++part) {
    size_t begin = part * kMaxEntriesPerIndexObject;
    size_t end = std::min(entries.size(), begin + kMaxEntriesPerIndexObject);
    std::vector<IndexEntry> slice(entries.begin() + static_cast<std::ptrdiff_t>(begin),
                                  entries.begin() + static_cast<std::ptrdiff_t>(end));
    bool last = part + 1 == parts;
    Bytes data = SerializeIndex(slice, last ? supersedes : std::vector<std::string>{});
    TESSERA_ASSIGN_OR_RETURN(PutOutcome out,
                             repo_.objects().Put(kIndexPrefix + crypto::RandomId(), data, true));
    degraded.insert(out.failed_stores.begin(), out.failed_stores.end());
    ++report_.index_objects_written;
  }
  for (int i : repo_.DegradedStores()) degraded.insert(i);
  report_.degraded_stores.assign(degraded.begin(), degraded.end());
  old_index_.insert(old_index_.end(), fresh.begin(), fresh.end());
  return Status::Ok();
}

Status Pruner::DeleteAll(const std::vector<std::string>& names, const std::string& what) {
  Tick("deleting " + what);
  std::vector<std::future<Status>> deletes;
  for (const std::string& n : names)
    deletes.push_back(repo_.cpu().Submit([this, n] { return repo_.objects().Delete(n); }));
  size_t failed = 0;
  Status first;
  for (auto& d : deletes) {
    Status st = d.get();
    if (st.ok()) continue;
    ++failed;
    if (first.ok()) first = st;
  }
  if (failed == 0) return Status::Ok();
  return Status(first.code(), "could not delete " + std::to_string(failed) + " of " +
                                  std::to_string(names.size()) + " " + what + " (" +
                                  first.message() +
                                  "); the vault is consistent, and the next prune deletes them");
}

Result<PruneReport> Pruner::Run() {
  report_.dry_run = options_.dry_run;
  if (!options_.dry_run && !options_.assume_forgotten.empty())
    return Status::InvalidArgument("assume_forgotten is for dry runs only");
  TESSERA_RETURN_IF_ERROR(CheckStores());
  // A dry run changes nothing, so it need not keep backups out.
  TESSERA_ASSIGN_OR_RETURN(auto lock, VaultLock::Acquire(repo_, !options_.dry_run, "prune"));
  TESSERA_RETURN_IF_ERROR(LoadIndex());
  TESSERA_RETURN_IF_ERROR(FindUsedBlobs());
  Plan();

  size_t live_entries = 0;
  for (auto& [id, p] : packs_)
    if (p.on_store && p.action == Action::kKeep) live_entries += p.entries.size();
  size_t parts_needed = std::max<size_t>(
      1, (live_entries + kMaxEntriesPerIndexObject - 1) / kMaxEntriesPerIndexObject);
  bool rewrite_index = report_.packs_deleted > 0 || report_.packs_repacked > 0 ||
                       report_.packs_missing > 0 || report_.index_leftovers > 0 ||
                       live_index_objects_ > parts_needed;
  std::vector<std::string> pack_names;
  uint64_t freed_estimate = 0;
  for (auto& [id, p] : packs_) {
    if (!p.on_store || p.action == Action::kKeep) continue;
    pack_names.push_back(PackObjectName(id));
    freed_estimate +=
        p.action == Action::kDelete
            ? p.shard_bytes
            : p.shard_bytes - static_cast<uint64_t>(
                                  static_cast<double>(p.shard_bytes) * static_cast<double>(p.used) /
                                  static_cast<double>(std::max<uint64_t>(1, p.total)));
  }
  for (const std::string& n : unindexed_) {
    pack_names.push_back(n);
    freed_estimate += before_.packs[n];
  }

  if (options_.dry_run || (!rewrite_index && pack_names.empty())) {
    if (options_.dry_run && rewrite_index) {
      report_.index_objects_written = parts_needed;
      report_.index_objects_deleted = old_index_.size();
    }
    report_.store_bytes_freed = options_.dry_run ? freed_estimate : 0;
    report_.store_bytes_after = report_.store_bytes_before - report_.store_bytes_freed;
    return report_;
  }

  TESSERA_RETURN_IF_ERROR(Repack());
  TESSERA_RETURN_IF_ERROR(Step(PruneStep::kPacksWritten));
  if (rewrite_index) TESSERA_RETURN_IF_ERROR(WriteIndex());
  TESSERA_RETURN_IF_ERROR(Step(PruneStep::kIndexWritten));
  if (rewrite_index) {
    TESSERA_RETURN_IF_ERROR(DeleteAll(old_index_, "old index objects"));
    report_.index_objects_deleted = old_index_.size();
  }
  TESSERA_RETURN_IF_ERROR(Step(PruneStep::kOldIndexDeleted));
  repo_.ResetIndex();
  TESSERA_RETURN_IF_ERROR(DeleteAll(pack_names, "unused packs"));
  TESSERA_RETURN_IF_ERROR(Step(PruneStep::kPacksDeleted));
  Usage after = ListUsage(repo_, &report_.warnings);
  report_.store_bytes_after = after.total;
  report_.store_bytes_freed =
      report_.store_bytes_before > after.total ? report_.store_bytes_before - after.total : 0;
  return report_;
}

}  // namespace

Result<PruneReport> Prune(Repository& repo, const PruneOptions& options, Progress* progress) {
  Pruner pruner(repo, options, progress);
  return pruner.Run();
}

}  // namespace tessera::vault
