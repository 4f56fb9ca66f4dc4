// A test double that wraps another ObjectStore and injects faults on demand: an outage,
// Puts that start failing part-way through a run, silently corrupted reads. Faults can be
// switched from any thread while other threads use the store. Every call is counted.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "store/object_store.hpp"

namespace tessera::store {

class FaultyStore : public ObjectStore {
 public:
  // Calls per operation, failed ones included.
  struct Counts {
    uint64_t put = 0, get = 0, stat = 0, list = 0, del = 0, ping = 0, create = 0;
    uint64_t injected_failures = 0;  // calls answered by an injected fault
    uint64_t total() const { return put + get + stat + list + del + ping + create; }
  };

  explicit FaultyStore(std::shared_ptr<ObjectStore> inner);

  // While on, every operation fails with Unavailable without reaching the inner store.
  void SetUnreachable(bool on);
  // Lets `n` more Puts through, then fails every Put with IOError (the object is not
  // written) until ClearFaults. n = 0 fails the next Put.
  void FailPutsAfter(uint64_t n);
  // While on, Get returns the object with one byte flipped (an empty object comes back as
  // one byte), for names starting with `name_prefix` ("" = all). Stat and List are honest,
  // like a disk that returns bad sectors.
  void SetCorruptGets(bool on, std::string name_prefix = "");
  // Switches every fault off. Counts are kept.
  void ClearFaults();

  Counts counts() const;
  void ResetCounts();
  ObjectStore& inner() { return *inner_; }

  std::string Url() const override;
  Status Put(const std::string& name, ByteView data) override;
  Result<Bytes> Get(const std::string& name) override;
  Result<uint64_t> Stat(const std::string& name) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix) override;
  Status Delete(const std::string& name) override;
  Status Ping() override;
  Status Create() override;

 private:
  // Unavailable while unreachable (and counts it), else OK.
  Status Gate();

  std::shared_ptr<ObjectStore> inner_;
  std::atomic<bool> unreachable_{false};
  // Puts still allowed before they fail; kNoLimit = never fail.
  static constexpr int64_t kNoLimit = -1;
  std::atomic<int64_t> puts_left_{kNoLimit};
  std::atomic<bool> corrupt_gets_{false};
  mutable std::mutex mu_;  // guards corrupt_prefix_
  std::string corrupt_prefix_;
  std::atomic<uint64_t> put_{0}, get_{0}, stat_{0}, list_{0}, del_{0}, ping_{0}, create_{0};
  std::atomic<uint64_t> injected_{0};
};

}  // namespace tessera::store
