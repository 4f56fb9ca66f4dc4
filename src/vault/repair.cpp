#include "vault/repair.hpp"

#include <algorithm>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>

#include "base/files.hpp"
#include "vault/keyring.hpp"

namespace tessera::vault {

namespace {

std::shared_ptr<store::ObjectStore> Borrow(store::ObjectStore* s) {
  return std::shared_ptr<store::ObjectStore>(s, [](store::ObjectStore*) {});
}

std::string StoreName(int i) {
  return "store " + std::to_string(i + 1);
}

// Runs fn(0..count-1) on `pool`, at most `window` at a time, which bounds the shards
// held in memory. `fn` must be thread-safe and must not wait for tasks of `pool`.
template <typename Fn>
void ForEachBounded(ThreadPool& pool, size_t count, size_t window, Fn fn) {
  std::deque<std::future<void>> pending;
  for (size_t i = 0; i < count; ++i) {
    if (pending.size() >= window) {
      pending.front().get();
      pending.pop_front();
    }
    pending.push_back(pool.Submit([&fn, i] { fn(i); }));
  }
  for (auto& f : pending) f.get();
}

// Objects rebuilt at once: each holds k shards and the rebuilt ones.
size_t Window(Repository& repo) {
  return std::clamp<size_t>(repo.cpu().size(), 2, 8);
}

// The custodian key, which re-issued shares are sealed under; empty without custodians.
Result<SecretBytes> CustodianKey(Repository& repo) {
  if (repo.config().custodians == 0) return SecretBytes();
  auto key = repo.objects().Get(kCustodianObject);
  if (!key.ok())
    return key.status().WithContext(
        "the key shares cannot be re-issued without the custodian key (object " +
        std::string(kCustodianObject) + ")");
  return SecretBytes(std::move(*key));
}

}  // namespace

Result<RepairReport> RepairVault(Repository& repo, Progress* progress) {
  RepairReport r;
  TESSERA_ASSIGN_OR_RETURN(auto lock, LockForCheck(repo, true, "repair", &r.locks_removed));
  TESSERA_ASSIGN_OR_RETURN(r.check, CheckVault(repo, /*read_data=*/true, progress));
  const CheckReport& c = r.check;
  const int n = c.n, k = c.k;
  if (std::none_of(c.stores.begin(), c.stores.end(),
                   [](const StoreHealth& s) { return s.reachable; }))
    return Status::Unavailable("no store of the vault can be reached; nothing was repaired");

  std::mutex mu;  // guards r and failed
  // Stores that refused a write during this run: nothing more is sent there.
  std::vector<std::optional<std::string>> failed(static_cast<size_t>(n));
  for (const StoreHealth& s : c.stores) {
    if (!s.reachable) {
      r.unreachable.push_back(s.index);
      r.waiting.push_back(StoreName(s.index) + " (" + s.url + ") cannot be reached: " + s.error);
    } else if (!s.Writable()) {
      r.unrepaired.push_back(StoreName(s.index) + " (" + s.url +
                             ") was left untouched: " + s.descriptor_problem);
    }
  }
  auto writable = [&](int i) {
    std::lock_guard lock(mu);
    return c.stores[i].Writable() && !failed[i];
  };
  auto put = [&](int i, const std::string& name, ByteView data) {
    Status st = repo.objects().store(i)->Put(name, data);
    if (!st.ok()) {
      std::lock_guard lock(mu);
      if (!failed[i]) {
        failed[i] = st.message();
        (st.code() == StatusCode::kUnavailable ? r.waiting : r.unrepaired)
            .push_back(StoreName(i) + " stopped taking writes: " + st.message());
      }
    }
    return st.ok();
  };

  // Shards. The config is rewritten whole below when it cannot be read as it is.
  const bool rewrite_config = !c.config_problem.empty();
  std::vector<const ObjectHealth*> todo;
  for (const ObjectHealth& o : c.damaged_objects) {
    if (rewrite_config && o.name == kConfigObject) continue;
    switch (o.verdict) {
      case ObjectVerdict::kRepairable:
        if (std::any_of(o.problems.begin(), o.problems.end(),
                        [&](const ShardProblem& p) { return c.stores[p.store].Writable(); }))
          todo.push_back(&o);
        break;
      case ObjectVerdict::kLeftover:
        for (int i = 0; i < n; ++i)
          if (writable(i)) (void)repo.objects().store(i)->Delete(o.name);
        r.leftovers_removed.push_back(o.name);
        break;
      case ObjectVerdict::kNeedsStores:
        r.waiting.push_back(o.name + ": only " + std::to_string(o.healthy) + " of the " +
                            std::to_string(k) +
                            " shards needed are on reachable stores; repair it when the "
                            "others are back");
        break;
      case ObjectVerdict::kUnrecoverable:
        r.unrepaired.push_back(o.name + ": UNRECOVERABLE, only " + std::to_string(o.healthy) +
                               " healthy shards of the " + std::to_string(k) + " needed");
        break;
    }
  }
  if (progress) progress->SetTotal(progress->items() + todo.size(), 0);
  ForEachBounded(repo.cpu(), todo.size(), Window(repo), [&](size_t j) {
    const ObjectHealth& o = *todo[j];
    std::vector<int> wanted;
    for (const ShardProblem& p : o.problems)
      if (writable(p.store)) wanted.push_back(p.store);
    if (wanted.empty()) return;
    auto files = repo.objects().RebuildShardFiles(o.name, wanted);
    if (!files.ok()) {
      std::lock_guard lock(mu);
      r.unrepaired.push_back(o.name + ": cannot be rebuilt: " + files.status().message());
      return;
    }
    RebuiltObject done{o.name, {}};
    for (size_t w = 0; w < wanted.size(); ++w)
      if (put(wanted[w], o.name, (*files)[w])) done.stores.push_back(wanted[w]);
    if (progress) {
      progress->Add(1, 0);
      progress->Tick(o.name);
    }
    std::lock_guard lock(mu);
    r.shards_written += done.stores.size();
    if (!done.stores.empty()) r.rebuilt.push_back(std::move(done));
  });
  std::sort(r.rebuilt.begin(), r.rebuilt.end(),
            [](const RebuiltObject& a, const RebuiltObject& b) { return a.name < b.name; });

  // The local configuration describes the vault as this machine uses it: where the
  // sealed copy is lost or mixed from two versions, it is the one to seal again.
  if (rewrite_config) {
    TESSERA_ASSIGN_OR_RETURN(
        ShardFiles files,
        repo.objects().EncodeShardFiles(kConfigObject, SerializeConfig(repo.config()), true));
    int written = 0;
    for (int i = 0; i < n; ++i)
      if (writable(i) && put(i, kConfigObject, files[i])) ++written;
    r.config_rewritten = written >= k;
    if (!r.config_rewritten)
      r.unrepaired.push_back(c.config_problem + "; it could be rewritten on only " +
                             std::to_string(written) + " stores");
  }

  // Key shares: written last, as `vault init` does, after the shards they unlock.
  bool reissue = false;
  for (const StoreHealth& s : c.stores)
    if (s.Writable() &&
        (s.descriptor == DescriptorState::kMissing || s.descriptor == DescriptorState::kDamaged ||
         s.descriptor == DescriptorState::kStale))
      reissue = true;
  if (reissue) {
    std::vector<int> targets;
    for (int i = 0; i < n; ++i)
      if (writable(i)) targets.push_back(i);
    auto custodian = CustodianKey(repo);
    if (static_cast<int>(targets.size()) < k) {
      r.unrepaired.push_back("the key shares cannot be re-issued: only " +
                             std::to_string(targets.size()) + " stores can be written and " +
                             std::to_string(k) + " are needed");
    } else if (!custodian.ok()) {
      r.unrepaired.push_back(custodian.status().message());
    } else {
      const int epoch = c.epoch + 1;
      TESSERA_ASSIGN_OR_RETURN(NewKeys keys,
                               IssueKeys(repo.config(), &repo.keys().master(),
                                         custodian->empty() ? nullptr : &*custodian, epoch));
      // The stores lacking a current share first: until k stores have the new epoch,
      // the old one must still be on k others (see RecoverMasterKey).
      std::stable_partition(targets.begin(), targets.end(),
                            [&](int i) { return c.stores[i].descriptor != DescriptorState::kOk; });
      for (int i : targets)
        if (put(i, kDescriptorName, SerializeDescriptor(keys.descriptors[i])))
          r.descriptors_written.push_back(i);
      std::sort(r.descriptors_written.begin(), r.descriptors_written.end());
      r.new_epoch = epoch;
      for (int i = 0; i < n; ++i)
        if (!c.stores[i].reachable && c.stores[i].descriptor != DescriptorState::kForeign)
          r.waiting.push_back(StoreName(i) + " still has the key share of epoch " +
                              std::to_string(c.epoch) + ", no longer valid");
    }
  }

  // Problems in what the objects say cannot be fixed by rebuilding shards; with a store
  // unreachable they may only be its absence.
  for (const std::string& s : c.structural)
    (r.unreachable.empty() ? r.unrepaired : r.waiting).push_back(s);
  if (c.structural_more)
    (r.unreachable.empty() ? r.unrepaired : r.waiting)
        .push_back("... and " + std::to_string(c.structural_more) + " more structural problems");
  if (progress) progress->Finish();
  TESSERA_RETURN_IF_ERROR(lock->Release());
  return r;
}

Result<ReplaceReport> ReplaceStore(Repository& repo, const VaultContext& ctx, int index,
                                   const std::string& url, Progress* progress) {
  const VaultConfig& config = repo.config();
  const int n = config.n;
  if (index < 0 || index >= n)
    return Status::InvalidArgument("store " + std::to_string(index + 1) +
                                   " does not exist (the vault has " + std::to_string(n) +
                                   " stores)");
  ReplaceReport r;
  r.store = index;
  r.old_url = config.stores[index];
  r.new_url = url;
  if (config.stores[index] == url)
    return Status::InvalidArgument(StoreName(index) + " already is " + url +
                                   " (`tessera vault verify` checks it)");
  for (int j = 0; j < n; ++j)
    if (config.stores[j] == url)
      return Status::InvalidArgument(url + " is already " + StoreName(j) +
                                     " of this vault; give a new, empty location");

  TESSERA_ASSIGN_OR_RETURN(std::shared_ptr<store::ObjectStore> fresh,
                           store::OpenStore(url, ctx.store_options));
  TESSERA_RETURN_IF_ERROR(fresh->Create().WithContext("new store " + url));
  TESSERA_RETURN_IF_ERROR(fresh->Ping().WithContext("new store " + url));
  TESSERA_ASSIGN_OR_RETURN(auto fresh_list, fresh->List(""));
  std::map<std::string, uint64_t> on_fresh;
  bool has_descriptor = false;
  for (const store::ObjectInfo& o : fresh_list) {
    if (o.name == kDescriptorName) {
      has_descriptor = true;
    } else if (IsCheckedObject(o.name)) {
      on_fresh.emplace(o.name, o.size);
    } else if (!o.name.starts_with("locks/")) {
      return Status::AlreadyExists(url + " is not empty (it holds " + o.name +
                                   "); give an empty location for the new store");
    }
  }
  // Only a previous run of this same replacement may have left anything there.
  if (has_descriptor) {
    TESSERA_ASSIGN_OR_RETURN(Bytes data, fresh->Get(kDescriptorName));
    auto d = ParseDescriptor(data);
    if (!d.ok() || d->vault_id != config.vault_id)
      return Status::AlreadyExists(
          url + " already holds " +
          (d.ok() ? "another vault (id " + d->vault_id + ")" : "an unreadable vault descriptor") +
          "; give an empty location for the new store");
    if (d->index != index)
      return Status::AlreadyExists(url + " already holds store " + std::to_string(d->index + 1) +
                                   " of this vault; give an empty location for the new store");
    r.resumed = true;
  }
  int sampled = 0;
  for (auto& [name, size] : on_fresh) {
    if (sampled++ == 3) break;
    TESSERA_ASSIGN_OR_RETURN(Bytes file, fresh->Get(name));
    auto h = repo.objects().CheckShard(name, file, index);
    if (!h.ok())
      return Status::AlreadyExists(url + " is not empty: " + name + " there is not a shard of " +
                                   StoreName(index) + " of this vault (" + h.status().message() +
                                   "); give an empty location for the new store");
    r.resumed = true;
  }

  std::vector<std::shared_ptr<store::ObjectStore>> stores(static_cast<size_t>(n));
  for (int j = 0; j < n; ++j) {
    if (j == index) continue;
    store::ObjectStore* s = repo.objects().store(j);
    if (!s)
      return Status::FailedPrecondition(StoreName(j) +
                                        " was not opened; replace-store needs "
                                        "every other store");
    Status st = s->Ping();
    if (!st.ok())
      return Status::Unavailable(StoreName(j) + " (" + config.stores[j] +
                                 ") cannot be reached: " + st.message() +
                                 ". Replacing a store re-issues every store's key share, so all "
                                 "the others must be reachable; nothing was changed, retry when "
                                 "it is back");
    stores[j] = Borrow(s);
  }
  stores[index] = fresh;
  VaultConfig next_config = config;
  next_config.stores[index] = url;
  auto next = std::make_unique<Repository>(next_config, repo.keys().master(), stores, ctx.threads);
  TESSERA_ASSIGN_OR_RETURN(auto lock, LockForCheck(*next, true, "replace-store", &r.locks_removed));

  // (1) The shards, from the other stores' listings.
  std::map<std::string, std::vector<uint64_t>> sizes;
  for (int j = 0; j < n; ++j) {
    if (j == index) continue;
    auto list = stores[j]->List("");
    if (!list.ok())
      return list.status().WithContext(StoreName(j) + "; nothing was switched yet, retry");
    for (const store::ObjectInfo& o : *list)
      if (IsCheckedObject(o.name)) sizes[o.name].push_back(o.size);
  }
  // The config is sealed anew in step (3).
  sizes.emplace(kConfigObject, std::vector<uint64_t>{});
  std::vector<std::string> todo;
  uint64_t todo_bytes = 0;
  for (auto& [name, s] : sizes) {
    if (name == kConfigObject) continue;
    std::sort(s.begin(), s.end());
    uint64_t typical = s.empty() ? 0 : s[s.size() / 2];
    auto have = on_fresh.find(name);
    if (have != on_fresh.end() && have->second == typical) {
      r.present++;
    } else {
      todo.push_back(name);
      todo_bytes += typical;
    }
  }
  r.objects = sizes.size();
  if (progress) progress->SetTotal(todo.size(), todo_bytes);
  std::mutex mu;  // guards r and write_error
  Status write_error;
  store::ObjectStore* old_store = repo.objects().store(index);
  ForEachBounded(next->cpu(), todo.size(), Window(*next), [&](size_t j) {
    const std::string& name = todo[j];
    Bytes shard;
    bool from_old = false;
    auto files = next->objects().RebuildShardFiles(name, {index});
    if (files.ok()) {
      shard = std::move((*files)[0]);
    } else if (old_store) {
      // The retired store may still hold the one shard the others cannot make up for.
      auto file = old_store->Get(name);
      if (file.ok() && repo.objects().CheckShard(name, *file, index).ok()) {
        shard = std::move(*file);
        from_old = true;
      }
    }
    if (shard.empty()) {
      std::lock_guard lock(mu);
      r.lost.push_back(name + ": " + files.status().message());
      return;
    }
    Status st = fresh->Put(name, shard);
    if (progress) {
      progress->Add(1, shard.size());
      progress->Tick(name);
    }
    std::lock_guard lock(mu);
    if (!st.ok()) {
      if (write_error.ok()) write_error = st;
      return;
    }
    (from_old ? r.copied : r.rebuilt)++;
  });
  if (!write_error.ok())
    return write_error.WithContext("new store " + url +
                                   " stopped taking writes; nothing was switched yet, re-run "
                                   "the same command");
  auto down = next->objects().DownStores();
  if (!down.empty())
    return Status::Unavailable(StoreName(down.front().first) + " stopped answering (" +
                               down.front().second.message() +
                               "); nothing was switched yet, re-run the same command when it "
                               "is back");
  if (!r.lost.empty()) {
    // Packs no index refers to are leftovers of interrupted uploads, not losses.
    if (next->LoadIndex().ok()) {
      std::set<std::string> referenced;
      for (const IndexEntry& e : next->IndexEntries()) referenced.insert(e.loc.pack_id);
      std::vector<std::string> lost;
      for (std::string& l : r.lost) {
        std::string name = l.substr(0, l.find(':'));
        if (name.starts_with("data/") && !referenced.count(name.substr(name.rfind('/') + 1)))
          r.leftovers.push_back(name);
        else
          lost.push_back(l);
      }
      r.lost = std::move(lost);
    }
    std::sort(r.lost.begin(), r.lost.end());
  }

  // (2) New key shares: the new store first, then the others.
  int epoch = 0;
  for (int j = 0; j < n; ++j) {
    store::ObjectStore* s = j == index ? old_store : stores[j].get();
    if (!s) continue;
    auto data = s->Get(kDescriptorName);
    if (!data.ok()) continue;
    auto d = ParseDescriptor(*data);
    if (d.ok() && d->vault_id == config.vault_id) epoch = std::max(epoch, d->epoch);
  }
  if (r.resumed) {
    auto data = fresh->Get(kDescriptorName);
    if (data.ok())
      if (auto d = ParseDescriptor(*data); d.ok()) epoch = std::max(epoch, d->epoch);
  }
  r.epoch = epoch + 1;
  TESSERA_ASSIGN_OR_RETURN(SecretBytes custodian, CustodianKey(*next));
  TESSERA_ASSIGN_OR_RETURN(NewKeys keys,
                           IssueKeys(next_config, &repo.keys().master(),
                                     custodian.empty() ? nullptr : &custodian, r.epoch));
  std::vector<int> order{index};
  for (int j = 0; j < n; ++j)
    if (j != index) order.push_back(j);
  for (int j : order)
    TESSERA_RETURN_IF_ERROR(
        stores[j]
            ->Put(kDescriptorName, SerializeDescriptor(keys.descriptors[j]))
            .WithContext(StoreName(j) + ": the key shares were only partly re-issued; the vault "
                                        "is usable with its local key, re-run the same command"));

  // (3) The sealed config, then (4) the local one.
  TESSERA_ASSIGN_OR_RETURN(PutOutcome out,
                           next->objects().Put(kConfigObject, SerializeConfig(next_config), true));
  if (!out.failed_stores.empty())
    return Status::Unavailable(StoreName(out.failed_stores.front()) +
                               " did not take the new configuration; re-run the same command");
  TESSERA_RETURN_IF_ERROR(WriteFileAtomic(ctx.ConfigPath(), SerializeConfig(next_config), 0600)
                              .WithContext("the vault now uses " + url +
                                           " but the local configuration could not be updated; "
                                           "re-run the same command"));
  TESSERA_RETURN_IF_ERROR(lock->Release());
  return r;
}

}  // namespace tessera::vault
