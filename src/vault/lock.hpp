// Vault locks, kept as objects in the vault so that every machine sees them. Backups,
// forgets and checks take a shared lock, and restores (drills included) do when enough
// stores are writable to hold one; prune, repair and re-sharding take an exclusive one. A lock is
// refreshed while held and is stale after 30 minutes without refresh (its holder died), so a
// crashed run never blocks the vault for ever.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "vault/repository.hpp"

namespace tessera::vault {

class VaultLock {
 public:
  // FailedPrecondition naming the holder when a conflicting live lock exists.
  static Result<std::unique_ptr<VaultLock>> Acquire(Repository& repo, bool exclusive,
                                                    const std::string& purpose);
  ~VaultLock();  // releases
  VaultLock(const VaultLock&) = delete;
  VaultLock& operator=(const VaultLock&) = delete;
  Status Release();

 private:
  VaultLock(Repository& repo, std::string name, Bytes body);
  void RefreshLoop();

  Repository& repo_;
  std::string name_;
  Bytes body_;
  std::mutex mu_;  // guards released_
  std::condition_variable cv_;
  bool released_ = false;
  std::thread refresher_;
};

// Removes locks whose holders stopped refreshing them; returns how many.
Result<int> RemoveStaleLocks(Repository& repo);

}  // namespace tessera::vault
