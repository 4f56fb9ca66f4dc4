// Vault locks, kept as objects in the vault so that every machine sees them. Backups,
// forgets and checks take a shared lock, and restores (drills included) do when enough
// stores are writable to hold one; prune, repair and re-sharding take an exclusive one. A lock is
// refreshed while held and is stale after 30 minutes without refresh (its holder died), so a
// crashed run never blocks the vault for ever; a lock of a process on this machine that is
// gone is ignored (and removed) at once.
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

// This machine's host name, as recorded in the locks it takes.
std::string HostName();
// True when a lock's holder ran on this machine and its process no longer exists (a run
// killed with kill -9). A holder on another host cannot be asked: its lock expires.
bool LockHolderIsGone(const std::string& host, int64_t pid);

// Removes locks whose holders stopped refreshing them; returns how many.
Result<int> RemoveStaleLocks(Repository& repo);

}  // namespace tessera::vault
