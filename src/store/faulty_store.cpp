#include "store/faulty_store.hpp"

namespace tessera::store {

FaultyStore::FaultyStore(std::shared_ptr<ObjectStore> inner) : inner_(std::move(inner)) {}

void FaultyStore::SetUnreachable(bool on) {
  unreachable_ = on;
}

void FaultyStore::FailPutsAfter(uint64_t n) {
  puts_left_ = static_cast<int64_t>(n);
}

void FaultyStore::SetCorruptGets(bool on, std::string name_prefix) {
  std::lock_guard lock(mu_);
  corrupt_prefix_ = std::move(name_prefix);
  corrupt_gets_ = on;
}

void FaultyStore::ClearFaults() {
  unreachable_ = false;
  puts_left_ = kNoLimit;
  SetCorruptGets(false);
}

FaultyStore::Counts FaultyStore::counts() const {
  Counts c;
  c.put = put_;
  c.get = get_;
  c.stat = stat_;
  c.list = list_;
  c.del = del_;
  c.ping = ping_;
  c.create = create_;
  c.injected_failures = injected_;
  return c;
}

void FaultyStore::ResetCounts() {
  for (auto* c : {&put_, &get_, &stat_, &list_, &del_, &ping_, &create_, &injected_}) *c = 0;
}

std::string FaultyStore::Url() const {
  return inner_->Url();
}

Status FaultyStore::Gate() {
  if (!unreachable_) return Status::Ok();
  ++injected_;
  return Status::Unavailable("store " + inner_->Url() + ": unreachable (injected fault)");
}

Status FaultyStore::Put(const std::string& name, ByteView data) {
  ++put_;
  TESSERA_RETURN_IF_ERROR(Gate());
  // Take a slot atomically so that concurrent Puts let exactly n through.
  int64_t left = puts_left_.load();
  while (left != kNoLimit) {
    if (left == 0) {
      ++injected_;
      return Status::IOError("store " + inner_->Url() + ": put \"" + name +
                             "\" failed (injected fault)");
    }
    if (puts_left_.compare_exchange_weak(left, left - 1)) break;
  }
  return inner_->Put(name, data);
}

Result<Bytes> FaultyStore::Get(const std::string& name) {
  ++get_;
  TESSERA_RETURN_IF_ERROR(Gate());
  auto r = inner_->Get(name);
  if (!r.ok() || !corrupt_gets_) return r;
  {
    std::lock_guard lock(mu_);
    if (!corrupt_gets_ || !name.starts_with(corrupt_prefix_)) return r;
  }
  ++injected_;
  Bytes& b = *r;
  if (b.empty())
    b.push_back(0xFF);
  else
    b[b.size() / 2] ^= 0xFF;
  return r;
}

Result<uint64_t> FaultyStore::Stat(const std::string& name) {
  ++stat_;
  TESSERA_RETURN_IF_ERROR(Gate());
  return inner_->Stat(name);
}

Result<std::vector<ObjectInfo>> FaultyStore::List(const std::string& prefix) {
  ++list_;
  TESSERA_RETURN_IF_ERROR(Gate());
  return inner_->List(prefix);
}

Status FaultyStore::Delete(const std::string& name) {
  ++del_;
  TESSERA_RETURN_IF_ERROR(Gate());
  return inner_->Delete(name);
}

Status FaultyStore::Ping() {
  ++ping_;
  TESSERA_RETURN_IF_ERROR(Gate());
  return inner_->Ping();
}

Status FaultyStore::Create() {
  ++create_;
  TESSERA_RETURN_IF_ERROR(Gate());
  return inner_->Create();
}

}  // namespace tessera::store
