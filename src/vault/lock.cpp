#include "vault/lock.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/clock.hpp"
#include "base/json_fields.hpp"
#include "crypto/random.hpp"

namespace tessera::vault {

using nlohmann::json;

std::string HostName() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

bool LockHolderIsGone(const std::string& host, int64_t pid) {
  if (host != HostName() || pid <= 0 || pid == ::getpid()) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

namespace {
constexpr int64_t kStaleNs = int64_t{30} * 60 * 1000000000;
constexpr auto kRefreshEvery = std::chrono::minutes(5);

struct LockInfo {
  std::string name;
  bool exclusive = false;
  std::string host, purpose;
  int64_t pid = 0, time_ns = 0;
};

Bytes LockBody(bool exclusive, const std::string& purpose) {
  json j = {{"version", 1},      {"exclusive", exclusive}, {"host", HostName()},
            {"pid", ::getpid()}, {"purpose", purpose},     {"time_ns", NowUnixNanos()}};
  std::string s = JsonText(j);
  return Bytes(s.begin(), s.end());
}

Result<std::vector<LockInfo>> ReadLocks(Repository& repo) {
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> names, repo.objects().List("locks/"));
  std::vector<LockInfo> out;
  for (auto& n : names) {
    auto data = repo.objects().Get(n);
    // A lock being written by another run has its shards on some stores and not yet on
    // others for a moment: read it again before judging it.
    for (int retry = 0; retry < 5 && !data.ok() && data.status().code() == StatusCode::kUnavailable;
         ++retry) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20 << retry));
      data = repo.objects().Get(n);
    }
    if (!data.ok()) {
      if (data.status().code() == StatusCode::kNotFound) continue;  // released meanwhile
      // Left by a run killed while it wrote its lock: that run holds nothing.
      if (data.status().code() == StatusCode::kUnavailable && IsTornObject(repo.objects(), n))
        continue;
      return data.status();
    }
    try {
      json j = json::parse(AsString(*data));
      LockInfo l;
      l.name = n;
      l.exclusive = j.value("exclusive", false);
      l.host = j.value("host", "");
      l.purpose = j.value("purpose", "");
      l.pid = OptionalInt<int64_t>(j, "pid", 0);
      l.time_ns = OptionalInt<int64_t>(j, "time_ns", 0);
      out.push_back(std::move(l));
    } catch (const std::exception&) {
      // An unreadable lock object cannot be honoured; treat it as stale.
      LockInfo l;
      l.name = n;
      out.push_back(l);
    }
  }
  return out;
}
}  // namespace

VaultLock::VaultLock(Repository& repo, std::string name, Bytes body)
    : repo_(repo), name_(std::move(name)), body_(std::move(body)) {
  refresher_ = std::thread([this] { RefreshLoop(); });
}

Result<std::unique_ptr<VaultLock>> VaultLock::Acquire(Repository& repo, bool exclusive,
                                                      const std::string& purpose) {
  std::string name = "locks/" + crypto::RandomId();
  Bytes body = LockBody(exclusive, purpose);
  // A lock only has to be readable by the next run, so k stores suffice: a restore or a
  // drill from exactly k stores still holds one.
  const int k = repo.objects().k();
  TESSERA_RETURN_IF_ERROR(repo.objects().Put(name, body, false, k).status());
  // Written first, checked second: of two runs starting together, at least one sees the
  // other's lock.
  auto locks = ReadLocks(repo);
  if (!locks.ok()) {
    (void)repo.objects().Delete(name);
    return locks.status();
  }
  int64_t now = NowUnixNanos();
  for (const LockInfo& l : *locks) {
    if (l.name == name || now - l.time_ns > kStaleNs) continue;
    if (exclusive || l.exclusive) {
      // Left by a run on this machine that was killed: nobody holds it any more.
      if (LockHolderIsGone(l.host, l.pid)) {
        (void)repo.objects().Delete(l.name);
        continue;
      }
      (void)repo.objects().Delete(name);
      return Status::FailedPrecondition(
          "the vault is locked by " + std::string(l.exclusive ? "an exclusive" : "a") + " " +
          (l.purpose.empty() ? "run" : l.purpose) + " on " + l.host + " (pid " +
          std::to_string(l.pid) + ") since " + FormatRfc3339(l.time_ns) +
          "; retry when it has finished (a lock left by a crashed run expires after 30 "
          "minutes)");
    }
  }
  return std::unique_ptr<VaultLock>(new VaultLock(repo, name, std::move(body)));
}

void VaultLock::RefreshLoop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, kRefreshEvery, [this] { return released_; })) {
    json j = json::parse(AsString(body_));
    j["time_ns"] = NowUnixNanos();
    std::string s = JsonText(j);
    body_.assign(s.begin(), s.end());
    (void)repo_.objects().Put(name_, body_, false, repo_.objects().k());
  }
}

Status VaultLock::Release() {
  {
    std::lock_guard lock(mu_);
    if (released_) return Status::Ok();
    released_ = true;
  }
  cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
  return repo_.objects().Delete(name_);
}

VaultLock::~VaultLock() {
  (void)Release();
}

Result<int> RemoveStaleLocks(Repository& repo) {
  TESSERA_ASSIGN_OR_RETURN(std::vector<LockInfo> locks, ReadLocks(repo));
  int removed = 0;
  int64_t now = NowUnixNanos();
  for (const LockInfo& l : locks) {
    if (now - l.time_ns > kStaleNs) {
      TESSERA_RETURN_IF_ERROR(repo.objects().Delete(l.name));
      ++removed;
    }
  }
  return removed;
}

}  // namespace tessera::vault
