// The vault part of the console's REST API (docs/api.md, "Vaults"): the vaults set up under
// an installation's home (HOME/vaults/NAME, as `tessera vault init` makes them), their
// snapshots (and the files in them, a directory at a time) and restore drills, and backups,
// drills and restores started from the console as jobs that run on threads of their own and
// are polled at /api/v1/jobs/{id}. A job's progress carries its totals where the work knows
// them beforehand (restores and drills; not backups).
//
// Restores go into a new or empty directory of the server (absolute path) and never over
// anything there; every restored file is then read back and checked against the snapshot.
//
// Roles: operators and admins may do everything here; auditors and records officers may
// read; clerks get 403. Every change and every refusal is recorded in the audit log (through
// ApiCall::audit) before anything is done; the end of each job is recorded too.
//
// Keys: the server has no terminal. A vault's key file (HOME/vaults/NAME/key) is used as
// the command line uses it; a key file protected by a passphrase needs the passphrase in
// VaultApiOptions (the console takes it from $TESSERA_PASSPHRASE, as the command line
// does), else the vault's answers are 409 saying so.
//
// Safe to call from several threads at once. The destructor waits for running jobs.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "server/console_call.hpp"
#include "store/object_store.hpp"

namespace tessera::server {

struct VaultApiOptions {
  std::optional<std::string> passphrase;  // for passphrase-protected key files
  // S3 endpoints and credentials: `tessera serve` gives the command line's.
  store::StoreOptions store_options;
  size_t threads = 2;    // per opened vault (0: one per core)
  size_t max_jobs = 64;  // jobs remembered; the oldest finished are forgotten beyond
};

class VaultApi {
 public:
  VaultApi(std::filesystem::path home, VaultApiOptions options = {});
  ~VaultApi();  // waits for running jobs to end
  VaultApi(const VaultApi&) = delete;
  VaultApi& operator=(const VaultApi&) = delete;

  // Whether `call` is for this part of the API (its parts start with "vaults" or "jobs").
  static bool Handles(const ApiCall& call);
  // Answers a call under /api/v1/vaults or /api/v1/jobs.
  ApiResponse Handle(const ApiCall& call);

  // Blocks until no job runs (for tests and orderly stops).
  void WaitForJobs();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::server
